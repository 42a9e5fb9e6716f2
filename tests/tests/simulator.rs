//! init, diff and status against the simulator.

use cortado_e2e::{Project, sim, unique_region};

fn init_project(tag: &str) -> (Project, String, serde_json::Value) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let cluster = seed["ecs"]["clusterName"].as_str().expect("seeded cluster").to_owned();
    let service = seed["ecs"]["serviceName"].as_str().expect("seeded service").to_owned();
    p.run(&["init", "--cluster", &cluster, "--service", &service], &[]).expect_code(0);
    (p, region, seed)
}

#[test]
fn init_then_diff_shows_nothing_and_an_image_change_shows_exactly_that() {
    let (p, _region, _seed) = init_project("init");
    let config = p.read("cortado.yml");
    assert!(config.contains("service_definition: ecs-service-def.json"), "{config}");
    assert!(config.contains("timeout: 10m0s"), "{config}");

    let run = p.run(&["diff", "--exit-code"], &[]);
    run.expect_code(0);
    assert_eq!(run.stdout, "", "a fresh init must not differ");

    let td = p.read("ecs-task-def.json");
    assert!(td.contains(":v1\""), "{td}");
    p.write("ecs-task-def.json", &td.replace(":v1\"", ":v2\""));
    let run = p.run(&["diff", "--exit-code"], &[]);
    run.expect_code(1);
    let changed: Vec<&str> =
        run.stdout.lines().filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++")).collect();
    assert_eq!(changed.len(), 2, "exactly the image line changes:\n{}", run.stdout);
    assert!(changed[0].starts_with('-') && changed[0].contains(":v1\""), "{}", run.stdout);
    assert!(changed[1].starts_with('+') && changed[1].contains(":v2\""), "{}", run.stdout);
    assert!(run.stdout.contains("--- arn:aws:ecs:"), "remote header names the ARN: {}", run.stdout);
    assert!(run.stdout.contains("+++ ecs-task-def.json"), "{}", run.stdout);
    // Without --exit-code a difference is not a failure.
    p.run(&["diff"], &[]).expect_code(0);
}

#[test]
fn diff_of_a_service_change_and_of_a_missing_service() {
    let (p, region, _seed) = init_project("svc");
    let sv = p.read("ecs-service-def.json");
    let v: serde_json::Value = serde_json::from_str(&sv).unwrap();
    let mut v = v;
    v["desiredCount"] = serde_json::json!(3);
    p.write("ecs-service-def.json", &serde_json::to_string_pretty(&v).unwrap());
    let run = p.run(&["diff", "--exit-code"], &[]);
    run.expect_code(1);
    assert!(run.stdout.contains("-  \"desiredCount\": 1,") && run.stdout.contains("+  \"desiredCount\": 3,"), "{}", run.stdout);

    // A service that does not exist yet: everything is an addition, and the log says it will be created.
    let config = p.read("cortado.yml").replace(&format!("service: {region}\n"), "service: not-yet-created\n");
    p.write("cortado.yml", &config);
    let run = p.run(&["diff"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("will create it"), "{}", run.stderr);
    assert!(run.stdout.contains("+  \"desiredCount\": 3"), "{}", run.stdout);
}

#[test]
fn status_shows_service_deployments_autoscaling_and_events() {
    let (p, region, seed) = init_project("status");
    let run = p.run(&["status"], &[]);
    run.expect_code(0);
    let out = &run.stdout;
    assert!(out.contains(&format!("Service: {region}\n")), "{out}");
    assert!(out.contains(&format!("TaskDefinition: {}:1\n", seed["ecs"]["taskDefinitionFamily"].as_str().unwrap())), "{out}");
    assert!(out.contains("PRIMARY"), "{out}");
    assert!(out.contains("COMPLETED"), "{out}");
    assert!(out.contains("AutoScaling:\n  Capacity min:1 max:4"), "{out}");
    assert!(out.contains("has reached a steady state"), "{out}");
}

#[test]
fn init_from_a_task_definition_alone() {
    let sim = sim();
    let region = unique_region("tdonly");
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let family = seed["ecs"]["taskDefinitionFamily"].as_str().expect("seeded family").to_owned();
    p.run(&["init", "--task-definition", &format!("{family}:1"), "--jsonnet"], &[]).expect_code(0);
    let config = p.read("cortado.jsonnet");
    assert!(config.contains("task_definition: 'ecs-task-def.jsonnet'"), "{config}");
    assert!(!config.contains("service"), "{config}");
    p.run(&["render", "taskdef"], &[]).expect_code(0);
    p.run(&["diff", "--exit-code"], &[]).expect_code(0);
}

#[test]
fn diff_external_runs_the_given_command_on_both_documents() {
    let (p, _region, _seed) = init_project("extdiff");
    let td = p.read("ecs-task-def.json");
    p.write("ecs-task-def.json", &td.replace(":v1\"", ":v2\""));
    let run = p.run(&["diff", "--external", "diff -U0"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("remote.json") && run.stdout.contains("local.json"), "{}", run.stdout);
    assert!(run.stdout.contains(":v1\"") && run.stdout.contains(":v2\""), "{}", run.stdout);
    // And through ecspresso's variable.
    let run = p.run(&["diff"], &[("ECSPRESSO_DIFF_COMMAND", "diff -q")]);
    run.expect_code(0);
    assert!(run.stdout.contains("differ"), "{}", run.stdout);
}
