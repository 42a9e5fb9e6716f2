//! Stacks (issue 25) against the simulator: five services in three waves (a; b and c need a; d
//! needs b; e needs b and c). The order respects `needs`, a wave's members overlap, bad input or a
//! gate anywhere changes nothing, a failing member stops later waves and (with `on_failure:
//! rollback`) earlier members go back, an unchanged stack sends no mutation, one run id joins the
//! records and the audit chain verifies.

use cortado_e2e::{Project, Run, is_mutating, sim, unique_region};
use serde_json::Value;

const MEMBERS: &[(&str, &[&str])] = &[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b"]), ("e", &["b", "c"])];

/// A seeded region and a project with five member directories (each its own service and task
/// definition family, from `cortado init` of the seeded service) and a stack file.
fn stack_project(tag: &str, extra: &str) -> (Project, String) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let service = seed["ecs"]["serviceName"].as_str().unwrap();
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", service], &[]).expect_code(0);
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    let td: Value = serde_json::from_str(&p.read("ecs-task-def.json")).unwrap();
    let family = td["family"].as_str().unwrap().to_owned();
    let sv = p.read("ecs-service-def.json");
    let mut stack = String::from("services:\n");
    for (name, needs) in MEMBERS {
        p.write(&format!("{name}/cortado.yml"), &config.replace(&format!("service: {service}\n"), &format!("service: svc-{name}\n")));
        let mut td = td.clone();
        td["family"] = Value::String(format!("{family}-{name}"));
        p.write(&format!("{name}/ecs-task-def.json"), &serde_json::to_string_pretty(&td).unwrap());
        p.write(&format!("{name}/ecs-service-def.json"), &sv);
        stack.push_str(&format!("  {name}: {{ config: {name}/cortado.yml, needs: [{}] }}\n", needs.join(", ")));
    }
    p.write("cortado-stack.yml", &format!("{stack}audit_log: audit.jsonl\n{extra}"));
    (p, region)
}

fn set_image_tag(p: &Project, member: &str, tag: &str) {
    let path = format!("{member}/ecs-task-def.json");
    let mut v: Value = serde_json::from_str(&p.read(&path)).unwrap();
    let image = v["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    let base = image.rsplit_once(':').map(|(b, _)| b).unwrap_or(&image).to_owned();
    v["containerDefinitions"][0]["image"] = Value::String(format!("{base}:{tag}"));
    p.write(&path, &serde_json::to_string_pretty(&v).unwrap());
}

fn stack(p: &Project, args: &[&str]) -> Run {
    let mut all = vec!["stack"];
    all.extend_from_slice(args);
    p.run(&all, &[("CORTADO_POLL_INTERVAL", "100ms")])
}

/// The calls of `region` that name member `m` (its service or its family), each `(time, action)`.
fn calls_of(log: &[Value], m: &str) -> Vec<(f64, String)> {
    let service = format!("\"svc-{m}\"");
    let family = format!("-{m}\"");
    log.iter()
        .filter(|c| {
            let body = c["body"].to_string().replace("\\\"", "\"");
            body.contains(&service) || (c["action"] == "RegisterTaskDefinition" && body.contains(&family))
        })
        .map(|c| (c["time"].as_f64().unwrap_or(0.0), c["action"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// `[first mutating call, last call]` of member `m` in `log`.
fn window(log: &[Value], m: &str) -> (f64, f64) {
    let calls = calls_of(log, m);
    let first = calls.iter().filter(|(_, a)| is_mutating(a)).map(|(t, _)| *t).fold(f64::MAX, f64::min);
    let last = calls.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    (first, last)
}

fn task_definition_of(p: &Project, m: &str) -> String {
    let run = p.run(&["status", "--config", &format!("{m}/cortado.yml")], &[]);
    run.expect_code(0);
    run.stdout.lines().find_map(|l| l.trim().strip_prefix("TaskDefinition: ").map(str::to_owned)).unwrap_or_default()
}

fn records(p: &Project) -> Vec<Value> {
    p.read("audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary(run: &Run) -> Value {
    let line = run.stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| v["event"] == "summary");
    line.unwrap_or_else(|| panic!("no summary line:\n{}", run.stdout))["summary"].clone()
}

#[test]
fn five_services_in_three_waves_in_order_overlapping_recorded_and_rolled_back() {
    let (p, region) = stack_project("stackwaves", "");
    // The first run creates the five services.
    stack(&p, &["deploy"]).expect_code(0);
    for (m, _) in MEMBERS {
        set_image_tag(&p, m, "v2");
    }
    let before = sim().log_in(&region).len();
    // Every poll after an update takes 300 ms, so a member's window (first change to last call)
    // spans its wait: two members of a wave overlap because they run together, not by luck of
    // scheduling (the simulator's deployments otherwise finish within milliseconds).
    let slow = serde_json::json!([{"service": "ecs", "operation": "DescribeServices", "kind": "latency", "latency_ms": 300, "after": "UpdateService"}]);
    sim().faults(&region, 7, slow);
    let run = stack(&p, &["deploy", "--output", "json"]);
    sim().clear_faults(&region);
    run.expect_code(0);
    let log: Vec<Value> = sim().log_in(&region).into_iter().skip(before).collect();

    // Each member's first mutation comes after every call of what it needs (its wait included).
    for (m, needs) in MEMBERS {
        let (start, _) = window(&log, m);
        assert!(start < f64::MAX, "{m} sent no mutation:\n{}", run.stdout);
        for n in *needs {
            let (_, end) = window(&log, n);
            assert!(end < start, "{m} started at {start} before {n} finished at {end}");
        }
    }
    // Members of one wave overlap.
    let (b, c) = (window(&log, "b"), window(&log, "c"));
    assert!(b.0 < c.1 && c.0 < b.1, "b {b:?} and c {c:?} do not overlap");
    let (d, e) = (window(&log, "d"), window(&log, "e"));
    assert!(d.0 < e.1 && e.0 < d.1, "d {d:?} and e {e:?} do not overlap");

    // One run id joins the stack's decision and every member's, each with its outcome.
    let s = summary(&run);
    assert_eq!(s["result"], "ok", "{s}");
    let run_id = s["run_id"].as_str().unwrap();
    let joined: Vec<Value> = records(&p).into_iter().filter(|r| r["run_id"] == run_id).collect();
    let decisions: Vec<&Value> = joined.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(decisions.len(), 6, "{joined:#?}");
    assert_eq!(decisions.iter().filter(|r| r["command"] == "stack-deploy").count(), 1);
    assert_eq!(joined.iter().filter(|r| r["kind"] == "outcome").count(), 6);
    p.run(&["audit", "verify", "audit.jsonl"], &[]).expect_code(0);

    // Unchanged: no mutation, diff --exit-code 0.
    let mutations = sim().mutations_in(&region).len();
    stack(&p, &["deploy"]).expect_code(0);
    assert_eq!(sim().mutations_in(&region).len(), mutations, "an unchanged stack sent a mutation");
    stack(&p, &["diff", "--exit-code"]).expect_code(0);

    // stack rollback: every member back on revision 1, in reverse order.
    let family = |m: &str| task_definition_of(&p, m).rsplit_once(':').map(|(f, _)| f.to_owned()).unwrap();
    assert!(task_definition_of(&p, "a").ends_with(":2"));
    let before = sim().log_in(&region).len();
    let run = stack(&p, &["rollback"]);
    run.expect_code(0);
    // The rollback's calls only (the status reads below would count as the members' too).
    let log: Vec<Value> = sim().log_in(&region).into_iter().skip(before).collect();
    for (m, _) in MEMBERS {
        assert_eq!(task_definition_of(&p, m), format!("{}:1", family(m)), "{}", run.stdout);
    }
    let (a, e) = (window(&log, "a"), window(&log, "e"));
    assert!(e.1 < a.0, "a went back before e: a {a:?}, e {e:?}");
    p.run(&["audit", "verify", "audit.jsonl"], &[]).expect_code(0);
}

#[test]
fn a_render_error_in_the_last_member_changes_nothing() {
    let (p, region) = stack_project("stackrender", "");
    let td = p.read("e/ecs-task-def.json").replace("\"family\"", "\"x\": \"{{ must_env `STACK_TEST_UNSET` }}\",\n  \"family\"");
    p.write("e/ecs-task-def.json", &td);
    let before = sim().calls_in(&region).len();
    let run = stack(&p, &["deploy"]);
    run.expect_code(2);
    assert!(run.stderr.contains("stack member e") && run.stderr.contains("e/cortado.yml"), "{}", run.stderr);
    assert!(sim().mutations_in(&region).is_empty(), "{:?}", sim().mutations_in(&region));
    assert_eq!(sim().calls_in(&region).len(), before, "no AWS call before the input is checked");
}

#[test]
fn a_native_member_is_refused_before_anything_changes() {
    // Its PAUSE hooks would be answered by stage gates under `cortado deploy`; a stack that did not
    // follow them would leave a hard-mandatory stage gate to a hook's timeout.
    let (p, region) = stack_project("stacknative", "");
    let mut sv: Value = serde_json::from_str(&p.read("d/ecs-service-def.json")).unwrap();
    sv["deploymentConfiguration"]["strategy"] = Value::String("BLUE_GREEN".into());
    p.write("d/ecs-service-def.json", &serde_json::to_string_pretty(&sv).unwrap());
    let run = stack(&p, &["deploy"]);
    run.expect_code(2);
    assert!(run.stderr.contains("stack member d") && run.stderr.contains("native strategy") && run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(sim().mutations_in(&region).is_empty(), "{:?}", sim().mutations_in(&region));
}

#[test]
fn bad_stack_files_exit_2_naming_the_member() {
    let (p, region) = stack_project("stackbad", "");
    let good = p.read("cortado-stack.yml");
    p.write("cortado-stack.yml", &good.replace("needs: [b, c]", "needs: [b, zz]"));
    let run = stack(&p, &["deploy"]);
    run.expect_code(2);
    assert!(run.stderr.contains("member e needs \"zz\""), "{}", run.stderr);
    p.write("cortado-stack.yml", &good.replace("a: { config: a/cortado.yml, needs: [] }", "a: { config: a/cortado.yml, needs: [e] }"));
    let run = stack(&p, &["deploy"]);
    run.expect_code(2);
    assert!(run.stderr.contains("a cycle in `needs`"), "{}", run.stderr);
    p.write("cortado-stack.yml", &good.replace("d/cortado.yml", "nowhere/cortado.yml"));
    let run = stack(&p, &["deploy"]);
    run.expect_code(2);
    assert!(run.stderr.contains("member d") && run.stderr.contains("nowhere/cortado.yml"), "{}", run.stderr);
    assert!(sim().mutations_in(&region).is_empty());
}

#[test]
fn a_hard_gate_denying_one_member_changes_nothing() {
    let (p, region) = stack_project("stackgate", "");
    let freeze = "plugins:\n  - name: change-freeze\n    enforcement: hard-mandatory\n    config:\n      freezes:\n        - start: \"2020-01-01T00:00:00Z\"\n          end: \"2099-01-01T00:00:00Z\"\n          reason: frozen\n";
    p.write("d/cortado.yml", &format!("{}{freeze}", p.read("d/cortado.yml")));
    let run = stack(&p, &["deploy"]);
    run.expect_code(1);
    assert!(run.stderr.contains("member d: gate change-freeze"), "{}", run.stderr);
    assert!(sim().mutations_in(&region).is_empty(), "{:?}", sim().mutations_in(&region));
    let recs = records(&p);
    let run_ids: std::collections::BTreeSet<&str> = recs.iter().filter_map(|r| r["run_id"].as_str()).collect();
    assert_eq!(run_ids.len(), 1, "one run id: {recs:#?}");
    assert!(recs.iter().any(|r| r["kind"] == "decision" && r["outcome"] == "blocked"));
    p.run(&["audit", "verify", "audit.jsonl"], &[]).expect_code(0);

    // The same gate in the stack file: it judges every member's steps at once, and blocks them all.
    p.write("d/cortado.yml", &p.read("d/cortado.yml").replace(freeze, ""));
    p.write("cortado-stack.yml", &format!("{}{freeze}", p.read("cortado-stack.yml")));
    let run = stack(&p, &["deploy"]);
    run.expect_code(1);
    assert!(run.stderr.contains("the stack's gate change-freeze"), "{}", run.stderr);
    assert!(sim().mutations_in(&region).is_empty(), "{:?}", sim().mutations_in(&region));
    let recs = records(&p);
    let whole = recs.iter().rev().find(|r| r["command"] == "stack-deploy").expect("the stack's decision");
    assert_eq!(whole["outcome"], "blocked");
    let steps = whole["steps"].as_array().unwrap();
    for (m, _) in MEMBERS {
        assert!(steps.iter().any(|s| s["resource"].as_str().unwrap().starts_with(&format!("{m}: "))), "{m} is missing from {steps:#?}");
    }
}

#[test]
fn a_failing_member_stops_later_waves_and_earlier_ones_roll_back() {
    let (p, region) = stack_project("stackfail", "on_failure: rollback\n");
    stack(&p, &["deploy"]).expect_code(0);
    let first: Vec<String> = MEMBERS.iter().map(|(m, _)| task_definition_of(&p, m)).collect();
    for (m, _) in MEMBERS {
        set_image_tag(&p, m, "v2");
    }
    // b fails: d and e (which need it) never start; c, in flight beside it, finishes.
    set_image_tag(&p, "b", "fail");
    let before = sim().log_in(&region).len();
    let run = stack(&p, &["deploy", "--output", "json"]);
    run.expect_code(1);
    let log: Vec<Value> = sim().log_in(&region).into_iter().skip(before).collect();
    for m in ["d", "e"] {
        assert!(calls_of(&log, m).iter().all(|(_, a)| !is_mutating(a)), "{m} started after c failed:\n{}", run.stdout);
    }
    let s = summary(&run);
    assert_eq!(s["members"]["d"], "not started", "{s}");
    assert_eq!(s["members"]["e"], "not started", "{s}");
    for m in ["a", "b", "c"] {
        assert_eq!(s["members"][m], "rolled back", "{s}");
    }
    for (i, (m, _)) in MEMBERS.iter().enumerate() {
        assert_eq!(task_definition_of(&p, m), first[i], "{m} is not back on what ran before:\n{}", run.stdout);
    }
    p.run(&["audit", "verify", "audit.jsonl"], &[]).expect_code(0);
}

/// A bucket in `region` of the simulator (path-style S3; moto checks no signature).
fn bucket(region: &str) -> String {
    let name = format!("{}-locks", region.to_lowercase());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0");
    let cfg = format!("<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>");
    let resp = agent.put(&format!("{}/{name}", sim().url)).header("Authorization", &auth).send(cfg.as_bytes()).expect("CreateBucket");
    assert_eq!(resp.status().as_u16(), 200, "CreateBucket");
    name
}

fn s3_status(region: &str, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0");
    agent.get(&format!("{}/{path}", sim().url)).header("Authorization", &auth).call().expect("GetObject").status().as_u16()
}

#[test]
fn a_concurrent_deploy_of_a_member_does_not_overlap_the_stacks() {
    let (p, region) = stack_project("stacklock", "");
    let b = bucket(&region);
    for (m, _) in MEMBERS {
        let path = format!("{m}/cortado.yml");
        p.write(&path, &format!("{}lock: s3://{b}/l/\n", p.read(&path)));
    }
    stack(&p, &["deploy"]).expect_code(0);
    for (m, _) in MEMBERS {
        set_image_tag(&p, m, "v2");
    }
    let updates = || sim().calls_in(&region).iter().filter(|c| *c == "ecs:UpdateService").count();
    let before = updates();
    // The stack holds every member's lock before its first change (and pauses there).
    let release = p.spawn_with(&["stack", "deploy"], &[("CORTADO_PAUSE_BEFORE_APPLY", "4s"), ("CORTADO_POLL_INTERVAL", "100ms")]);
    let cluster = p.read("a/cortado.yml").lines().find_map(|l| l.strip_prefix("cluster: ").map(str::to_owned)).unwrap();
    let start = std::time::Instant::now();
    while s3_status(&region, &format!("{b}/l/locks/{cluster}/svc-e")) != 200 {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "the stack never took e's lock");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(updates(), before, "e's lock (the last) is taken before the first change");
    let single = p.run(&["deploy", "--config", "e/cortado.yml"], &[]);
    assert_eq!(single.code, 1, "{}", single.stderr);
    assert!(single.stderr.contains("locked by another deployer"), "{}", single.stderr);
    let out = release.wait_with_output().expect("the stack ends");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let log = sim().log_in(&region);
    let e_updates = log.iter().filter(|c| c["action"] == "UpdateService" && c["body"].to_string().contains("svc-e")).count();
    assert_eq!(e_updates, 1, "only the stack updated e in this run");
}

/// The envelope's statement (the payload, unverified: the test reads what `evidence verify` checked).
fn statement_of(p: &Project, file: &str) -> Value {
    use base64::Engine as _;
    let env: Value = serde_json::from_str(&p.read(file)).unwrap();
    let payload = base64::engine::general_purpose::STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// The files in `dir` of the project (none when it does not exist).
fn files_in(p: &Project, dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(p.path(dir)) else { return Vec::new() };
    let mut out: Vec<String> = entries.map(|e| format!("{dir}/{}", e.unwrap().file_name().to_str().unwrap())).collect();
    out.sort();
    out
}

#[test]
fn a_signed_release_is_one_statement_naming_every_member_and_verifies() {
    let (p, _region) = stack_project("stackevidence", "signing:\n  key_file: signing.key\n");
    let public = p.run(&["evidence", "keygen", "signing.key"], &[]).expect_code(0).stdout.trim().to_owned();
    let run = stack(&p, &["deploy", "--output", "json"]);
    run.expect_code(0);
    let run_id = summary(&run)["run_id"].as_str().unwrap().to_owned();
    // ONE statement, the stack's; no member writes its own.
    let files = files_in(&p, "cortado-evidence");
    assert_eq!(files, vec![format!("cortado-evidence/{run_id}.dsse.json")], "{}", run.stderr);
    for (m, _) in MEMBERS {
        assert!(files_in(&p, &format!("{m}/cortado-evidence")).is_empty(), "member {m} wrote its own statement");
    }
    let ok = p.run(&["evidence", "verify", &files[0], "--public-key", &public], &[]);
    ok.expect_code(0);
    assert!(ok.stdout.contains("release of 5 member(s)"), "{}", ok.stdout);
    for (m, _) in MEMBERS {
        assert!(ok.stdout.contains(&format!("    {m}: done (arn:aws:ecs:")), "member {m} listed:\n{}", ok.stdout);
    }
    assert!(ok.stdout.contains("matches the audit chain"), "{}", ok.stdout);

    // The statement: a subject per registered task definition and per image; each member's
    // decision and outcome are the records in the chain, under the one run id.
    let st = statement_of(&p, &files[0]);
    let subject = st["subject"].as_array().unwrap();
    let tds: Vec<&Value> = subject.iter().filter(|s| s["name"].as_str().unwrap().starts_with("arn:aws:ecs:")).collect();
    assert_eq!(tds.len(), 5, "{subject:#?}");
    assert!(tds.iter().all(|s| s["digest"]["sha256"].as_str().is_some_and(|d| d.len() == 64)), "{subject:#?}");
    assert_eq!(subject.len(), 10, "a task definition and an image per member: {subject:#?}");
    let recs = records(&p);
    for (m, _) in MEMBERS {
        let entry = &st["predicate"]["members"][*m];
        assert_eq!(entry["run_id"], run_id.as_str(), "{entry}");
        let decision = recs.iter().find(|r| r["hash"] == entry["audit"]["decision"]).unwrap_or_else(|| panic!("{m}'s decision: {entry}"));
        assert_eq!(decision["service"], format!("svc-{m}").as_str());
        assert_eq!(decision["plan_digest"], entry["plan_digest"]);
        let outcome = recs.iter().find(|r| r["hash"] == entry["audit"]["outcome"]).unwrap_or_else(|| panic!("{m}'s outcome: {entry}"));
        assert_eq!(outcome["decision"], decision["hash"]);
        assert_eq!(outcome["result"], "ok");
    }
    assert_eq!(st["predicate"]["audit"]["chain_head"]["hash"], recs.last().unwrap()["hash"], "the stack's outcome is the head");

    // A changed byte in the statement: refused.
    let text = p.read(&files[0]);
    let at = text.find("\"payload\": \"").unwrap() + "\"payload\": \"".len() + 60;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'Q' { b'R' } else { b'Q' };
    p.write("tampered.dsse.json", std::str::from_utf8(&bytes).unwrap());
    let bad = p.run(&["evidence", "verify", "tampered.dsse.json", "--public-key", &public], &[]);
    assert_eq!(bad.code, 1, "{}\n{}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("no valid signature"), "{}", bad.stderr);
    // A member's outcome record edited after the fact: the statement no longer matches the chain.
    let c_outcome = st["predicate"]["members"]["c"]["audit"]["outcome"].as_str().unwrap().to_owned();
    let log: Vec<String> = p
        .read("audit.jsonl")
        .lines()
        .map(|l| if l.contains(&format!("\"hash\":\"{c_outcome}\"")) { l.replace("\"result\":\"ok\"", "\"result\":\"failed\"") } else { l.to_owned() })
        .collect();
    p.write("audit.jsonl", &(log.join("\n") + "\n"));
    let mismatch = p.run(&["evidence", "verify", &files[0], "--public-key", &public], &[]);
    assert_eq!(mismatch.code, 1, "{}", mismatch.stdout);
    assert!(mismatch.stdout.contains("member c: `result` differs from the outcome record"), "{}", mismatch.stdout);
}

#[test]
fn a_release_is_signed_when_every_member_signs() {
    let (p, _region) = stack_project("stackevmembers", "");
    let public = p.run(&["evidence", "keygen", "signing.key"], &[]).expect_code(0).stdout.trim().to_owned();
    for (m, _) in MEMBERS {
        let path = format!("{m}/cortado.yml");
        p.write(&path, &format!("{}signing:\n  key_file: ../signing.key\n", p.read(&path)));
    }
    let run = stack(&p, &["deploy", "--output", "json"]);
    run.expect_code(0);
    let files = files_in(&p, "cortado-evidence");
    assert_eq!(files.len(), 1, "one statement beside the stack file: {}", run.stderr);
    for (m, _) in MEMBERS {
        assert!(files_in(&p, &format!("{m}/cortado-evidence")).is_empty(), "member {m} wrote its own statement");
    }
    p.run(&["evidence", "verify", &files[0], "--public-key", &public], &[]).expect_code(0);
}

#[test]
fn stack_verify_runs_every_members_verify_and_fails_when_one_fails() {
    let (p, _region) = stack_project("stackverify", "");
    let run = stack(&p, &["verify", "--no-put-logs"]);
    run.expect_code(0);
    for (m, _) in MEMBERS {
        assert!(run.stdout.contains(&format!("# {m} ({m}/cortado.yml)")) || run.stdout.contains(&format!("# {m} (")), "header of {m}:\n{}", run.stdout);
    }
    assert!(run.stderr.contains("every member (5) passed"), "{}", run.stderr);
    // Member c's image does not exist: c fails, d and e are still verified, exit 1 naming c.
    set_image_tag(&p, "c", "no-such-tag");
    let run = stack(&p, &["verify", "--no-put-logs"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("1 member(s) failed: c ("), "{}", run.stderr);
    assert!(run.stdout.find("# e (").unwrap() > run.stdout.find("# c (").unwrap(), "e verified after c failed:\n{}", run.stdout);
}
