//! Grants mean what they say, and the audit chain can be anchored (issue 24): `effect: Deny`
//! honoured, URL grants normalised (no `..` escape, no redirect out, literal query), SSM's
//! Secrets Manager references need the secret's grant, state bodies bounded in memory and time,
//! `audit head` / `verify --expect-head`, the chain head in signed evidence, the S3 head object
//! under Object Lock, `filter_command` refused under `--sandboxed-only`, and the compile cache
//! read once. Each test shows, from the simulator's call log or the loopback server's access log,
//! that nothing outside the grant was sent.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cortado_e2e::seeded::seeded;
use cortado_e2e::{Project, Sim, cortado_bin, fixture_plugin, python, rendered_env, sim, unique_region};
use serde_json::Value;

fn overreach(grants: &str) -> String {
    let (wasm, digest) = fixture_plugin("overreach");
    format!("  - name: overreach\n    path: {}\n    sha256: {digest}\n    grants:\n{grants}", wasm.display())
}

/// Renders a Jsonnet task definition whose environment is `overreach(NAME)` for each case.
fn render_cases(p: &Project, region: &str, grants: &str, cases: &[(&str, String)]) -> cortado_e2e::Run {
    let env: Vec<String> = cases.iter().map(|(k, v)| format!("{{ name: '{k}', value: std.native('overreach')('{v}') }}")).collect();
    p.write("td.jsonnet", &format!("{{ family: 'h', containerDefinitions: [{{ name: 'app', image: 'nginx', environment: [{}] }}] }}\n", env.join(", ")));
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\ntask_definition: td.jsonnet\nplugins:\n{}", overreach(grants)));
    p.run(&["render", "taskdef"], &[])
}

fn ssm_calls(region: &str) -> Vec<String> {
    sim().calls_in(region).into_iter().filter(|c| c.starts_with("ssm:") || c.starts_with("secretsmanager:")).collect()
}

#[test]
fn a_deny_grant_wins_over_an_allow_and_iam_policy_prints_it_as_written() {
    let (p, region, _seed) = seeded("deny");
    let grants = format!(
        "      - action: ssm:GetParameter\n        resource: arn:aws:ssm:*:*:parameter/{region}/*\n      - Effect: Deny\n        Action: ssm:GetParameter\n        Resource: arn:aws:ssm:*:*:parameter/{region}/db/password\n"
    );
    let run = render_cases(&p, &region, &grants, &[("HOST", format!("/{region}/db/host")), ("PASSWORD", format!("/{region}/db/password"))]);
    run.expect_code(0);
    assert!(!run.stderr.contains("unknown key"), "Effect is read, not ignored: {}", run.stderr);
    let got = rendered_env(&run.stdout);
    assert_eq!(got["HOST"], "db.internal");
    assert!(got["PASSWORD"].starts_with("denied: ") && got["PASSWORD"].contains("effect: Deny"), "{}", got["PASSWORD"]);
    // Only the allowed read reached AWS.
    assert_eq!(ssm_calls(&region), ["ssm:GetParameter"], "a denied read left the host");

    let policy = p.run(&["iam-policy"], &[]);
    policy.expect_code(0);
    let v: Value = serde_json::from_str(&policy.stdout).unwrap();
    let plugin: Vec<&Value> = v["Statement"].as_array().unwrap().iter().filter(|s| s["Sid"].as_str().unwrap().starts_with("PluginOverreach")).collect();
    let deny = plugin.iter().find(|s| s["Effect"] == "Deny").unwrap_or_else(|| panic!("no Deny statement: {plugin:?}"));
    assert_eq!(deny["Resource"], format!("arn:aws:ssm:*:*:parameter/{region}/db/password"));
    assert!(plugin.iter().any(|s| s["Effect"] == "Allow" && s["Resource"] == format!("arn:aws:ssm:*:*:parameter/{region}/*")), "{plugin:?}");

    // An IAM key cortado cannot evaluate is refused, not ignored.
    let before = ssm_calls(&region).len();
    let grants = format!("      - action: ssm:GetParameter\n        resource: \"*\"\n        NotResource: arn:aws:ssm:*:*:parameter/{region}/db/password\n");
    let run = render_cases(&p, &region, &grants, &[("PASSWORD", format!("/{region}/db/password"))]);
    run.expect_code(2);
    assert!(run.stderr.contains("NotResource") && run.stderr.contains("not supported"), "{}", run.stderr);
    assert_eq!(ssm_calls(&region).len(), before, "nothing more was sent");
}

#[test]
fn an_ssm_reference_to_a_secret_needs_the_secrets_grant_too() {
    let (p, region, _seed) = seeded("secref");
    let reference = format!("/aws/reference/secretsmanager/{region}/db");
    let ssm_only = "      - action: ssm:GetParameter\n        resource: arn:aws:ssm:*:*:parameter/*\n".to_owned();
    let run = render_cases(&p, &region, &ssm_only, &[("SECRET", reference.clone()), ("SHOUTED", reference.replace("secretsmanager", "SecretsManager"))]);
    run.expect_code(0);
    let got = rendered_env(&run.stdout);
    for k in ["SECRET", "SHOUTED"] {
        assert!(got[k].starts_with("denied: ") && got[k].contains("secretsmanager:GetSecretValue"), "{k}: {}", got[k]);
    }
    assert!(ssm_calls(&region).is_empty(), "the reference was sent: {:?}", ssm_calls(&region));

    // With a grant covering the secret as well, the reference resolves.
    let both = format!("{ssm_only}      - action: secretsmanager:GetSecretValue\n        resource: arn:aws:secretsmanager:*:*:secret:{region}/db*\n");
    let run = render_cases(&p, &region, &both, &[("SECRET", reference.clone())]);
    run.expect_code(0);
    let got = rendered_env(&run.stdout);
    assert!(!got["SECRET"].starts_with("denied: "), "{}", got["SECRET"]);
    assert_eq!(ssm_calls(&region), ["ssm:GetParameter"]);

    // The ssm plugin configured ecspresso's way: iam-policy lists both, narrowed to the literal name.
    p.write("ecs-task-def.json", &cortado_e2e::td_with_env("h", &[("SECRET", format!("{{{{ ssm `{reference}` }}}}"))]));
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\ntask_definition: ecs-task-def.json\n"));
    let policy = p.run(&["iam-policy"], &[]);
    policy.expect_code(0);
    let v: Value = serde_json::from_str(&policy.stdout).unwrap();
    let plugin: Vec<&Value> = v["Statement"].as_array().unwrap().iter().filter(|s| s["Sid"].as_str().unwrap().starts_with("PluginSsm")).collect();
    let has = |action: &str, resource: &str| plugin.iter().any(|s| s["Action"].as_array().unwrap().contains(&action.into()) && s["Resource"] == resource);
    assert!(has("ssm:GetParameter", &format!("arn:aws:ssm:{region}:*:parameter/aws/reference/secretsmanager/{region}/db")), "{plugin:?}");
    assert!(has("secretsmanager:GetSecretValue", &format!("arn:aws:secretsmanager:{region}:*:secret:{region}/db-??????")), "{plugin:?}");
}

/// A loopback HTTP server that resolves paths as a lax server would (percent-decoding everything,
/// then removing dot segments), with an access log of what it served.
struct StateServer {
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

const STATE: &str = r#"{"version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "x", "outputs": {},
  "resources": [{"mode": "managed", "type": "aws_lb_target_group", "name": "api", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
    "instances": [{"schema_version": 0, "attributes": {"arn": "arn:aws:elasticloadbalancing:tg/WHICH", "port": 80}}]}]}"#;

fn lax_resolve(raw: &str) -> String {
    let (path, query) = raw.split_once('?').map(|(p, q)| (p, Some(q))).unwrap_or((raw, None));
    let mut decoded = Vec::new();
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && u8::from_str_radix(&path[i + 1..i + 3], 16).is_ok() {
            decoded.push(u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            decoded.push(b[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8_lossy(&decoded).replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let path = format!("/{}", out.join("/"));
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    }
}

fn state_server() -> StateServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, &seen));
        }
    });
    StateServer { base, log }
}

fn serve(stream: std::net::TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    let path = lax_resolve(line.split_whitespace().nth(1).unwrap_or(""));
    seen.lock().unwrap().push(path.clone());
    let mut s = stream;
    let ok = |s: &mut std::net::TcpStream, body: String| {
        let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    };
    match path.as_str() {
        "/prod/state.json" | "/q?v=1" => ok(&mut s, STATE.replace("WHICH", "prod")),
        "/secret/state.json" => ok(&mut s, STATE.replace("WHICH", "SECRET")),
        "/prod/redirect" => {
            let _ = write!(s, "HTTP/1.1 302 Found\r\nlocation: /secret/state.json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
        // A 3 GiB body, declared, then sent as fast as the client reads it.
        "/prod/big" => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", 3u64 << 30);
            let chunk = vec![b' '; 1 << 16];
            while s.write_all(&chunk).is_ok() {}
        }
        // No length, endless, as fast as the client reads.
        "/prod/endless" => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n");
            let chunk = vec![b' '; 1 << 16];
            while s.write_all(&chunk).is_ok() {}
        }
        // No length, a trickle that never ends.
        "/prod/trickle" => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n");
            while s.write_all(b" ").and_then(|_| s.flush()).is_ok() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        _ => {
            let _ = write!(s, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    }
}

/// A tfstate project reading `url` under `grant` (an `http:Get` resource), extra plugin lines after.
fn tfstate_project(p: &Project, url: &str, grant: &str, extra: &str) {
    p.write(
        "ecs-task-def.json",
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx", "environment": [{"name": "TG", "value": "{{ tfstate `aws_lb_target_group.api.arn` }}"}]}]}"#,
    );
    p.write(
        "ecspresso.yml",
        &format!("region: us-east-1\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n  - name: tfstate\n    config:\n      url: {url}\n    grants:\n      - action: http:Get\n        resource: \"{grant}\"\n{extra}"),
    );
}

#[test]
fn a_url_prefix_grant_cannot_be_escaped_by_dot_segments_escapes_or_redirects() {
    let server = state_server();
    let base = &server.base;
    let p = Project::new();
    let prefix = format!("http://{base}/prod/*");
    // The granted state itself.
    tfstate_project(&p, &format!("http://{base}/prod/state.json"), &prefix, "");
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("arn:aws:elasticloadbalancing:tg/prod"), "{}", run.stdout);
    assert_eq!(server.log.lock().unwrap().clone(), ["/prod/state.json"]);

    for escape in [
        "/prod/../secret/state.json",
        "/prod/%2e%2e/secret/state.json",
        "/prod/%2E%2e/%2e%2E/secret/state.json",
        "/prod/..%2fsecret/state.json",
        "/prod/..%5csecret/state.json",
        "/prod/redirect",
    ] {
        tfstate_project(&p, &format!("http://{base}{escape}"), &prefix, "");
        let run = p.run(&["render", "taskdef"], &[]);
        assert_ne!(run.code, 0, "{escape}: {}", run.stdout);
        assert!(!run.stdout.contains("SECRET"), "{escape}: {}", run.stdout);
    }
    let log = server.log.lock().unwrap().clone();
    assert!(log.iter().all(|path| path.starts_with("/prod/")), "a request outside the grant reached the server: {log:?}");
    assert_eq!(log.iter().filter(|p| *p == "/prod/redirect").count(), 1, "{log:?}");
    // Matched after normalisation: scheme and host case, a `.` segment, an unreserved escape.
    tfstate_project(&p, &format!("HTTP://{base}/prod/./%73tate.json"), &prefix, "");
    p.run(&["render", "taskdef"], &[]).expect_code(0);
    assert_eq!(server.log.lock().unwrap().last().map(String::as_str), Some("/prod/state.json"));

    // `?` and `*` in a granted query are literal; `glob: true` makes them wildcards.
    server.log.lock().unwrap().clear();
    tfstate_project(&p, &format!("http://{base}/q?v=1"), &format!("http://{base}/q?v=?"), "");
    let run = p.run(&["render", "taskdef"], &[]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("no grant for http:Get"), "{}", run.stderr);
    assert!(server.log.lock().unwrap().is_empty());
    tfstate_project(&p, &format!("http://{base}/q?v=1"), &format!("http://{base}/q?v=?"), "        glob: true\n");
    p.run(&["render", "taskdef"], &[]).expect_code(0);
    assert_eq!(server.log.lock().unwrap().clone(), ["/q?v=1"]);

    // Plain http beyond loopback needs a grant naming http:// (refused before any lookup or request).
    tfstate_project(&p, "http://states.invalid/prod/state.json", "*://states.invalid/*", "");
    let run = p.run(&["render", "taskdef"], &[]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("no grant for http:Get on http://states.invalid/prod/state.json"), "{}", run.stderr);
}

/// Runs cortado under the simulator's Python, which reports the child's peak RSS (KiB) and time.
fn measured(p: &Project, args: &[&str]) -> (i32, u64, Duration, String) {
    let script = "import resource, subprocess, sys, time\nt = time.time()\nr = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\nsys.stderr.write(r.stderr.decode(errors='replace'))\nprint(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t)\n";
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(cortado_bin())
        .args(args)
        .current_dir(p.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", p.dir.path())
        .envs(p.cache_env())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.len(), 3, "{text}");
    (f[0].parse().unwrap(), f[1].parse().unwrap(), Duration::from_secs_f64(f[2].parse().unwrap()), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_huge_or_endless_state_body_is_bounded_in_memory_and_time() {
    let server = state_server();
    let base = &server.base;
    let p = Project::new();
    let prefix = format!("http://{base}/prod/*");
    // Warm the compile cache so that the timings below are the fetch's.
    tfstate_project(&p, &format!("http://{base}/prod/state.json"), &prefix, "");
    p.run(&["render", "taskdef"], &[]).expect_code(0);
    let deadline = Duration::from_secs(5);
    for (path, says) in [("big", "content-length"), ("endless", "above the limit"), ("trickle", "deadline")] {
        tfstate_project(&p, &format!("http://{base}/prod/{path}"), &prefix, "    limits: {timeout: 5s}\n");
        let (code, max_rss_kib, took, stderr) = measured(&p, &["render", "taskdef"]);
        assert!(max_rss_kib < 256 * 1024, "{path}: peak RSS {} MiB", max_rss_kib / 1024);
        assert!(took < deadline + Duration::from_secs(2), "{path}: took {took:?}");
        assert_ne!(code, 0, "{path}: {stderr}");
        assert!(stderr.contains(says), "{path}: {stderr}");
    }
}

fn dir_of(p: &Project) -> String {
    let cfg = p.read("cortado.yml");
    let get = |k: &str| cfg.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim().to_owned();
    format!("{}/{}", get("cluster"), get("service"))
}

/// Re-hashes every record of a JSONL chain after changing `edit` in one (what someone who can
/// write the file can do): RFC 8785 for these records is sorted keys and no white space.
fn rewrite_chain(path: &std::path::Path, from: &str, to: &str) {
    let script = r#"import hashlib, json, sys
path, old, new = sys.argv[1:4]
prev = "0" * 64
out = []
for line in open(path):
    if not line.strip():
        continue
    r = json.loads(line.replace(old, new))
    r["prev"] = prev
    r.pop("hash", None)
    r["hash"] = hashlib.sha256(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    prev = r["hash"]
    out.append(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
open(path, "w").write("\n".join(out) + "\n")
"#;
    let st = Command::new(python()).arg("-c").arg(script).arg(path).arg(from).arg(to).status().unwrap();
    assert!(st.success());
}

#[test]
fn audit_head_and_expect_head_catch_a_rehashed_or_truncated_chain_and_evidence_anchors_it() {
    let (p, _region) = cortado_e2e::initialised("anchor");
    p.write("cortado.yml", &format!("{}signing:\n  key_file: signing.key\n", p.read("cortado.yml")));
    let public = p.run(&["evidence", "keygen", "signing.key"], &[]).expect_code(0).stdout.trim().to_owned();
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    p.run(&["deploy"], &[]).expect_code(0);
    let head = p.run(&["audit", "head", "cortado-audit.jsonl"], &[]);
    head.expect_code(0);
    let (hash, count) = head.stdout.trim().split_once(' ').unwrap();
    assert_eq!((hash.len(), count), (64, "2"), "{}", head.stdout);
    let hash = hash.to_owned();
    let log = p.path("cortado-audit.jsonl");
    let evidence = std::fs::read_dir(p.path("cortado-evidence")).unwrap().next().unwrap().unwrap().path();
    let evidence = evidence.to_str().unwrap();
    // The statement carries the head; verify says the chain ends there.
    let ok = p.run(&["evidence", "verify", evidence, "--public-key", &public, "--output", "json"], &[]);
    ok.expect_code(0);
    let v: Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    assert_eq!(v["predicate"]["audit"]["chain_head"]["hash"], hash.as_str(), "{v}");
    assert_eq!(v["predicate"]["audit"]["chain_head"]["records"], 2, "{v}");
    assert_eq!(v["records_after_head"], 0, "{v}");

    p.run(&["audit", "verify", "cortado-audit.jsonl", "--expect-head", &hash], &[]).expect_code(0);
    // One more run: the old head is passed through, which is refused unless extension is allowed.
    p.run(&["deploy", "--dry-run"], &[]).expect_code(0);
    let ext = p.run(&["audit", "verify", "cortado-audit.jsonl", "--expect-head", &hash], &[]);
    assert_eq!(ext.code, 1, "{}", ext.stdout);
    assert!(ext.stderr.contains("record(s) after it"), "{}", ext.stderr);
    let allowed = p.run(&["audit", "verify", "cortado-audit.jsonl", "--expect-head", &hash, "--allow-extension"], &[]);
    allowed.expect_code(0);
    assert!(allowed.stdout.contains("extends it by 1 record(s)"), "{}", allowed.stdout);

    // Edited and re-hashed: the chain alone still verifies, but not against the head, nor the evidence.
    let original = std::fs::read_to_string(&log).unwrap();
    rewrite_chain(&log, "\"result\":\"ok\"", "\"result\":\"failed\"");
    let alone = p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]);
    alone.expect_code(0);
    assert!(alone.stdout.contains("not anchored"), "{}", alone.stdout);
    let anchored = p.run(&["audit", "verify", "cortado-audit.jsonl", "--expect-head", &hash, "--allow-extension"], &[]);
    assert_eq!(anchored.code, 1);
    assert!(anchored.stderr.contains("does not contain the expected head"), "{}", anchored.stderr);
    let ev = p.run(&["evidence", "verify", evidence, "--public-key", &public], &[]);
    assert_eq!(ev.code, 1);
    assert!(ev.stdout.contains("does not reach the head this statement signed"), "{}", ev.stdout);

    // Truncated (the last two records cut): the same.
    let lines: Vec<&str> = original.lines().collect();
    std::fs::write(&log, format!("{}\n", lines[0])).unwrap();
    p.run(&["audit", "verify", "cortado-audit.jsonl"], &[]).expect_code(0);
    let cut = p.run(&["audit", "verify", "cortado-audit.jsonl", "--expect-head", &hash], &[]);
    assert_eq!(cut.code, 1);
    assert!(cut.stderr.contains("rewritten or truncated"), "{}", cut.stderr);
    assert_eq!(p.run(&["evidence", "verify", evidence, "--public-key", &public], &[]).code, 1);
}

/// A raw S3 request against the simulator (path style; moto checks no signature).
fn s3(sim: &Sim, region: &str, method: &str, path: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0");
    let url = format!("{}/{path}", sim.url);
    let mut resp = match method {
        "PUT" => {
            let mut req = agent.put(&url).header("Authorization", &auth);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(body.unwrap_or(b""))
        }
        "DELETE" => {
            let mut req = agent.delete(&url).header("Authorization", &auth);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        _ => agent.get(&url).header("Authorization", &auth).call(),
    }
    .expect("call the simulator's S3");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_vec().expect("S3 body"))
}

#[test]
fn the_s3_head_object_anchors_the_chain_and_object_lock_keeps_the_originals() {
    let sim = sim();
    let (p, region) = cortado_e2e::initialised("headobj");
    let b = format!("{}-audit", region.to_lowercase());
    let cfg = format!("<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>");
    assert_eq!(s3(sim, &region, "PUT", &b, Some(cfg.as_bytes()), &[("x-amz-bucket-object-lock-enabled", "true")]).0, 200);
    p.write("cortado.yml", &format!("{}audit_log: s3://{b}/team/\naudit_retention: 1d\naudit_retention_mode: COMPLIANCE\n", p.read("cortado.yml")));
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    p.run(&["deploy"], &[]).expect_code(0);
    let dir = format!("{b}/team/{}", dir_of(&p));
    let (status, body) = s3(sim, &region, "GET", &format!("{dir}/head.json"), None, &[]);
    assert_eq!(status, 200);
    let head: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(head["seq"], 2, "{head}");
    let chain = format!("s3://{dir}/");
    let printed = p.run(&["audit", "head", &chain], &[]);
    printed.expect_code(0);
    assert!(printed.stdout.starts_with(&format!("{} 2 ", head["hash"].as_str().unwrap())), "{}", printed.stdout);
    let ok = p.run(&["audit", "verify", &chain], &[]);
    ok.expect_code(0);
    assert!(ok.stdout.contains("checked against every recorded version of its head.json"), "{}", ok.stdout);

    // S3 itself refuses to remove a locked version of a record or of the head.
    let versions = String::from_utf8(s3(sim, &region, "GET", &format!("{b}?versions&prefix=team/{}/000000000002.json", dir_of(&p)), None, &[]).1).unwrap();
    let version = versions.split("<VersionId>").nth(1).and_then(|v| v.split('<').next()).unwrap().to_owned();
    let (status, _) = s3(sim, &region, "DELETE", &format!("{dir}/000000000002.json?versionId={version}"), None, &[]);
    assert_eq!(status, 403, "a locked record version was deleted");

    // Truncated (the outcome record hidden behind a delete marker) and the head rolled back:
    // the head's older locked version still names record 2.
    assert_eq!(s3(sim, &region, "DELETE", &format!("{dir}/000000000002.json"), None, &[]).0, 204);
    let (_, first) = s3(sim, &region, "GET", &format!("{dir}/000000000001.json"), None, &[]);
    let first: Value = serde_json::from_slice(&first).unwrap();
    let rolled = serde_json::json!({"seq": 1, "hash": first["hash"]}).to_string();
    s3(sim, &region, "PUT", &format!("{dir}/head.json"), Some(rolled.as_bytes()), &[]);
    let bad = p.run(&["audit", "verify", &chain, "--output", "json"], &[]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    assert!(bad.stdout.contains("the recorded head is record 2, which is missing: the chain was truncated"), "{}", bad.stdout);
    // And against an expected head kept elsewhere.
    let anchored = p.run(&["audit", "verify", &chain, "--expect-head", head["hash"].as_str().unwrap()], &[]);
    assert_eq!(anchored.code, 1);
    assert!(anchored.stdout.contains("does not contain the expected head"), "{}", anchored.stdout);
}

#[test]
fn filter_command_is_refused_under_strict_and_sandboxed_only() {
    let region = unique_region("filter");
    let p = Project::against(sim(), &region);
    p.write("ecs-task-def.json", &cortado_e2e::td_with_env("f", &[("A", "b")]));
    let marker = p.path("filter-ran");
    let filter = format!("touch {} && head -1", marker.display());
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\nservice: s\ntask_definition: ecs-task-def.json\nstrict: true\nfilter_command: {filter}\n"));
    let run = p.run(&["tasks"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("filter_command") && run.stderr.contains("outside the sandbox"), "{}", run.stderr);
    // The flag and the environment variable, with a config that says nothing.
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\nservice: s\ntask_definition: ecs-task-def.json\n"));
    for (args, env) in [
        (vec!["tasks", "--sandboxed-only", "--filter-command", filter.as_str()], vec![]),
        (vec!["tasks", "--sandboxed-only"], vec![("CORTADO_FILTER_COMMAND", filter.as_str())]),
    ] {
        let run = p.run(&args, &env);
        run.expect_code(2);
        assert!(run.stderr.contains("--sandboxed-only refuses"), "{}", run.stderr);
    }
    assert!(!marker.exists(), "the filter command ran");
    assert!(sim().calls_in(&region).is_empty(), "a request was sent: {:?}", sim().calls_in(&region));
}

#[test]
fn a_cached_component_is_opened_once_and_never_reopened_by_path() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("strace is not installed: skipped");
        return;
    }
    let (echo, digest) = fixture_plugin("echo");
    let p = Project::new();
    p.write("ecs-task-def.json", &cortado_e2e::td_with_env("c", &[("ECHO", "{{ echo `a` }}")]));
    p.write(
        "cortado.yml",
        &format!("region: us-east-1\ntask_definition: ecs-task-def.json\nplugins:\n  - name: echo\n    path: {}\n    sha256: {digest}\n", echo.display()),
    );
    p.run(&["render", "taskdef"], &[]).expect_code(0);
    let trace = p.path("trace");
    let st = Command::new("strace")
        .args(["-f", "-s", "4096", "-e", "trace=open,openat,openat2", "-o"])
        .arg(&trace)
        .arg(cortado_bin())
        .args(["render", "taskdef"])
        .current_dir(p.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", p.dir.path())
        .envs(p.cache_env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&trace).unwrap();
    let opens: Vec<&str> = text.lines().filter(|l| l.contains(&digest) && l.contains(".cwasm\"")).collect();
    assert_eq!(opens.len(), 1, "the artifact was opened more than once (reopened by path after its MAC check): {opens:#?}");
}
