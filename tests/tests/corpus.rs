//! The corpus (tests/corpus/NAME/): definition sets in the shapes `ecspresso init` and real projects produce, each
//! deployed, diffed and deployed again against the strict simulator. A case passes when
//! * the first `deploy` exits 0 and leaves the service ACTIVE on the case's task definition family,
//! * `diff --exit-code` then exits 0 (the files agree with what runs),
//! * the second `deploy` exits 0 and sends no mutating request (call log),
//! * and the simulator found no request invalid against the API model (tests/sim/sim_validate.py).
//!
//! The case files are templates: the seeded infrastructure reaches them through the `CORPUS_*` variables
//! (`corpus_env`), as a real project reads its own from the environment or a tfstate.

use cortado_e2e::seeded::{aws_json, seeded};
use cortado_e2e::{Project, Run, repo_root, sim};
use serde_json::{Value, json};

/// Which seeded service a case deploys: a new one (created by the first deploy) or the seeded blue/green one.
enum Target {
    NewService,
    BlueGreen,
}

/// Copies tests/corpus/NAME/* into the project directory.
fn copy_case(p: &Project, name: &str) {
    let dir = repo_root().join("tests/corpus").join(name);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let file = path.file_name().and_then(|f| f.to_str()).expect("a UTF-8 file name").to_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        p.write(&file, &text);
    }
}

fn text(seed: &Value, pointer: &str) -> String {
    seed.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("seed has no string at {pointer}: {seed}")).to_owned()
}

/// The variables the case templates read, from the seed.
fn corpus_env(seed: &Value, service: &str, family: &str) -> Vec<(String, String)> {
    let vars = [
        ("CORPUS_CLUSTER", text(seed, "/ecs/clusterName")),
        ("CORPUS_SERVICE", service.to_owned()),
        ("CORPUS_FAMILY", family.to_owned()),
        ("CORPUS_SUBNET_A", text(seed, "/network/subnetIds/0")),
        ("CORPUS_SUBNET_B", text(seed, "/network/subnetIds/1")),
        ("CORPUS_SECURITY_GROUP", text(seed, "/network/securityGroupId")),
        ("CORPUS_TARGET_GROUP_ARN", text(seed, "/alb/targetGroupArn")),
        ("CORPUS_EXECUTION_ROLE_ARN", text(seed, "/iam/executionRoleArn")),
        ("CORPUS_TASK_ROLE_ARN", text(seed, "/iam/taskRoleArn")),
        ("CORPUS_IMAGE", text(seed, "/ecr/images/v1/uri")),
        ("CORPUS_IMAGE_V2", text(seed, "/ecr/images/v2/uri")),
        ("CORPUS_LOG_GROUP", text(seed, "/logGroup")),
        ("CORPUS_NAMESPACE", text(seed, "/cloudmap/namespaceName")),
        ("CORPUS_CODEDEPLOY_APP", text(seed, "/codedeploy/applicationName")),
        ("CORPUS_CODEDEPLOY_GROUP", text(seed, "/codedeploy/deploymentGroupName")),
    ];
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[track_caller]
fn expect(run: &Run, code: i32, step: &str, case: &str, region: &str) {
    if run.code != code {
        let invalid = sim().invalid_in(region);
        panic!(
            "corpus {case}: `{step}` exited {} (wanted {code})\n--- invalid requests\n{}\n--- stdout\n{}\n--- stderr\n{}",
            run.code,
            serde_json::to_string_pretty(&invalid).unwrap_or_default(),
            run.stdout,
            run.stderr
        );
    }
}

/// DescribeServices of the case's service, straight from the simulator.
fn describe(region: &str, cluster: &str, service: &str) -> Value {
    let v = aws_json(sim(), region, "ecs", "AmazonEC2ContainerServiceV20141113.DescribeServices", &json!({"cluster": cluster, "services": [service]}));
    v["services"].get(0).cloned().unwrap_or_else(|| panic!("{service} is not in {cluster}: {v}"))
}

/// deploy → diff --exit-code → deploy: the second deploy is a no-op, and every request was valid.
/// `tag` names the region and the seed's prefix (at most 24 characters with the process id: keep it short).
fn run_case(name: &str, tag: &str, target: Target) {
    assert!(repo_root().join("tests/corpus").join(name).is_dir(), "no corpus case {name}");
    let (mut p, region, seed) = seeded(tag);
    let cluster = text(&seed, "/ecs/clusterName");
    let (service, family) = match target {
        Target::NewService => (format!("{region}-{name}"), format!("{region}-{name}")),
        Target::BlueGreen => (text(&seed, "/ecs/blueGreenServiceName"), text(&seed, "/ecs/taskDefinitionFamily")),
    };
    copy_case(&p, name);
    p.env.extend(corpus_env(&seed, &service, &family));
    // The simulator runs a CodeDeploy target's lifecycle events one per poll: poll quickly.
    p.env.push(("CORTADO_POLL_INTERVAL".into(), "50ms".into()));

    expect(&p.run(&["deploy"], &[]), 0, "deploy", name, &region);
    let svc = describe(&region, &cluster, &service);
    assert_eq!(svc["status"], "ACTIVE", "corpus {name}: the service after deploy: {svc}");
    let td = svc["taskDefinition"].as_str().unwrap_or("");
    assert!(td.contains(&format!(":task-definition/{family}:")), "corpus {name}: runs {td}, not family {family}");

    expect(&p.run(&["diff", "--exit-code"], &[]), 0, "diff --exit-code", name, &region);

    let before = sim().mutations_in(&region).len();
    expect(&p.run(&["deploy"], &[]), 0, "second deploy", name, &region);
    let again: Vec<Value> = sim().mutations_in(&region).into_iter().skip(before).collect();
    assert!(again.is_empty(), "corpus {name}: the second deploy changed something:\n{}", serde_json::to_string_pretty(&again).unwrap_or_default());

    let invalid = sim().invalid_in(&region);
    assert!(invalid.is_empty(), "corpus {name}: requests invalid against the API model:\n{}", serde_json::to_string_pretty(&invalid).unwrap_or_default());
}

#[test]
fn fargate_alb_as_ecspresso_init_writes_it() {
    run_case("fargate-alb", "cx-alb", Target::NewService);
}

#[test]
fn ec2_bridge_with_memory_reservation_only() {
    run_case("ec2-bridge", "cx-ec2", Target::NewService);
}

#[test]
fn service_connect() {
    run_case("service-connect", "cx-sc", Target::NewService);
}

#[test]
fn efs_volume_without_root_directory() {
    run_case("efs", "cx-efs", Target::NewService);
}

#[test]
fn code_deploy_blue_green() {
    run_case("code-deploy", "cx-cd", Target::BlueGreen);
}

#[test]
fn capacity_provider_strategy_with_empty_launch_type() {
    run_case("capacity-provider", "cx-cp", Target::NewService);
}

#[test]
fn deployment_alarms() {
    run_case("deployment-alarms", "cx-alarm", Target::NewService);
}

#[test]
fn jsonnet_definitions() {
    run_case("jsonnet", "cx-jsonnet", Target::NewService);
}
