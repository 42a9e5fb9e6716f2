//! Policy gates on deploy: enforcement levels, overrides recorded in the audit log, fail-closed
//! gates, dry runs, and the audit chain detecting tampering.

use cortado_e2e::{Project, fixture_plugin, sim, unique_region};
use serde_json::Value;

const FREEZE: &str =
    "    config:\n      freezes:\n        - start: \"2020-01-01T00:00:00Z\"\n          end: \"2099-01-01T00:00:00Z\"\n          reason: end-of-year freeze\n";

fn project(tag: &str, plugins: &str) -> (Project, String) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write("cortado.yml", &format!("{config}plugins:\n{plugins}"));
    let td = p.read("ecs-task-def.json").replace(":v1\"", ":v2\"");
    p.write("ecs-task-def.json", &td);
    (p, region)
}

fn freeze(enforcement: &str) -> String {
    format!("  - name: change-freeze\n    enforcement: {enforcement}\n{FREEZE}")
}

fn mutating(p: &Project, region: &str) -> Vec<String> {
    let _ = p;
    sim()
        .calls_in(region)
        .into_iter()
        .filter(|c| ["ecs:RegisterTaskDefinition", "ecs:UpdateService", "ecs:CreateService", "ecs:TagResource"].contains(&c.as_str()))
        .collect()
}

fn audit(p: &Project) -> Vec<Value> {
    p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The decision records, each gate's verdict flattened beside the command's fields.
fn decisions(p: &Project) -> Vec<Value> {
    audit(p)
        .into_iter()
        .filter(|r| r["kind"] == "decision")
        .map(|r| {
            let mut g = r["gates"][0].clone();
            for k in ["command", "caller", "dry_run", "run_id", "plan_digest", "mutations"] {
                g[k] = r[k].clone();
            }
            g["command_outcome"] = r["outcome"].clone();
            g
        })
        .collect()
}

#[test]
fn advisory_warns_and_deploys() {
    let (p, region) = project("advisory", &freeze("advisory"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("gate change-freeze (advisory") && run.stderr.contains("DENY") && run.stderr.contains("end-of-year freeze"), "{}", run.stderr);
    assert!(mutating(&p, &region).contains(&"ecs:UpdateService".to_string()));
    assert!(run.stderr.contains("audit: decision on deploy (1 gate(s)) appended to") && run.stderr.contains("(head "), "{}", run.stderr);
    let all = audit(&p);
    assert_eq!(all.len(), 2, "a decision and its outcome: {all:?}");
    assert_eq!(all[1]["kind"], "outcome");
    assert_eq!(all[1]["decision"], all[0]["hash"]);
    assert_eq!(all[1]["result"], "ok");
    assert!(all[1]["changed"].as_array().unwrap().iter().any(|c| c["operation"] == "ecs:UpdateService"), "{}", all[1]);
    let records = decisions(&p);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["outcome"], "warned");
    assert_eq!(records[0]["decision"], "deny");
    assert_eq!(records[0]["plugin"], "change-freeze");
    assert_eq!(records[0]["command"], "deploy");
    assert!(records[0]["caller"].as_str().unwrap().starts_with("arn:aws:"), "{}", records[0]);
    assert_eq!(records[0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn soft_mandatory_denies_and_an_override_with_a_reason_deploys() {
    let (p, region) = project("soft", &freeze("soft-mandatory"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("blocked by gate change-freeze (soft-mandatory): nothing was changed"), "{}", run.stderr);
    assert!(mutating(&p, &region).is_empty(), "a denied deploy changed something: {:?}", mutating(&p, &region));

    let run = p.run(&["deploy", "--override", "change-freeze"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("--override needs --reason"), "{}", run.stderr);
    let run = p.run(&["deploy", "--override", "change-freez", "--reason", "x"], &[]);
    run.expect_code(2);

    let run = p.run(&["deploy", "--override", "change-freeze", "--reason", "hotfix INC-42"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("overridden: hotfix INC-42"), "{}", run.stderr);
    let records = decisions(&p);
    let last = records.last().unwrap();
    assert_eq!(last["outcome"], "overridden");
    assert_eq!(last["override"], true);
    assert_eq!(last["override_reason"], "hotfix INC-42");
    assert_eq!(records[0]["outcome"], "blocked");
}

#[test]
fn hard_mandatory_denies_even_with_an_override() {
    let (p, region) = project("hard", &freeze("hard-mandatory"));
    let run = p.run(&["deploy", "--override", "change-freeze", "--reason", "please"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("cannot be overridden") && run.stderr.contains("blocked by gate change-freeze (hard-mandatory)"), "{}", run.stderr);
    assert!(mutating(&p, &region).is_empty());
    // Other commands are gated too.
    let run = p.run(&["scale", "--tasks", "2"], &[]);
    run.expect_code(1);
    let run = p.run(&["rollback", "--dry-run"], &[]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(decisions(&p).iter().any(|r| r["command"] == "scale"));
}

#[test]
fn a_trapping_gate_denies() {
    let (wasm, digest) = fixture_plugin("trapgate");
    let (p, region) =
        project("trapgate", &format!("  - name: trapgate\n    path: {}\n    sha256: {digest}\n    enforcement: soft-mandatory\n", wasm.display()));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("gate trapgate (soft-mandatory") && run.stderr.contains("DENY") && run.stderr.contains("trapped"), "{}", run.stderr);
    assert!(mutating(&p, &region).is_empty());
}

#[test]
fn dry_run_prints_decisions_and_changes_nothing() {
    let (p, region) = project("gatedry", &freeze("hard-mandatory"));
    let run = p.run(&["deploy", "--dry-run"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("DENY") && run.stderr.contains("dry run: would be blocked by gate change-freeze"), "{}", run.stderr);
    assert!(mutating(&p, &region).is_empty());
    assert_eq!(decisions(&p)[0]["dry_run"], true);
}

#[test]
fn the_audit_chain_verifies_and_tampering_is_detected() {
    let (p, _region) = project("audit", &freeze("advisory"));
    for _ in 0..3 {
        p.run(&["deploy", "--dry-run"], &[]).expect_code(0);
    }
    let run = p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("3 records, chain intact"), "{}", run.stdout);
    let text = p.read("cortado-audit.jsonl");
    let lines: Vec<&str> = text.lines().collect();

    p.write("tampered.jsonl", &text.replacen("\"decision\":\"deny\"", "\"decision\":\"allow\"", 1));
    let run = p.run(&["audit", "verify", "tampered.jsonl"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("tampered.jsonl:1: audit chain broken"), "{}", run.stderr);

    p.write("deleted.jsonl", &format!("{}\n{}\n", lines[0], lines[2]));
    let run = p.run(&["audit", "verify", "deleted.jsonl"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("deleted.jsonl:2: audit chain broken"), "{}", run.stderr);
}
