//! `render` without AWS: one config in three formats, task definitions in every supported shape.

use cortado_e2e::{Project, repo_root};

const ENV: &[(&str, &str)] = &[("AWS_REGION", "ap-northeast-1"), ("TAG", "testing"), ("JSON", r#"{"foo":"bar"}"#)];

/// A project holding a copy of tests/fixtures/render.
fn fixture_project() -> Project {
    let p = Project::new();
    let src = repo_root().join("tests/fixtures/render");
    copy_dir(&src, p.dir.path());
    p
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn one_config_in_yaml_json_and_jsonnet_renders_identically() {
    let p = fixture_project();
    let mut outputs = Vec::new();
    for config in ["ecspresso.yml", "ecspresso.json", "ecspresso.jsonnet"] {
        let run = p.run(&["--config", config, "render", "config", "servicedef", "taskdef"], ENV);
        run.expect_code(0);
        outputs.push((config, run.stdout.clone()));
    }
    for (name, out) in &outputs[1..] {
        assert_eq!(out, &outputs[0].1, "{name} renders differently from ecspresso.yml");
    }
    let out = &outputs[0].1;
    // Values from ecspresso's own config tests.
    assert!(out.contains("region: ap-northeast-1\n"), "{out}");
    assert!(out.contains("timeout: 10m0s\n"), "{out}");
    assert!(out.contains("\"sg-12345678\""), "{out}");
    assert!(out.contains("\"subnet-07ac54af5e41a4fc4\""), "{out}");
    assert!(out.contains("\"image\": \"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:testing\""), "{out}");
    assert!(out.contains(r#""value": "{\"foo\":\"bar\"}""#), "{out}");
    assert!(out.contains("\"serviceName\": \"test\""), "{out}");
}

#[test]
fn the_config_is_found_without_flag_and_keys_match_case_insensitively() {
    let p = Project::new();
    p.write("ecspresso.yml", "Region: eu-west-1\nCLUSTER: c1\nTimeout: 300s\nbogus_key: 1\n");
    let run = p.run(&["render", "config"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("region: eu-west-1\ncluster: c1\n"), "{}", run.stdout);
    assert!(run.stdout.contains("timeout: 5m0s"), "{}", run.stdout);
    assert!(run.stderr.contains("ecspresso.yml:4: unknown key \"bogus_key\""), "{}", run.stderr);
    // cortado.yml wins over ecspresso.yml.
    p.write("cortado.yml", "region: us-west-2\n");
    let run = p.run(&["render", "config"], &[]);
    assert!(run.stdout.contains("region: us-west-2"), "{}", run.stdout);
    assert!(run.stdout.contains("cluster: default"), "{}", run.stdout);
    assert!(run.stdout.contains("timeout: 10m0s"), "{}", run.stdout);
}

#[test]
fn wrapped_plain_pascal_and_jsonnet_task_definitions_render_the_same() {
    let p = fixture_project();
    let mut outputs = Vec::new();
    for td in ["ecs-task-def.json", "td-wrapped.json", "td-pascal.json", "td.jsonnet"] {
        let mut env: Vec<(&str, &str)> = ENV.to_vec();
        env.push(("TD_FILE", td));
        let run = p.run(&["--config", "td-config.yml", "--ext-str", "WorkerID=3", "--ext-code", "EphemeralStorage=24 + 1", "render", "taskdef"], &env);
        run.expect_code(0);
        outputs.push((td, run.stdout.clone()));
    }
    for (name, out) in &outputs[1..] {
        assert_eq!(out, &outputs[0].1, "{name} renders differently from ecs-task-def.json");
    }
    let out = &outputs[0].1;
    assert!(out.contains("\"sizeInGiB\": 25"), "ext-code must reach Jsonnet: {out}");
    assert!(out.contains("\"name\": \"katsubushi\""), "docker label keys keep their case: {out}");
    assert!(out.contains("\"awslogs-group\": \"fargate\""), "{out}");
    assert!(!out.contains("taskDefinitionArn") && !out.contains("revision"), "describe-only fields are dropped: {out}");
    assert!(out.contains("\"key\": \"team\""), "tags beside the definition are kept: {out}");
}

#[test]
fn envfiles_override_in_order_and_env_vars_work_with_ecspresso_names() {
    let p = fixture_project();
    p.write("a.env", "export TAG=from-a\nJSON='{}'\n");
    p.write("b.env", "TAG=\"from-b\"\n");
    let run = p.run(&["--envfile", "a.env,b.env", "render", "taskdef"], &[("AWS_REGION", "ap-northeast-1"), ("TAG", "process")]);
    run.expect_code(0);
    assert!(run.stdout.contains("app:from-b\""), "{}", run.stdout);
    let run = p.run(&["render", "taskdef"], &[("AWS_REGION", "x"), ("ECSPRESSO_ENVFILE", "a.env")]);
    run.expect_code(0);
    assert!(run.stdout.contains("app:from-a\""), "{}", run.stdout);
}

#[test]
fn render_jsonnet_prints_jsonnet() {
    let p = fixture_project();
    let run = p.run(&["render", "--jsonnet", "servicedef"], ENV);
    run.expect_code(0);
    assert!(run.stdout.contains("launchType: 'FARGATE',"), "{}", run.stdout);
}

#[test]
fn version_prints_the_version() {
    let run = Project::new().run(&["version"], &[]);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), format!("cortado {}", env!("CARGO_PKG_VERSION")));
}
