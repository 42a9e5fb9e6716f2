//! Plugin authors (issue 14): the Python and JavaScript twins of first-party plugins pass the same
//! assertions as the Rust ones (values, error texts, gate decisions, the deadline, grants), the
//! scaffold builds and passes its own test in each language, and `plugin test` records brokered
//! AWS answers from the simulator and replays them with no network.
//!
//! The components are built by scripts/build-plugin-langs.sh into
//! `$CARGO_TARGET_DIR/wasm32-wasip2/{py,js}/`; compiled artifacts are cached in one directory for
//! the whole run and every later one (`cortado_e2e::shared_cache`: a JavaScript component takes tens
//! of seconds of CPU to compile cold).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cortado_e2e::rendered_env as env_of;
use cortado_e2e::{Project, Run, cortado_bin, repo_root, sim, unique_region};
use serde_json::Value;

const LANGS: [&str; 2] = ["py", "js"];

fn target_dir() -> PathBuf {
    cortado_bin().parent().and_then(|p| p.parent()).expect("target dir").to_path_buf()
}

/// A component built from examples/ or the language fixtures, and its sha256.
fn component(lang: &str, name: &str) -> (PathBuf, String) {
    let path = target_dir().join(format!("wasm32-wasip2/{lang}/{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run scripts/build-plugin-langs.sh (scripts/test.sh does)", path.display());
    (path.clone(), sha256(&path))
}

fn sha256(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_owned()
}

/// The run's shared compile cache ([`cortado_e2e::shared_cache`]), for cortado processes started
/// outside a [`Project`] (or with another HOME) that should still find what the tests compiled.
fn cache() -> (&'static str, String) {
    ("CORTADO_CACHE_DIR", cortado_e2e::shared_cache().join("components").display().to_string())
}

fn run(p: &Project, args: &[&str]) -> Run {
    let c = cache();
    p.run(args, &[(c.0, c.1.as_str())])
}

fn seeded(tag: &str) -> (Project, String) {
    let (p, region, _) = cortado_e2e::seeded::seeded(tag);
    (p, region)
}

fn td(env: &[(&str, String)]) -> String {
    cortado_e2e::td_with_env("langs", env)
}

/// `plugins:` entries for the Python and JS ssm twins under `py_` / `js_`, with `grants`.
fn ssm_twins(grants: &str) -> String {
    LANGS
        .iter()
        .map(|lang| {
            let (path, digest) = component(lang, "ssm");
            format!("  - name: ssm-{lang}\n    func_prefix: {lang}_\n    path: {}\n    sha256: {digest}\n    grants: {grants}\n", path.display())
        })
        .collect()
}

#[test]
fn the_python_and_js_ssm_resolvers_answer_as_the_rust_one() {
    let (p, region) = seeded("langssm");
    p.write(
        "cortado.yml",
        &format!("region: {region}\ncluster: c\ntask_definition: td.json\nplugins:\n{}", ssm_twins("[{action: ssm:GetParameter, resource: \"*\"}]")),
    );
    let mut vars = Vec::new();
    for prefix in ["", "py_", "js_"] {
        vars.push((format!("{prefix}HOST"), format!("{{{{ {prefix}ssm `/{region}/db/host` }}}}")));
        vars.push((format!("{prefix}SECOND"), format!("{{{{ {prefix}ssm `/{region}/hosts` 1 }}}}")));
        vars.push((format!("{prefix}PASSWORD"), format!("{{{{ {prefix}ssm `/{region}/db/password` }}}}")));
    }
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    p.write("td.json", &td(&vars));
    let out = run(&p, &["render", "taskdef"]);
    out.expect_code(0);
    let env = env_of(&out.stdout);
    assert_eq!((env["HOST"].as_str(), env["SECOND"].as_str(), env["PASSWORD"].as_str()), ("db.internal", "b.example", "s3cret"));
    for prefix in ["py_", "js_"] {
        for key in ["HOST", "SECOND", "PASSWORD"] {
            assert_eq!(env[&format!("{prefix}{key}")], env[key], "{prefix}{key}");
        }
    }

    // The same error texts as the Rust plugin (ecspresso's), for the same bad inputs.
    for (template, text) in [
        (format!("{{{{ PREFIXssm `/{region}/db/host` 0 }}}}"), "the second argument is supported only for StringList type"),
        (format!("{{{{ PREFIXssm `/{region}/hosts` 7 }}}}"), "StringList values were [a.example b.example c.example], but the index 7 is out of range"),
        (format!("{{{{ PREFIXssm `/{region}/nope` }}}}"), "something went wrong calling get-parameter API: "),
    ] {
        for prefix in ["", "py_", "js_"] {
            p.write("td.json", &td(&[("X", template.replace("PREFIX", prefix))]));
            let out = run(&p, &["render", "taskdef"]);
            assert_ne!(out.code, 0, "{prefix}: {}", out.stdout);
            assert!(out.stderr.contains(text), "{prefix}: {}", out.stderr);
        }
    }
}

#[test]
fn a_denied_grant_is_denied_and_nothing_leaves_the_host() {
    let (p, region) = seeded("langgrant");
    let mut plugins = ssm_twins("[]");
    for lang in LANGS {
        let (path, digest) = component(lang, "spin");
        plugins += &format!("  - name: spin-{lang}\n    func_prefix: {lang}_\n    path: {}\n    sha256: {digest}\n", path.display());
    }
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\ntask_definition: td.json\nplugins:\n{plugins}"));
    for lang in LANGS {
        // The ssm twin with `grants: []`, and a fixture with no grants at all.
        for f in ["ssm", "peek"] {
            p.write("td.json", &td(&[("X", format!("{{{{ {lang}_{f} `/{region}/db/password` }}}}"))]));
            let out = run(&p, &["render", "taskdef"]);
            assert_ne!(out.code, 0, "{lang} {f}: {}", out.stdout);
            assert!(
                out.stderr.contains("no grant for ssm:GetParameter") && out.stderr.contains(&format!("parameter/{region}/db/password")),
                "{lang} {f}: {}",
                out.stderr
            );
            assert!(!out.stderr.contains("s3cret") && !out.stdout.contains("s3cret"));
        }
    }
    let calls = sim().calls_in(&region);
    assert!(!calls.iter().any(|c| c.starts_with("ssm:") || c.starts_with("sts:")), "requests left the host: {calls:?}");
}

#[test]
fn an_infinite_loop_is_cut_at_the_deadline() {
    let p = Project::new();
    let mut plugins = String::new();
    for lang in LANGS {
        let (path, digest) = component(lang, "spin");
        plugins +=
            &format!("  - name: spin-{lang}\n    func_prefix: {lang}_\n    path: {}\n    sha256: {digest}\n    limits: {{timeout: 1s}}\n", path.display());
    }
    let config = format!("region: us-east-1\ntask_definition: td.json\nplugins:\n{plugins}");
    p.write("cortado.yml", &config);
    // Compiled (and cached) before timing. (That another user's entries in a shared cache directory
    // never replace ours is hardening's `a_tampered_compile_cache_entry_is_recompiled_never_executed`:
    // with small components; these take tens of seconds of CPU each to compile.)
    run(&p, &["plugin", "list"]).expect_code(0);
    for lang in LANGS {
        p.write("td.json", &td(&[("X", format!("{{{{ {lang}_spin }}}}"))]));
        let t = Instant::now();
        let out = run(&p, &["render", "taskdef"]);
        let took = t.elapsed();
        assert_ne!(out.code, 0, "{lang}: {}", out.stdout);
        assert!(out.stderr.contains(&format!("plugin \"spin-{lang}\" resolver spin")) && out.stderr.contains("timed out after 1s"), "{lang}: {}", out.stderr);
        assert!(!out.stderr.contains("compile cache"), "{lang}: the cache entry was not ours: {}", out.stderr);
        // Generous: loading an 18 MB component on a busy 2-core machine takes seconds; without the
        // deadline the call would never return.
        assert!(took < Duration::from_secs(20), "{lang}: the deadline was not honoured: {took:?}");
    }
}

const FREEZE: &str =
    "    config:\n      freezes:\n        - start: \"2020-01-01T00:00:00Z\"\n          end: \"2099-01-01T00:00:00Z\"\n          reason: end-of-year freeze\n";

#[test]
fn the_python_and_js_gates_block_a_deploy_as_the_rust_one() {
    let seedless = unique_region("langgate");
    let seed = sim().seed(&seedless, &seedless);
    let p = Project::against(sim(), &seedless);
    run(&p, &["init", "--cluster", seed["ecs"]["clusterName"].as_str().unwrap(), "--service", seed["ecs"]["serviceName"].as_str().unwrap()]).expect_code(0);
    let base = p.read("cortado.yml").replace("timeout: 10m0s", "timeout: 60s");
    p.write("ecs-task-def.json", &p.read("ecs-task-def.json").replace(":v1\"", ":v2\""));
    let gates = [("rust", "  - name: change-freeze\n    enforcement: soft-mandatory\n".to_owned()), ("py", gate_entry("py")), ("js", gate_entry("js"))];
    for (lang, entry) in &gates {
        p.write("cortado.yml", &format!("{base}plugins:\n{entry}{FREEZE}"));
        let out = run(&p, &["deploy"]);
        out.expect_code(1);
        let name = if *lang == "rust" { "change-freeze".to_owned() } else { format!("freeze-{lang}") };
        assert!(out.stderr.contains(&format!("blocked by gate {name} (soft-mandatory): nothing was changed")), "{lang}: {}", out.stderr);
        assert!(out.stderr.contains("end-of-year freeze (frozen until 2099-01-01T00:00:00Z)"), "{lang}: {}", out.stderr);
    }
    let mutating: Vec<String> = sim()
        .calls_in(&seedless)
        .into_iter()
        .filter(|c| ["ecs:RegisterTaskDefinition", "ecs:UpdateService", "ecs:CreateService"].contains(&c.as_str()))
        .collect();
    assert!(mutating.is_empty(), "a denied deploy changed something: {mutating:?}");
    // An override with a reason deploys, through the Python gate.
    p.write("cortado.yml", &format!("{base}plugins:\n{}{FREEZE}", gates[1].1));
    let out = run(&p, &["deploy", "--override", "freeze-py", "--reason", "hotfix INC-42"]);
    out.expect_code(0);
    assert!(out.stderr.contains("overridden: hotfix INC-42"), "{}", out.stderr);
}

fn gate_entry(lang: &str) -> String {
    let (path, digest) = component(lang, "change-freeze");
    format!("  - name: freeze-{lang}\n    path: {}\n    sha256: {digest}\n    enforcement: soft-mandatory\n", path.display())
}

/// The change-freeze twins on the same plans give the same decisions and reasons (through
/// `plugin test`, one case file for all three).
#[test]
fn the_gate_twins_decide_the_same_on_the_same_plans() {
    let p = Project::new();
    let td_ok = r#"{"family":"a","containerDefinitions":[{"name":"app","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"}]}"#;
    let td_bad = r#"{"family":"a","containerDefinitions":[{"name":"app","image":"nginx:latest"},{"name":"side","image":"public.ecr.aws/myorg/side:1"}]}"#;
    p.write(
        "cases.yaml",
        &format!(
            "plugin:\n  config:\n    freezes: [{{start: \"2026-12-24T00:00:00Z\", end: \"2027-01-04T00:00:00+09:00\", reason: year-end freeze}}]\n    allowed_registries: [\"123456789012.dkr.ecr.*.amazonaws.com\", public.ecr.aws/myorg]\n    commands: [deploy, run]\ncases:\n\
\x20 - name: outside a freeze\n    evaluate: {{plan: {{command: deploy, time: \"2026-11-26T14:30:00Z\", diff: \"-a\\n+b\\n\", task_definition: '{td_ok}'}}}}\n    expect: {{decision: allow}}\n\
\x20 - name: inside, with the offset\n    evaluate: {{plan: {{command: deploy, time: \"2027-01-03T14:59:59Z\", diff: x, task_definition: '{td_ok}'}}}}\n    expect: {{decision: deny, reasons: [\"year-end freeze (frozen until 2027-01-04T00:00:00+09:00)\"]}}\n\
\x20 - name: the end is exclusive\n    evaluate: {{plan: {{command: deploy, time: \"2027-01-03T15:00:00Z\", diff: x}}}}\n    expect: {{decision: allow}}\n\
\x20 - name: registries\n    evaluate: {{plan: {{command: run, time: \"2026-11-26T14:30:00Z\", task_definition: '{td_bad}'}}}}\n    expect: {{decision: deny, reasons: [\"image nginx:latest of container app comes from docker.io, which is not an allowed registry (123456789012.dkr.ecr.*.amazonaws.com, public.ecr.aws/myorg)\"]}}\n\
\x20 - name: empty deploy\n    evaluate: {{plan: {{command: deploy, time: \"2026-11-26T14:30:00Z\", diff: \" \\n\"}}}}\n    expect: {{decision: warn, reasons: [\"nothing to deploy: the plan's diff is empty\"]}}\n\
\x20 - name: other commands\n    evaluate: {{plan: {{command: delete, time: \"2026-12-31T12:00:00Z\"}}}}\n    expect: {{decision: allow}}\n\
\x20 - name: the images of the steps\n    evaluate: {{plan: {{command: run, time: \"2026-11-26T14:30:00Z\", steps: [{{service: ecs, operation: RegisterTaskDefinition, input: '{td_bad}'}}, {{service: ecs, operation: RunTask, input: {{taskDefinition: {{'$ref': 'steps[0].taskDefinition.taskDefinitionArn'}}}}}}]}}}}\n    expect: {{decision: deny, reasons: [\"image nginx:latest of container app comes from docker.io, which is not an allowed registry (123456789012.dkr.ecr.*.amazonaws.com, public.ecr.aws/myorg)\"]}}\n\
\x20 - name: a step that is no task definition\n    evaluate: {{plan: {{command: run, time: \"2026-11-26T14:30:00Z\", steps: [{{service: ecs, operation: RunTask, input: {{}}}}, {{service: ecs, operation: RegisterTaskDefinition, input: [1]}}]}}}}\n    expect: {{decision: deny, reasons: [\"cannot check image registries: steps[1] (RegisterTaskDefinition): the task definition is not a JSON object\"]}}\n"
        ),
    );
    p.write("cases.cassette.json", "{\"version\": 1, \"interactions\": []}");
    let mut plugins = vec!["change-freeze".to_owned()];
    plugins.extend(LANGS.iter().map(|l| component(l, "change-freeze").0.display().to_string()));
    for plugin in &plugins {
        let out = run(&p, &["plugin", "test", plugin, "cases.yaml"]);
        out.expect_code(0);
        assert!(out.stdout.ends_with("8 passed, 0 failed\n"), "{plugin}: {}", out.stdout);
    }
    // A config that cannot be read denies every plan (fails closed), in each language.
    p.write("closed.yaml", "plugin:\n  config: {freezes: [{start: soon, end: later}]}\ncases:\n  - name: closed\n    evaluate: {plan: {command: deploy}}\n    expect: {decision: deny, reasons: [\"change-freeze config: freezes[0].start: \"]}\n");
    for plugin in &plugins {
        let out = run(&p, &["plugin", "test", plugin, "closed.yaml", "--cassette", "cases.cassette.json"]);
        out.expect_code(0);
    }
}

/// A plugin written in TypeScript (plugin-sdk-js/check/example.ts, type-checked against the
/// declarations generated from the WIT) builds with the JS toolchain and decides on typed plans.
#[test]
fn a_typescript_gate_builds_and_decides() {
    let p = Project::new();
    let (path, _) = component("js", "ts-example");
    p.write(
        "cases.yaml",
        "plugin:\n  config: {deny_clusters: [prod]}\ncases:\n\
\x20 - name: frozen\n    evaluate: {plan: {command: deploy, cluster: prod, desired_count: 3}}\n    expect: {decision: deny, reasons: [\"cluster prod is frozen\"]}\n\
\x20 - name: open\n    evaluate: {plan: {command: deploy, cluster: dev}}\n    expect: {decision: allow}\n\
\x20 - name: a public task\n    evaluate: {plan: {command: run, cluster: dev, steps: [{service: ecs, operation: RunTask, input: {networkConfiguration: {awsvpcConfiguration: {assignPublicIp: ENABLED}}}}]}}\n    expect: {decision: deny, reasons: [\"a task would get a public IP\"]}\n",
    );
    p.write("cases.cassette.json", "{\"version\": 1, \"interactions\": []}");
    let out = run(&p, &["plugin", "test", &path.display().to_string(), "cases.yaml"]);
    out.expect_code(0);
    assert!(out.stdout.ends_with("3 passed, 0 failed\n"), "{}", out.stdout);
}

#[test]
fn plugin_test_records_from_the_simulator_and_replays_without_it() {
    let region = unique_region("langcassette");
    let seed = sim().seed(&region, &region);
    let p = Project::against(sim(), &region);
    let url = seed["tfstate"]["url"].as_str().unwrap().to_owned();
    let addr = seed["tfstate"]["addresses"]["aws_subnet.private[1].id"].as_str().unwrap().to_owned();
    p.write(
        "ssm.yaml",
        &format!(
            "plugin:\n  grants: [{{action: ssm:GetParameter, resource: \"arn:aws:ssm:*:*:parameter/{region}/*\"}}]\ncases:\n\
\x20 - name: a string\n    resolve: {{function: ssm, args: [/{region}/db/host]}}\n    expect: {{value: db.internal}}\n\
\x20 - name: a list element\n    resolve: {{function: ssm, args: [/{region}/hosts, 2]}}\n    expect: {{value: c.example}}\n\
\x20 - name: a secure string is redacted\n    resolve: {{function: ssm, args: [/{region}/db/password]}}\n    expect: {{value: \"[redacted]\"}}\n\
\x20 - name: missing\n    resolve: {{function: ssm, args: [/{region}/nope]}}\n    expect: {{error: ParameterNotFound}}\n\
\x20 - name: outside the grant\n    resolve: {{function: ssm, args: [/elsewhere/x]}}\n    expect: {{error: no grant for ssm:GetParameter}}\n"
        ),
    );
    p.write(
        "tfstate.yaml",
        &format!(
            "plugin:\n  name: tfstate\n  config: {{url: \"{url}\"}}\ncases:\n  - name: over s3\n    resolve: {{function: tfstate, args: [\"aws_subnet.private[1].id\"]}}\n    expect: {{value: {addr}}}\n"
        ),
    );
    let rust_ssm = target_dir().join("wasm32-wasip2/plugin/cortado_plugin_ssm.wasm").display().to_string();
    let py_ssm = component("py", "ssm").0.display().to_string();
    for (plugin, cases) in [(rust_ssm.as_str(), "ssm.yaml"), (py_ssm.as_str(), "ssm.yaml"), ("tfstate", "tfstate.yaml")] {
        let out = run(&p, &["plugin", "test", plugin, cases, "--record"]);
        out.expect_code(0);
        assert!(out.stderr.contains("call(s) recorded to"), "{plugin}: {}", out.stderr);
        let cassette = p.read(&cases.replace(".yaml", ".cassette.json"));
        assert!(!cassette.contains("s3cret"), "{plugin}: a secret was written to the cassette: {cassette}");

        // Replay: no simulator reachable, no credentials; the same cases pass, and the simulator
        // sees nothing.
        let before = sim().calls_in(&region).len();
        let c = cache();
        let out = p.run(
            &["plugin", "test", plugin, cases, "--output", "json"],
            &[(c.0, c.1.as_str()), ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
        );
        out.expect_code(0);
        let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
        assert_eq!(report["failed"], 0, "{plugin}: {report}");
        assert_eq!(report["mode"], "replay");
        assert_eq!(sim().calls_in(&region).len(), before, "{plugin}: replay reached the simulator");
    }
    let ssm_cassette: Value = serde_json::from_str(&p.read("ssm.cassette.json")).unwrap();
    let calls: Vec<&str> = ssm_cassette["interactions"].as_array().unwrap().iter().map(|i| i["call"].as_str().unwrap()).collect();
    assert_eq!(calls, vec!["ssm:GetParameter"; 4], "the denied call is not recorded: {ssm_cassette}");

    // A case making a call that was not recorded fails, naming the call; the others still pass.
    p.write(
        "ssm.yaml",
        &format!("{}  - name: new\n    resolve: {{function: ssm, args: [/{region}/db/other]}}\n    expect: {{error: anything}}\n", p.read("ssm.yaml")),
    );
    let out = run(&p, &["plugin", "test", &py_ssm, "ssm.yaml"]);
    out.expect_code(1);
    assert!(
        out.stdout.contains(&format!(
            "FAIL new: the plugin made an AWS call that is not in the cassette: ssm:GetParameter {{\"name\":\"/{region}/db/other\",\"with_decryption\":true}}"
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("5 passed, 1 failed\n"), "{}", out.stdout);
}

#[test]
fn plugin_test_rejects_bad_cases_with_file_line_and_key() {
    let p = Project::new();
    p.write("cases.yaml", "cases:\n  - name: one\n    resolve: {function: f}\n    expect: {value: x, colour: red}\n");
    let out = run(&p, &["plugin", "test", "ssm", "cases.yaml"]);
    out.expect_code(2);
    assert!(out.stderr.contains("cases.yaml:4:") && out.stderr.contains("unknown field `colour`"), "{}", out.stderr);
    p.write("cases.yaml", "cases:\n  - name: one\n    resolve: {function: ssm, args: [/x]}\n    expect: {value: x}\n");
    let out = run(&p, &["plugin", "test", "ssm", "cases.yaml"]);
    out.expect_code(2);
    assert!(out.stderr.contains("cases.cassette.json: cannot read the cassette") && out.stderr.contains("--record"), "{}", out.stderr);
}

/// Builds the scaffold of a `lang` plugin with one `hook`, runs its own test, and (a resolver) loads
/// it into cortado. One build per language, each its own test (so the suite runs them side by side): a
/// Python or JavaScript build takes 10-30 s and a Rust one compiles its dependencies for wasm32. The
/// hooks are spread over the languages (Python resolver, JavaScript gate, Rust verifier); the other
/// language/hook pairs are written and parsed (what differs between hooks is the source).
fn scaffold_builds_and_passes_its_own_test(lang: &str, hook: &str) {
    let p = Project::new();
    let root = repo_root();
    let name = format!("my-{lang}-{hook}");
    run(&p, &["plugin", "new", &name, "--lang", lang, "--hook", hook, "--sdk", root.to_str().unwrap()]).expect_code(0);
    let dir = p.path(&name);
    let build = std::process::Command::new("bash").arg(dir.join("build.sh")).env("CORTADO_ROOT", &root).output().expect("bash");
    assert!(build.status.success(), "{name}: build failed: {}", String::from_utf8_lossy(&build.stderr));
    let c = cache();
    let test = std::process::Command::new("bash").arg(dir.join("test.sh")).env("CORTADO", cortado_bin()).env(c.0, &c.1).output().expect("bash");
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success() && stdout.contains(" passed, 0 failed"), "{name}: {stdout}{}", String::from_utf8_lossy(&test.stderr));
    if hook == "resolver" {
        // Loaded into cortado as a configured plugin.
        let wasm = dir.join(format!("{name}.wasm"));
        p.write(
            "cortado.yml",
            &format!("region: us-east-1\ntask_definition: td.json\nplugins:\n  - name: {name}\n    path: {}\n    sha256: {}\n", wasm.display(), sha256(&wasm)),
        );
        p.write("td.json", &td(&[("G", "{{ greet `cortado` }}".into())]));
        let out = run(&p, &["render", "taskdef"]);
        out.expect_code(0);
        assert_eq!(env_of(&out.stdout)["G"], "hello, cortado", "{name}");
    }
}

#[test]
fn the_python_scaffold_builds_and_passes_its_own_test() {
    scaffold_builds_and_passes_its_own_test("python", "resolver");
}

#[test]
fn the_js_scaffold_builds_and_passes_its_own_test() {
    scaffold_builds_and_passes_its_own_test("js", "gate");
}

#[test]
fn the_rust_scaffold_builds_and_passes_its_own_test() {
    scaffold_builds_and_passes_its_own_test("rust", "verifier");
}

/// The scaffold of every other language/hook pair is written and parses; bad names are refused.
#[test]
fn the_scaffold_writes_every_language_and_hook() {
    let p = Project::new();
    let root = repo_root();
    for (lang, hook) in [("python", "verifier"), ("python", "gate"), ("js", "resolver"), ("js", "verifier"), ("rust", "resolver"), ("rust", "gate")] {
        let name = format!("my-{lang}-{hook}");
        run(&p, &["plugin", "new", &name, "--lang", lang, "--hook", hook, "--sdk", root.to_str().unwrap()]).expect_code(0);
        let dir = p.path(&name);
        let parsed = match lang {
            "python" => std::process::Command::new("python3").args(["-m", "py_compile"]).arg(dir.join("app.py")).output(),
            "js" => std::process::Command::new("node")
                .args(["--input-type=module", "--check"])
                .stdin(std::fs::File::open(dir.join("app.js")).expect("app.js"))
                .output(),
            _ => std::process::Command::new("test").arg("-s").arg(dir.join("src/lib.rs")).output(),
        }
        .expect("a parser");
        assert!(parsed.status.success(), "{name}: {}", String::from_utf8_lossy(&parsed.stderr));
    }
    // A name that cannot be one, and an occupied directory.
    run(&p, &["plugin", "new", "9lives", "--lang", "rust"]).expect_code(2);
    run(&p, &["plugin", "new", "my-python-verifier", "--lang", "python", "--sdk", root.to_str().unwrap()]).expect_code(2);
}

#[test]
fn the_python_and_js_sdks_read_metrics_within_their_grant() {
    // The 0.2.0 `metrics` import from each SDK: a granted namespace answers from the simulator's
    // CloudWatch; another is denied and never sent.
    let (p, region) = seeded("langmetric");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let data = serde_json::json!({"Namespace": "AWS/ApplicationELB", "MetricData": [
        {"MetricName": "HTTPCode_Target_5XX_Count", "Timestamp": now - 120, "Value": 4.0},
        {"MetricName": "HTTPCode_Target_5XX_Count", "Timestamp": now - 60, "Value": 3.0}]});
    cortado_e2e::seeded::aws_json(sim(), &region, "monitoring", "GraniteServiceVersion20100801.PutMetricData", &data);
    let grant = "    grants:\n      - {action: cloudwatch:GetMetricData, resource: \"arn:aws:cloudwatch:*:*:metric/AWS/ApplicationELB/*\"}\n";
    let mut plugins = String::new();
    for lang in LANGS {
        let (path, digest) = component(lang, "spin");
        plugins += &format!("  - name: spin-{lang}\n    func_prefix: {lang}_\n    path: {}\n    sha256: {digest}\n{grant}", path.display());
    }
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\ntask_definition: td.json\nplugins:\n{plugins}"));
    for lang in LANGS {
        p.write("td.json", &td(&[("ERRORS", format!("{{{{ {lang}_metric `AWS/ApplicationELB` `HTTPCode_Target_5XX_Count` }}}}"))]));
        let out = run(&p, &["render", "taskdef"]);
        out.expect_code(0);
        assert_eq!(env_of(&out.stdout)["ERRORS"], "7", "{lang}: {}", out.stdout);
    }
    let sent = sim().calls_in(&region).iter().filter(|c| *c == "monitoring:GetMetricData").count();
    assert_eq!(sent, 2);
    for lang in LANGS {
        p.write("td.json", &td(&[("ERRORS", format!("{{{{ {lang}_metric `Custom/Billing` `Spend` }}}}"))]));
        let out = run(&p, &["render", "taskdef"]);
        assert_ne!(out.code, 0, "{lang}: {}", out.stdout);
        assert!(out.stderr.contains("no grant for cloudwatch:GetMetricData") && out.stderr.contains("metric/Custom/Billing/Spend"), "{lang}: {}", out.stderr);
    }
    assert_eq!(sim().calls_in(&region).iter().filter(|c| *c == "monitoring:GetMetricData").count(), sent, "a denied query was sent");
}

#[test]
fn the_python_and_js_sdks_read_target_health_within_their_grant() {
    let (p, region, seed) = cortado_e2e::seeded::seeded("langhealth");
    let sim = sim();
    let (tg, tg2) = (seed["alb"]["targetGroupArn"].as_str().unwrap(), seed["alb"]["targetGroup2Arn"].as_str().unwrap());
    let registered = cortado_e2e::seeded::aws_query(
        sim,
        &region,
        "elasticloadbalancing",
        &[
            ("Action", "RegisterTargets"),
            ("Version", "2015-12-01"),
            ("TargetGroupArn", tg),
            ("Targets.member.1.Id", "10.0.1.5"),
            ("Targets.member.1.Port", "80"),
        ],
    );
    assert!(registered.contains("RegisterTargetsResponse"), "{registered}");
    let grant = format!(
        "    grants:\n      - {{action: elasticloadbalancing:DescribeTargetHealth, resource: \"arn:aws:elasticloadbalancing:*:*:targetgroup/{region}-tg/*\"}}\n"
    );
    let mut plugins = String::new();
    for lang in LANGS {
        let (path, digest) = component(lang, "spin");
        plugins += &format!("  - name: spin-{lang}\n    func_prefix: {lang}_\n    path: {}\n    sha256: {digest}\n{grant}", path.display());
    }
    p.write("cortado.yml", &format!("region: {region}\ncluster: c\ntask_definition: td.json\nplugins:\n{plugins}"));
    let health = |lang: &str, arn: &str| {
        p.write("td.json", &td(&[("TARGETS", format!("{{{{ {lang}_health `{arn}` }}}}"))]));
        run(&p, &["render", "taskdef"])
    };
    for lang in LANGS {
        let out = health(lang, tg);
        out.expect_code(0);
        assert_eq!(env_of(&out.stdout)["TARGETS"], "10.0.1.5:healthy", "{lang}: {}", out.stdout);
        // The second target group is not granted: denied, never sent.
        let out = health(lang, tg2);
        assert_ne!(out.code, 0, "{lang}: {}", out.stdout);
        assert!(out.stderr.contains("no grant for elasticloadbalancing:DescribeTargetHealth"), "{lang}: {}", out.stderr);
    }
    let sent = sim.calls_in(&region).iter().filter(|c| *c == "elasticloadbalancing:DescribeTargetHealth").count();
    assert_eq!(sent, 2, "one call per language, none for the ungranted group");
}

/// Three cortado processes of one user that load the same uncached component at once compile it
/// once: the others wait for the first one's cache entry (a lock per entry) instead of each spending
/// seconds of CPU on the same artifact, as parallel CI jobs and this suite's processes would. Then
/// the functions it compiled serve the next component of the same toolchain, and only while their
/// pack verifies.
#[test]
fn concurrent_cortados_compile_an_uncached_component_once_and_share_its_functions() {
    let p = Project::with_own_cache();
    let (path, digest) = component("py", "spin");
    p.write(
        "cortado.yml",
        &format!("region: us-east-1\ntask_definition: td.json\nplugins:\n  - name: spin\n    path: {}\n    sha256: {digest}\n", path.display()),
    );
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| p.run(&["--debug", "plugin", "list"], &[]))).collect();
        handles.into_iter().map(|h| h.join().expect("a cortado run")).collect()
    });
    for r in &runs {
        r.expect_code(0);
    }
    let line = format!("compile cache: compiled {digest}");
    let compiled: usize = runs.iter().map(|r| r.stderr.matches(&line).count()).sum();
    assert_eq!(compiled, 1, "{:#?}", runs.iter().map(|r| &r.stderr).collect::<Vec<_>>());

    // The Python ssm twin carries the same CPython: it compiles only what is its own.
    let first: usize = runs.iter().filter_map(|r| new_functions(&r.stderr, &digest)).sum();
    let (ssm, ssm_digest) = component("py", "ssm");
    let config = |path: &std::path::Path, digest: &str| {
        format!("region: us-east-1\ntask_definition: td.json\nplugins:\n  - name: x\n    func_prefix: t_\n    path: {}\n    sha256: {digest}\n", path.display())
    };
    p.write("cortado.yml", &config(&ssm, &ssm_digest));
    let out = p.run(&["--debug", "plugin", "list"], &[]);
    out.expect_code(0);
    let second = new_functions(&out.stderr, &ssm_digest).expect("the ssm twin was compiled");
    assert!(first > 5000 && second * 5 < first, "compiled {first} functions for spin, then {second} for ssm: {}", out.stderr);

    // A pack edited on disk is never used: the next compile says so and compiles without it.
    let dir = p.path(".cache/cortado/components");
    let pack = std::fs::read_dir(&dir).expect("cache dir").flatten().map(|e| e.path()).find(|f| {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        name.starts_with(&digest) && name.ends_with(".fnpack")
    });
    let pack = pack.expect("spin's pack of functions");
    let mut bytes = std::fs::read(&pack).expect("read the pack");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&pack, &bytes).expect("edit the pack");
    let (echo, echo_digest) = cortado_e2e::fixture_plugin("echo");
    p.write("cortado.yml", &config(&echo, &echo_digest));
    let out = p.run(&["--debug", "plugin", "list"], &[]);
    out.expect_code(0);
    assert!(out.stderr.contains(&format!("{} failed its integrity check", pack.display())) && out.stderr.contains("not using it"), "{}", out.stderr);
    assert!(new_functions(&out.stderr, &echo_digest).is_some_and(|n| n > 0), "{}", out.stderr);
}

/// How many functions a `--debug` run compiled afresh for component `digest` (its log line).
fn new_functions(stderr: &str, digest: &str) -> Option<usize> {
    let tail = format!(" newly compiled function(s) of {digest}");
    stderr.lines().find_map(|l| l.split_once(&tail)?.0.rsplit(' ').next()?.parse().ok())
}
