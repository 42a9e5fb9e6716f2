//! The sandbox where a reviewer of wasmtime or IAM would look (issue 9), with hostile fixtures:
//! brokered ARNs matched field by field (nothing sent when denied), grant keys, output caps on
//! every hook, brokered S3 objects bounded by size, the compile cache authenticated, and the
//! deadline holding while a guest blocks inside a host call.

use std::time::{Duration, Instant};

use cortado_e2e::rendered_env;
use cortado_e2e::seeded::seeded;
use cortado_e2e::{Project, fixture_plugin, sim, unique_region};

fn td_with_env(vars: &[(&str, &str)]) -> String {
    cortado_e2e::td_with_env("hardening", vars)
}

fn overreach(grants: &str, limits: &str) -> String {
    let (wasm, digest) = fixture_plugin("overreach");
    format!("  - name: overreach\n    path: {}\n    sha256: {digest}\n{grants}{limits}", wasm.display())
}

#[test]
fn cross_account_cross_region_and_other_partition_arns_are_denied_with_nothing_sent() {
    let (p, region, seed) = seeded("arns");
    let account = seed["account"].as_str().unwrap().to_owned();
    let grants = format!("    grants:\n      - action: ssm:GetParameter\n        resource: arn:aws:ssm:{region}:{account}:parameter/{region}/*\n");
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n{}", overreach(&grants, "")));
    let name = format!("/{region}/db/host");
    let arn = |partition: &str, r: &str, acct: &str| format!("arn:{partition}:ssm:{r}:{acct}:parameter/{region}/db/host");
    let cases = [
        ("BYNAME", name.clone()),
        ("BYARN", arn("aws", &region, &account)),
        ("XACCOUNT", arn("aws", &region, "999999999999")),
        ("XREGION", arn("aws", "us-west-2", &account)),
        ("XPARTITION", arn("aws-cn", &region, &account)),
        ("GOV", arn("aws-us-gov", &region, &account)),
        ("WILDACCOUNT", arn("aws", &region, "*")),
        ("OTHERSERVICE", format!("arn:aws:secretsmanager:{region}:{account}:parameter/{region}/db/host")),
    ];
    // Jsonnet, so the denial texts (which quote the plugin's name) stay valid JSON strings.
    let env: Vec<String> = cases.iter().map(|(k, v)| format!("{{ name: '{k}', value: std.native('overreach')('{v}') }}")).collect();
    p.write("td.jsonnet", &format!("{{ family: 'h', containerDefinitions: [{{ name: 'app', image: 'nginx', environment: [{}] }}] }}\n", env.join(", ")));
    p.write("cortado.yml", &p.read("cortado.yml").replace("ecs-task-def.json", "td.jsonnet"));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    let got = rendered_env(&run.stdout);
    assert_eq!(got["BYNAME"], "db.internal", "a bare name is the caller's own account and region");
    assert_eq!(got["BYARN"], "db.internal");
    for k in ["XACCOUNT", "XREGION", "XPARTITION", "GOV", "WILDACCOUNT", "OTHERSERVICE"] {
        assert!(got[k].starts_with("denied: ") && got[k].contains("no grant for ssm:GetParameter"), "{k}: {}", got[k]);
    }
    assert!(got["XACCOUNT"].contains(":999999999999:"), "{}", got["XACCOUNT"]);
    // Only the two granted reads reached AWS (plus one STS call for the bare name's account).
    let calls = sim().calls_in(&region);
    let ssm: Vec<&String> = calls.iter().filter(|c| c.starts_with("ssm:")).collect();
    assert_eq!(ssm.len(), 2, "denied requests left the host: {calls:?}");
}

#[test]
fn grant_keys_are_case_insensitive_resource_is_required_and_unknown_keys_warn() {
    let (p, region, _seed) = seeded("grantkeys");
    let head = format!("region: {region}\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n");
    p.write("ecs-task-def.json", &td_with_env(&[("HOST", &format!("{{{{ overreach `/{region}/db/host` }}}}"))]));

    // `Action:` / `Resource:` as IAM writes them; an unknown key is a warning naming it.
    let grants = format!("    grants:\n      - Action: ssm:GetParameter\n        Resource: arn:aws:ssm:*:*:parameter/{region}/*\n        Sid: ReadDb\n");
    p.write("cortado.yml", &format!("{head}{}", overreach(&grants, "")));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert_eq!(rendered_env(&run.stdout)["HOST"], "db.internal");
    assert!(run.stderr.contains("unknown key \"plugins[0].grants[0].Sid\""), "{}", run.stderr);

    // No resource: an error naming the file, the grant's line and the key; nothing is sent.
    let before = sim().calls_in(&region).len();
    let grants = "    grants:\n      - action: ssm:GetParameter\n";
    let config = format!("{head}{}", overreach(grants, ""));
    let line = config.lines().position(|l| l.contains("- action: ssm:GetParameter")).unwrap() + 1;
    p.write("cortado.yml", &config);
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("cortado.yml:{line}: key \"plugins[0].grants[0].resource\"")), "line {line}: {}", run.stderr);
    assert_eq!(sim().calls_in(&region).len(), before, "a request left the host");
}

#[test]
fn plugin_inspect_compares_action_and_resource() {
    let (wasm, digest) = fixture_plugin("overreach");
    let p = Project::new();
    // The manifest asks for parameter/fixture/*; the same action on another path is not it.
    p.write(
        "cortado.yml",
        &format!(
            "region: us-east-1\nplugins:\n  - name: overreach\n    path: {}\n    sha256: {digest}\n    grants:\n      - action: ssm:GetParameter\n        resource: arn:aws:ssm:*:*:parameter/other/*\n",
            wasm.display()
        ),
    );
    let run = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("asks   ssm:GetParameter on arn:aws:ssm:*:*:parameter/fixture/*  (NOT granted)"), "{}", run.stdout);
    p.write("cortado.yml", &p.read("cortado.yml").replace("parameter/other/*", "parameter/*"));
    let run = p.run(&["plugin", "inspect", wasm.to_str().unwrap()], &[]);
    assert!(!run.stdout.contains("NOT granted"), "{}", run.stdout);
}

#[test]
fn a_brokered_s3_object_above_the_cap_is_refused_unread() {
    let (p, region, seed) = seeded("objcap");
    let bucket = seed["tfstate"]["bucket"].as_str().unwrap().to_owned();
    let size = seed["tfstate"]["content"].as_str().unwrap().len();
    assert!(size > 200, "the seeded state is {size} bytes");
    let grants = format!("    grants:\n      - action: s3:GetObject\n        resource: arn:aws:s3:::{bucket}/*\n");
    let head = format!("region: {region}\ncluster: c\ntask_definition: ecs-task-def.json\nplugins:\n");
    p.write("ecs-task-def.json", &td_with_env(&[("STATE", &format!("{{{{ overreach_s3 `{bucket}` `env/terraform.tfstate` }}}}"))]));
    // Within the default cap (16 MiB) the object is read whole.
    p.write("cortado.yml", &format!("{head}{}", overreach(&grants, "")));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert_eq!(rendered_env(&run.stdout)["STATE"], format!("{size} bytes"));
    // Above the configured cap: refused from the content-length, the body never read.
    p.write("cortado.yml", &format!("{head}{}", overreach(&grants, "    limits:\n      max_object: 200B\n")));
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    let got = &rendered_env(&run.stdout)["STATE"];
    assert!(got.starts_with("failed: ") && got.contains(&format!("is {size} bytes, above the plugin's limit of 200 bytes")), "{got}");
}

#[test]
fn a_ten_megabyte_deny_reason_fails_closed_with_a_short_message() {
    let sim = sim();
    let region = unique_region("bloat");
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    let (wasm, digest) = fixture_plugin("bloat");
    let config = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write(
        "cortado.yml",
        &format!(
            "{config}plugins:\n  - name: bloat\n    path: {}\n    sha256: {digest}\n    enforcement: hard-mandatory\n    limits:\n      memory: 128MiB\n",
            wasm.display()
        ),
    );
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    // A gate whose answer breaks the limit has no answer, and an unanswered gate denies.
    let run = p.run(&["deploy", "--dry-run"], &[]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("exceeds the limit of 1048576 bytes"), "{:.2000}", run.stderr);
    assert!(run.stderr.len() < 64 << 10, "stderr holds {} bytes", run.stderr.len());
    let audit = std::fs::metadata(p.path("cortado-audit.jsonl")).map(|m| m.len()).unwrap_or(0);
    assert!(audit > 0 && audit < 64 << 10, "audit log of {audit} bytes");
    let ecs: Vec<String> = sim.calls_in(&region).into_iter().filter(|c| c == "ecs:UpdateService" || c == "ecs:RegisterTaskDefinition").collect();
    assert!(ecs.is_empty(), "{ecs:?}");

    // A verifier check of 10 MiB, and a manifest of 2 MiB: refused the same way.
    let run = p.run(&["verify"], &[]);
    assert_ne!(run.code, 0);
    assert!(run.stdout.len() + run.stderr.len() < 64 << 10, "verify printed {} bytes", run.stdout.len() + run.stderr.len());
    assert!(run.stdout.contains("exceeds the limit") || run.stderr.contains("exceeds the limit"), "{:.2000}{:.2000}", run.stdout, run.stderr);
    p.write(
        "cortado.yml",
        &p.read("cortado.yml").replace("    enforcement: hard-mandatory\n", "    enforcement: hard-mandatory\n    config:\n      manifest_mib: 2\n"),
    );
    let run = p.run(&["plugin", "list"], &[]);
    assert!(run.stderr.contains("plugin \"bloat\" manifest: result of") && run.stderr.contains("exceeds the limit"), "{:.2000}", run.stderr);
}

#[test]
fn a_gate_blocked_in_a_host_call_returns_within_its_deadline() {
    let sim = sim();
    let region = unique_region("blocker");
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    p.run(&["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()], &[]).expect_code(0);
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    let base = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    // The same dry run without the gate: what the command costs by itself.
    let t = Instant::now();
    p.run(&["deploy", "--dry-run"], &[]).expect_code(0);
    let baseline = t.elapsed();

    let (wasm, digest) = fixture_plugin("blocker");
    p.write("cortado.yml", &format!("{base}plugins:\n  - name: blocker\n    path: {}\n    sha256: {digest}\n    limits:\n      timeout: 2s\n", wasm.display()));
    // Compiled into the cache first, so the time measured is the gate's, not cranelift's.
    p.run(&["plugin", "list"], &[]).expect_code(0);
    let t = Instant::now();
    let run = p.run(&["deploy", "--dry-run"], &[]);
    let took = t.elapsed();
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("DENY") && run.stderr.contains("timed out after 2s"), "{}", run.stderr);
    assert!(took < baseline + Duration::from_secs(3), "the gate sleeping 30 s took the command {took:?} (alone {baseline:?}; deadline 2 s + 1 s)");

    // A resolver sleeping in a host call: the render fails at the deadline too.
    p.write("ecs-task-def.json", &td_with_env(&[("X", "{{ blocker `30` }}")]));
    let t = Instant::now();
    let run = p.run(&["render", "taskdef"], &[]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("plugin \"blocker\" resolver blocker") && run.stderr.contains("timed out after 2s"), "{}", run.stderr);
    assert!(t.elapsed() < Duration::from_secs(4), "render took {:?}", t.elapsed());
}

#[test]
fn a_tampered_compile_cache_entry_is_recompiled_never_executed() {
    let (echo, echo_digest) = fixture_plugin("echo");
    let (panic, panic_digest) = fixture_plugin("panic");
    let p = Project::with_own_cache();
    p.write("ecs-task-def.json", &td_with_env(&[("ECHO", "{{ echo `a` `b` }}")]));
    let config = format!(
        "region: us-east-1\ntask_definition: ecs-task-def.json\nplugins:\n  - name: echo\n    path: {}\n    sha256: {echo_digest}\n  - name: panic\n    path: {}\n    sha256: {panic_digest}\n",
        echo.display(),
        panic.display()
    );
    p.write("cortado.yml", &config);
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    // HOME is the project: the cache is under .cache, the key under .config, 0600.
    let cache = p.path(".cache/cortado/components");
    // An entry is NAME.cwasm (the artifact) and NAME.mac.
    let entry = |digest: &str, ext: &str| {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|f| f.file_name().unwrap().to_string_lossy().starts_with(digest) && f.extension().is_some_and(|x| x == ext))
            .unwrap_or_else(|| panic!("no cache entry {digest}*.{ext} in {}", cache.display()))
    };
    let key = p.path(".config/cortado/cache.key");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Stale files the next compile sweeps away: an entry of ours unused for 40 days; a fresh one
    // stays. (Names: SHA256-ENGINE-KEYID.cwasm, so this user's key id is in echo's entry name.)
    let echo_name = entry(&echo_digest, "cwasm").file_name().unwrap().to_string_lossy().into_owned();
    let suffix = &echo_name[64..];
    let (stale, fresh) = (cache.join(format!("{}{suffix}", "0".repeat(64))), cache.join(format!("{}{suffix}", "1".repeat(64))));
    for (path, days) in [(&stale, 40), (&fresh, 0)] {
        let f = std::fs::File::create(path).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(days * 86_400)).unwrap();
    }
    // The realistic attack: a valid artifact of another component (one that traps when called),
    // with its own valid MAC, put where echo's is looked up. Tried in the owner-only cache
    // directory (verified through a mapping, loaded by wasmtime's mmap) and in a group-writable
    // one (read once, the bytes verified are the bytes loaded).
    for mode in [0o700, 0o770] {
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        for ext in ["cwasm", "mac"] {
            std::fs::copy(entry(&panic_digest, ext), entry(&echo_digest, ext)).unwrap();
        }
        let run = p.run(&["render", "taskdef"], &[]);
        run.expect_code(0);
        assert_eq!(rendered_env(&run.stdout)["ECHO"], "a b", "{mode:o}: {}", run.stderr);
        assert!(run.stderr.contains("failed its integrity check") && run.stderr.contains("recompiling it, not loading it"), "{mode:o}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        // Recompiled and re-sealed: the next run loads it silently.
        let run = p.run(&["render", "taskdef"], &[]);
        run.expect_code(0);
        assert!(!run.stderr.contains("integrity"), "{mode:o}: {}", run.stderr);
    }

    assert!(!stale.exists() && fresh.exists(), "the recompile pruned the stale entry only");

    // Two users (two HOMEs, two keys) sharing one cache directory keep their own entries: neither
    // recompiles the other's, nor loads it.
    let shared = p.path("shared-cache");
    let dir = [("CORTADO_CACHE_DIR", shared.to_str().unwrap())];
    let other = Project::with_own_cache();
    other.write("ecs-task-def.json", &p.read("ecs-task-def.json"));
    other.write("cortado.yml", &config);
    for (who, project) in [("first", &p), ("second", &other), ("first again", &p), ("second again", &other)] {
        let run = project.run(&["render", "taskdef"], &dir);
        run.expect_code(0);
        assert!(!run.stderr.contains("compile cache"), "{who}: {}", run.stderr);
    }
    let entries = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&echo_digest) && !name.ends_with(".lock"))
        .count();
    assert_eq!(entries, 6, "two users, an artifact, a MAC and a pack of functions each (and the lock each held while compiling)");

    // A key others may read is not trusted: the cache is not used at all, the render still works.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::copy(entry(&panic_digest, "cwasm"), entry(&echo_digest, "cwasm")).unwrap();
    let run = p.run(&["render", "taskdef"], &[]);
    run.expect_code(0);
    assert_eq!(rendered_env(&run.stdout)["ECHO"], "a b");
    assert!(run.stderr.contains("compile cache disabled") && run.stderr.contains("mode 644"), "{}", run.stderr);
}
