//! One path for every change: with a hard-mandatory registry gate, no command and no sequence of
//! commands puts a foreign image into ECS; the other mutating commands are gated and audited; the
//! audit log is a write-ahead record that concurrent processes never fork and that names an
//! interrupted apply.

use std::time::{Duration, Instant};

use cortado_e2e::{Project, sim, unique_region};
use serde_json::Value;

const FOREIGN: &str = "docker.io/library/nginx:latest";

/// Every action that changes something in the simulator.
const MUTATIONS: &[&str] = &[
    "RegisterTaskDefinition",
    "DeregisterTaskDefinition",
    "DeleteTaskDefinitions",
    "CreateService",
    "UpdateService",
    "DeleteService",
    "TagResource",
    "UntagResource",
    "RunTask",
    "StopTask",
    "ExecuteCommand",
    "RegisterScalableTarget",
    "CreateDeployment",
    "CreateLogStream",
    "PutLogEvents",
];

struct Setup {
    p: Project,
    region: String,
    base: String,
    account: String,
    repo: String,
}

fn setup(tag: &str) -> Setup {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let base = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    let account = seed["account"].as_str().unwrap_or("123456789012").to_owned();
    let repo = seed["ecr"]["repositoryUri"].as_str().unwrap().to_owned();
    Setup { p, region, base, account, repo }
}

impl Setup {
    /// The registry gate at `enforcement`: only this account's ECR.
    fn gate(&self, enforcement: &str) {
        let block = format!(
            "plugins:\n  - name: change-freeze\n    enforcement: {enforcement}\n    config:\n      allowed_registries: [\"{}.dkr.ecr.*.amazonaws.com\"]\n",
            self.account
        );
        self.p.write("cortado.yml", &format!("{}{block}", self.base));
    }

    fn image(&self, image: &str) {
        let mut td: Value = serde_json::from_str(&self.p.read("ecs-task-def.json")).unwrap();
        td["containerDefinitions"][0]["image"] = Value::String(image.into());
        self.p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
    }

    /// An image from this account's ECR (the gate allows it), with `tag`.
    fn own_image(&self) -> String {
        format!("{}:v2", self.repo)
    }

    fn mutations(&self) -> Vec<String> {
        sim().calls_in(&self.region).into_iter().filter(|c| MUTATIONS.iter().any(|m| c.ends_with(&format!(":{m}")))).collect()
    }

    /// Runs `args`, which must fail, and checks that nothing changed in the simulator.
    #[track_caller]
    fn denied(&self, args: &[&str]) -> cortado_e2e::Run {
        let before = self.mutations();
        let run = self.p.run(args, &[]);
        assert_ne!(run.code, 0, "{args:?} exited 0\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("blocked by gate change-freeze (hard-mandatory)"), "{args:?}: {}", run.stderr);
        let after = self.mutations();
        assert_eq!(before, after, "{args:?} changed something: {:?}", &after[before.len()..]);
        run
    }

    fn service_td(&self) -> String {
        let run = self.p.run(&["status"], &[]);
        run.stdout.lines().find_map(|l| l.strip_prefix("TaskDefinition: ")).unwrap_or("").to_owned()
    }

    fn audit(&self) -> Vec<Value> {
        self.p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

#[test]
fn no_sequence_of_commands_deploys_a_foreign_image_past_a_hard_mandatory_gate() {
    let s = setup("onepath");
    // A foreign revision registered while the gate was only advisory (or by another tool).
    s.gate("advisory");
    s.image(FOREIGN);
    s.p.run(&["register"], &[]).expect_code(0);
    let foreign_rev = s.p.run(&["revisions", "--output", "tsv"], &[]).stdout.lines().last().unwrap().split('\t').next().unwrap().to_owned();
    let foreign_n = foreign_rev.rsplit(':').next().unwrap().to_owned();
    s.gate("hard-mandatory");

    // The direct route, and register itself.
    s.denied(&["deploy"]);
    s.denied(&["register"]);
    // Register (earlier) then deploy the latest / that revision.
    s.denied(&["deploy", "--latest-task-definition"]);
    let run = s.denied(&["deploy", "--revision", &foreign_n]);
    assert!(run.stderr.contains(FOREIGN), "the gate names the image it saw: {}", run.stderr);
    // run: the file, and the revision.
    s.denied(&["run", "--task-def", "ecs-task-def.json"]);
    s.denied(&["run", "--revision", &foreign_n]);
    s.denied(&["run", "--latest-task-definition"]);

    // The service made to run the foreign revision while advisory; then skip and rollback onto it.
    s.gate("advisory");
    s.p.run(&["deploy", "--revision", &foreign_n], &[]).expect_code(0);
    assert_eq!(s.service_td(), foreign_rev);
    s.gate("hard-mandatory");
    s.denied(&["deploy", "--skip-task-definition"]);
    s.denied(&["refresh"]);
    s.denied(&["scale", "--tasks", "2"]);

    // A good revision on top, deployed through the gate; rolling back onto the foreign one is denied.
    s.image(&s.own_image());
    s.p.run(&["deploy"], &[]).expect_code(0);
    assert_ne!(s.service_td(), foreign_rev);
    s.denied(&["rollback"]);
    s.denied(&["rollback", "--dry-run"]);
    assert_ne!(s.service_td(), foreign_rev, "the service still runs the allowed revision");

    // Every decision is in the chain, which verifies.
    let verify = s.p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]);
    verify.expect_code(0);
    let records = s.audit();
    assert!(records.iter().filter(|r| r["kind"] == "decision" && r["outcome"] == "blocked").count() >= 12, "{records:?}");
}

#[test]
fn stop_deregister_and_exec_are_gated_and_audited() {
    let s = setup("gatedops");
    // Allowed image, but a freeze: every command is denied at hard-mandatory.
    let freeze = |enforcement: &str| {
        format!(
            "{}plugins:\n  - name: change-freeze\n    enforcement: {enforcement}\n    config:\n      freezes:\n        - start: \"2020-01-01T00:00:00Z\"\n          end: \"2099-01-01T00:00:00Z\"\n          reason: audit freeze\n",
            s.base
        )
    };
    // A second revision to deregister, registered before the freeze.
    s.p.run(&["register"], &[]).expect_code(0);
    s.p.write("cortado.yml", &freeze("hard-mandatory"));
    s.denied(&["tasks", "--stop", "--force"]);
    s.denied(&["deregister", "--revision", "2", "--delete", "--force"]);
    let run = s.denied(&["exec", "--command", "ls"]);
    assert!(!run.stderr.contains("session-manager-plugin"), "a denied exec stops before the plugin is looked for: {}", run.stderr);
    let commands: Vec<String> = s.audit().iter().filter(|r| r["kind"] == "decision").map(|r| r["command"].as_str().unwrap().to_owned()).collect();
    for c in ["tasks-stop", "deregister", "exec"] {
        assert!(commands.contains(&c.to_owned()), "{c} not audited: {commands:?}");
    }

    // Advisory: through, with the denial as a warning, and an outcome record each.
    s.p.write("cortado.yml", &freeze("advisory"));
    let run = s.p.run(&["tasks", "--stop", "--force"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("gate change-freeze (advisory") && run.stderr.contains("DENY: audit freeze"), "{}", run.stderr);
    let run = s.p.run(&["deregister", "--revision", "2", "--delete", "--force"], &[]);
    run.expect_code(0);
    let run = s.p.run(&["exec", "--command", "ls"], &[("PATH", "/nonexistent")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("needs session-manager-plugin"), "{}", run.stderr);
    let m = s.mutations();
    for op in ["ecs:StopTask", "ecs:DeregisterTaskDefinition", "ecs:DeleteTaskDefinitions"] {
        assert!(m.iter().any(|c| c == op), "{op} not called: {m:?}");
    }
    let outcomes: Vec<Value> = s.audit().into_iter().filter(|r| r["kind"] == "outcome").collect();
    assert_eq!(outcomes.len(), 3, "stop, deregister and exec each have an outcome (register ran before any gate): {outcomes:?}");
    assert!(outcomes.iter().any(|o| o["result"] == "failed" && o["error"].as_str().unwrap_or("").contains("session-manager-plugin")), "{outcomes:?}");
    s.p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);
}

#[test]
fn concurrent_processes_share_one_chain_and_an_interrupted_apply_is_named() {
    let a = setup("chain-a");
    let b = setup("chain-b");
    let shared = a.p.path("shared-audit.jsonl");
    for s in [&a, &b] {
        s.p.write(
            "cortado.yml",
            &format!(
                "{}audit_log: {}\nplugins:\n  - name: change-freeze\n    enforcement: advisory\n    config:\n      allowed_registries: [\"{}.dkr.ecr.*.amazonaws.com\"]\n",
                s.base,
                shared.display(),
                s.account
            ),
        );
        s.image(&s.own_image());
    }
    let mut children = Vec::new();
    for s in [&a, &b] {
        children.push(s.p.spawn(&["deploy", "--no-wait"]));
        for _ in 0..3 {
            children.push(s.p.spawn(&["deploy", "--dry-run"]));
        }
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let verify = a.p.run(&["audit", "verify", &shared.display().to_string()], &[]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("10 records, chain intact"), "8 decisions and 2 outcomes: {}", verify.stdout);
    assert!(!verify.stdout.contains("without outcome"), "{}", verify.stdout);
    let text = std::fs::read_to_string(&shared).unwrap();
    for region in [&a.region, &b.region] {
        assert!(text.lines().filter(|l| l.contains(&format!("\"region\":\"{region}\""))).count() == 4, "{region}: {text}");
    }

    // Killed between the decision and the first mutation: a decision without outcome, nothing changed.
    a.image(&format!("{}:v1-again", a.repo));
    let before = a.mutations();
    let mut child = a.p.spawn_with(&["deploy"], &[("CORTADO_PAUSE_BEFORE_APPLY", "20s")]);
    let start = Instant::now();
    while std::fs::read_to_string(&shared).unwrap().lines().count() < 11 {
        assert!(start.elapsed() < Duration::from_secs(30), "no decision was recorded");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(a.mutations(), before, "the killed deploy changed something");
    let verify = a.p.run(&["audit", "verify", &shared.display().to_string()], &[]);
    verify.expect_code(0);
    assert!(verify.stdout.contains(":11: decision without outcome: deploy"), "{}", verify.stdout);
}

#[test]
fn an_unidentified_caller_fails_a_gated_command_closed() {
    let s = setup("nocaller");
    s.gate("advisory");
    s.image(&s.own_image());
    let before = s.mutations();
    let run = s.p.run(&["deploy"], &[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")]);
    run.expect_code(1);
    assert!(run.stderr.contains("cannot identify the caller"), "{}", run.stderr);
    assert_eq!(s.mutations(), before);
}

#[test]
fn enforcement_on_a_plugin_without_a_gate_hook_is_an_error() {
    let s = setup("notagate");
    s.p.write("cortado.yml", &format!("{}plugins:\n  - name: tfstate\n    enforcement: hard-mandatory\n    config:\n      url: s3://nowhere/state\n", s.base));
    s.image(&s.own_image());
    let before = s.mutations();
    let run = s.p.run(&["deploy"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("cortado.yml") && run.stderr.contains("\"tfstate\" has `enforcement:` but implements no gate hook"), "{}", run.stderr);
    assert_eq!(s.mutations(), before);
}

#[test]
fn dry_run_prints_the_exact_mutations() {
    let s = setup("plandry");
    s.image(&s.own_image());
    let run = s.p.run(&["deploy", "--dry-run", "--tasks", "2"], &[]);
    run.expect_code(0);
    let text = &run.stdout;
    let i = text.find("Planned AWS changes (2):").unwrap_or_else(|| panic!("{text}"));
    let lines: Vec<&str> = text[i..].lines().skip(1).take(2).collect();
    assert!(lines[0].contains("ecs:RegisterTaskDefinition family "), "{lines:?}");
    assert!(
        lines[1].contains("ecs:UpdateService service ")
            && lines[1].contains("taskDefinition (the revision registered above)")
            && lines[1].contains("desiredCount"),
        "{lines:?}"
    );
    assert!(s.mutations().is_empty());
    let run = s.p.run(&["deploy", "--dry-run", "--output", "json"], &[]);
    run.expect_code(0);
    let plan: Value = run.stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| v["type"] == "plan").expect("a plan line");
    let ops: Vec<&str> = plan["mutations"].as_array().unwrap().iter().map(|m| m["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["ecs:RegisterTaskDefinition", "ecs:UpdateService"]);
}
