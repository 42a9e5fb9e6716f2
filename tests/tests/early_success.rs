//! Early success criteria (issue 27 §1, ecspresso v2.8.7): a rolling deployment with
//! `deploymentConfiguration.earlySuccessCriteria` is deployed, completes by AWS's four-part rule in
//! the simulator (tests/sim/sim_deployments.py `early_success`), is reported and recorded as
//! completed early, `--wait-until stable` warns and waits for the sources, and `verify` checks it.

use cortado_e2e::seeded::{aws_json, seeded, task_definition, write_project};
use cortado_e2e::{Project, Run, sim};
use serde_json::{Value, json};

const POLL: (&str, &str) = ("CORTADO_POLL_INTERVAL", "20ms");

/// A rolling service of 4 tasks, `minimumHealthyPercent` 50, with the given early success criteria.
fn service(esc: Value) -> Value {
    json!({
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "desiredCount": 4,
        "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 200, "earlySuccessCriteria": esc},
    })
}

fn esc(healthy: i64, cleanup: &str) -> Value {
    json!({"enable": true, "healthyPercent": healthy, "sourceServiceRevisionCleanup": cleanup})
}

/// A seeded project whose service already runs 4 tasks of v1 with `esc` (a first deploy, waited
/// for until stable), its network from the seed. Returns the project, region, cluster and service.
fn deployed(tag: &str, esc: Value) -> (Project, String, String, String) {
    let (p, region, seed) = seeded(tag);
    let mut sv = service(esc);
    sv["networkConfiguration"] = seed["ecs"]["networkConfiguration"].clone();
    write_project(&p, &seed, &task_definition(&seed), Some(&sv), "timeout: 60s\naudit_log: cortado-audit.jsonl\n");
    p.run(&["deploy", "--wait-until", "stable"], &[POLL]).expect_code(0);
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap().to_owned();
    let service = seed["ecs"]["serviceName"].as_str().unwrap().to_owned();
    (p, region, cluster, service)
}

fn set_image(p: &Project, tag: &str) {
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    let image = td["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    let base = image.rsplit_once(':').map(|(b, _)| b).unwrap_or(&image).to_owned();
    td["containerDefinitions"][0]["image"] = json!(format!("{base}:{tag}"));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
}

fn printed(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

/// The last outcome record of the audit log (every record parsed on the way: each must be JSON).
fn last_outcome(p: &Project) -> Value {
    let records: Vec<Value> = p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).expect("audit record")).collect();
    records.into_iter().rfind(|r| r["kind"] == "outcome").expect("an outcome record")
}

fn describe_service(region: &str, cluster: &str, service: &str) -> Value {
    let v = aws_json(sim(), region, "ecs", "AmazonEC2ContainerServiceV20141113.DescribeServices", &json!({"cluster": cluster, "services": [service]}));
    v["services"][0].clone()
}

/// The newest service deployment of the service, as DescribeServiceDeployments answers it.
fn newest_service_deployment(region: &str, cluster: &str, service: &str) -> Value {
    let target = |op: &str| format!("AmazonEC2ContainerServiceV20141113.{op}");
    let list = aws_json(sim(), region, "ecs", &target("ListServiceDeployments"), &json!({"cluster": cluster, "service": service}));
    let arn = list["serviceDeployments"][0]["serviceDeploymentArn"].as_str().expect("a service deployment").to_owned();
    let d = aws_json(sim(), region, "ecs", &target("DescribeServiceDeployments"), &json!({"serviceDeploymentArns": [arn]}));
    d["serviceDeployments"][0].clone()
}

#[test]
fn deployed_completes_early_while_the_sources_drain_and_the_outcome_says_so() {
    let (p, region, cluster, service) = deployed("escd", esc(50, "DEFERRED"));
    set_image(&p, "v2");
    let run = p.run(&["deploy"], &[POLL]);
    run.expect_code(0);
    let out = printed(&run);
    assert!(out.contains("completed by early success criteria (healthy_percent=50, source_service_revision_cleanup=DEFERRED)"), "{out}");
    assert!(!out.contains("WARNING: early success criteria"), "deployed does not warn: {out}");
    let outcome = last_outcome(&p);
    assert_eq!(outcome["result"], "ok", "{outcome}");
    assert_eq!(outcome["completed_early"], true, "{outcome}");

    // Deployed is not drained: the source deployment still runs tasks after cortado returned.
    let sv = describe_service(&region, &cluster, &service);
    let deployments = sv["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2, "{sv}");
    assert_eq!(deployments[0]["rolloutState"], "COMPLETED", "{sv}");
    assert!(deployments[1]["runningCount"].as_i64().unwrap() > 0, "{sv}");
    // The service deployment is SUCCESSFUL, its counts the snapshot at completion (two of four).
    let d = newest_service_deployment(&region, &cluster, &service);
    assert_eq!(d["status"], "SUCCESSFUL", "{d}");
    assert!(d["statusReason"].as_str().unwrap().contains("early success criteria"), "{d}");
    assert_eq!(d["targetServiceRevision"]["runningTaskCount"], 2, "{d}");
    assert_eq!(d["sourceServiceRevisions"][0]["runningTaskCount"], 2, "{d}");
}

#[test]
fn cortado_wait_returns_at_early_success_and_stable_waits_on() {
    let (p, region, cluster, service) = deployed("escw", esc(50, "DEFERRED"));
    set_image(&p, "v2");
    p.run(&["deploy", "--no-wait"], &[POLL]).expect_code(0);
    let run = p.run(&["wait", "--output", "json"], &[POLL]);
    run.expect_code(0);
    let result: Value = run.stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| v["type"] == "result").expect("a result line");
    assert_eq!(result["completed_early"], true, "{}", run.stdout);
    assert!(describe_service(&region, &cluster, &service)["deployments"].as_array().unwrap().len() > 1, "still draining");
    let run = p.run(&["wait", "--wait-until", "stable"], &[POLL]);
    run.expect_code(0);
    assert!(run.stdout.contains("is stable"), "{}", run.stdout);
    assert_eq!(describe_service(&region, &cluster, &service)["deployments"].as_array().unwrap().len(), 1);
}

#[test]
fn blocking_cleanup_waits_for_the_source_tasks() {
    let (p, region, cluster, service) = deployed("escb", esc(50, "BLOCKING"));
    set_image(&p, "v2");
    let run = p.run(&["deploy"], &[POLL]);
    run.expect_code(0);
    // The target reached 2 of 4 long before the sources were gone; BLOCKING waits for them, and by
    // then (in the simulator, one task per step each way) the target runs all 4: not early.
    let d = newest_service_deployment(&region, &cluster, &service);
    assert_eq!(d["status"], "SUCCESSFUL", "{d}");
    assert_eq!(d["sourceServiceRevisions"][0]["runningTaskCount"], 0, "{d}");
    assert_eq!(last_outcome(&p)["completed_early"], false);
    assert_eq!(describe_service(&region, &cluster, &service)["deployments"].as_array().unwrap().len(), 1);
}

#[test]
fn wait_until_stable_warns_and_waits_for_the_sources() {
    let (p, region, cluster, service) = deployed("escs", esc(50, "DEFERRED"));
    set_image(&p, "v2");
    let run = p.run(&["deploy", "--wait-until", "stable"], &[POLL]);
    run.expect_code(0);
    let out = printed(&run);
    assert!(out.contains("WARNING: early success criteria are enabled (healthy_percent=50, source_service_revision_cleanup=DEFERRED)"), "{out}");
    assert!(out.contains("is stable"), "{out}");
    assert_eq!(last_outcome(&p)["completed_early"], false);
    let sv = describe_service(&region, &cluster, &service);
    assert_eq!(sv["deployments"].as_array().unwrap().len(), 1, "the sources are gone: {sv}");
    assert_eq!(sv["deployments"][0]["runningCount"], 4, "{sv}");
}

#[test]
fn verify_checks_the_strategy_and_the_healthy_percent_bounds() {
    let (p, _region, seed) = seeded("escv");
    let mut sv = service(esc(40, "DEFERRED"));
    sv["networkConfiguration"] = seed["ecs"]["networkConfiguration"].clone();
    write_project(&p, &seed, &task_definition(&seed), Some(&sv), "");
    let run = p.run(&["verify"], &[]);
    run.expect_code(1);
    assert!(run.stdout.contains("healthyPercent 40 must be between minimumHealthyPercent (50) and 100"), "{}", run.stdout);

    sv["deploymentConfiguration"]["earlySuccessCriteria"] = esc(75, "DEFERRED");
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    p.run(&["verify"], &[]).expect_code(0);

    sv["deploymentConfiguration"]["strategy"] = json!("BLUE_GREEN");
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let run = p.run(&["verify"], &[]);
    run.expect_code(1);
    assert!(run.stdout.contains("earlySuccessCriteria is for ROLLING deployments only"), "{}", run.stdout);
}

/// The changed lines of a diff that mention early success criteria.
fn esc_changes(diff: &str) -> Vec<String> {
    let keys = ["earlySuccessCriteria", "healthyPercent", "sourceServiceRevisionCleanup"];
    diff.lines().filter(|l| (l.starts_with('+') || l.starts_with('-')) && keys.iter().any(|k| l.contains(k))).map(str::to_owned).collect()
}

#[test]
fn diff_shows_a_healthy_percent_change_and_nothing_for_the_deployed_criteria() {
    let (p, _region, _cluster, _service) = deployed("escf", esc(50, "DEFERRED"));
    let run = p.run(&["diff"], &[]);
    run.expect_code(0);
    assert_eq!(esc_changes(&run.stdout), Vec::<String>::new(), "{}", run.stdout);
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    sv["deploymentConfiguration"]["earlySuccessCriteria"]["healthyPercent"] = json!(75);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let run = p.run(&["diff"], &[]);
    let changes = esc_changes(&run.stdout);
    assert!(changes.iter().any(|l| l.starts_with('+') && l.contains("\"healthyPercent\": 75")), "{}", run.stdout);
    assert!(changes.iter().any(|l| l.starts_with('-') && l.contains("\"healthyPercent\": 50")), "{}", run.stdout);
}

/// The signed evidence of a deploy says whether it completed early, as the outcome record does,
/// and `evidence verify` checks the two agree.
#[test]
fn signed_evidence_says_the_deployment_completed_early() {
    let (p, _region, _cluster, _service) = deployed("esce", esc(50, "DEFERRED"));
    p.write("cortado.yml", &format!("{}signing:\n  key_file: signing.key\n", p.read("cortado.yml")));
    let public = p.run(&["evidence", "keygen", "signing.key"], &[]).expect_code(0).stdout.trim().to_owned();
    set_image(&p, "v2");
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(last_outcome(&p)["completed_early"], true);
    let evidence = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    let evidence = evidence.to_str().unwrap();
    let run = p.run(&["evidence", "verify", evidence, "--public-key", &public, "--output", "json"], &[]);
    run.expect_code(0);
    let v: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(v["predicate"]["outcome"]["completed_early"], true, "{v}");
    assert_eq!(v["matches_chain"], true, "{v}");
    let text = p.run(&["evidence", "verify", evidence, "--public-key", &public], &[]);
    text.expect_code(0);
    assert!(text.stdout.contains("completed early"), "{}", text.stdout);
}
