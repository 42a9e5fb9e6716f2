//! The plugin contract is versioned: a component built against the frozen `cortado:plugin@0.1.0`
//! (tests/fixtures/plugins/legacy, wit-bindgen on `wit/v0.1.0`, no SDK) keeps loading beside
//! newer ones — its resolver's brokered call, its verifier, its gate, and a stage gate that sees
//! the stage only as `command: stage:NAME` with its JSON in `overrides`. A 0.2.0 component
//! (tests/fixtures/plugins/legacy2, from `wit/v0.2.0`) keeps loading too; both older gates find the
//! plan's steps (0.3.0's exact requests) in `overrides.steps`; a 0.3.0 gate (tests/fixtures/plugins/legacy3,
//! from `wit/v0.3.0`) and a 0.4.0 one (the SDK's `stepgate`) get them as `steps`: each can deny on a
//! request's input before it is sent.

use cortado_e2e::seeded::aws_json;
use cortado_e2e::{Project, fixture_plugin, initialised, rendered_env, sim};
use serde_json::{Value, json};

const ECS: &str = "AmazonEC2ContainerServiceV20141113";

fn legacy_block(grant: &str) -> String {
    let (wasm, digest) = fixture_plugin("legacy");
    format!("plugins:\n  - name: legacy\n    path: {}\n    sha256: {digest}\n{grant}", wasm.display())
}

/// A project on the seeded service, its task definition reading `HOST` through the 0.1.0 resolver.
fn project(tag: &str) -> (Project, String) {
    let (p, region) = initialised(tag);
    let mut td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    td["containerDefinitions"][0]["environment"] = json!([
        {"name": "HOST", "value": format!("{{{{ legacy_param `/{region}/db/host` }}}}")},
        {"name": "CONTRACT", "value": "{{ legacy_version }}"},
    ]);
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&td).unwrap());
    (p, region)
}

fn all(r: &cortado_e2e::Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

fn calls(region: &str, action: &str) -> usize {
    sim().calls_in(region).iter().filter(|c| c.as_str() == action).count()
}

#[test]
fn a_component_built_for_0_1_0_keeps_loading() {
    let (p, region) = project("legacy");
    let grant = format!("    grants:\n      - action: ssm:GetParameter\n        resource: arn:aws:ssm:{region}:*:parameter/{region}/db/*\n");
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), legacy_block(&grant)));

    // inspect names the contract the component was built against.
    let (wasm, _) = fixture_plugin("legacy");
    let r = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
    r.expect_code(0);
    assert!(r.stdout.contains("contract: cortado:plugin@0.1.0"), "{}", r.stdout);

    // The resolver, with a brokered SSM read converted from 0.2.0's answer.
    let r = p.run(&["render", "taskdef"], &[]);
    r.expect_code(0);
    let env = rendered_env(&r.stdout);
    let seeded = aws_json(sim(), &region, "ssm", "AmazonSSM.GetParameter", &json!({"Name": format!("/{region}/db/host")}));
    assert_eq!(env["HOST"], seeded["Parameter"]["Value"].as_str().unwrap());
    assert_eq!(env["CONTRACT"], "0.1.0");

    // A denied brokered call reaches a 0.1.0 plugin as its own `denied` error.
    let (q, _) = project("legacydeny");
    q.write("cortado.yml", &format!("{}{}", q.read("cortado.yml"), legacy_block("    grants: []\n")));
    let r = q.run(&["render", "taskdef"], &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Denied") && r.stderr.contains("has no grant for ssm:GetParameter"), "{}", r.stderr);

    // The verifier.
    let r = p.run(&["verify"], &[]);
    assert!(all(&r).contains("legacy-contract"), "{}", all(&r));

    // The gate: scaling to zero is denied, nothing changed.
    let before = calls(&region, "ecs:UpdateService");
    let r = p.run(&["scale", "--tasks", "0"], &[]);
    r.expect_code(1);
    assert!(r.stderr.contains("legacy gate: scaling to zero"), "{}", r.stderr);
    assert_eq!(calls(&region, "ecs:UpdateService"), before);
}

#[test]
fn a_0_1_0_stage_gate_sees_the_stage_in_overrides_and_continues_it() {
    let (p, region) = project("legacystage");
    let grant = "    stages: [POST_TEST_TRAFFIC_SHIFT]\n    grants:\n      - action: ssm:GetParameter\n        resource: \"*\"\n";
    p.write("cortado.yml", &format!("{}{}", p.read("cortado.yml"), legacy_block(grant)));
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    sv["deploymentConfiguration"]["strategy"] = json!("BLUE_GREEN");
    sv["deploymentConfiguration"]["lifecycleHooks"] = json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let r = p.run(&["deploy"], &[("CORTADO_POLL_INTERVAL", "50ms")]);
    r.expect_code(0);
    let out = all(&r);
    assert!(out.contains("legacy gate at POST_TEST_TRAFFIC_SHIFT: stage details seen"), "{out}");
    assert!(out.contains("stage gate at POST_TEST_TRAFFIC_SHIFT: allowed") && r.stdout.contains("SUCCESSFUL"), "{out}");
    assert_eq!(calls(&region, "ecs:ContinueServiceDeployment"), 1);
    let name = p.read("cortado.yml").lines().find_map(|l| l.strip_prefix("service: ")).unwrap().to_owned();
    let sv = aws_json(sim(), &region, "ecs", &format!("{ECS}.DescribeServices"), &json!({"cluster": name, "services": [name]}));
    assert!(sv["services"][0]["taskDefinition"].as_str().unwrap().ends_with(":2"), "{sv}");
}

/// A project on the seeded service with one fixture gate (no grants: none of them asks for any).
fn with_gate(tag: &str, fixture: &str) -> (Project, String) {
    let (p, region) = initialised(tag);
    let (wasm, digest) = fixture_plugin(fixture);
    p.write("cortado.yml", &format!("{}plugins:\n  - name: {fixture}\n    path: {}\n    sha256: {digest}\n", p.read("cortado.yml"), wasm.display()));
    (p, region)
}

/// Mutating ECS calls the simulator received in `region`.
fn ecs_mutations(region: &str) -> Vec<String> {
    let mutating = ["ecs:RegisterTaskDefinition", "ecs:RunTask", "ecs:UpdateService", "ecs:CreateService", "ecs:TagResource"];
    sim().calls_in(region).into_iter().filter(|c| mutating.contains(&c.as_str())).collect()
}

/// `run --assign-public-ip ENABLED` is denied by a gate that reads the RunTask step's input (in
/// `overrides.steps` for 0.1.0 and 0.2.0, in `steps` for 0.3.0), with or without `--overrides`
/// (the steps key is added to the override object), and nothing is sent; a scale's step is seen
/// and allowed.
#[test]
fn every_contract_version_sees_the_steps_and_denies_on_their_input() {
    for (fixture, contract, saw, denial) in [
        ("legacy", "0.1.0", "legacy gate saw steps: ", "legacy gate: a RunTask step assigns a public IP"),
        ("legacy2", "0.2.0", "legacy2 gate saw steps: ", "legacy2 gate: a RunTask step assigns a public IP"),
        ("legacy3", "0.3.0", "legacy3 gate saw steps: ", "legacy3 gate: a RunTask step assigns a public IP"),
        ("stepgate", "0.4.0", "stepgate saw steps: ", "stepgate: a RunTask step assigns a public IP"),
    ] {
        let (p, region) = with_gate(&format!("steps{}", contract.replace('.', "")), fixture);
        let (wasm, _) = fixture_plugin(fixture);
        let r = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
        r.expect_code(0);
        assert!(r.stdout.contains(&format!("contract: cortado:plugin@{contract}")), "{fixture}: {}", r.stdout);

        let r = p.run(&["run", "--assign-public-ip", "ENABLED"], &[]);
        r.expect_code(1);
        assert!(r.stderr.contains(denial), "{fixture}: {}", r.stderr);
        let seen = r.stderr.lines().find_map(|l| l.split(saw).nth(1)).unwrap_or_else(|| panic!("{fixture}: {}", r.stderr));
        assert!(seen.ends_with("ecs:RunTask"), "{fixture}: {seen}");
        let r = p.run(&["run", "--assign-public-ip", "ENABLED", "--overrides", r#"{"containerOverrides": []}"#], &[]);
        r.expect_code(1);
        assert!(r.stderr.contains(denial), "{fixture} with --overrides: {}", r.stderr);
        assert!(ecs_mutations(&region).is_empty(), "{fixture}: a denied run sent {:?}", ecs_mutations(&region));

        // Allowed: the scale's UpdateService step is what the gate saw, and it is sent.
        let r = p.run(&["scale", "--tasks", "2"], &[]);
        r.expect_code(0);
        assert!(all(&r).contains(&format!("{saw}ecs:UpdateService")), "{fixture}: {}", all(&r));
        assert_eq!(ecs_mutations(&region), vec!["ecs:UpdateService"], "{fixture}");
    }
}

/// A 0.2.0 stage gate gets the typed stage record, and the deploy's steps in `overrides.steps`
/// (added to the stage details object).
#[test]
fn a_0_2_0_stage_gate_sees_the_deploy_steps_in_overrides() {
    let (p, region) = initialised("legacy2stage");
    let (wasm, digest) = fixture_plugin("legacy2");
    let block = format!("plugins:\n  - name: legacy2\n    path: {}\n    sha256: {digest}\n    stages: [POST_TEST_TRAFFIC_SHIFT]\n", wasm.display());
    p.write("cortado.yml", &format!("{}{block}", p.read("cortado.yml")));
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    let mut sv: Value = serde_json::from_str(&p.read("ecs-service-def.json")).unwrap();
    sv["deploymentConfiguration"]["strategy"] = json!("BLUE_GREEN");
    sv["deploymentConfiguration"]["lifecycleHooks"] = json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 300, "action": "ROLLBACK"}}]);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let r = p.run(&["deploy"], &[("CORTADO_POLL_INTERVAL", "50ms")]);
    r.expect_code(0);
    let out = all(&r);
    let seen = out.lines().find_map(|l| l.split("legacy2 gate at POST_TEST_TRAFFIC_SHIFT: ").nth(1)).unwrap_or_else(|| panic!("{out}"));
    let n: usize = seen.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{seen}"));
    assert!(n >= 2, "the deploy registers a revision and updates the service: {seen}");
    assert_eq!(calls(&region, "ecs:ContinueServiceDeployment"), 1);
}

/// image-policy is a gate only when the operator sets `enforcement:`; then it judges the images
/// the steps would register and run, and a denied run sends nothing.
#[test]
fn image_policy_with_enforcement_gates_the_images_of_the_steps() {
    let (p, region) = initialised("imgpolicy");
    let base = p.read("cortado.yml");
    // As a verifier only (no enforcement): not asked, the dry run passes.
    p.write("cortado.yml", &format!("{base}plugins:\n  - name: image-policy\n"));
    p.run(&["run", "--dry-run"], &[]).expect_code(0);
    // As a gate: the seed's `v1` tag fails the default pattern (v1.2.3).
    p.write("cortado.yml", &format!("{base}plugins:\n  - name: image-policy\n    enforcement: hard-mandatory\n"));
    let r = p.run(&["run"], &[]);
    r.expect_code(1);
    assert!(r.stderr.contains("blocked by gate image-policy") && r.stderr.contains("does not match immutable_tags_pattern"), "{}", r.stderr);
    assert!(ecs_mutations(&region).is_empty(), "{:?}", ecs_mutations(&region));
    p.write(
        "cortado.yml",
        &format!("{base}plugins:\n  - name: image-policy\n    enforcement: hard-mandatory\n    config: {{immutable_tags_pattern: '^v\\d+$'}}\n"),
    );
    p.run(&["run", "--dry-run"], &[]).expect_code(0);
}

/// The Rust SDK's bindings (plugin-sdk/src/bindings.rs) and the legacy fixtures' are generated
/// ahead of time from the WIT; each file records the digest of the WIT it came from, so a contract
/// change without a regeneration fails here (naming the script) instead of shipping stale glue.
#[test]
fn the_generated_bindings_match_their_contracts() {
    use sha2::{Digest, Sha256};
    let root = cortado_e2e::repo_root();
    for (wit, bindings) in [
        ("wit/plugin.wit", "plugin-sdk/src/bindings.rs"),
        ("wit/v0.1.0/plugin.wit", "tests/fixtures/plugins/legacy/src/bindings.rs"),
        ("wit/v0.2.0/plugin.wit", "tests/fixtures/plugins/legacy2/src/bindings.rs"),
        ("wit/v0.3.0/plugin.wit", "tests/fixtures/plugins/legacy3/src/bindings.rs"),
    ] {
        let digest: String = Sha256::digest(std::fs::read(root.join(wit)).expect(wit)).iter().map(|b| format!("{b:02x}")).collect();
        let text = std::fs::read_to_string(root.join(bindings)).expect(bindings);
        let header = text.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(
            header.contains(&format!("from {wit}\n// (sha256 {digest})")),
            "{bindings} was not generated from the current {wit} (sha256 {digest}): run bash scripts/gen-sdk-bindings.sh\n{header}"
        );
    }
}
