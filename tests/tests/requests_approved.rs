//! Suite-wide check of "the plan is the request": a service's whole life through every mutating
//! command (create, deploy, scale with auto scaling, run, stop, register, deregister, rollback,
//! verify's log writes, a CodeDeploy deployment, delete), with the audit log on; then every
//! mutating request the simulator received must equal, byte for byte once parsed, an approved step
//! of that run's decision record (its references resolved from the outcome record).

use cortado_e2e::approved::{approved_requests, unapproved};
use cortado_e2e::{Project, initialised_on, sim};
use serde_json::Value;

fn audit(p: &Project) -> Vec<Value> {
    p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).expect("an audit record")).collect()
}

fn project(tag: &str, blue_green: bool) -> (Project, String) {
    let (mut p, region, _) = initialised_on(tag, blue_green);
    // The simulator runs a CodeDeploy target's lifecycle events one per poll: poll quickly.
    p.env.push(("CORTADO_POLL_INTERVAL".into(), "50ms".into()));
    p.write("cortado.yml", &format!("{}audit_log: cortado-audit.jsonl\n", p.read("cortado.yml")));
    (p, region)
}

fn image(p: &Project, tag: &str) {
    cortado_e2e::seeded::retag(p, tag);
}

/// Every mutating request of `region` is an approved step; returns how many there were.
#[track_caller]
fn all_approved(p: &Project, region: &str) -> usize {
    let approved = approved_requests(&audit(p));
    let received = sim().mutations_in(region);
    let bad = unapproved(&received, &approved);
    assert!(bad.is_empty(), "requests AWS received that no gate approved:\n{bad:#?}\napproved:\n{approved:#?}");
    assert!(sim().invalid_in(region).is_empty(), "invalid requests: {:?}", sim().invalid_in(region));
    received.iter().filter(|c| c["service"] != "s3" && c["service"] != "sts").count()
}

#[test]
fn every_request_of_a_services_life_was_approved() {
    let (p, region) = project("approved", false);
    image(&p, "v2");
    p.run(&["deploy"], &[]).expect_code(0);
    p.run(&["scale", "--tasks", "2", "--suspend-auto-scaling", "--auto-scaling-min", "1", "--auto-scaling-max", "4"], &[]).expect_code(0);
    p.run(&["deploy", "--resume-auto-scaling", "--force-new-deployment"], &[]).expect_code(0);
    p.run(&["run", "--no-wait", "--count", "2"], &[]).expect_code(0);
    p.run(&["register"], &[]).expect_code(0);
    image(&p, "v3");
    p.run(&["register"], &[]).expect_code(0);
    // `run` registered :3 (its tasks still run); `register` :4 and :5; :4 is in use by nothing.
    p.run(&["deregister", "--revision", "4", "--force"], &[]).expect_code(0);
    p.run(&["rollback", "--deregister-task-definition"], &[]).expect_code(0);
    p.run(&["verify", "--output", "json"], &[]);
    p.run(&["delete", "--force", "--terminate"], &[]).expect_code(0);
    let n = all_approved(&p, &region);
    assert!(n >= 10, "the life sent {n} mutating requests");
    let actions: Vec<String> = sim().mutations_in(&region).iter().map(|c| c["action"].as_str().unwrap_or("").to_owned()).collect();
    for a in ["RegisterTaskDefinition", "UpdateService", "RegisterScalableTarget", "RunTask", "DeregisterTaskDefinition", "DeleteService"] {
        assert!(actions.iter().any(|x| x == a), "{a} was exercised: {actions:?}");
    }
}

#[test]
fn a_codedeploy_deployment_sends_the_approved_appspec() {
    let (p, region) = project("approvedcd", true);
    image(&p, "v2");
    p.run(&["deploy"], &[]).expect_code(0);
    p.run(&["rollback"], &[]).expect_code(0);
    all_approved(&p, &region);
    let deployments = sim().mutations_in(&region).iter().filter(|c| c["action"] == "CreateDeployment").count();
    assert_eq!(deployments, 2, "the deploy and the rollback");
}
