//! Requests checked against the ECS API model, and diffs that agree with AWS (issue 23 §1, §2):
//! `ecspresso init`-shaped definitions deploy with what AWS refuses removed, bad values are refused
//! before anything is sent, unknown members survive (or are refused under `strict: true`), and
//! deploy → `diff --exit-code` → deploy again sends nothing for Service Connect, EFS and CodeDeploy.

use cortado_e2e::seeded::{seeded, service_definition, task_definition, write_project};
use cortado_e2e::{Project, initialised, sim};
use serde_json::{Value, json};

/// Calls that change something in AWS.
const MUTATING: &[&str] = &[
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:CreateService",
    "ecs:UpdateService",
    "ecs:DeleteService",
    "ecs:TagResource",
    "ecs:UntagResource",
    "ecs:RunTask",
    "ecs:StopTask",
    "codedeploy:CreateDeployment",
];

fn mutating_since(region: &str, before: usize) -> Vec<String> {
    sim().calls_in(region).into_iter().skip(before).filter(|c| MUTATING.contains(&c.as_str())).collect()
}

/// The request bodies of `action` the simulator received in `region`.
fn requests(region: &str, action: &str) -> Vec<Value> {
    sim().log_in(region).into_iter().filter(|c| c["action"] == action).map(|c| c["body"].clone()).collect()
}

fn set_timeout(p: &Project) {
    p.write("cortado.yml", &format!("{}timeout: 60s\n", p.read("cortado.yml")));
}

/// deploy, then `diff --exit-code` exits 0, then a second deploy sends no mutating request.
fn assert_redeploy_is_a_noop(p: &Project, region: &str) {
    let run = p.run(&["diff", "--exit-code"], &[]);
    assert_eq!(run.code, 0, "diff after deploy:\n{}\n{}", run.stdout, run.stderr);
    let before = sim().calls_in(region).len();
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(mutating_since(region, before), Vec::<String>::new(), "the second deploy changed something");
}

#[test]
fn an_init_shaped_definition_deploys_without_what_aws_refuses() {
    let (p, region, seed) = seeded("modelinit");
    let mut td = task_definition(&seed);
    // What `ecspresso init` writes: empty enums and read-only fields of DescribeTaskDefinition.
    td["ipcMode"] = json!("");
    td["pidMode"] = json!("");
    td["compatibilities"] = json!(["EC2", "FARGATE"]);
    td["registeredAt"] = json!("2024-01-01T00:00:00Z");
    td["containerDefinitions"][0]["versionConsistency"] = json!("");
    td["containerDefinitions"][0]["portMappings"][0]["appProtocol"] = json!("");
    let mut sv = service_definition(&seed);
    sv["launchType"] = json!("");
    sv["capacityProviderStrategy"] = json!([{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]);
    sv["platformFamily"] = json!("Linux");
    sv["deploymentConfiguration"] = json!({"maximumPercent": 200, "minimumHealthyPercent": 100,
        "alarms": {"alarmNames": [], "enable": false, "rollback": false}});
    sv["createdAt"] = json!("2024-01-01T00:00:00Z");
    sv["events"] = json!([]);
    write_project(&p, &seed, &td, Some(&sv), "timeout: 60s\n");
    p.write("cortado.yml", &p.read("cortado.yml").replace(&format!("service: {}\n", seed["ecs"]["serviceName"].as_str().unwrap()), "service: model-init\n"));

    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("created service model-init"), "{}", run.stdout);
    assert!(!run.stderr.contains("not in the ECS API model"), "nothing unknown here: {}", run.stderr);

    let registered = requests(&region, "RegisterTaskDefinition");
    let body = registered.last().expect("a RegisterTaskDefinition request");
    for key in ["ipcMode", "pidMode", "compatibilities", "registeredAt"] {
        assert!(body.get(key).is_none(), "{key} was sent: {body}");
    }
    assert!(body["containerDefinitions"][0].get("versionConsistency").is_none(), "{body}");
    assert_eq!(body["containerDefinitions"][0]["portMappings"][0], json!({"containerPort": 80, "protocol": "tcp"}), "{body}");

    let created = requests(&region, "CreateService");
    let body = created.last().expect("a CreateService request");
    for key in ["launchType", "platformFamily", "createdAt", "events"] {
        assert!(body.get(key).is_none(), "{key} was sent: {body}");
    }
    assert!(body["deploymentConfiguration"].get("alarms").is_none(), "{body}");
    assert_eq!(body["capacityProviderStrategy"][0]["capacityProvider"], "FARGATE", "{body}");

    assert_redeploy_is_a_noop(&p, &region);
}

#[test]
fn a_bad_enum_value_exits_2_naming_file_line_and_key_and_sends_nothing() {
    let (p, region, seed) = seeded("modelenum");
    let mut td = task_definition(&seed);
    td["containerDefinitions"][0]["portMappings"][0]["appProtocol"] = json!("htp");
    write_project(&p, &seed, &td, Some(&service_definition(&seed)), "");
    let line = p.read("ecs-task-def.json").lines().position(|l| l.contains("\"appProtocol\": \"htp\"")).expect("the line") + 1;
    let before = sim().calls_in(&region).len();
    for args in [&["deploy"][..], &["diff"], &["render", "taskdef"]] {
        let run = p.run(args, &[]);
        run.expect_code(2);
        let wanted = format!("ecs-task-def.json:{line}: key \"containerDefinitions[0].portMappings[0].appProtocol\": \"htp\" is not one of http, http2, grpc");
        assert!(run.stderr.contains(&wanted), "{args:?}: {}", run.stderr);
    }
    assert_eq!(sim().calls_in(&region).len(), before, "a request left the host");

    // A value of the wrong type, in the service definition.
    td["containerDefinitions"][0]["portMappings"][0]["appProtocol"] = json!("http");
    let mut sv = service_definition(&seed);
    sv["desiredCount"] = json!("one");
    write_project(&p, &seed, &td, Some(&sv), "");
    let run = p.run(&["deploy"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("ecs-service-def.json:") && run.stderr.contains("key \"desiredCount\": expected an integer, found a string"), "{}", run.stderr);
    assert_eq!(sim().calls_in(&region).len(), before, "a request left the host");
}

#[test]
fn an_unknown_member_is_kept_with_one_warning_and_refused_under_strict() {
    let (p, region, seed) = seeded("modelunknown");
    let mut td = task_definition(&seed);
    td["containerDefinitions"][0]["futureSetting"] = json!({"mode": "on"});
    write_project(&p, &seed, &td, Some(&service_definition(&seed)), "timeout: 60s\n");
    // The simulator's model is the pinned one too: it lets this region's newer member through.
    sim().lenient(&region);
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    let warning = "key \"containerDefinitions[0].futureSetting\" is not in the ECS API model";
    assert_eq!(run.stderr.matches(warning).count(), 1, "one warning: {}", run.stderr);
    assert!(run.stderr.contains("ecs-task-def.json:"), "{}", run.stderr);
    let sent = requests(&region, "RegisterTaskDefinition");
    assert_eq!(sent.last().expect("registered")["containerDefinitions"][0]["futureSetting"], json!({"mode": "on"}), "kept");

    p.write("cortado.yml", &format!("{}strict: true\n", p.read("cortado.yml")));
    let before = sim().calls_in(&region).len();
    let run = p.run(&["deploy"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains(warning) && run.stderr.contains("strict: true refuses it"), "{}", run.stderr);
    assert_eq!(sim().calls_in(&region).len(), before, "a request left the host");
}

/// Edits a JSON file of the project.
fn edit(p: &Project, file: &str, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&p.read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    f(&mut v);
    p.write(file, &serde_json::to_string_pretty(&v).unwrap());
}

#[test]
fn service_connect_redeploys_as_a_noop() {
    let (p, region) = initialised("modelsc");
    edit(&p, "ecs-task-def.json", |td| td["containerDefinitions"][0]["portMappings"][0]["name"] = json!("web"));
    edit(&p, "ecs-service-def.json", |sv| {
        sv["serviceConnectConfiguration"] =
            json!({"enabled": true, "namespace": "internal", "services": [{"portName": "web", "clientAliases": [{"port": 80}]}]})
    });
    let before = sim().calls_in(&region).len();
    p.run(&["deploy"], &[]).expect_code(0);
    assert!(mutating_since(&region, before).contains(&"ecs:UpdateService".to_owned()), "the first deploy updates the service");
    assert_redeploy_is_a_noop(&p, &region);
}

#[test]
fn an_efs_volume_without_root_directory_redeploys_as_a_noop() {
    let (p, region) = initialised("modelefs");
    edit(&p, "ecs-task-def.json", |td| {
        td["volumes"] = json!([{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678", "transitEncryption": "ENABLED"}}]);
        td["containerDefinitions"][0]["mountPoints"] = json!([{"sourceVolume": "data", "containerPath": "/data"}]);
    });
    let before = sim().calls_in(&region).len();
    p.run(&["deploy"], &[]).expect_code(0);
    assert!(mutating_since(&region, before).contains(&"ecs:RegisterTaskDefinition".to_owned()));
    assert_redeploy_is_a_noop(&p, &region);
}

#[test]
fn an_unchanged_codedeploy_service_gets_no_new_deployment() {
    let sim = sim();
    let region = cortado_e2e::unique_region("modelcd");
    let seed = sim.seed(&region, &region);
    let mut p = Project::against(sim, &region);
    // The simulator runs a CodeDeploy target's lifecycle events one per poll: poll quickly.
    p.env.push(("CORTADO_POLL_INTERVAL".into(), "50ms".into()));
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["blueGreenServiceName"].as_str().unwrap()], &[])
        .expect_code(0);
    p.write("cortado.yml", &p.read("cortado.yml").replace("timeout: 10m0s\n", ""));
    set_timeout(&p);
    let before = sim.calls_in(&region).len();
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("CodeDeploy: no new deployment"), "{}", run.stdout);
    assert_eq!(mutating_since(&region, before), Vec::<String>::new());
    assert_redeploy_is_a_noop(&p, &region);

    // Asked for, it is made.
    let before = sim.calls_in(&region).len();
    p.run(&["deploy", "--force-new-deployment"], &[]).expect_code(0);
    assert_eq!(mutating_since(&region, before), vec!["codedeploy:CreateDeployment".to_owned()]);
}
