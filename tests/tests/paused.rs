//! `--wait-until paused` (ecspresso v3) on `deploy`, `wait`, `continue` and `rollback`: the command
//! stops at the first PAUSE lifecycle hook awaiting action, exits 0 naming the hook and its stage
//! and saying how to go on; a ROLLING service (no hooks) is refused before anything changes.

use cortado_e2e::seeded::aws_json;
use cortado_e2e::{Project, Run, initialised, sim};
use serde_json::{Value, json};

const FAST: (&str, &str) = ("CORTADO_POLL_INTERVAL", "50ms");

/// A project from the seeded service, with `config` merged into its deploymentConfiguration and
/// the image tag `tag`.
fn project(tag: &str, config: Value, image: &str) -> (Project, String) {
    let (p, region) = initialised(tag);
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    for (k, v) in config.as_object().unwrap() {
        sv["deploymentConfiguration"][k] = v.clone();
    }
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    cortado_e2e::seeded::retag(&p, image);
    (p, region)
}

fn run(p: &Project, args: &[&str]) -> Run {
    p.run(args, &[FAST])
}

fn all(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

fn calls(region: &str, action: &str) -> usize {
    sim().calls_in(region).iter().filter(|c| c.as_str() == format!("ecs:{action}")).count()
}

fn pause_at(stage: &str) -> Value {
    json!({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": [stage],
        "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]})
}

/// The newest service deployment of the project's service, as the simulator has it.
fn newest_deployment(p: &Project, region: &str) -> Value {
    let cfg = p.read("cortado.yml");
    let get = |k: &str| cfg.lines().find_map(|l| l.strip_prefix(k)).unwrap().trim().to_owned();
    let (cluster, service) = (get("cluster: "), get("service: "));
    let ecs = "AmazonEC2ContainerServiceV20141113";
    let list = aws_json(sim(), region, "ecs", &format!("{ecs}.ListServiceDeployments"), &json!({"cluster": cluster, "service": service}));
    let arn = list["serviceDeployments"][0]["serviceDeploymentArn"].as_str().unwrap().to_owned();
    aws_json(sim(), region, "ecs", &format!("{ecs}.DescribeServiceDeployments"), &json!({"serviceDeploymentArns": [arn]}))["serviceDeployments"][0].clone()
}

#[test]
fn deploy_and_wait_stop_at_the_pause_and_continue_goes_on() {
    let (p, region) = project("pdeploy", pause_at("POST_SCALE_UP"), "v2");
    let r = run(&p, &["deploy", "--wait-until", "paused"]);
    r.expect_code(0);
    assert!(r.stdout.contains("is paused at POST_SCALE_UP: hook ") && r.stdout.contains("continue with `cortado continue`"), "{}", all(&r));
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 0);
    let d = newest_deployment(&p, &region);
    assert_eq!(d["status"], "IN_PROGRESS", "{d}");

    // `wait` finds the same pause; JSON names the hook.
    let w = run(&p, &["wait", "--wait-until", "paused", "--output", "json"]);
    w.expect_code(0);
    let result: Value = w.stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).next_back().expect("a JSON result line");
    let detail = if result.get("detail").is_some() { result["detail"].clone() } else { result.clone() };
    assert_eq!((detail["paused"].as_bool(), detail["hook_stage"].as_str()), (Some(true), Some("POST_SCALE_UP")), "{result}");
    assert!(detail["hook_id"].as_str().is_some_and(|h| !h.is_empty()), "{result}");

    // `continue --wait-until paused`: the answered hook is not the next pause; with no other
    // hook the deployment is followed to its end.
    let c = run(&p, &["continue", "--wait-until", "paused"]);
    c.expect_code(0);
    assert!(c.stdout.contains("SUCCESSFUL") && !c.stdout.contains("is paused at"), "{}", all(&c));
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 1);
}

#[test]
fn rollback_of_a_finished_deployment_stops_at_the_pause_of_the_new_one() {
    let (p, region) = project("prollback", pause_at("POST_SCALE_UP"), "v2");
    run(&p, &["deploy", "--wait-until", "paused"]).expect_code(0);
    run(&p, &["continue"]).expect_code(0);
    let r = run(&p, &["rollback", "--wait-until", "paused"]);
    r.expect_code(0);
    assert!(r.stdout.contains("is paused at POST_SCALE_UP: hook "), "{}", all(&r));
    let d = newest_deployment(&p, &region);
    assert_eq!(d["status"], "IN_PROGRESS", "{d}");
    run(&p, &["continue"]).expect_code(0);
}

#[test]
fn a_rolling_service_is_refused_before_anything_changes() {
    let (p, region) = project("prolling", json!({}), "v2");
    let r = run(&p, &["deploy", "--wait-until", "paused"]);
    r.expect_code(2);
    assert!(r.stderr.contains("--wait-until paused: the service deploys with ROLLING, which has no PAUSE lifecycle hooks"), "{}", r.stderr);
    assert_eq!(calls(&region, "UpdateService") + calls(&region, "RegisterTaskDefinition"), 0);
    let w = run(&p, &["wait", "--wait-until", "paused"]);
    w.expect_code(2);
    assert!(w.stderr.contains("has no PAUSE lifecycle hooks"), "{}", w.stderr);
    // After a deploy there is a revision to roll back to: still refused before it changes.
    run(&p, &["deploy"]).expect_code(0);
    let updates = calls(&region, "UpdateService");
    let r = run(&p, &["rollback", "--wait-until", "paused"]);
    r.expect_code(2);
    assert!(r.stderr.contains("has no PAUSE lifecycle hooks"), "{}", r.stderr);
    assert_eq!(calls(&region, "UpdateService"), updates);
    let r = run(&p, &["deploy", "--wait-until", "pause"]);
    r.expect_code(2);
    assert!(r.stderr.contains("expected deployed, stable, paused, ecs:<STAGE>") && r.stderr.contains("codedeploy:<EVENT>"), "{}", r.stderr);
}

/// The hook ID in a "is paused at STAGE: hook ID awaits action" line.
fn paused_hook(r: &Run) -> String {
    let line = r.stdout.lines().find(|l| l.contains("is paused at")).unwrap_or_else(|| panic!("no pause in:\n{}", all(r)));
    line.split("hook ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_owned()
}

#[test]
fn a_linear_deployment_pauses_at_every_production_step_and_continue_goes_one_step_at_a_time() {
    let config = json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 0},
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]});
    let (p, region) = project("plinear", config, "v2");
    let first = run(&p, &["deploy", "--wait-until", "paused"]);
    first.expect_code(0);
    let hook1 = paused_hook(&first);
    // The hook just answered is not the next pause: the next step's hook (a new ID) is.
    let second = run(&p, &["continue", "--wait-until", "paused"]);
    second.expect_code(0);
    let hook2 = paused_hook(&second);
    assert_ne!(hook1, hook2, "{}", all(&second));
    assert!(second.stdout.contains("production:50%"), "{}", all(&second));
    let last = run(&p, &["continue", "--wait-until", "paused"]);
    last.expect_code(0);
    assert!(last.stdout.contains("SUCCESSFUL") && !last.stdout.contains("is paused at"), "{}", all(&last));
    assert_eq!(calls(&region, "ContinueServiceDeployment"), 2);
}
