//! ecspresso v2.6-v2.8 config and verify features (issue 27 §3): `retry_max_attempts` against the
//! simulator's fault injection, and `verify`'s checks of `monitoring.metricConfigurations`,
//! `vpcLatticeConfigurations` and lifecycle hooks, with roles whose trust names
//! `ecs.amazonaws.com` in an array.

use cortado_e2e::seeded::{aws_query, seeded, service_definition, task_definition, write_project};
use cortado_e2e::{Project, Run, sim};
use serde_json::{Value, json};

/// How many `operation` calls of `region` the simulator answered with a throttle.
fn throttled(region: &str, operation: &str) -> usize {
    sim().log_in(region).iter().filter(|c| c["action"] == operation && c["fault"] == "throttle").count()
}

/// `status` while every DescribeServices is throttled: exit 1 after exactly the configured
/// attempts. The harness sets `AWS_MAX_ATTEMPTS=2`; the config's value wins, as in ecspresso.
#[test]
fn retry_max_attempts_bounds_every_call() {
    for attempts in [3usize, 1] {
        let (p, region, seed) = seeded(&format!("retry{attempts}"));
        write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), &format!("retry_max_attempts: {attempts}\n"));
        sim().faults(&region, 1, json!([{"service": "ecs", "operation": "DescribeServices", "kind": "throttle"}]));
        let run = p.run(&["status"], &[]);
        sim().clear_faults(&region);
        run.expect_code(1);
        assert!(run.stderr.contains("Rate exceeded") || run.stderr.contains("Throttling"), "{}", run.stderr);
        assert_eq!(throttled(&region, "DescribeServices"), attempts, "retry_max_attempts: {attempts}\n{}", run.stderr);
    }
}

#[test]
fn retry_max_attempts_must_be_a_small_whole_number() {
    let (p, region, seed) = seeded("retrybad");
    write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), "retry_max_attempts: many\n");
    let run = p.run(&["status"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("cortado.yml") && run.stderr.contains("retry_max_attempts"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "no AWS call for bad input");
}

/// Creates role `name` trusted by `ecs.amazonaws.com` (an array principal, as #932) and returns
/// its ARN.
fn ecs_role(region: &str, name: &str) -> String {
    let trust =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ["ecs.amazonaws.com"]}, "Action": "sts:AssumeRole"}]});
    let doc = trust.to_string();
    let out =
        aws_query(sim(), region, "iam", &[("Action", "CreateRole"), ("Version", "2010-05-08"), ("RoleName", name), ("AssumeRolePolicyDocument", doc.as_str())]);
    let start = out.find("<Arn>").expect("CreateRole answers an ARN") + 5;
    out[start..start + out[start..].find("</Arn>").unwrap()].to_owned()
}

/// Creates Lambda function `name` in the simulator (moto's Lambda; never invoked), run by `role`.
fn lambda_function(region: &str, name: &str, role: &str) {
    use base64::Engine as _;
    // An empty zip archive: the end-of-central-directory record alone.
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend([0u8; 18]);
    let body = json!({"FunctionName": name, "Runtime": "python3.12", "Role": role, "Handler": "hook.handler",
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(&zip)}});
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/lambda/aws4_request, SignedHeaders=host, Signature=0");
    let mut resp = agent
        .post(&format!("{}/2015-03-31/functions", sim().url))
        .header("Content-Type", "application/json")
        .header("Authorization", &auth)
        .send(body.to_string())
        .expect("call the simulator");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    assert!(status < 300, "CreateFunction {name}: {status} {text}");
}

/// `(name, status, message)` of every node, depth first.
fn nodes(out: &str) -> Vec<(String, String, String)> {
    fn walk(n: &Value, acc: &mut Vec<(String, String, String)>) {
        acc.push((n["name"].as_str().unwrap().into(), n["status"].as_str().unwrap().into(), n["message"].as_str().unwrap_or("").into()));
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, acc);
        }
    }
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut acc = vec![];
    for n in v["checks"].as_array().unwrap() {
        walk(n, &mut acc);
    }
    acc
}

fn status_of<'a>(nodes: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    nodes.iter().find(|n| n.0 == name).unwrap_or_else(|| panic!("no node {name} in {nodes:#?}"))
}

fn verify(p: &Project) -> (Run, Vec<(String, String, String)>) {
    let run = p.run(&["verify", "--output", "json"], &[]);
    let n = nodes(&run.stdout);
    (run, n)
}

#[test]
fn verify_checks_metrics_lattice_and_lifecycle_hooks() {
    let (p, region, seed) = seeded("vhooks");
    let account = seed["account"].as_str().unwrap();
    let good_role = ecs_role(&region, &format!("{region}-ecs"));
    let task_role = seed["iam"]["taskRoleArn"].as_str().unwrap();
    let lambda = |name: &str| format!("arn:aws:lambda:{region}:{account}:function:{name}");
    lambda_function(&region, "good", &good_role);
    lambda_function(&region, "tasks-role", &good_role);
    let mut td = task_definition(&seed);
    td["containerDefinitions"][0]["portMappings"][0]["name"] = json!("http");
    let tg = seed["alb"]["targetGroupArn"].as_str().unwrap();
    let missing_tg = tg.replace("targetgroup/", "targetgroup/nope-").replace(tg.rsplit('/').next().unwrap(), "0123456789abcdef");
    let mut sv = service_definition(&seed);
    sv["monitoring"] = json!({"metricConfigurations": [{"metricNames": ["CPUUtilization", "MemoryUtilization"], "resolutionSeconds": 20}]});
    sv["vpcLatticeConfigurations"] = json!([
        {"roleArn": good_role, "targetGroupArn": tg, "portName": "http"},
        {"roleArn": task_role, "targetGroupArn": missing_tg, "portName": "grpc"}
    ]);
    sv["deploymentConfiguration"] = json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"hookTargetArn": lambda("good"), "roleArn": good_role, "lifecycleStages": ["POST_SCALE_UP"]},
        {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]},
        {"hookTargetArn": lambda("tasks-role"), "roleArn": task_role, "lifecycleStages": ["POST_SCALE_UP"]},
        {"hookTargetArn": lambda("missing"), "roleArn": good_role, "lifecycleStages": ["POST_SCALE_UP"]},
        {"hookTargetArn": format!("arn:aws:sns:{region}:{account}:topic"), "roleArn": good_role, "lifecycleStages": ["POST_SCALE_UP"]}
    ]});
    write_project(&p, &seed, &td, Some(&sv), "");
    let (run, n) = verify(&p);
    run.expect_code(1);
    let ok = |name: &str| assert_eq!(status_of(&n, name).1, "OK", "{name}: {:?}", status_of(&n, name));
    let ng = |name: &str, why: &str| {
        let node = status_of(&n, name);
        assert!(node.1 == "NG" && node.2.contains(why), "{name} should be NG with {why:?}: {node:?}");
    };
    ok("MonitoringConfiguration");
    ok(&format!("VpcLattice[{tg}]"));
    ok(&format!("LifecycleHook[{}]", lambda("good")));
    assert_eq!(status_of(&n, "LifecycleHook[1]").1, "SKIP", "PAUSE hooks are skipped");
    ok(&format!("Function[{}]", lambda("good")));
    ng(&format!("LifecycleHook[{}]", lambda("tasks-role")), "1 problem below");
    ng(&format!("Function[{}]", lambda("missing")), "does not exist");
    ng(&format!("LifecycleHook[{}]", lambda("missing")), "1 problem below");
    ng(&format!("LifecycleHook[arn:aws:sns:{region}:{account}:topic]"), "not a Lambda function ARN");
    ng(&format!("TargetGroup[{missing_tg}]"), "does not exist");
    ng(&format!("Role[{task_role}]"), "does not trust ecs.amazonaws.com");
    // iam-policy grants exactly these reads: the hooks' functions and the trust of their roles.
    let run = p.run(&["iam-policy"], &[]);
    run.expect_code(0);
    let policy: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let statement =
        |sid: &str| policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned().unwrap_or_else(|| panic!("no {sid}: {policy}"));
    let hooks = statement("CortadoVerifyHooks");
    assert_eq!(hooks["Action"], json!(["lambda:GetFunction"]));
    for f in ["good", "tasks-role", "missing"] {
        assert!(hooks["Resource"].as_array().unwrap().contains(&json!(lambda(f))), "{hooks}");
    }
    assert!(statement("CortadoVerifyServiceRoles")["Resource"].as_array().unwrap().contains(&json!(good_role)));
    let bad_lattice: Vec<_> = n.iter().filter(|x| x.0 == "PortName").collect();
    assert!(bad_lattice.iter().any(|x| x.1 == "OK") && bad_lattice.iter().any(|x| x.1 == "NG" && x.2.contains("\"grpc\"")), "{bad_lattice:?}");

    // A metric ECS does not collect at a chosen resolution, and a resolution it does not offer.
    sv["monitoring"] = json!({"metricConfigurations": [{"metricNames": ["DiskUtilization"], "resolutionSeconds": 30}]});
    sv.as_object_mut().unwrap().remove("vpcLatticeConfigurations");
    sv.as_object_mut().unwrap().remove("deploymentConfiguration");
    write_project(&p, &seed, &td, Some(&sv), "");
    let (run, n2) = verify(&p);
    run.expect_code(1);
    let m = status_of(&n2, "MonitoringConfiguration");
    assert!(m.1 == "NG" && m.2.contains("resolutionSeconds 30"), "{m:?}");
}

/// The seeded service initialised into a project, its task definition's image moved to `tag`.
fn initialised_with_image(name: &str, blue_green: bool, tag: &str) -> (Project, String, Value) {
    let (p, region, seed) = cortado_e2e::initialised_on(name, blue_green);
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    let image = td["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    let base = image.rsplit_once(':').map(|(b, _)| b).unwrap_or(&image).to_owned();
    td["containerDefinitions"][0]["image"] = json!(format!("{base}:{tag}"));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
    (p, region, seed)
}

/// `diff --jsonnet` (ecspresso v2.8): the same comparison, both sides printed as Jsonnet.
#[test]
fn diff_jsonnet_prints_the_jsonnet_forms() {
    let (p, _region, _seed) = initialised_with_image("diffjsonnet", false, "v2");
    let plain = p.run(&["diff", "--no-color"], &[]);
    plain.expect_code(0);
    let run = p.run(&["diff", "--jsonnet", "--no-color", "--exit-code"], &[]);
    run.expect_code(1);
    let changed: Vec<&str> =
        run.stdout.lines().filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++")).collect();
    assert_eq!(changed.len(), 2, "one line out, one in:\n{}", run.stdout);
    assert!(changed[0].trim_start_matches('-').trim_start().starts_with("image: '") && changed[0].ends_with(":v1',"), "{}", run.stdout);
    assert!(changed[1].trim_start_matches('+').trim_start().starts_with("image: '") && changed[1].ends_with(":v2',"), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("--- arn:aws:ecs:")) && run.stdout.contains("+++ "), "ecspresso's headers: {}", run.stdout);
    // The JSON diff says the same in JSON.
    assert!(plain.stdout.contains("-      \"image\": \"") && !plain.stdout.contains("image: '"), "{}", plain.stdout);
}

/// `appspec --output json` and ecspresso's `--log-format json`: the AppSpec as one JSON document.
#[test]
fn appspec_as_json() {
    let (p, region, seed) = initialised_with_image("appspecjson", true, "v1");
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap();
    let service = seed["ecs"]["blueGreenServiceName"].as_str().unwrap();
    let described = cortado_e2e::seeded::aws_json(
        sim(),
        &region,
        "ecs",
        "AmazonEC2ContainerServiceV20141113.DescribeServices",
        &json!({"cluster": cluster, "services": [service]}),
    );
    let current = described["services"][0]["taskDefinition"].as_str().unwrap().to_owned();
    let yaml = p.run(&["appspec", "--task-definition", "current"], &[]);
    yaml.expect_code(0);
    assert!(yaml.stdout.starts_with("version: 0.0\nResources:\n"), "{}", yaml.stdout);
    for args in [&["appspec", "--task-definition", "current", "--output", "json"][..], &["--log-format", "json", "appspec", "--task-definition", "current"][..]]
    {
        let run = p.run(args, &[]);
        run.expect_code(0);
        let spec: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", run.stdout));
        assert_eq!(spec["version"], json!(0.0));
        let props = &spec["Resources"][0]["TargetService"]["Properties"];
        assert_eq!(spec["Resources"][0]["TargetService"]["Type"], "AWS::ECS::Service");
        assert_eq!(props["TaskDefinition"], json!(current), "{args:?}");
        assert_eq!(props["LoadBalancerInfo"]["ContainerPort"], json!(80), "{}", run.stdout);
        assert!(yaml.stdout.contains(&format!("TaskDefinition: {current}")), "YAML and JSON name the same revision");
    }
}
