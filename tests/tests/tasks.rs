//! `cortado tasks` and `cortado exec` against the simulator: listing the service's and family's
//! tasks, picking one with --id or a filter command, stopping it, and exec's plugin check.

use cortado_e2e::seeded::{aws_json, describe_tasks, seeded, service_definition, task_definition, write_project};
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

    // With a plugin on PATH, exec goes on to ECS Exec and hands the session to the plugin.
    let bin = tempfile::tempdir().unwrap();
    let plugin = bin.path().join("session-manager-plugin");
    std::fs::write(&plugin, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = p.run(&["exec", "--command", "ls"], &[("PATH", &bin.path().display().to_string())]);
    run.expect_code(0);
    assert!(sim().calls_in(&region).iter().any(|c| c == "ecs:ExecuteCommand"), "{:?}", sim().calls_in(&region));
    let run = p.run(&["exec", "--port-forward"], &[("PATH", &bin.path().display().to_string())]);
    run.expect_code(2);
    assert!(run.stderr.contains("--port-forward needs --port"), "{}", run.stderr);
}

/// Puts `events` (`(epoch ms, message)`) into the awslogs stream of container `app` of `task_id`,
/// directly in the simulator (the stream is created when missing).
fn put_logs(region: &str, seed: &Value, task_id: &str, events: &[(i64, &str)]) {
    let group = seed["logGroup"].as_str().unwrap();
    let stream = format!("app/app/{task_id}");
    let target = |op: &str| format!("Logs_20140328.{op}");
    // Already there when the simulator wrote the container's log lines: the error is expected then.
    aws_json(sim(), region, "logs", &target("CreateLogStream"), &json!({"logGroupName": group, "logStreamName": stream}));
    let events: Vec<Value> = events.iter().map(|(t, m)| json!({"timestamp": t, "message": m})).collect();
    let out = aws_json(sim(), region, "logs", &target("PutLogEvents"), &json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}));
    assert!(out.get("__type").is_none(), "PutLogEvents: {out}");
}

/// `2026-12-07T03:00:00Z` for whole-second epoch milliseconds (through date(1)).
fn rfc3339(ms: i64) -> String {
    let out = std::process::Command::new("date").args(["-u", "-d", &format!("@{}", ms / 1000), "+%Y-%m-%dT%H:%M:%SZ"]).output().expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn subcommands_list_find_stop_trace_and_the_hidden_flag_forms() {
    let (p, region, seed, service, one_off) = two_tasks("tsub");
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap();
    // `tasks list` is `tasks`.
    let run = p.run(&["tasks", "list", "--output", "json"], &[]);
    run.expect_code(0);
    let rows: Vec<Value> = serde_json::from_str::<Value>(&run.stdout).unwrap().as_array().unwrap().clone();
    assert_eq!(rows, list(&p));
    let run = p.run(&["tasks", "list", "--output", "tsv", "--id", &service], &[]);
    run.expect_code(0);
    assert!(run.stdout.starts_with(&format!("{service}\t")) && run.stdout.lines().count() == 1, "{}", run.stdout);

    // --help shows the subcommands, not the old flags; the old flags still work.
    let run = p.run(&["tasks", "--help"], &[]);
    run.expect_code(0);
    for sub in ["list", "find", "stop", "trace", "logs"] {
        assert!(run.stdout.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))), "{sub}: {}", run.stdout);
    }
    for old in ["--find", "--stop", "--trace", "--force", "--dry-run"] {
        assert!(!run.stdout.lines().any(|l| l.trim_start().starts_with(old)), "{old} is hidden: {}", run.stdout);
    }
    let run = p.run(&["tasks", "trace", "--help"], &[]);
    assert!(run.stdout.contains("no log lines: see `tasks logs`"), "{}", run.stdout);

    let find = p.run(&["tasks", "find", "--id", &one_off], &[]);
    find.expect_code(0);
    let legacy = p.run(&["tasks", "--find", "--id", &one_off], &[]);
    legacy.expect_code(0);
    let task: Value = serde_json::from_str(&find.stdout).unwrap();
    assert!(task["taskArn"].as_str().unwrap().ends_with(&one_off), "{task}");
    assert_eq!(find.stdout, legacy.stdout);
    // The subcommand's --id and one given before it are the same.
    let before = p.run(&["tasks", "--id", &one_off, "find"], &[]);
    before.expect_code(0);
    assert_eq!(before.stdout, find.stdout);

    let trace = p.run(&["tasks", "trace", "--id", &one_off], &[]);
    trace.expect_code(0);
    assert!(trace.stdout.lines().any(|l| l.ends_with("\tTASK\tCreated")), "{}", trace.stdout);
    let legacy = p.run(&["tasks", "--trace", "--id", &one_off], &[]);
    legacy.expect_code(0);
    assert_eq!(legacy.stdout.lines().count(), trace.stdout.lines().count(), "{}", legacy.stdout);

    // stop: the type-to-confirm without a terminal, then --force stops the chosen task.
    let run = p.run(&["tasks", "stop", "--id", &one_off], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("tasks stop asks to type the task ID") && run.stderr.contains("pass --force"), "{}", run.stderr);
    assert!(!sim().calls_in(&region).iter().any(|c| c == "ecs:StopTask"));
    let run = p.run(&["tasks", "stop", "--force", "--filter-command", "grep family:"], &[]);
    run.expect_code(0);
    let t = &describe_tasks(sim(), &region, cluster, &[run.stdout.trim()])[0];
    assert!(t["taskArn"].as_str().unwrap().ends_with(&one_off), "{t}");
    assert_eq!(t["lastStatus"], "STOPPED", "{t}");
    let svc = list(&p).into_iter().find(|r| r["id"] == service.as_str()).unwrap();
    assert_eq!(svc["lastStatus"], "RUNNING");
}

#[test]
fn logs_print_the_window_of_the_task_streams_as_text_and_json_lines() {
    let (p, region, seed, _service, one_off) = two_tasks("tlogs");
    let now = now_ms();
    let t0 = (now - 2 * 3600 * 1000) / 1000 * 1000;
    put_logs(
        &region,
        &seed,
        &one_off,
        &[(t0, "at t0"), (t0 + 30_000, "t0 plus 30s"), (t0 + 300_000, "t0 plus 5m"), (now - 600_000, "ten minutes ago"), (now - 20_000, "just now")],
    );
    // The default window is the last minute.
    let run = p.run(&["tasks", "logs", "--id", &one_off], &[]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(lines[0].ends_with(" [app] just now"), "{}", run.stdout);
    assert!(sim().calls_in(&region).iter().any(|c| c == "logs:FilterLogEvents"), "{:?}", sim().calls_in(&region));

    let run = p.run(&["tasks", "logs", "--id", &one_off, "-d", "15m"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("[app] ten minutes ago\n") && run.stdout.contains("[app] just now"), "{}", run.stdout);
    assert!(!run.stdout.contains("t0"), "{}", run.stdout);

    // --start-time: DURATION from then, oldest first.
    let start = rfc3339(t0);
    let run = p.run(&["tasks", "logs", "--id", &one_off, "--start-time", &start, "--duration", "1m", "--container", "app"], &[]);
    run.expect_code(0);
    let msgs: Vec<&str> = run.stdout.lines().map(|l| l.split_once("] ").unwrap().1).collect();
    assert_eq!(msgs, ["at t0", "t0 plus 30s"], "{}", run.stdout);

    // JSON lines under --log-format json.
    let run = p.run(&["--log-format", "json", "tasks", "logs", "--id", &one_off, "-s", &start, "-d", "10m"], &[]);
    run.expect_code(0);
    let events: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(events.len(), 3, "{}", run.stdout);
    assert_eq!(events[0]["message"], "at t0");
    assert_eq!(events[0]["container"], "app");
    assert_eq!(events[0]["task_id"], one_off.as_str());
    assert_eq!(events[0]["stream"], format!("app/app/{one_off}"));
    assert_eq!(events[0]["timestamp"], t0);

    let run = p.run(&["tasks", "logs", "--id", &one_off, "--container", "nope"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("--container nope: task") && run.stderr.contains("(it has app)"), "{}", run.stderr);
    let run = p.run(&["tasks", "logs", "--id", &one_off, "-s", "yesterday"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("--start-time yesterday"), "{}", run.stderr);
}

#[test]
fn logs_follow_prints_new_events_until_the_task_stops() {
    let (p, region, seed, _service, one_off) = two_tasks("tfollow");
    put_logs(&region, &seed, &one_off, &[(now_ms() - 5_000, "before follow")]);
    let mut child = p.spawn_with(&["tasks", "logs", "-f", "--id", &one_off], &[("CORTADO_POLL_INTERVAL", "200ms")]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    put_logs(&region, &seed, &one_off, &[(now_ms(), "while following")]);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let cluster = seed["ecs"]["clusterName"].as_str().unwrap();
    aws_json(sim(), &region, "ecs", "AmazonEC2ContainerServiceV20141113.StopTask", &json!({"cluster": cluster, "task": one_off}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "tasks logs -f did not end after the task stopped");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let msgs: Vec<&str> = stdout.lines().map(|l| l.split_once("] ").unwrap().1).collect();
    assert_eq!(msgs, ["before follow", "while following"], "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("task {one_off} has stopped")));
}

/// A fake session-manager-plugin in a directory of its own: it appends its first argument (the
/// session) to `sessions`, its arguments to `args`, prints the file `$FAKE_OUT` when set, and
/// exits with `$FAKE_EXIT` (0).
fn fake_plugin() -> tempfile::TempDir {
    let bin = tempfile::tempdir().unwrap();
    let dir = bin.path().display().to_string();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$1\" >> {dir}/sessions\nprintf '%s\\n' \"$@\" > {dir}/args\n[ -n \"$FAKE_OUT\" ] && /bin/cat \"$FAKE_OUT\"\nexit ${{FAKE_EXIT:-0}}\n"
    );
    let plugin = bin.path().join("session-manager-plugin");
    std::fs::write(&plugin, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn exec_commands(region: &str) -> Vec<Value> {
    sim().mutations_in(region).into_iter().filter(|m| m["action"] == "ExecuteCommand").map(|m| m["body"].clone()).collect()
}

/// Decodes standard base64 (the upload commands' payload).
fn b64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("{e}: {text:.40}"))
}

#[test]
fn exec_run_and_portforward_subcommands_and_the_hidden_flag_forms() {
    let (p, region, seed) = seeded("texecsub");
    write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), "");
    let bin = fake_plugin();
    let path = bin.path().display().to_string();
    let run = p.run(&["exec", "run", "--command", "ls -l /"], &[("PATH", &path)]);
    run.expect_code(0);
    let sent = exec_commands(&region);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0]["command"].as_str(), sent[0]["container"].as_str(), sent[0]["interactive"].as_bool()), (Some("ls -l /"), Some("app"), Some(true)));
    let args: Vec<String> = std::fs::read_to_string(bin.path().join("args")).unwrap().lines().map(str::to_owned).collect();
    let session: Value = serde_json::from_str(&args[0]).unwrap();
    assert!(session["sessionId"].as_str().unwrap().starts_with("ecs-execute-command-"), "{session}");
    assert_eq!(args[2], "StartSession");
    let target: Value = serde_json::from_str(&args[4]).unwrap();
    let task_id = sent[0]["task"].as_str().unwrap().rsplit('/').next().unwrap();
    assert!(target["Target"].as_str().unwrap().starts_with(&format!("ecs:{}_{task_id}_", seed["ecs"]["clusterName"].as_str().unwrap())), "{target}");
    // The plugin's exit code is cortado's.
    let run = p.run(&["exec", "run", "--command", "false"], &[("PATH", &path), ("FAKE_EXIT", "3")]);
    run.expect_code(3);
    // The flag form still runs a command.
    let run = p.run(&["exec", "--command", "id"], &[("PATH", &path)]);
    run.expect_code(0);
    assert_eq!(exec_commands(&region).last().unwrap()["command"], "id");

    // portforward: --port, or -L LOCAL:HOST:PORT; the flag form stays.
    let run = p.run(&["exec", "portforward", "-L", "8080:db.internal:5432", "--dry-run"], &[("PATH", &path)]);
    run.expect_code(0);
    assert!(run.stderr.contains("AWS-StartPortForwardingSessionToRemoteHost") && run.stderr.contains("db.internal"), "{}", run.stderr);
    assert!(run.stderr.contains("5432") && run.stderr.contains("8080") && run.stderr.contains("DRY RUN OK"), "{}", run.stderr);
    let run = p.run(&["exec", "portforward", "--port", "80", "--dry-run"], &[("PATH", &path)]);
    run.expect_code(0);
    assert!(run.stderr.contains("AWS-StartPortForwardingSession ") || run.stderr.contains("AWS-StartPortForwardingSession\""), "{}", run.stderr);
    let run = p.run(&["exec", "--port-forward", "--port", "80", "--dry-run"], &[("PATH", &path)]);
    run.expect_code(0);
    assert!(run.stderr.contains("DRY RUN OK"), "{}", run.stderr);
    let run = p.run(&["exec", "portforward"], &[("PATH", &path)]);
    run.expect_code(2);
    assert!(run.stderr.contains("exec portforward needs --port"), "{}", run.stderr);
    let run = p.run(&["exec", "portforward", "-L", "8080"], &[("PATH", &path)]);
    run.expect_code(2);
    assert!(run.stderr.contains("-L 8080: expected LOCAL_PORT:HOST:PORT"), "{}", run.stderr);

    let run = p.run(&["exec", "--help"], &[]);
    for sub in ["run", "portforward", "cp"] {
        assert!(run.stdout.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))), "{sub}: {}", run.stdout);
    }
    for old in ["--port-forward", "--local-port", "--port", "--host"] {
        assert!(!run.stdout.lines().any(|l| l.trim_start().starts_with(old)), "{old} is hidden: {}", run.stdout);
    }
}

#[test]
fn exec_cp_uploads_in_base64_commands_and_downloads_between_markers() {
    let (p, region, seed) = seeded("texeccp");
    write_project(&p, &seed, &task_definition(&seed), Some(&service_definition(&seed)), "");
    let bin = fake_plugin();
    let path = bin.path().display().to_string();
    // A missing local file, or no plugin: nothing is called.
    let run = p.run(&["exec", "cp", "nope.bin", "_:/tmp/"], &[("PATH", &path)]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot read nope.bin"), "{}", run.stderr);
    let run = p.run(&["exec", "cp", "x", "_:/tmp/"], &[("PATH", "/nonexistent")]);
    run.expect_code(1);
    assert!(run.stderr.contains("needs session-manager-plugin"), "{}", run.stderr);
    let run = p.run(&["exec", "cp", "a", "b"], &[("PATH", &path)]);
    run.expect_code(2);
    assert!(run.stderr.contains("neither is in a task"), "{}", run.stderr);
    assert!(sim().calls_in(&region).is_empty(), "{:?}", sim().calls_in(&region));

    // Upload: 40 000 bytes in two ExecuteCommand requests, `_` selecting the only task.
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(p.path("data.bin"), &data).unwrap();
    let run = p.run(&["exec", "cp", "data.bin", "_:/tmp/"], &[("PATH", &path)]);
    run.expect_code(0);
    let sent = exec_commands(&region);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let mut got = Vec::new();
    for (i, body) in sent.iter().enumerate() {
        let cmd = body["command"].as_str().unwrap();
        let redirect = if i == 0 { ">" } else { ">>" };
        let inner = cmd
            .strip_prefix("/bin/sh -c 'echo ")
            .and_then(|c| c.strip_suffix(&format!(" | base64 -d {redirect} \"/tmp/data.bin\"'")))
            .unwrap_or_else(|| panic!("{cmd:.80}"));
        got.extend(b64_decode(inner));
    }
    assert!(got == data, "the commands carry the file");
    assert_eq!(std::fs::read_to_string(bin.path().join("sessions")).unwrap().lines().count(), 2, "one plugin session per part");
    assert!(run.stderr.contains("copied data.bin (40000 bytes) to ") && run.stderr.contains(":/tmp/data.bin (container app)"), "{}", run.stderr);

    // Download: the session's output between the markers, decoded into the local file.
    let content = b"line one\nline two\n";
    // Wrapped at 8 columns, as a terminal session may show it.
    let encoded: String = {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(content);
        b.as_bytes().chunks(8).map(|c| format!("{}\n", String::from_utf8_lossy(c))).collect()
    };
    let out = format!(
        "\r\nStarting session with SessionId: s\r\nCORTADO-CP-BEGIN\r\n{}CORTADO-CP-END\r\n\r\nExiting session with sessionId: s.\r\n",
        encoded.replace('\n', "\r\n")
    );
    std::fs::write(p.path("session-out"), out).unwrap();
    let task_id = sent[0]["task"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let fake_out = p.path("session-out").display().to_string();
    let run = p.run(&["exec", "cp", &format!("{task_id}:/etc/motd"), "got.txt"], &[("PATH", &path), ("FAKE_OUT", &fake_out)]);
    run.expect_code(0);
    assert_eq!(std::fs::read(p.path("got.txt")).unwrap(), content);
    let last = exec_commands(&region).last().unwrap().clone();
    assert_eq!(last["command"], "/bin/sh -c 'echo CORTADO-CP-BEGIN && base64 < \"/etc/motd\" && echo CORTADO-CP-END'");

    // The container could not read the file: what its shell said, and no local file.
    std::fs::write(p.path("session-out"), "Starting session\r\nCORTADO-CP-BEGIN\r\nbase64: can't open '/nope': No such file or directory\r\n").unwrap();
    let run = p.run(&["exec", "cp", "_:/nope", "nope.txt"], &[("PATH", &path), ("FAKE_OUT", &fake_out)]);
    run.expect_code(1);
    assert!(run.stderr.contains("did not send the file") && run.stderr.contains("No such file or directory"), "{}", run.stderr);
    assert!(!p.path("nope.txt").exists());
}
