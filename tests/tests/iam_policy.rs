//! `cortado iam-policy` for the README demo config (scripts/demo.sh: `init` from the seeded service,
//! then tfstate over S3 and the change-freeze gate, the task definition reading one SSM parameter),
//! compared with a policy written by hand: no `"Resource": "*"` on any action whose resource the
//! config determines.

use cortado_e2e::seeded::seeded;
use serde_json::Value;

#[test]
fn the_demo_config_gets_exactly_the_hand_written_policy() {
    let (p, region, seed) = seeded("iampol");
    let (cluster, service) = (seed["ecs"]["clusterName"].as_str().unwrap(), seed["ecs"]["serviceName"].as_str().unwrap());
    p.run(&["init", "--cluster", cluster, "--service", service], &[]).expect_code(0);
    let tfstate_url = seed["tfstate"]["url"].as_str().unwrap();
    let config = p.read("cortado.yml");
    p.write(
        "cortado.yml",
        &format!("{config}plugins:\n  - name: tfstate\n    config:\n      url: {tfstate_url}\n  - name: change-freeze\n    enforcement: soft-mandatory\n"),
    );
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    let env = td["containerDefinitions"][0]["environment"].as_array_mut().map(std::mem::take).unwrap_or_default();
    let mut env: Vec<Value> = env.into_iter().filter(|e| e["name"] != "DB_HOST").collect();
    env.push(serde_json::json!({"name": "SUBNET", "value": "{{ tfstate `aws_subnet.private[0].id` }}"}));
    env.push(serde_json::json!({"name": "DB_HOST", "value": format!("{{{{ ssm `/{region}/db/host` }}}}")}));
    td["containerDefinitions"][0]["environment"] = Value::Array(env);
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());

    let run = p.run(&["iam-policy"], &[]);
    run.expect_code(0);
    let got: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let expected = expected_policy(&region, &seed);
    assert_eq!(got, expected, "got:\n{}", serde_json::to_string_pretty(&got).unwrap());
}

/// Written by hand from what each command calls (R: the region, also the seed's prefix, cluster and
/// service name). `*` stays only where IAM has no resource to scope to (task-definition listing and
/// registration, application auto scaling, DescribeTargetGroups/DescribeLogGroups/DescribeParameters)
/// or the scope is a condition (the cluster's tasks).
fn expected_policy(region: &str, seed: &Value) -> Value {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "CortadoTaskDefinitions", "Effect": "Allow", "Resource": "*",
     "Action": ["ecs:DeleteTaskDefinitions", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:ListTaskDefinitions", "ecs:RegisterTaskDefinition", "sts:GetCallerIdentity"]},
    {"Sid": "CortadoService", "Effect": "Allow", "Resource": "arn:aws:ecs:R:*:service/R/R",
     "Action": ["ecs:CreateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:UpdateService"]},
    {"Sid": "CortadoAutoScaling", "Effect": "Allow", "Resource": "*",
     "Action": ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:RegisterScalableTarget"]},
    {"Sid": "CortadoServiceDeployments", "Effect": "Allow",
     "Action": ["ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecs:ListServiceDeployments", "ecs:StopServiceDeployment"],
     "Resource": ["arn:aws:ecs:R:*:service/R/R", "arn:aws:ecs:R:*:service-deployment/R/R/*", "arn:aws:ecs:R:*:service-revision/R/R/*"]},
    {"Sid": "CortadoTags", "Effect": "Allow", "Action": ["ecs:ListTagsForResource", "ecs:TagResource", "ecs:UntagResource"],
     "Resource": ["arn:aws:ecs:R:*:service/R/R", "arn:aws:ecs:R:*:task-definition/*"]},
    {"Sid": "CortadoTasks", "Effect": "Allow", "Action": ["ecs:DescribeClusters", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:RunTask", "ecs:StopTask"],
     "Resource": "*", "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:R:*:cluster/R"}}},
    {"Sid": "CortadoLogs", "Effect": "Allow", "Action": ["logs:FilterLogEvents", "logs:GetLogEvents"], "Resource": "arn:aws:logs:R:*:log-group:*"},
    {"Sid": "CortadoVerify", "Effect": "Allow", "Resource": "*",
     "Action": ["elasticloadbalancing:DescribeTargetGroups", "logs:DescribeLogGroups", "ssm:DescribeParameters"]},
    {"Sid": "CortadoVerifyImages", "Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Resource": ["arn:aws:ecr:R:123456789012:repository/R/app"]},
    {"Sid": "CortadoVerifyRoles", "Effect": "Allow", "Action": ["iam:GetRole", "sts:AssumeRole"],
     "Resource": ["arn:aws:iam::123456789012:role/R-exec", "arn:aws:iam::123456789012:role/R-task"]},
    {"Sid": "CortadoVerifyParameters", "Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": ["PASSWORD"]},
    {"Sid": "CortadoVerifySecrets", "Effect": "Allow", "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], "Resource": ["SECRET"]},
    {"Sid": "CortadoVerifyLogs", "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": ["arn:aws:logs:R:*:log-group:/ecs/R", "arn:aws:logs:R:*:log-group:/ecs/R:*"]},
    {"Sid": "CortadoExec", "Effect": "Allow", "Action": ["ecs:ExecuteCommand"], "Resource": ["arn:aws:ecs:R:*:cluster/R", "arn:aws:ecs:R:*:task/R/*"]},
    {"Sid": "CortadoExecSession", "Effect": "Allow", "Action": ["ssm:StartSession"],
     "Resource": ["arn:aws:ecs:R:*:task/R/*", "arn:aws:ssm:R::document/AWS-StartPortForwardingSession", "arn:aws:ssm:R::document/AWS-StartPortForwardingSessionToRemoteHost"]},
    {"Sid": "CortadoPassRole", "Effect": "Allow", "Action": ["iam:PassRole"],
     "Resource": ["arn:aws:iam::123456789012:role/R-exec", "arn:aws:iam::123456789012:role/R-task"],
     "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
    {"Sid": "PluginSsm", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "arn:aws:ssm:R:*:parameter/R/db/host"},
    {"Sid": "PluginTfstate", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::R-tfstate/env/terraform.tfstate"}
  ]
}"#;
    let password = seed["ssm"]["parameters"][format!("/{region}/db/password")]["arn"].as_str().unwrap();
    let secret = seed["secret"]["arn"].as_str().unwrap();
    let text = text
        .replace("PASSWORD", password)
        .replace("SECRET", secret)
        .replace(":R:", &format!(":{region}:"))
        .replace("/R", &format!("/{region}"))
        .replace(":R-", &format!(":{region}-"))
        .replace("role/R-", &format!("role/{region}-"));
    serde_json::from_str(&text).unwrap()
}

/// GetMetricData and DescribeTargetHealth have no IAM resource-level permissions: their statement
/// says `*` (the broker narrows them to the grants' metrics and target groups), while the plugin's
/// other grants keep their resources.
#[test]
fn metric_reads_get_a_star_statement_and_keep_the_broker_narrowing() {
    let (p, region, seed) = seeded("iammetric");
    let (cluster, service) = (seed["ecs"]["clusterName"].as_str().unwrap(), seed["ecs"]["serviceName"].as_str().unwrap());
    p.run(&["init", "--cluster", cluster, "--service", service], &[]).expect_code(0);
    let grants = "    grants:\n      - {action: cloudwatch:GetMetricData, resource: \"arn:aws:cloudwatch:*:*:metric/AWS/ApplicationELB/*\"}\n      - {action: elasticloadbalancing:DescribeTargetHealth, resource: \"arn:aws:elasticloadbalancing:*:*:targetgroup/app/*\"}\n      - {action: ssm:GetParameter, resource: \"arn:aws:ssm:*:*:parameter/canary/*\"}\n";
    p.write("cortado.yml", &format!("{}plugins:\n  - name: canary-analysis\n    stages: [POST_TEST_TRAFFIC_SHIFT]\n{grants}", p.read("cortado.yml")));
    let run = p.run(&["iam-policy"], &[]);
    run.expect_code(0);
    let got: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let plugin: Vec<&Value> = got["Statement"].as_array().unwrap().iter().filter(|s| s["Sid"].as_str().unwrap().starts_with("PluginCanary")).collect();
    let want = serde_json::json!([
        {"Sid": "PluginCanaryanalysis", "Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "elasticloadbalancing:DescribeTargetHealth"], "Resource": "*"},
        {"Sid": "PluginCanaryanalysis1", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "arn:aws:ssm:*:*:parameter/canary/*"},
    ]);
    assert_eq!(serde_json::to_value(&plugin).unwrap(), want, "{}", serde_json::to_string_pretty(&got).unwrap());
    let _ = region;
}

/// `iam-policy` needs no AWS call for a config without template lookups: with `region: cn-north-1`
/// (and `us-gov-west-1`) every ARN it builds is in that region's partition, never `arn:aws:`.
#[test]
fn china_and_govcloud_regions_get_their_partition() {
    for (region, partition) in [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
        let p = cortado_e2e::Project::new();
        p.write(
            "cortado.yml",
            &format!("region: {region}\ncluster: prod\nservice: web\ntask_definition: td.json\naudit_log: s3://audit/cortado/\nplugins:\n  - name: tfstate\n    config:\n      url: s3://states/terraform.tfstate\n"),
        );
        let td = serde_json::json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1",
            "secrets": [{"name": "DB", "valueFrom": "/web/db"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}}}]});
        p.write("td.json", &td.to_string());
        let run = p.run(&["iam-policy"], &[]);
        run.expect_code(0);
        let got: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        let text = serde_json::to_string(&got).unwrap();
        let arns: Vec<&str> = text.split('"').filter(|s| s.starts_with("arn:")).collect();
        assert!(arns.len() > 10, "{text}");
        let prefix = format!("arn:{partition}:");
        assert!(arns.iter().all(|a| a.starts_with(&prefix)), "{region}: {arns:#?}");
        for want in [
            format!("arn:{partition}:ecs:{region}:*:service/prod/web"),
            format!("arn:{partition}:ssm:{region}:*:parameter/web/db"),
            format!("arn:{partition}:logs:{region}:*:log-group:/ecs/web"),
            format!("arn:{partition}:s3:::audit/cortado/locks/prod/web"),
            format!("arn:{partition}:s3:::states/terraform.tfstate"),
        ] {
            assert!(arns.contains(&want.as_str()), "{want} missing from {arns:#?}");
        }
    }
}
