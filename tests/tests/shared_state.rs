//! Team-shared state on S3 (issue 13): the audit chain as one object per record, its verification
//! (edits, deletions, re-orderings found; retention reported), and the deploy lock (a live lock
//! refuses and names its holder, a killed holder's expired lock is taken over, an IN_PROGRESS
//! deployment not ours is refused). The simulator's S3 is read and changed directly, not through
//! cortado.

use std::time::{Duration, Instant};

use cortado_e2e::{Project, Sim, sim, unique_region};
use serde_json::Value;

/// A raw S3 request against the simulator (path style; moto checks no signature).
fn s3(sim: &Sim, region: &str, method: &str, path: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0");
    let url = format!("{}/{path}", sim.url);
    let mut resp = match (method, body) {
        ("PUT", b) => {
            let mut req = agent.put(&url).header("Authorization", &auth);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(b.unwrap_or(b""))
        }
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        _ => agent.get(&url).header("Authorization", &auth).call(),
    }
    .expect("call the simulator's S3");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_vec().expect("S3 body"))
}

/// A bucket with Object Lock in `region`.
fn bucket(sim: &Sim, region: &str) -> String {
    let name = format!("{}-audit", region.to_lowercase());
    let cfg = format!("<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>");
    let (status, body) = s3(sim, region, "PUT", &name, Some(cfg.as_bytes()), &[("x-amz-bucket-object-lock-enabled", "true")]);
    assert_eq!(status, 200, "CreateBucket: {}", String::from_utf8_lossy(&body));
    name
}

/// A seeded service whose task definition moves to `:v2`, with `extra` config lines.
fn project(tag: &str, extra: &dyn Fn(&str) -> String) -> (Project, String, String) {
    let sim = sim();
    let region = unique_region(tag);
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let b = bucket(sim, &region);
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write("cortado.yml", &format!("{config}{}", extra(&b)));
    let td = p.read("ecs-task-def.json").replace(":v1\"", ":v2\"");
    p.write("ecs-task-def.json", &td);
    (p, region, b)
}

fn verify_json(p: &Project, url: &str) -> (i32, Value) {
    let run = p.run(&["audit", "verify", url, "--output", "json"], &[]);
    let v: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    (run.code, v)
}

fn problems(v: &Value) -> String {
    v["chains"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_s3_chain_is_one_object_per_record_and_tampering_is_found() {
    let sim = sim();
    let (p, region, b) = project("sharedaudit", &|b| format!("audit_log: s3://{b}/team/\naudit_retention: 1d\naudit_retention_mode: GOVERNANCE\n"));
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains(&format!("appended to s3://{b}/team/")), "{}", run.stderr);
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v2\"", ":v1\""));
    p.run(&["deploy"], &[]).expect_code(0);
    assert!(!p.path("cortado-audit.jsonl").exists(), "the local file is not written when the log is on S3");

    let cluster_service = {
        let cfg = p.read("cortado.yml");
        let get = |k: &str| cfg.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim().to_owned();
        format!("{}/{}", get("cluster"), get("service"))
    };
    let dir = format!("{b}/team/{cluster_service}");
    let key = |n: u64| format!("{dir}/{n:012}.json");
    let mut originals = Vec::new();
    for n in 1..=4 {
        let (status, body) = s3(sim, &region, "GET", &key(n), None, &[]);
        assert_eq!(status, 200, "{} is missing", key(n));
        let rec: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(rec["seq"], n, "{rec}");
        assert_eq!(rec["kind"], if n % 2 == 1 { "decision" } else { "outcome" });
        originals.push(body);
    }
    // The deploy lock was released at the end of each deploy.
    assert_eq!(s3(sim, &region, "GET", &format!("{b}/team/locks/{cluster_service}"), None, &[]).0, 404);

    // iam-policy: the chain and the lock, scoped to this service's keys under the prefix.
    let policy: Value = serde_json::from_str(&p.run(&["iam-policy"], &[]).expect_code(0).stdout.clone()).unwrap();
    let sid = |name: &str| policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == name).cloned().unwrap_or_else(|| panic!("no {name}: {policy}"));
    assert_eq!(sid("CortadoAuditLog")["Resource"], format!("arn:aws:s3:::{b}/team/{cluster_service}/*"));
    assert!(sid("CortadoAuditLog")["Action"].as_array().unwrap().contains(&"s3:PutObjectRetention".into()));
    assert_eq!(sid("CortadoDeployLock")["Resource"], format!("arn:aws:s3:::{b}/team/locks/{cluster_service}"));

    let url = format!("s3://{b}/team/");
    let (code, v) = verify_json(&p, &url);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["intact"], true);
    let chain = &v["chains"][0];
    assert_eq!(chain["records"], 4, "{v}");
    assert!(chain["retention"].as_array().unwrap().iter().all(|r| r["mode"] == "GOVERNANCE" && r["retain_until"].is_string()), "{v}");
    let text = p.run(&["audit", "verify", &url], &[]);
    text.expect_code(0);
    assert!(text.stdout.contains("4 records, chain intact") && text.stdout.contains("4/4 under Object Lock (GOVERNANCE)"), "{}", text.stdout);

    // Edited: a decision's outcome rewritten in place.
    let edited = String::from_utf8(originals[2].clone()).unwrap().replace("\"approved\"", "\"blocked\"");
    s3(sim, &region, "PUT", &key(3), Some(edited.as_bytes()), &[]);
    let (code, v) = verify_json(&p, &url);
    assert_eq!(code, 1, "{v}");
    assert!(problems(&v).contains(&format!("{}: its content does not match its `hash`: this record was edited", key(3))), "{}", problems(&v));
    // The rewritten object is a new version, without the retention S3 keeps on the locked one.
    assert!(v["chains"][0]["warnings"][0].as_str().unwrap().contains(&format!("{}: no Object Lock retention", key(3))), "{v}");
    s3(sim, &region, "PUT", &key(3), Some(&originals[2]), &[]);
    assert_eq!(verify_json(&p, &url).0, 0, "restoring the original bytes restores the chain");

    // Re-ordered: records 2 and 3 swapped.
    s3(sim, &region, "PUT", &key(2), Some(&originals[2]), &[]);
    s3(sim, &region, "PUT", &key(3), Some(&originals[1]), &[]);
    let (code, v) = verify_json(&p, &url);
    assert_eq!(code, 1, "{v}");
    assert!(problems(&v).contains(&format!("{}: it says seq 3, its key says 2: records were moved or re-ordered", key(2))), "{}", problems(&v));
    s3(sim, &region, "PUT", &key(2), Some(&originals[1]), &[]);
    s3(sim, &region, "PUT", &key(3), Some(&originals[2]), &[]);
    assert_eq!(verify_json(&p, &url).0, 0);

    // Deleted: record 2 gone.
    s3(sim, &region, "DELETE", &key(2), None, &[]);
    let (code, v) = verify_json(&p, &url);
    assert_eq!(code, 1, "{v}");
    assert!(problems(&v).contains(&format!("{}: gap before it: 000000000002.json missing (deleted)", key(3))), "{}", problems(&v));
    let text = p.run(&["audit", "verify", &url], &[]);
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("CHAIN BROKEN") && text.stderr.contains("audit chain broken"), "{}\n{}", text.stdout, text.stderr);
    // The record written next still lands after the head, not in the gap.
    p.run(&["deploy", "--dry-run"], &[]).expect_code(0);
    assert_eq!(s3(sim, &region, "GET", &key(5), None, &[]).0, 200);
    assert_eq!(s3(sim, &region, "GET", &key(2), None, &[]).0, 404);
}

#[test]
fn a_live_lock_refuses_naming_its_holder_and_a_killed_holders_lock_is_taken_over() {
    let sim = sim();
    let (p, region, b) = project("sharedlock", &|b| format!("audit_log: s3://{b}/t/\nlock_ttl: 3s\n"));
    // The first deployer takes the lock, then is killed before it changes anything.
    let mut first = p.spawn_with(
        &["deploy"],
        &[("CORTADO_PAUSE_BEFORE_APPLY", "30s"), ("GITHUB_SERVER_URL", "https://github.com"), ("GITHUB_REPOSITORY", "o/r"), ("GITHUB_RUN_ID", "77")],
    );
    let cfg = p.read("cortado.yml");
    let get = |k: &str| cfg.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim().to_owned();
    let lock_key = format!("{b}/t/locks/{}/{}", get("cluster"), get("service"));
    let start = Instant::now();
    let holder = loop {
        let (status, body) = s3(sim, &region, "GET", &lock_key, None, &[]);
        if status == 200 {
            break serde_json::from_slice::<Value>(&body).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the first deployer never took the lock");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(holder["holder"]["pid"], first.id(), "{holder}");
    assert_eq!(holder["holder"]["ci_run"], "https://github.com/o/r/actions/runs/77", "{holder}");
    assert!(holder["holder"]["caller"].as_str().unwrap().starts_with("arn:aws:"), "{holder}");

    // A second deployer meanwhile: refused at once (the default), naming the holder; nothing changed.
    let second = p.run(&["deploy"], &[]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("locked by another deployer")
            && second.stderr.contains(&format!("pid {}", first.id()))
            && second.stderr.contains("actions/runs/77"),
        "{}",
        second.stderr
    );
    // Renewed while held: the lock outlives its 3 s TTL while the holder lives.
    std::thread::sleep(Duration::from_secs(4));
    let second = p.run(&["deploy"], &[]);
    assert_eq!(second.code, 1, "a renewed lock is still live: {}", second.stderr);

    first.kill().expect("kill the holder");
    let _ = first.wait();
    assert!(!sim.calls_in(&region).iter().any(|c| c == "ecs:UpdateService"), "the killed holder changed nothing");
    // The next deployer waits for the lock to expire and takes it over.
    let next = p.run(&["deploy", "--lock-timeout", "20s"], &[]);
    next.expect_code(0);
    // Progress lines go to stdout (as the deploy's other progress does).
    assert!(next.stdout.contains("took over an expired lock held by") && next.stdout.contains(&format!("pid {}", holder["holder"]["pid"])), "{}", next.stdout);
    assert_eq!(s3(sim, &region, "GET", &lock_key, None, &[]).0, 404, "released at the end");
    // The killed holder's decision has no outcome, and the chain says so.
    let text = p.run(&["audit", "verify", &format!("s3://{b}/t/")], &[]);
    text.expect_code(0);
    assert!(text.stdout.contains("decision without outcome: deploy"), "{}", text.stdout);
}

#[test]
fn an_in_progress_deployment_not_ours_is_refused_unless_waiting_for_others() {
    let (p, region, _) = project("sharedothers", &|b| format!("lock: s3://{b}/l/\n"));
    // Ten tasks to start: the simulator moves one per DescribeServices, so one look still sees it IN_PROGRESS.
    p.run(&["deploy", "--no-wait", "--tasks", "10"], &[]).expect_code(0);
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v2\"", ":v1\""));
    let updates = || sim().calls_in(&region).iter().filter(|c| *c == "ecs:UpdateService").count();
    let before = updates();
    let refused = p.run(&["deploy"], &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("has an IN_PROGRESS deployment this invocation did not start (ecs-svc/"), "{}", refused.stderr);
    assert_eq!(updates(), before, "nothing changed");
    let waited = p.run(&["deploy", "--wait-for-others"], &[("CORTADO_POLL_INTERVAL", "100ms")]);
    waited.expect_code(0);
    assert!(waited.stdout.contains("(IN_PROGRESS, not ours) to finish"), "{}", waited.stdout);
    assert_eq!(updates(), before + 1);
}

#[test]
fn unlock_removes_a_held_lock_gated_and_audited() {
    let sim = sim();
    let (p, region, b) = project("sharedunlock", &|b| format!("audit_log: s3://{b}/u/\n"));
    let nothing = p.run(&["unlock"], &[]);
    nothing.expect_code(0);
    assert!(nothing.stdout.contains("no deploy lock is held"), "{}", nothing.stdout);
    let mut holder = p.spawn_with(&["deploy"], &[("CORTADO_PAUSE_BEFORE_APPLY", "30s")]);
    let cfg = p.read("cortado.yml");
    let get = |k: &str| cfg.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim().to_owned();
    let (cluster, service) = (get("cluster"), get("service"));
    let lock_key = format!("{b}/u/locks/{cluster}/{service}");
    let start = Instant::now();
    while s3(sim, &region, "GET", &lock_key, None, &[]).0 != 200 {
        assert!(start.elapsed() < Duration::from_secs(30), "the deployer never took the lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dry = p.run(&["unlock", "--dry-run"], &[]);
    dry.expect_code(0);
    assert_eq!(s3(sim, &region, "GET", &lock_key, None, &[]).0, 200, "a dry run removes nothing");
    let run = p.run(&["unlock"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("is held by arn:aws:") && run.stdout.contains(&format!("(pid {}", holder.id())), "{}", run.stdout);
    assert!(run.stdout.contains("removed"), "{}", run.stdout);
    assert_eq!(s3(sim, &region, "GET", &lock_key, None, &[]).0, 404);
    holder.kill().expect("kill the holder");
    let _ = holder.wait();
    // The chain: the paused deploy's decision, the dry run's, then unlock's decision (naming the
    // holder and the delete) and its outcome.
    let dir = format!("{b}/u/{cluster}/{service}");
    let records: Vec<Value> =
        (1..=4).map(|n| serde_json::from_slice(&s3(sim, &region, "GET", &format!("{dir}/{n:012}.json"), None, &[]).1).expect("a record")).collect();
    let unlock = &records[2];
    assert_eq!(unlock["command"], "unlock", "{records:?}");
    assert_eq!(unlock["dry_run"], false);
    assert_eq!(unlock["mutations"][0]["operation"], "s3:DeleteObject", "{unlock}");
    assert_eq!(unlock["lock"]["holder"]["holder"]["pid"], holder.id(), "the record names whose lock was removed: {unlock}");
    assert_eq!(records[3]["kind"], "outcome");
    assert_eq!(records[3]["result"], "ok", "{}", records[3]);
    assert_eq!(records[3]["decision"], unlock["hash"]);
    assert_eq!(records[1]["command"], "unlock");
    assert_eq!(records[1]["dry_run"], true);
}

#[test]
fn signed_evidence_verifies_against_the_chain_and_one_changed_byte_is_caught() {
    let (p, _region, b) = project("sharedevidence", &|_| "signing:\n  key_file: signing.key\n".into());
    let keygen = p.run(&["evidence", "keygen", "signing.key"], &[]);
    keygen.expect_code(0);
    let public = keygen.stdout.trim().to_owned();
    assert_eq!(public.len(), 64, "{}", keygen.stdout);
    let run = p.run(&["deploy"], &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("evidence: signed statement written to"), "{}", run.stderr);
    let file = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    let file = file.to_str().unwrap();
    let ok = p.run(&["evidence", "verify", file, "--public-key", &public, "--output", "json"], &[]);
    ok.expect_code(0);
    let v: Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    assert_eq!(v["matches_chain"], true, "{v}");
    assert!(v["subject"][0]["name"].as_str().unwrap().starts_with("arn:aws:ecs:"), "the registered task definition: {v}");
    let audit: Vec<Value> = p.read("cortado-audit.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v["predicate"]["plan_digest"], audit[0]["plan_digest"]);
    assert_eq!(v["predicate"]["outcome"]["deployment_id"], audit[1]["deployment_id"]);
    assert_eq!(v["predicate"]["audit"]["outcome"], audit[1]["hash"]);

    // One byte of the envelope changed (inside the signed payload): refused.
    let text = std::fs::read_to_string(file).unwrap();
    let at = text.find("\"payload\": \"").unwrap() + "\"payload\": \"".len() + 40;
    let mut bytes = text.clone().into_bytes();
    bytes[at] = if bytes[at] == b'Q' { b'R' } else { b'Q' };
    p.write("tampered.dsse.json", std::str::from_utf8(&bytes).unwrap());
    let bad = p.run(&["evidence", "verify", "tampered.dsse.json", "--public-key", &public], &[]);
    assert_eq!(bad.code, 1, "{}\n{}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("signature check failed") && bad.stderr.contains("no valid signature"), "{}", bad.stderr);
    // Another key: refused.
    p.run(&["evidence", "keygen", "other.key"], &[]).expect_code(0);
    assert_eq!(p.run(&["evidence", "verify", file, "--key-file", "other.key"], &[]).code, 1);

    // The chain edited after the fact: the evidence no longer matches it.
    let log = p.read("cortado-audit.jsonl").replace("\"result\":\"ok\"", "\"result\":\"failed\"");
    p.write("cortado-audit.jsonl", &log);
    let mismatch = p.run(&["evidence", "verify", file, "--public-key", &public], &[]);
    assert_eq!(mismatch.code, 1);
    assert!(mismatch.stdout.contains("`result` differs from the outcome record"), "{}", mismatch.stdout);

    // With the chain on S3 the statement names it, and verify reads it there.
    std::fs::remove_dir_all(p.path("cortado-evidence")).unwrap();
    p.run(&["deploy", "--force-new-deployment", "--audit-log", &format!("s3://{b}/ev/")], &[]).expect_code(0);
    let file = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    let on_s3 = p.run(&["evidence", "verify", file.to_str().unwrap(), "--public-key", &public], &[]);
    on_s3.expect_code(0);
    assert!(on_s3.stdout.contains(&format!("matches the audit chain at s3://{b}/ev/")), "{}", on_s3.stdout);
    // The same evidence beside the chain on S3, verified from there; the chain walk skips it.
    let run = file.file_name().unwrap().to_str().unwrap().to_owned();
    let cfg = p.read("cortado.yml");
    let get = |k: &str| cfg.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim().to_owned();
    let remote = format!("s3://{b}/ev/evidence/{}/{}/{run}", get("cluster"), get("service"));
    p.run(&["evidence", "verify", &remote, "--public-key", &public], &[]).expect_code(0);
    p.run(&["audit", "verify", &format!("s3://{b}/ev/")], &[]).expect_code(0);
}

#[test]
fn evidence_signed_by_a_kms_key_verifies_with_its_public_key() {
    let sim = sim();
    let region = unique_region("sharedkms");
    let key = cortado_e2e::seeded::aws_json(
        sim,
        &region,
        "kms",
        "TrentService.CreateKey",
        &serde_json::json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap_or_else(|| panic!("{key}")).to_owned();
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    p.write("cortado.yml", &format!("{}signing:\n  kms_key: {arn}\n", p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s")));
    p.run(&["deploy", "--force-new-deployment"], &[]).expect_code(0);
    assert!(sim.calls_in(&region).iter().any(|c| c == "kms:Sign"), "{:?}", sim.calls_in(&region));
    let file = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    let file = file.to_str().unwrap();
    let envelope: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(envelope["signatures"][0]["keyid"], arn.as_str());
    // No key given: the envelope's key id is the KMS key, whose public key KMS gives.
    let ok = p.run(&["evidence", "verify", file, "--output", "json"], &[]);
    ok.expect_code(0);
    let v: Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    assert_eq!(v["matches_chain"], true, "{v}");
    assert!(sim.calls_in(&region).iter().any(|c| c == "kms:GetPublicKey"));
    let policy = p.run(&["iam-policy"], &[]).expect_code(0).stdout.clone();
    assert!(policy.contains("CortadoEvidenceSigning") && policy.contains(&arn), "{policy}");
    let text = std::fs::read_to_string(file).unwrap();
    let at = text.find("\"payload\": \"").unwrap() + "\"payload\": \"".len() + 60;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'Q' { b'R' } else { b'Q' };
    p.write("tampered.dsse.json", std::str::from_utf8(&bytes).unwrap());
    let bad = p.run(&["evidence", "verify", "tampered.dsse.json"], &[]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("no valid signature"), "{}", bad.stderr);

    // The DIGEST path (a statement over KMS's 4 KiB RAW limit) verifies the same way.
    std::fs::remove_dir_all(p.path("cortado-evidence")).unwrap();
    p.run(&["deploy", "--force-new-deployment"], &[("CORTADO_KMS_DIGEST", "1")]).expect_code(0);
    let file = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    p.run(&["evidence", "verify", file.to_str().unwrap()], &[]).expect_code(0);
}
