//! The deploy pipeline end to end against the simulator: create, deploy, no-op redeploys, rollback,
//! failures reported as failures, dry runs that change nothing, CodeDeploy, scale/refresh/auto scaling.

use cortado_e2e::{Project, Run, initialised_on, sim};
use serde_json::Value;

/// A project initialised from a seeded service (`blue_green` picks the CODE_DEPLOY one).
fn project(tag: &str, blue_green: bool) -> (Project, String, Value) {
    initialised_on(tag, blue_green)
}

fn set_image_tag(p: &Project, tag: &str) {
    let td = p.read("ecs-task-def.json");
    let mut v: Value = serde_json::from_str(&td).unwrap();
    let image = v["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    let base = image.rsplit_once(':').map(|(b, _)| b).unwrap_or(&image);
    v["containerDefinitions"][0]["image"] = Value::String(format!("{base}:{tag}"));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&v).unwrap());
}

fn revisions(p: &Project) -> Vec<String> {
    let run = p.run(&["revisions", "--output", "tsv"], &[]);
    run.expect_code(0);
    run.stdout.lines().map(|l| l.split('\t').next().unwrap_or("").to_owned()).collect()
}

fn count(calls: &[String], what: &str) -> usize {
    calls.iter().filter(|c| c.as_str() == what).count()
}

fn status(p: &Project) -> String {
    let run: Run = p.run(&["status"], &[]);
    run.expect_code(0);
    run.stdout
}

#[test]
fn create_deploy_redeploy_and_rollback() {
    let (p, region, seed) = project("deploy", false);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap().to_owned();
    // A new service from the same files: deploy creates it (with the existing revision: unchanged).
    let config = p.read("cortado.yml").replace(&format!("service: {region}\n"), "service: created-by-cortado\n");
    p.write("cortado.yml", &config);
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("created service created-by-cortado"), "{}", run.stdout);
    assert!(run.stdout.contains("is stable"), "{}", run.stdout);
    assert!(status(&p).contains(&format!("TaskDefinition: {family}:1\n")));

    // A new image: a new revision, and status shows it.
    set_image_tag(&p, "v2");
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("registered task definition {family}:2")), "{}", run.stdout);
    let st = status(&p);
    assert!(st.contains(&format!("TaskDefinition: {family}:2\n")) && st.contains("COMPLETED"), "{st}");

    // The same definition again: nothing registered, no UpdateService.
    let before = sim().calls_in(&region);
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("task definition is unchanged: deploying {family}:2")), "{}", run.stdout);
    assert!(run.stdout.contains("service is up to date"), "{}", run.stdout);
    let after = sim().calls_in(&region);
    assert_eq!(count(&after, "ecs:RegisterTaskDefinition"), count(&before, "ecs:RegisterTaskDefinition"));
    assert_eq!(count(&after, "ecs:UpdateService"), count(&before, "ecs:UpdateService"));
    assert_eq!(revisions(&p), vec![format!("{family}:1"), format!("{family}:2")]);

    // Rollback: back to :1, and :2 is deregistered.
    let run = p.run(&["rollback"], &[]);
    run.expect_code(0);
    assert!(status(&p).contains(&format!("TaskDefinition: {family}:1\n")));
    assert_eq!(revisions(&p), vec![format!("{family}:1")]);
    // Nothing older to roll back to.
    let run = p.run(&["rollback"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("rollback target is not found"), "{}", run.stderr);
}

#[test]
fn one_update_service_per_deploy() {
    let (p, region, _seed) = project("oneupdate", false);
    set_image_tag(&p, "v2");
    let sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    let mut sv = sv;
    sv["desiredCount"] = Value::from(2);
    sv["enableExecuteCommand"] = Value::from(true);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let before = count(&sim().calls_in(&region), "ecs:UpdateService");
    p.run(&["deploy"], &[]).expect_code(0);
    assert_eq!(count(&sim().calls_in(&region), "ecs:UpdateService"), before + 1, "attributes, count and task definition in one call");
    let st = status(&p);
    assert!(st.contains("desired:2") && st.contains("running:2"), "{st}");
}

#[test]
fn a_failing_image_exits_1_and_names_the_circuit_breaker_rollback() {
    let (p, _region, seed) = project("fail", false);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    set_image_tag(&p, "fail");
    let t = std::time::Instant::now();
    let run = p.run(&["deploy"], &[]);
    run.expect_code(1);
    assert!(t.elapsed() < std::time::Duration::from_secs(60), "exits within its timeout");
    assert!(run.stderr.contains("FAILED") && run.stderr.contains(&format!("the circuit breaker rolled back to {family}:1")), "{}", run.stderr);
    assert!(run.stderr.contains("stopped tasks:") && run.stderr.contains("Essential container in task exited"), "{}", run.stderr);
}

#[test]
fn the_timeout_is_a_deadline_and_says_what_is_in_progress() {
    let (p, _region, _seed) = project("timeout", false);
    let sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    let mut sv = sv;
    sv["desiredCount"] = Value::from(30);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let t = std::time::Instant::now();
    let run = p.run(&["deploy", "--timeout", "3s"], &[]);
    let took = t.elapsed();
    run.expect_code(1);
    assert!(took >= std::time::Duration::from_secs(3) && took < std::time::Duration::from_secs(6), "took {took:?}");
    assert!(
        run.stderr.contains("timed out after 3s") && run.stderr.contains("still in progress") && run.stderr.contains("desired:30 running:"),
        "{}",
        run.stderr
    );
}

#[test]
fn dry_run_changes_nothing() {
    let (p, region, _seed) = project("dryrun", false);
    set_image_tag(&p, "v2");
    let before_status = status(&p);
    let before_revs = revisions(&p);
    let before_calls = sim().calls_in(&region);
    let run = p.run(&["deploy", "--dry-run", "--tasks", "3", "--suspend-auto-scaling"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("DRY RUN OK") && run.stdout.contains("task definition would be registered"), "{}", run.stdout);
    let calls = sim().calls_in(&region);
    let new: Vec<&String> = calls[before_calls.len()..].iter().collect();
    let mutating = [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "ecs:CreateService",
        "ecs:TagResource",
        "ecs:UntagResource",
        "application-autoscaling:RegisterScalableTarget",
    ];
    assert!(!new.iter().any(|c| mutating.contains(&c.as_str())), "mutating calls in a dry run: {new:?}");
    assert_eq!(revisions(&p), before_revs);
    // Events and counts are the same (status itself advances nothing in a settled service).
    assert_eq!(status(&p), before_status);
}

#[test]
fn codedeploy_blue_green_succeeds_and_a_failure_exits_1() {
    let (p, _region, _seed) = project("bluegreen", true);
    assert!(p.read("cortado.yml").contains("codedeploy:"), "init writes the codedeploy section");
    set_image_tag(&p, "v2");
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("CodeDeploy deployment d-") && run.stdout.contains("succeeded"), "{}", run.stdout);
    assert!(run.stdout.contains("Green 100%"), "traffic shift is shown: {}", run.stdout);
    set_image_tag(&p, "fail");
    let run = p.run(&["deploy"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("Failed") && run.stderr.contains("ECS_UPDATE_ERROR"), "{}", run.stderr);
    let run = p.run(&["appspec", "--task-definition", "current"], &[]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("version: 0.0\nResources:\n- TargetService:\n    Type: AWS::ECS::Service\n"), "{}", run.stdout);
}

#[test]
fn scale_refresh_and_auto_scaling_flags_change_the_service() {
    let (p, _region, _seed) = project("scale", false);
    p.run(&["scale", "--tasks", "3"], &[]).expect_code(0);
    let st = status(&p);
    assert!(st.contains("desired:3") && st.contains("running:3"), "{st}");

    let deployment = |s: &str| s.lines().find(|l| l.contains("PRIMARY")).map(str::to_owned);
    let before = deployment(&status(&p));
    let run = p.run(&["refresh"], &[]);
    run.expect_code(0);
    let st = status(&p);
    assert_ne!(deployment(&st), before, "refresh starts a new deployment: {st}");
    assert!(st.contains("desired:3"), "refresh keeps the count: {st}");

    p.run(&["scale", "--suspend-auto-scaling", "--auto-scaling-max", "6"], &[]).expect_code(0);
    let st = status(&p);
    assert!(st.contains("Capacity min:1 max:6") && st.contains("Suspended in:true out:true scheduled:true"), "{st}");
    p.run(&["scale", "--resume-auto-scaling"], &[]).expect_code(0);
    assert!(status(&p).contains("Suspended in:false out:false scheduled:false"));
}

#[test]
fn json_output_is_one_object_per_line() {
    let (p, _region, _seed) = project("jsonout", false);
    set_image_tag(&p, "v2");
    let run = p.run(&["deploy", "--output", "json"], &[]);
    run.expect_code(0);
    let objects: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(objects.iter().any(|o| o["type"] == "event"), "{}", run.stdout);
    let last = objects.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["ok"], true);
    assert!(last["describe_services_calls"].as_u64().unwrap() >= 1);
}

#[test]
fn deregister_keeps_in_use_revisions() {
    let (p, _region, seed) = project("dereg", false);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    for tag in ["v2", "v1"] {
        set_image_tag(&p, tag);
        p.run(&["register"], &[]).expect_code(0);
    }
    assert_eq!(revisions(&p).len(), 3);
    // :1 is in use by the service.
    let run = p.run(&["deregister", "--revision", "1", "--force"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("in use"), "{}", run.stderr);
    p.run(&["deregister", "--keeps", "1", "--force"], &[]).expect_code(0);
    assert_eq!(revisions(&p), vec![format!("{family}:1"), format!("{family}:3")]);
}

#[test]
fn ctrl_c_during_a_wait_stops_cleanly_and_says_how_to_resume() {
    let (p, _region, _seed) = project("sigint", false);
    let sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    let mut sv = sv;
    sv["desiredCount"] = Value::from(10);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let child = p.spawn(&["deploy"]);
    // Well into the wait (the rollout takes about 20 s), so the handler is in place.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted; ECS goes on with deployment") && stderr.contains("cortado wait"), "{stderr}");
    // `cortado wait` picks the deployment up again (and finishes it within the timeout).
    p.run(&["wait"], &[]).expect_code(0);
}

#[test]
fn deploy_picks_revisions_by_flag() {
    let (p, _region, seed) = project("revflags", false);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().unwrap();
    set_image_tag(&p, "v2");
    let run = p.run(&["register", "--output"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("\"revision\": 2"), "{}", run.stdout);
    p.run(&["deploy", "--latest-task-definition"], &[]).expect_code(0);
    assert!(status(&p).contains(&format!("TaskDefinition: {family}:2\n")));
    p.run(&["deploy", "--revision", "1"], &[]).expect_code(0);
    assert!(status(&p).contains(&format!("TaskDefinition: {family}:1\n")));
    let deployment = |s: &str| s.lines().find(|l| l.contains("PRIMARY")).map(str::to_owned);
    let before = deployment(&status(&p));
    p.run(&["deploy", "--skip-task-definition", "--force-new-deployment"], &[]).expect_code(0);
    let st = status(&p);
    assert!(st.contains(&format!("TaskDefinition: {family}:1\n")) && deployment(&st) != before, "{st}");
    let run = p.run(&["deploy", "--revision", "1", "--latest-task-definition"], &[]);
    run.expect_code(2);
    let run = p.run(&["revisions", "--revision", "current"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("\"family\": \"{family}\"")) && run.stdout.contains("\"revision\": 1"), "{}", run.stdout);
}

#[test]
fn delete_needs_a_confirmation_or_force() {
    let (p, _region, _seed) = project("delete", false);
    let run = p.run(&["delete"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert!(status(&p).contains("PRIMARY"), "still there");
    let run = p.run(&["delete", "--force"], &[]);
    assert_ne!(run.code, 0, "a service with running tasks needs --terminate: {}", run.stderr);
    p.run(&["delete", "--force", "--terminate"], &[]).expect_code(0);
    let run = p.run(&["status"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("is not found"), "{}", run.stderr);
}

/// `status --output json`: the service as DescribeServices returns it, its events cut to `--events`
/// (newest first), for machines; the text form is unchanged.
#[test]
fn status_output_json_is_the_described_service_with_its_newest_events() {
    let (p, region, _seed) = project("statusjson", false);
    p.run(&["deploy", "--force-new-deployment"], &[]).expect_code(0);
    let run = p.run(&["status", "--output", "json", "--events", "1"], &[]);
    run.expect_code(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("status --output json: {e}\n{}", run.stdout));
    assert_eq!(v["service"]["serviceName"], Value::String(region.clone()), "{v}");
    assert!(v["cluster"].is_string() && v["service"]["deployments"].as_array().is_some_and(|d| !d.is_empty()), "{v}");
    let events = v["service"]["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{v}");
    assert!(status(&p).ends_with(&format!("{}\n", events[0]["message"].as_str().unwrap_or("?"))), "the newest event is the text's last line");
}
