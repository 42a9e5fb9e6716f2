//! ECS Managed Daemons (issue 27 §4): a `daemon_definition` with its daemon task definition,
//! rendered, diffed, deployed (RegisterDaemonTaskDefinition, CreateDaemon/UpdateDaemon as plan
//! steps), waited on by DescribeDaemonDeployments, shown by `status`, rolled back, deleted, and in
//! `iam-policy` — against the simulator's daemons (tests/sim/sim_daemons.py).

use cortado_e2e::approved::{approved_requests, unapproved};
use cortado_e2e::{Project, sim, unique_region};
use serde_json::{Value, json};

const POLL: (&str, &str) = ("CORTADO_POLL_INTERVAL", "20ms");

/// A daemon project in a seeded region: `agent` on one capacity provider, draining half the
/// instances per batch.
fn project(tag: &str) -> (Project, String, String) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let cluster = seed["ecs"]["clusterName"].as_str().expect("seeded cluster").to_owned();
    let p = Project::against(sim, &region);
    p.write(
        "cortado.yml",
        &format!(
            "region: {region}\ncluster: {cluster}\ndaemon_definition: ecs-daemon-def.json\ndaemon_task_definition: ecs-daemon-task-def.json\ntimeout: 60s\naudit_log: cortado-audit.jsonl\n"
        ),
    );
    let cp = format!("arn:aws:ecs:{region}:123456789012:capacity-provider/{cluster}-mi");
    let def = json!({"daemonName": "agent", "capacityProviderArns": [cp], "deploymentConfiguration": {"drainPercent": 50}});
    p.write("ecs-daemon-def.json", &serde_json::to_string_pretty(&def).unwrap());
    write_td(&p, "public.ecr.aws/acme/agent:1");
    (p, region, cluster)
}

fn write_td(p: &Project, image: &str) {
    let td = json!({"family": "agent", "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "agent", "image": image, "essential": true}]});
    p.write("ecs-daemon-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
}

/// What a run printed: the reporter's lines (stdout) and the logs (stderr).
fn printed(r: &cortado_e2e::Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

fn mutations(region: &str) -> Vec<String> {
    sim().mutations_in(region).iter().map(|m| m["action"].as_str().unwrap_or("").to_owned()).collect()
}

fn audit(p: &Project) -> Vec<Value> {
    p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).expect("audit record")).collect()
}

#[test]
fn a_daemon_is_rendered_deployed_diffed_rolled_back_and_deleted() {
    let (p, region, cluster) = project("dmn");

    let r = p.run(&["render", "daemondef", "daemontaskdef"], &[]);
    r.expect_code(0);
    assert!(r.stdout.contains("\"daemonName\": \"agent\"") && r.stdout.contains("\"family\": \"agent\""), "{}", r.stdout);

    // The dry run shows the exact requests and sends none.
    let r = p.run(&["deploy", "--dry-run"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("ecs:RegisterDaemonTaskDefinition") && printed(&r).contains("ecs:CreateDaemon"), "{}", printed(&r));
    assert!(mutations(&region).is_empty(), "{:?}", mutations(&region));

    // Created, and followed to SUCCESSFUL.
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("registered daemon task definition agent:1"), "{}", printed(&r));
    assert!(printed(&r).contains("SUCCESSFUL: 2 instance(s) on the new revision"), "{}", printed(&r));
    assert_eq!(mutations(&region), ["RegisterDaemonTaskDefinition", "CreateDaemon"]);
    let created = &sim().mutations_in(&region)[1]["body"];
    assert_eq!(created["daemonTaskDefinitionArn"], json!(format!("arn:aws:ecs:{region}:123456789012:daemon-task-definition/agent:1")));
    assert_eq!(created["clusterArn"], json!(format!("arn:aws:ecs:{region}:123456789012:cluster/{cluster}")));
    assert!(created["clientToken"].as_str().is_some_and(|t| t.len() == 32), "{created}");

    // What was deployed shows no difference (AWS's defaults equal their absence), and a redeploy changes nothing.
    p.run(&["diff", "--exit-code"], &[]).expect_code(0);
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("daemon is up to date"), "{}", printed(&r));
    assert_eq!(mutations(&region).len(), 2, "{:?}", mutations(&region));

    // A new image: diff shows it, deploy registers revision 2 and updates the daemon.
    write_td(&p, "public.ecr.aws/acme/agent:2");
    let r = p.run(&["diff", "--exit-code"], &[]);
    r.expect_code(1);
    assert!(r.stdout.contains("+      \"image\": \"public.ecr.aws/acme/agent:2\""), "{}", r.stdout);
    p.run(&["deploy"], &[POLL]).expect_code(0);
    assert_eq!(mutations(&region)[2..], ["RegisterDaemonTaskDefinition", "UpdateDaemon"]);
    let status = p.run(&["status"], &[]);
    status.expect_code(0);
    assert!(status.stdout.contains("DaemonTaskDefinition: agent:2") && status.stdout.contains("SUCCESSFUL"), "{}", status.stdout);

    // Rollback: UpdateDaemon back to agent:1, followed to SUCCESSFUL.
    let r = p.run(&["rollback"], &[POLL]);
    r.expect_code(0);
    assert!(printed(&r).contains("rolling back daemon/agent from agent:2 to agent:1"), "{}", printed(&r));
    let all = sim().mutations_in(&region);
    let back = all.last().unwrap();
    assert_eq!(back["action"], "UpdateDaemon");
    assert_eq!(back["body"]["daemonTaskDefinitionArn"], json!(format!("arn:aws:ecs:{region}:123456789012:daemon-task-definition/agent:1")));
    assert!(p.run(&["status"], &[]).stdout.contains("DaemonTaskDefinition: agent:1"));

    // Delete needs a confirmation off a terminal; --force deletes.
    p.run(&["delete"], &[]).expect_code(1);
    p.run(&["delete", "--force"], &[]).expect_code(0);
    assert_eq!(mutations(&region).last().map(String::as_str), Some("DeleteDaemon"));

    // Every request AWS received was an approved step of a recorded decision, and each outcome names its daemon deployment.
    let records = audit(&p);
    let received = sim().mutations_in(&region);
    assert!(unapproved(&received, &approved_requests(&records)).is_empty(), "{:?}", unapproved(&received, &approved_requests(&records)));
    let deployed: Vec<&Value> = records.iter().filter(|r| r["kind"] == "outcome" && r["daemon_deployment_arn"].is_string()).collect();
    assert!(deployed.len() >= 3, "{records:?}");
    assert!(sim().invalid_in(&region).is_empty(), "{:?}", sim().invalid_in(&region));
}

#[test]
fn a_failing_daemon_deployment_exits_1_with_the_circuit_breaker_and_rolls_back() {
    let (p, region, _) = project("dmnfail");
    p.run(&["deploy"], &[POLL]).expect_code(0);
    write_td(&p, "public.ecr.aws/acme/agent:fail");
    let r = p.run(&["deploy"], &[POLL]);
    r.expect_code(1);
    assert!(printed(&r).contains("daemon deployment ROLLBACK_SUCCESSFUL") && printed(&r).contains("circuit breaker TRIGGERED"), "{}", printed(&r));
    // The daemon runs its first revision again.
    assert!(p.run(&["status"], &[]).stdout.contains("DaemonTaskDefinition: agent:1"));
    let outcome = audit(&p).into_iter().rev().find(|r| r["kind"] == "outcome").expect("an outcome");
    assert_eq!(outcome["result"], "failed");
    assert!(outcome["daemon_deployment_arn"].as_str().is_some_and(|a| a.contains(":daemon-deployment/")), "{outcome}");
    assert!(sim().invalid_in(&region).is_empty());
}

#[test]
fn iam_policy_lists_the_daemon_operations() {
    let (p, _, _) = project("dmniam");
    let r = p.run(&["iam-policy"], &[]);
    r.expect_code(0);
    for action in ["ecs:RegisterDaemonTaskDefinition", "ecs:CreateDaemon", "ecs:UpdateDaemon", "ecs:DeleteDaemon", "ecs:DescribeDaemonDeployments"] {
        assert!(r.stdout.contains(action), "{action} missing:\n{}", r.stdout);
    }
}

#[test]
fn daemon_diff_takes_the_service_diff_flags_and_status_prints_json() {
    let (p, region, cluster) = project("dmnflags");
    p.run(&["deploy"], &[POLL]).expect_code(0);
    write_td(&p, "public.ecr.aws/acme/agent:2");
    let def: Value = serde_json::from_str(&p.read("ecs-daemon-def.json")).expect("JSON");
    let mut def = def;
    def["deploymentConfiguration"]["drainPercent"] = json!(25);
    p.write("ecs-daemon-def.json", &serde_json::to_string_pretty(&def).unwrap());

    // --external: the command gets each differing pair as two files (remote, local).
    let dir = p.path("");
    p.write("record-diff.sh", &format!("#!/bin/sh\ncat \"$1\" >> '{0}/seen-remote.json'\ncat \"$2\" >> '{0}/seen-local.json'\nexit 1\n", dir.display()));
    let ext = format!("sh {}", p.path("record-diff.sh").display());
    let r = p.run(&["diff", "--external", &ext, "--exit-code"], &[]);
    r.expect_code(1);
    assert!(!r.stdout.contains("+++"), "{}", r.stdout);
    let (remote, local) = (p.read("seen-remote.json"), p.read("seen-local.json"));
    assert!(local.contains("\"drainPercent\": 25") && local.contains("agent:2"), "local sides:\n{local}");
    assert!(remote.contains("\"drainPercent\": 50") && remote.contains("agent:1"), "remote sides:\n{remote}");

    // --without-service: the daemon task definition only; --with-service (the default) both.
    let r = p.run(&["diff", "--without-service"], &[]);
    r.expect_code(0);
    assert!(r.stdout.contains("+      \"image\": \"public.ecr.aws/acme/agent:2\"") && !r.stdout.contains("drainPercent"), "{}", r.stdout);
    let r = p.run(&["diff", "--with-service"], &[]);
    assert!(r.stdout.contains("drainPercent") && r.stdout.contains("agent:2"), "{}", r.stdout);
    // --no-unified: whole documents.
    let r = p.run(&["diff", "--no-unified", "--without-service"], &[]);
    assert!(r.stdout.contains(" \"family\": \"agent\"") && r.stdout.lines().skip(2).all(|l| l.starts_with([' ', '+', '-'])), "{}", r.stdout);

    // status --output json: the daemon, its revisions and deployments as one object.
    let r = p.run(&["status", "--output", "json"], &[]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("status --output json: {e}\n{}", r.stdout));
    assert_eq!(v["daemon"], "agent");
    assert_eq!(v["cluster"], json!(cluster));
    assert_eq!(v["found"], true);
    assert_eq!(v["daemonTaskDefinition"], json!(format!("arn:aws:ecs:{region}:123456789012:daemon-task-definition/agent:1")));
    assert_eq!(v["deployments"][0]["status"], "SUCCESSFUL", "{v}");
    assert!(v["revisions"].as_array().is_some_and(|r| !r.is_empty()), "{v}");
    // Not found: found false, exit 0 as the text form.
    p.write("ecs-daemon-def.json", &p.read("ecs-daemon-def.json").replace("\"agent\"", "\"nobody\""));
    let r = p.run(&["status", "--output", "json"], &[]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["found"], false, "{v}");
}
