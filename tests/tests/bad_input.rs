//! Bad input: exit 2, one clear line naming the file (and line where known), and no AWS call.
//! Each case runs `diff`, which would call AWS after loading, against the simulator in its own region.

use cortado_e2e::{Project, sim, unique_region};

const TD: &str = r#"{"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx"}]}"#;
const SV: &str = r#"{"desiredCount": 1}"#;

/// Runs `cortado diff` in a project made by `setup`, expects exit 2 with `needles` on stderr, and
/// checks that the simulator saw no request from it.
fn assert_rejected(setup: impl FnOnce(&Project), args: &[&str], needles: &[&str]) {
    let sim = sim();
    let region = unique_region("bad");
    let p = Project::against(sim, &region);
    setup(&p);
    let mut full = args.to_vec();
    full.push("diff");
    let run = p.run(&full, &[]);
    run.expect_code(2);
    for n in needles {
        assert!(run.stderr.contains(n), "stderr lacks {n:?}:\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let error_lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line: {}", run.stderr);
    assert!(sim.calls_in(&region).is_empty(), "AWS was called: {:?}", sim.calls_in(&region));
}

fn valid(p: &Project) {
    p.write("ecs-task-def.json", TD).write("ecs-service-def.json", SV);
}

const CONFIG: &str = "cluster: c\nservice: s\nservice_definition: ecs-service-def.json\ntask_definition: ecs-task-def.json\n";

#[test]
fn malformed_yaml_config() {
    assert_rejected(
        |p| {
            valid(p);
            p.write("ecspresso.yml", "cluster: c\nservice: [unclosed\ntask_definition: x\n");
        },
        &[],
        &["ecspresso.yml:3:", "invalid YAML"],
    );
}

#[test]
fn malformed_json_config() {
    assert_rejected(
        |p| {
            valid(p);
            p.write("cortado.json", "{\n  \"cluster\": \"c\",\n  \"service\": \n}\n");
        },
        &[],
        &["cortado.json:4", "jsonnet"],
    );
}

#[test]
fn malformed_jsonnet_config() {
    assert_rejected(
        |p| {
            valid(p);
            p.write("cortado.jsonnet", "local x = ;\n{ cluster: 'c' }\n");
        },
        &[],
        &["cortado.jsonnet:1"],
    );
}

#[test]
fn unknown_template_function() {
    assert_rejected(
        |p| {
            p.write("ecspresso.yml", CONFIG).write("ecs-service-def.json", SV);
            p.write("ecs-task-def.json", "{\"family\": \"app\",\n \"containerDefinitions\": [{\"name\": \"app\", \"image\": \"{{ nope `x` }}\"}]}");
        },
        &[],
        &["ecs-task-def.json:2:", "function \"nope\" not defined"],
    );
}

#[test]
fn unset_must_env() {
    assert_rejected(
        |p| {
            p.write("ecspresso.yml", CONFIG).write("ecs-service-def.json", SV);
            p.write(
                "ecs-task-def.json",
                "{\"family\": \"app\",\n\n \"containerDefinitions\": [{\"name\": \"app\", \"image\": \"{{ must_env `CORTADO_TEST_UNSET` }}\"}]}",
            );
        },
        &[],
        &["ecs-task-def.json:3:", "CORTADO_TEST_UNSET"],
    );
}

#[test]
fn missing_definition_file() {
    assert_rejected(
        |p| {
            p.write("ecspresso.yml", CONFIG).write("ecs-service-def.json", SV);
        },
        &[],
        &["ecs-task-def.json", "task_definition file not found"],
    );
}

#[test]
fn unsatisfied_required_version() {
    assert_rejected(
        |p| {
            valid(p);
            p.write("cortado.yml", &format!("required_version: \">= 99.0\"\n{CONFIG}"));
        },
        &[],
        &["cortado.yml:1", "required_version", "is not satisfied by cortado"],
    );
}

#[test]
fn ecspresso_required_version_is_checked_against_ecspresso_compatibility() {
    let p = Project::new();
    valid(&p);
    p.write("ecspresso.yml", &format!("required_version: \">= 2.0.0, < 3\"\n{CONFIG}"));
    p.run(&["render", "config"], &[]).expect_code(0);
}

#[test]
fn duplicate_plugin_function_names() {
    assert_rejected(
        |p| {
            valid(p);
            p.write(
                "ecspresso.yml",
                &format!("{CONFIG}plugins:\n  - name: tfstate\n    config: {{path: a.tfstate}}\n  - name: tfstate\n    config: {{path: b.tfstate}}\n"),
            );
        },
        &[],
        &["ecspresso.yml:8", "tfstate", "already exists", "func_prefix"],
    );
}

#[test]
fn bad_timeout_names_key_and_line() {
    assert_rejected(
        |p| {
            valid(p);
            p.write("ecspresso.yml", &format!("{CONFIG}timeout: 600\n"));
        },
        &[],
        &["ecspresso.yml:5: key \"timeout\""],
    );
}
