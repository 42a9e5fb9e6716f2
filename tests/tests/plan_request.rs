//! The plan is the request (issue 22): each attack that used to reach AWS while a hard-mandatory
//! gate said ALLOW, now blocked by a gate that sees the exact requests; and what AWS receives is
//! what the gate was shown. The gate is the `watchdog` fixture: it denies any listed member/value
//! wherever it appears in the plan (steps, definitions, overrides, desired count).

use std::time::{Duration, Instant};

use cortado_e2e::{Project, fixture_plugin, initialised_on, sim, unique_region};
use serde_json::{Value, json};

/// What an attacker wants past the gate: a service opened to the internet, scaled to nothing, a
/// port forwarded to a host of their choosing, an image the policy forbids.
fn watchdog(extra: &str) -> String {
    let (wasm, digest) = fixture_plugin("watchdog");
    let rules = json!({"deny": [
        {"key": "assignPublicIp", "value": "ENABLED"},
        {"key": "AssignPublicIp", "value": "ENABLED"},
        {"key": "MaxCapacity", "value": 0},
        {"key": "desiredCount", "value": 0},
        {"key": "host", "value": "10.9.9.9"},
        {"key": "image", "value": "public.ecr.aws/evil/app:latest"},
    ]});
    format!(
        "audit_log: cortado-audit.jsonl\nplugins:\n  - name: watchdog\n    path: {}\n    sha256: {digest}\n    enforcement: hard-mandatory\n{extra}    config: {rules}\n",
        wasm.display()
    )
}

/// A project on the seeded service (`blue_green`: the CODE_DEPLOY one) with the watchdog gate.
fn project(tag: &str, blue_green: bool, gate_extra: &str) -> (Project, String, Value) {
    let (p, region, seed) = initialised_on(tag, blue_green);
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), watchdog(gate_extra)));
    (p, region, seed)
}

fn mutations(region: &str) -> Vec<String> {
    let read_only = ["Describe", "List", "Get", "BatchGet"];
    sim().calls_in(region).into_iter().filter(|c| !read_only.iter().any(|r| c.split(':').nth(1).unwrap_or("").starts_with(r))).collect()
}

fn denied(out: &str, what: &str) {
    assert!(out.contains("gate watchdog (hard-mandatory") && out.contains("DENY") && out.contains(what), "{out}");
}

#[test]
fn codedeploy_appspec_network_is_judged() {
    // `deploy --no-update-service` on a CODE_DEPLOY service: the AppSpec carries the local service
    // definition's network configuration, which the gate's service definition did not show.
    let (p, region, _) = project("pr-appspec", true, "");
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    sv["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] = json!("ENABLED");
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    let run = p.run(&["deploy", "--no-update-service"], &[]);
    run.expect_code(1);
    denied(&run.stderr, "step codedeploy:CreateDeployment: AssignPublicIp = \"ENABLED\"");
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));
}

#[test]
fn run_task_network_is_judged() {
    let (p, region, seed) = project("pr-run", false, "");
    let subnet = seed["ec2"]["subnetIds"][0].as_str().unwrap_or("subnet-1").to_owned();
    let sg = seed["ec2"]["securityGroupId"].as_str().unwrap_or("sg-1").to_owned();
    let args = ["run", "--assign-public-ip", "ENABLED", "--subnets", &subnet, "--security-groups", &sg, "--launch-type", "FARGATE", "--no-wait"];
    let run = p.run(&args, &[]);
    run.expect_code(1);
    denied(&run.stderr, "step ecs:RunTask: assignPublicIp = \"ENABLED\"");
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));
}

#[test]
fn auto_scaling_to_zero_is_judged() {
    let (p, region, _) = project("pr-scale", false, "");
    let run = p.run(&["scale", "--auto-scaling-min", "0", "--auto-scaling-max", "0"], &[]);
    run.expect_code(1);
    denied(&run.stderr, "step application-autoscaling:RegisterScalableTarget: MaxCapacity = 0");
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));
}

#[test]
fn port_forwarding_host_is_judged_and_recorded() {
    let (p, region, _) = project("pr-forward", false, "");
    let run = p.run(&["exec", "--port-forward", "--host", "10.9.9.9", "--port", "5432", "--local-port", "15432"], &[]);
    run.expect_code(1);
    denied(&run.stderr, "step ssm:StartSession: host = [\"10.9.9.9\"]");
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));
    // The audit record names the host and ports it refused.
    let decision = p.read("cortado-audit.jsonl");
    assert!(decision.contains("\"host\":[\"10.9.9.9\"]") && decision.contains("\"portNumber\":[\"5432\"]"), "{decision}");
}

#[test]
fn a_missing_or_unprotected_signing_key_stops_before_any_change() {
    let (p, region, _) = project("pr-signing", false, "");
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    let base = p.read("cortado.yml");
    p.write("cortado.yml", &format!("{base}signing:\n  key_file: ./missing.key\n"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("missing.key") && run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));
    // A key others can read is refused too (as the compile-cache key is).
    p.write("cortado.yml", &format!("{base}signing:\n  key_file: ./loose.key\n"));
    p.run(&["evidence", "keygen", "loose.key"], &[]).expect_code(0);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.path("loose.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = p.run(&["deploy"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("loose.key") && run.stderr.contains("group or others"), "{}", run.stderr);
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));
}

#[test]
fn a_stage_gate_after_continue_sees_the_task_definition_it_continues() {
    // `deploy --wait-until ecs:STAGE` then `continue`: the stage gate used to see no task
    // definition at all (no deploy plan in this run), so an image rule let anything through.
    let stage = "    stages: [POST_TEST_TRAFFIC_SHIFT]\n";
    let (p, region, _) = project("pr-stage", false, stage);
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    sv["deploymentConfiguration"]["strategy"] = json!("BLUE_GREEN");
    sv["deploymentConfiguration"]["lifecycleHooks"] = json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    td["containerDefinitions"][0]["image"] = json!("public.ecr.aws/evil/app:latest");
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
    let fast = ("CORTADO_POLL_INTERVAL", "50ms");
    p.run(&["deploy", "--wait-until", "ecs:POST_TEST_TRAFFIC_SHIFT"], &[fast]).expect_code(0);
    let c = p.run(&["continue"], &[fast]);
    c.expect_code(1);
    let out = format!("{}{}", c.stdout, c.stderr);
    assert!(out.contains("public.ecr.aws/evil/app:latest") && out.contains("rolled back"), "{out}");
    let continued = sim().log_in(&region).iter().filter(|c| c["action"] == "ContinueServiceDeployment").count();
    assert_eq!(continued, 1, "one answer: the gate's ROLLBACK");
}

#[test]
fn one_cluster_spelled_two_ways_takes_one_lock() {
    // Two configs for one service, `cluster: NAME` and `cluster: arn:…:cluster/NAME`: one S3 lock.
    let sim = sim();
    let region = unique_region("pr-lock");
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap().to_owned();
    p.run(&["init", "--cluster", &cluster, "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let bucket = format!("{}-locks", region.to_lowercase());
    create_bucket(&sim.url, &region, &bucket);
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write("cortado.yml", &format!("{config}lock: s3://{bucket}/l/\n"));
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    let arn = format!("arn:aws:ecs:{region}:123456789012:cluster/{cluster}");
    p.write("by-arn.yml", &p.read("cortado.yml").replace(&format!("cluster: {cluster}\n"), &format!("cluster: {arn}\n")));
    let mut first = p.spawn_with(&["deploy"], &[("CORTADO_PAUSE_BEFORE_APPLY", "30s")]);
    let start = Instant::now();
    while !sim.calls_in(&region).iter().any(|c| c == "s3:PutObject") {
        assert!(start.elapsed() < Duration::from_secs(30), "the first deployer never took the lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = p.run(&["--config", "by-arn.yml", "deploy"], &[]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains("locked by another deployer"), "{}", second.stderr);
    first.kill().expect("kill the holder");
    let _ = first.wait();
    assert!(!sim.calls_in(&region).iter().any(|c| c == "ecs:UpdateService"), "nobody updated the service");
}

/// CreateBucket straight to the simulator's S3 (path style; moto checks no signature).
fn create_bucket(url: &str, region: &str, name: &str) {
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0");
    let cfg = format!("<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>");
    ureq::put(&format!("{url}/{name}")).header("Authorization", &auth).send(cfg.as_bytes()).expect("CreateBucket");
}
