//! `cortado run` against the simulator: the watched container's logs and exit code, --no-wait,
//! --dry-run, input errors before anything starts, runs without a service definition, overrides
//! and tags reaching ECS, and gates.

use cortado_e2e::seeded::{describe_tasks, seeded, service_definition, task_definition, write_project};
use cortado_e2e::{Project, sim};
use serde_json::{Value, json};

const FAST: (&str, &str) = ("CORTADO_POLL_INTERVAL", "100ms");

/// The seed's task definition whose containers exit with chosen codes and log chosen lines.
fn exiting(seed: &Value, containers: &[(&str, i32, &[&str])]) -> Value {
    let mut td = task_definition(seed);
    let base = td["containerDefinitions"][0].clone();
    let defs: Vec<Value> = containers
        .iter()
        .map(|(name, code, lines)| {
            let mut c = base.clone();
            c["name"] = json!(name);
            c["dockerLabels"] = json!({"cortado.sim/exit-code": code.to_string(), "cortado.sim/log-lines": serde_json::to_string(lines).unwrap()});
            if *name != "app" {
                c["portMappings"] = json!([]);
            }
            c
        })
        .collect();
    td["containerDefinitions"] = Value::Array(defs);
    td
}

fn ecs_calls(region: &str) -> Vec<String> {
    sim().calls_in(region).into_iter().filter(|c| c.starts_with("ecs:")).collect()
}

#[test]
fn the_watched_container_logs_are_shown_and_its_exit_code_is_cortados() {
    let (p, region, seed) = seeded("rexit");
    let td = exiting(&seed, &[("app", 3, &["migrating 12 tables", "error: table users is locked"]), ("sidecar", 0, &["sidecar up"])]);
    write_project(&p, &seed, &td, Some(&service_definition(&seed)), "");
    let run = p.run(&["run"], &[FAST]);
    run.expect_code(3);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0].ends_with(" migrating 12 tables") && lines[1].ends_with(" error: table users is locked"), "{}", run.stdout);
    // `YYYY/MM/DD HH:MM:SS message`
    assert_eq!(lines[0].as_bytes()[4], b'/', "{}", lines[0]);
    assert!(run.stderr.contains("container app exited with code 3"), "{}", run.stderr);
    let calls = ecs_calls(&region);
    assert_eq!(calls.iter().filter(|c| *c == "ecs:RegisterTaskDefinition").count(), 1, "{calls:?}");
    assert_eq!(calls.iter().filter(|c| *c == "ecs:RunTask").count(), 1, "{calls:?}");

    // Watching the sidecar: its logs, its exit code (0), the latest revision without registering.
    let run = p.run(&["run", "--latest-task-definition", "--watch-container", "sidecar"], &[FAST]);
    run.expect_code(0);
    assert!(run.stdout.trim_end().ends_with(" sidecar up") && run.stdout.lines().count() == 1, "{}", run.stdout);
    assert!(run.stderr.contains("Run task completed!"), "{}", run.stderr);
    assert_eq!(ecs_calls(&region).iter().filter(|c| *c == "ecs:RegisterTaskDefinition").count(), 1, "no second registration");
}

#[test]
fn no_wait_returns_the_task_arn_at_once() {
    let (p, region, seed) = seeded("rnowait");
    let td = exiting(&seed, &[("app", 0, &[])]);
    write_project(&p, &seed, &td, Some(&service_definition(&seed)), "");
    let started = std::time::Instant::now();
    let run = p.run(
        &[
            "run",
            "--no-wait",
            "--count",
            "2",
            "--tags",
            "team=data,ticket=",
            "--overrides",
            r#"{"containerOverrides": [{"name": "app", "environment": [{"name": "MODE", "value": "once"}]}]}"#,
        ],
        &[],
    );
    run.expect_code(0);
    let elapsed = started.elapsed();
    let arns: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(arns.len(), 2, "{}", run.stdout);
    assert!(arns.iter().all(|a| a.starts_with(&format!("arn:aws:ecs:{region}:")) && a.contains(":task/")), "{arns:?}");
    assert!(!ecs_calls(&region).iter().any(|c| c == "ecs:DescribeTasks"), "--no-wait must not wait: {:?}", ecs_calls(&region));
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    // What reached ECS: the overrides and the tags, as given.
    let tasks = describe_tasks(sim(), &region, seed["ecs"]["clusterName"].as_str().unwrap(), &arns);
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["overrides"]["containerOverrides"][0]["environment"], json!([{"name": "MODE", "value": "once"}]), "{}", tasks[0]);
    let tags = tasks[0]["tags"].as_array().cloned().unwrap_or_default();
    assert!(tags.contains(&json!({"key": "team", "value": "data"})) && tags.contains(&json!({"key": "ticket", "value": ""})), "{tags:?}");
}

#[test]
fn dry_run_starts_nothing() {
    let (p, region, seed) = seeded("rdry");
    write_project(&p, &seed, &exiting(&seed, &[("app", 0, &[])]), Some(&service_definition(&seed)), "");
    p.write("overrides.jsonnet", "{ containerOverrides: [{ name: 'app', command: ['echo', std.extVar('WHO')] }] }");
    let run = p.run(&["run", "--dry-run", "--overrides-file", "overrides.jsonnet", "--ext-str", "WHO=dry"], &[]);
    run.expect_code(0);
    let request: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(request["overrides"]["containerOverrides"][0]["command"], json!(["echo", "dry"]));
    assert_eq!(request["networkConfiguration"], seed["ecs"]["networkConfiguration"]);
    assert_eq!(request["launchType"], "FARGATE");
    assert!(run.stderr.contains("will be registered") && run.stderr.contains("DRY RUN OK"), "{}", run.stderr);
    let calls = ecs_calls(&region);
    assert!(!calls.iter().any(|c| c == "ecs:RunTask" || c == "ecs:RegisterTaskDefinition"), "{calls:?}");
}

#[test]
fn an_unknown_watch_container_is_bad_input_before_anything_starts() {
    let (p, region, seed) = seeded("rwatch");
    write_project(&p, &seed, &exiting(&seed, &[("app", 0, &[])]), Some(&service_definition(&seed)), "");
    let run = p.run(&["run", "--watch-container", "worker"], &[FAST]);
    run.expect_code(2);
    assert!(run.stderr.contains("--watch-container worker: task definition") && run.stderr.contains("has no such container (it has app)"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "checked before any AWS call: {:?}", sim().calls_in(&region));
    // Against a registered revision the check needs one read, still nothing is started.
    let run = p.run(&["run", "--revision", "1", "--watch-container", "worker"], &[FAST]);
    run.expect_code(2);
    assert_eq!(ecs_calls(&region), vec!["ecs:DescribeServices", "ecs:DescribeTaskDefinition"]);
}

#[test]
fn without_a_service_definition_subnets_come_from_the_command_line() {
    let (p, region, seed) = seeded("rnosv");
    write_project(&p, &seed, &exiting(&seed, &[("app", 0, &["ok"])]), None, "");
    let run = p.run(&["run"], &[FAST]);
    run.expect_code(2);
    assert!(run.stderr.contains("uses the awsvpc network mode, so RunTask needs subnets") && run.stderr.contains("--subnets"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty());
    let net = &seed["network"];
    let subnets = net["subnetIds"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>().join(",");
    let run = p.run(&["run", "--subnets", &subnets, "--security-groups", net["securityGroupId"].as_str().unwrap()], &[FAST]);
    run.expect_code(0);
    assert!(run.stdout.ends_with(" ok\n"), "{}", run.stdout);
}

#[test]
fn gates_see_run_and_can_be_overridden_with_a_reason() {
    let (p, region, seed) = seeded("rgate");
    let gate = "plugins:\n  - name: change-freeze\n    enforcement: soft-mandatory\n    config:\n      allowed_registries: [\"registry.example.com\"]\n      commands: [run]\n";
    write_project(&p, &seed, &exiting(&seed, &[("app", 0, &[])]), Some(&service_definition(&seed)), gate);
    let run = p.run(&["run"], &[FAST]);
    run.expect_code(1);
    assert!(run.stderr.contains("gate change-freeze (soft-mandatory") && run.stderr.contains("blocked by gate change-freeze"), "{}", run.stderr);
    assert!(!ecs_calls(&region).iter().any(|c| c == "ecs:RunTask" || c == "ecs:RegisterTaskDefinition"), "{:?}", ecs_calls(&region));

    let run = p.run(&["run", "--override", "change-freeze"], &[FAST]);
    run.expect_code(2);
    assert!(run.stderr.contains("--override needs --reason"), "{}", run.stderr);

    let run = p.run(&["run", "--override", "change-freeze", "--reason", "hotfix INC-42"], &[FAST]);
    run.expect_code(0);
    assert_eq!(ecs_calls(&region).iter().filter(|c| *c == "ecs:RunTask").count(), 1);
    let audit: Vec<Value> = p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcomes: Vec<(&str, &str, &str)> = audit
        .iter()
        .filter(|r| r["kind"] == "decision")
        .map(|r| (r["command"].as_str().unwrap(), r["gates"][0]["outcome"].as_str().unwrap(), r["gates"][0]["override_reason"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(outcomes, vec![("run", "blocked", ""), ("run", "overridden", "hotfix INC-42")], "{audit:?}");
    // The run's outcome names the task it started, chained to the approved decision.
    let outcome = audit.iter().find(|r| r["kind"] == "outcome").expect("an outcome record");
    assert_eq!(outcome["decision"], audit[1]["hash"]);
    assert!(outcome["tasks"][0].as_str().unwrap().contains(":task/"), "{outcome}");
}

#[test]
fn bad_flags_are_bad_input() {
    let p = Project::new();
    p.write("cortado.yml", "region: us-east-1\ncluster: c\ntask_definition: td.json\n");
    p.write("td.json", r#"{"family": "f", "containerDefinitions": [{"name": "app", "image": "nginx"}]}"#);
    for (args, message) in [
        (&["run", "--tags", "Foo"][..], "--tags: \"Foo\" is not KEY=VALUE"),
        (&["run", "--count", "11"][..], "--count 11"),
        (&["run", "--overrides", "{not json"][..], "--overrides: not JSON"),
        (&["run", "--propagate-tags", "SERVICE"][..], "--propagate-tags SERVICE needs `service`"),
        (&["run", "--revision", "3", "--latest-task-definition"][..], "cannot be used with"),
    ] {
        let run = p.run(args, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
        run.expect_code(2);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}
