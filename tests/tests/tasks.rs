//! `cortado tasks` and `cortado exec` against the simulator: listing the service's and family's
//! tasks, picking one with --id or a filter command, stopping it, and exec's plugin check.

use cortado_e2e::seeded::{describe_tasks, seeded, service_definition, task_definition, write_project};
use cortado_e2e::{Project, sim};
use serde_json::{Value, json};

/// A seeded project with its service task plus one one-off task of the family; returns
/// `(project, region, seed, service task id, one-off task id)`.
fn two_tasks(tag: &str) -> (Project, String, Value, String, String) {
    let (p, region, seed) = seeded(tag);
    let mut td = task_definition(&seed);
    td["containerDefinitions"][0]["dockerLabels"] = json!({"cortado.sim/running-steps": "1000"});
    write_project(&p, &seed, &td, Some(&service_definition(&seed)), "");
    let run = p.run(&["run", "--no-wait"], &[]);
    run.expect_code(0);
    let one_off = run.stdout.trim().rsplit('/').next().unwrap().to_owned();
    let rows = list(&p);
    let service = rows.iter().find(|r| r["group"] == format!("service:{}", seed["ecs"]["serviceName"].as_str().unwrap())).expect("the service's task")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (p, region, seed, service, one_off)
}

fn list(p: &Project) -> Vec<Value> {
    let run = p.run(&["tasks", "--output", "json"], &[]);
    run.expect_code(0);
    serde_json::from_str::<Value>(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout)).as_array().unwrap().clone()
}

#[test]
fn tasks_lists_the_service_and_family_tasks_as_table_tsv_and_json() {
    let (p, _region, seed, service, one_off) = two_tasks("tlist");
    let rows = list(&p);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{rows:?}");
    assert!(ids.contains(&service.as_str()) && ids.contains(&one_off.as_str()), "{rows:?}");
    let family = format!("{}-app", seed["prefix"].as_str().unwrap());
    let oneoff = rows.iter().find(|r| r["id"] == one_off.as_str()).unwrap();
    assert_eq!(
        (oneoff["group"].as_str().unwrap(), oneoff["taskDefinition"].as_str().unwrap()),
        (format!("family:{family}").as_str(), format!("{family}:2").as_str())
    );

    let run = p.run(&["tasks"], &[]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("ID ") && lines[0].contains("TASKDEFINITION") && lines[0].ends_with("TYPE"), "{}", run.stdout);
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let run = p.run(&["tasks", "--output", "tsv"], &[]);
    run.expect_code(0);
    assert!(run.stdout.lines().all(|l| l.split('\t').count() == 8), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with(&format!("{one_off}\t{family}:2\t"))), "{}", run.stdout);
}

#[test]
fn find_picks_with_id_or_the_filter_command() {
    let (p, _region, _seed, service, one_off) = two_tasks("tfind");
    // Two candidates and no terminal: say how to choose.
    let run = p.run(&["tasks", "--find"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("2 candidates for the task: choose one with --id, or set --filter-command"), "{}", run.stderr);

    let run = p.run(&["tasks", "--find", "--filter-command", "grep family:"], &[]);
    run.expect_code(0);
    let task: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(task["taskArn"].as_str().unwrap().ends_with(&one_off), "{task}");

    // The filter command also comes from the environment, as ecspresso's did.
    let run = p.run(&["tasks", "--find"], &[("CORTADO_FILTER_COMMAND", "grep service:")]);
    run.expect_code(0);
    let task: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(task["taskArn"].as_str().unwrap().ends_with(&service), "{task}");

    let run = p.run(&["tasks", "--find", "--id", &one_off], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains(&one_off));
    let run = p.run(&["tasks", "--find", "--id", "0000"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("task 0000 is not a task of service"), "{}", run.stderr);
}

#[test]
fn stop_force_stops_the_chosen_task_in_the_simulator() {
    let (p, region, seed, service, one_off) = two_tasks("tstop");
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap();
    // Without --force and without a terminal to type the ID on: nothing is stopped.
    let run = p.run(&["tasks", "--stop", "--id", &one_off], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("pass --force"), "{}", run.stderr);
    assert!(!sim().calls_in(&region).iter().any(|c| c == "ecs:StopTask"));

    let run = p.run(&["tasks", "--stop", "--force", "--filter-command", "grep family:"], &[]);
    run.expect_code(0);
    let arn = run.stdout.trim();
    assert!(arn.ends_with(&one_off), "{}", run.stdout);
    let t = &describe_tasks(sim(), &region, cluster, &[arn])[0];
    assert_eq!((t["lastStatus"].as_str(), t["stoppedReason"].as_str()), (Some("STOPPED"), Some("Request stop task by user action.")), "{t}");
    // The service's task was not touched.
    let rows = list(&p);
    let svc = rows.iter().find(|r| r["id"] == service.as_str()).unwrap();
    assert_eq!(svc["lastStatus"], "RUNNING", "{rows:?}");
    // A stopped task is no candidate for --stop.
    let run = p.run(&["tasks", "--stop", "--force", "--id", &one_off], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("no running task found"), "{}", run.stderr);
}

#[test]
fn exec_without_session_manager_plugin_explains_and_calls_nothing() {
    let (p, region, seed) = seeded("texec");
    write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), "");
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().display().to_string();
    let run = p.run(&["exec", "--command", "ls"], &[("PATH", &path)]);
    run.expect_code(1);
    assert!(run.stderr.contains("cortado exec needs session-manager-plugin (the AWS Session Manager plugin) on PATH"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("PATH={path}")) && run.stderr.contains("session-manager-working-with-install-plugin"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "{:?}", sim().calls_in(&region));

    // With a plugin on PATH, exec goes on to ECS Exec (which the simulator does not implement).
    let bin = tempfile::tempdir().unwrap();
    let plugin = bin.path().join("session-manager-plugin");
    std::fs::write(&plugin, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = p.run(&["exec", "--command", "ls"], &[("PATH", &bin.path().display().to_string())]);
    run.expect_code(1);
    assert!(run.stderr.contains("ECS Exec into container app of task"), "{}", run.stderr);
    assert!(sim().calls_in(&region).iter().any(|c| c == "ecs:ExecuteCommand"), "{:?}", sim().calls_in(&region));
    let run = p.run(&["exec", "--port-forward"], &[("PATH", &bin.path().display().to_string())]);
    run.expect_code(2);
    assert!(run.stderr.contains("--port-forward needs --port"), "{}", run.stderr);
}
