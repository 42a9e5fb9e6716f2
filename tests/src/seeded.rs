//! Projects built from a seeded region: a task definition and a service definition written from the
//! seed's values (as a user would write them), and direct reads of the simulator's state that do
//! not go through cortado.

use serde_json::{Value, json};

use crate::{Project, Sim, sim, unique_region};

/// A fresh region seeded with prefix = region, and a project pointed at it.
pub fn seeded(tag: &str) -> (Project, String, Value) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    (Project::against(sim, &region), region, seed)
}

/// The seed's Fargate task definition: container `app` on `<repo>:v1`, port 80, awslogs to
/// `/ecs/P` with prefix `app`, an SSM SecureString and a Secrets Manager secret.
pub fn task_definition(seed: &Value) -> Value {
    let p = seed["prefix"].as_str().expect("prefix");
    let password = &seed["ssm"]["parameters"][format!("/{p}/db/password")]["arn"];
    json!({
        "family": format!("{p}-app"),
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": seed["iam"]["executionRoleArn"],
        "taskRoleArn": seed["iam"]["taskRoleArn"],
        "containerDefinitions": [{
            "name": "app",
            "image": seed["ecr"]["images"]["v1"]["uri"],
            "essential": true,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": seed["logGroup"], "awslogs-region": seed["region"], "awslogs-stream-prefix": "app"}},
            "secrets": [
                {"name": "DB_PASSWORD", "valueFrom": password},
                {"name": "DB_SECRET", "valueFrom": seed["secret"]["arn"]}
            ]
        }]
    })
}

/// The seed's service definition: Fargate, its subnets and security group, target group `P-tg`
/// on `app:80`.
pub fn service_definition(seed: &Value) -> Value {
    json!({
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "desiredCount": 1,
        "healthCheckGracePeriodSeconds": 30,
        "networkConfiguration": seed["ecs"]["networkConfiguration"],
        "loadBalancers": [{"targetGroupArn": seed["alb"]["targetGroupArn"], "containerName": "app", "containerPort": 80}]
    })
}

/// Writes `cortado.yml` (cluster and service from the seed; `extra` appended), the task definition
/// and, when given, the service definition.
pub fn write_project(p: &Project, seed: &Value, td: &Value, sv: Option<&Value>, extra: &str) {
    let mut config = format!(
        "region: {}\ncluster: {}\ntask_definition: ecs-task-def.json\n",
        seed["region"].as_str().unwrap(),
        seed["ecs"]["clusterName"].as_str().unwrap()
    );
    if let Some(sv) = sv {
        config.push_str(&format!("service: {}\nservice_definition: ecs-service-def.json\n", seed["ecs"]["serviceName"].as_str().unwrap()));
        p.write("ecs-service-def.json", &serde_json::to_string_pretty(sv).unwrap());
    }
    config.push_str(extra);
    p.write("cortado.yml", &config);
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(td).unwrap());
}

/// Calls an AWS Query API of the simulator directly (form parameters; the XML answer as text).
pub fn aws_query(sim: &Sim, region: &str, service: &str, params: &[(&str, &str)]) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0");
    let mut resp = agent.post(&format!("{}/", sim.url)).header("Authorization", &auth).send_form(params.iter().copied()).expect("call the simulator");
    resp.body_mut().read_to_string().expect("response body")
}

/// Calls an AWS JSON-1.1 API of the simulator directly (moto takes the region from the credential
/// scope and does not check signatures): assertions on simulator state independent of cortado.
pub fn aws_json(sim: &Sim, region: &str, service: &str, target: &str, body: &Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0");
    let mut resp = agent
        .post(&format!("{}/", sim.url))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("X-Amz-Target", target)
        .header("Authorization", &auth)
        .send(body.to_string())
        .expect("call the simulator");
    let text = resp.body_mut().read_to_string().expect("response body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: {e}: {text}"))
}

/// DescribeTasks in the simulator.
pub fn describe_tasks(sim: &Sim, region: &str, cluster: &str, arns: &[&str]) -> Vec<Value> {
    let v = aws_json(sim, region, "ecs", "AmazonEC2ContainerServiceV20141113.DescribeTasks", &json!({"cluster": cluster, "tasks": arns, "include": ["TAGS"]}));
    v["tasks"].as_array().cloned().unwrap_or_default()
}

/// Points the project's `ecs-task-def.json` (first container) at another tag of the same image.
pub fn retag(p: &Project, tag: &str) {
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).expect("ecs-task-def.json is JSON");
    let image = td["containerDefinitions"][0]["image"].as_str().expect("an image").to_owned();
    let base = image.rsplit_once(':').map_or(image.as_str(), |(b, _)| b);
    td["containerDefinitions"][0]["image"] = json!(format!("{base}:{tag}"));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).expect("JSON"));
}
