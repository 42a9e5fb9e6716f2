//! `--wait-until codedeploy:EVENT` (ecspresso v2.6.2) on `deploy`, `wait` and `rollback`: the
//! command returns once the CodeDeploy deployment's lifecycle event (of its ECS target) Succeeded,
//! while the deployment goes on; an unknown event is exit 2 with nothing sent; a service CodeDeploy
//! does not deploy is refused before anything changes.

use cortado_e2e::seeded::aws_json;
use cortado_e2e::{Project, initialised_on, is_mutating, sim};
use serde_json::{Value, json};

const FAST: (&str, &str) = ("CORTADO_POLL_INTERVAL", "50ms");

fn set_image_tag(p: &Project, tag: &str) {
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    let old = td["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    td["containerDefinitions"][0]["image"] = json!(format!("{}:{tag}", old.rsplit_once(':').unwrap().0));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
}

/// The newest CodeDeploy deployment of the seeded group (ListDeployments does not advance it).
fn newest_deployment(region: &str, seed: &Value) -> String {
    let body = json!({"applicationName": seed["codedeploy"]["applicationName"], "deploymentGroupName": seed["codedeploy"]["deploymentGroupName"]});
    let list = aws_json(sim(), region, "codedeploy", "CodeDeploy_20141006.ListDeployments", &body);
    list["deployments"].as_array().and_then(|d| d.last()).and_then(Value::as_str).unwrap_or_else(|| panic!("no deployment: {list}")).to_owned()
}

/// The ECS target's status and lifecycle events as `name:status` (GetDeploymentTarget advances nothing).
fn target_events(region: &str, seed: &Value, id: &str) -> (String, Vec<String>) {
    let target_id = format!("{}:{}", seed["ecs"]["clusterName"].as_str().unwrap(), seed["ecs"]["blueGreenServiceName"].as_str().unwrap());
    let t = aws_json(sim(), region, "codedeploy", "CodeDeploy_20141006.GetDeploymentTarget", &json!({"deploymentId": id, "targetId": target_id}));
    let ecs = &t["deploymentTarget"]["ecsTarget"];
    let events = ecs["lifecycleEvents"]
        .as_array()
        .unwrap_or_else(|| panic!("no lifecycleEvents: {t}"))
        .iter()
        .map(|e| format!("{}:{}", e["lifecycleEventName"].as_str().unwrap_or(""), e["status"].as_str().unwrap_or("")))
        .collect();
    (ecs["status"].as_str().unwrap_or("").to_owned(), events)
}

#[test]
fn deploy_returns_at_the_event_while_the_deployment_goes_on() {
    let (p, region, seed) = initialised_on("cdwait", true);
    set_image_tag(&p, "v2");
    let run = p.run(&["deploy", "--wait-until", "codedeploy:AfterAllowTestTraffic"], &[FAST]);
    run.expect_code(0);
    assert!(run.stdout.contains("reached AfterAllowTestTraffic (Succeeded; deployment InProgress)"), "{}", run.stdout);
    assert!(run.stdout.contains("goes on in CodeDeploy") && run.stdout.contains("`cortado wait`"), "how to go on: {}", run.stdout);
    assert!(!run.stdout.contains("succeeded"), "returned at the event, not at the end: {}", run.stdout);

    // The simulator: the event Succeeded, production traffic not shifted yet, the target still InProgress.
    let id = newest_deployment(&region, &seed);
    let (status, events) = target_events(&region, &seed, &id);
    assert_eq!(status, "InProgress", "{events:?}");
    assert!(events.contains(&"AfterAllowTestTraffic:Succeeded".to_owned()), "{events:?}");
    assert!(events.contains(&"AllowTraffic:Pending".to_owned()) && events.contains(&"AfterAllowTraffic:Pending".to_owned()), "{events:?}");

    // `wait` to a later event, with the event in its JSON result, then to the end.
    let run = p.run(&["wait", "--wait-until", "codedeploy:AllowTraffic", "--output", "json"], &[FAST]);
    run.expect_code(0);
    let last: Value = run.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).next_back().unwrap_or_else(|| panic!("no JSON: {}", run.stdout));
    assert_eq!(last["type"], "result", "{last}");
    assert_eq!(last["lifecycle_event"], "AllowTraffic", "{last}");
    assert_eq!(last["lifecycle_event_status"], "Succeeded", "{last}");
    assert_eq!(last["deployment_id"], id.as_str(), "{last}");
    assert_eq!(target_events(&region, &seed, &id).0, "InProgress");
    let run = p.run(&["wait"], &[FAST]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("CodeDeploy deployment {id} succeeded")), "{}", run.stdout);
    assert!(target_events(&region, &seed, &id).1.iter().all(|e| e.ends_with(":Succeeded")));

    // A deployment that fails (during Install) before the event: exit 1, although CodeDeploy marks
    // the later events Skipped (ecspresso would count that Skipped as done).
    set_image_tag(&p, "fail");
    let run = p.run(&["deploy", "--wait-until", "codedeploy:AfterAllowTestTraffic"], &[FAST]);
    run.expect_code(1);
    assert!(run.stderr.contains("Failed before its lifecycle event AfterAllowTestTraffic was reached"), "{}", run.stderr);
    // The failed deployment, not the automatic rollback deployment the group then records.
    let failed = run.stdout.split("CodeDeploy deployment ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_else(|| panic!("{}", run.stdout));
    let (status, events) = target_events(&region, &seed, failed);
    assert_eq!(status, "Failed", "{events:?}");
    assert!(events.contains(&"Install:Failed".to_owned()) && events.contains(&"AfterAllowTestTraffic:Skipped".to_owned()), "{events:?}");
}

#[test]
fn an_unknown_event_is_exit_2_with_nothing_sent() {
    let (p, region, _seed) = initialised_on("cdwaitbad", true);
    set_image_tag(&p, "v2");
    for args in [&["deploy", "--wait-until", "codedeploy:ApplicationStart"][..], &["wait", "--wait-until", "codedeploy:AllowTestTrafic"][..]] {
        let before = sim().calls_in(&region).len();
        let run = p.run(args, &[FAST]);
        run.expect_code(2);
        assert!(run.stderr.contains("--wait-until codedeploy:") && run.stderr.contains("AfterAllowTestTraffic, BeforeAllowTraffic"), "{}", run.stderr);
        let calls = sim().calls_in(&region);
        assert_eq!(calls.len(), before, "calls sent for {args:?}: {:?}", &calls[before..]);
    }
}

#[test]
fn a_rolling_service_is_refused_before_any_change() {
    let (p, region, _seed) = initialised_on("cdwaitroll", false);
    set_image_tag(&p, "v2");
    p.run(&["deploy"], &[FAST]).expect_code(0); // a previous revision for rollback to plan with
    set_image_tag(&p, "v3");
    let before = sim().calls_in(&region).len();
    for args in [
        &["deploy", "--wait-until", "codedeploy:AfterAllowTestTraffic"][..],
        &["rollback", "--wait-until", "codedeploy:AllowTraffic"][..],
        &["wait", "--wait-until", "codedeploy:AllowTraffic"][..],
        &["continue", "--wait-until", "codedeploy:AllowTraffic"][..],
    ] {
        let run = p.run(args, &[FAST]);
        run.expect_code(2);
        let why = if args[0] == "continue" { "answers PAUSE hooks" } else { "not CODE_DEPLOY" };
        assert!(run.stderr.contains("--wait-until codedeploy:") && run.stderr.contains(why), "{args:?}: {}", run.stderr);
    }
    let calls = sim().calls_in(&region);
    let mutating: Vec<&String> = calls[before..].iter().filter(|c| is_mutating(c.split_once(':').map(|(_, a)| a).unwrap_or(""))).collect();
    assert!(mutating.is_empty(), "mutating calls: {mutating:?}");
}
