//! Hostile plugins against the real runtime: each is contained with a clear error naming the plugin
//! and the hook, and the host keeps working (another plugin — and the same one, re-instantiated —
//! answers afterwards). The fixtures are real components from tests/fixtures/plugins, built by
//! scripts/build-plugins.sh.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cortado::config::Grant;
use cortado::plugin::bindings::{Decision, Plan};
use cortado::plugin::broker::{AwsSlot, Broker};
use cortado::plugin::instance::{Limits, LoadedPlugin, PluginSpec, Preopen};
use cortado::plugin::runtime::sha256_hex;

fn fixture(name: &str) -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("test exe");
        exe.ancestors().nth(3).expect("target dir").to_path_buf()
    });
    let path = target.join(format!("wasm32-wasip2/fixture/cortado_fixture_{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-plugins.sh)", path.display()))
}

fn load_with(name: &str, limits: Limits, grants: Vec<Grant>, preopens: Vec<Preopen>) -> LoadedPlugin {
    let bytes = fixture(name);
    let spec = PluginSpec {
        name: name.into(),
        digest: sha256_hex(&bytes),
        config_json: r#"{"greeting":"hi"}"#.into(),
        preopens,
        limits,
        broker: Arc::new(Broker::new(name, grants, AwsSlot::new(Some("us-east-1".into()), None))),
    };
    LoadedPlugin::load(&bytes, spec).unwrap_or_else(|e| panic!("load {name}: {e:#}"))
}

fn load(name: &str) -> LoadedPlugin {
    load_with(name, Limits { call_timeout: Duration::from_millis(500), ..Limits::default() }, vec![], vec![])
}

/// The well-behaved baseline still answers.
fn assert_host_alive() {
    let echo = load("echo");
    assert_eq!(echo.resolve("echo", &["still".into(), "alive".into()]).unwrap(), "still alive");
}

fn err_of(p: &LoadedPlugin, function: &str, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match p.resolve(function, &args) {
        Ok(v) => panic!("{function} should fail, returned {} bytes: {:.200}", v.len(), v),
        Err(e) => e.to_string(),
    }
}

#[test]
fn infinite_loop_hits_the_deadline_and_the_instance_recovers() {
    let p = load("spin");
    let t = Instant::now();
    let e = err_of(&p, "spin", &[]);
    assert!(t.elapsed() < Duration::from_secs(3), "deadline not honoured: {:?}", t.elapsed());
    assert!(e.contains("plugin \"spin\" resolver spin") && e.contains("timed out"), "{e}");
    // The poisoned instance was dropped; the next call runs on a fresh one (and times out again).
    assert!(err_of(&p, "spin", &[]).contains("timed out"));
    assert_host_alive();
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let p = load_with("membomb", Limits { memory_bytes: 32 << 20, ..Limits::default() }, vec![], vec![]);
    let e = err_of(&p, "membomb", &[]);
    assert!(e.contains("plugin \"membomb\"") && e.contains("memory limit of 32 MiB"), "{e}");
    assert_host_alive();
}

#[test]
fn deep_recursion_traps() {
    let p = load("recurse");
    let e = err_of(&p, "recurse", &[]);
    assert!(e.contains("plugin \"recurse\" resolver recurse"), "{e}");
    assert!(e.contains("stack overflow") || e.contains("trapped") || e.contains("out of bounds"), "{e}");
    assert_host_alive();
}

#[test]
fn oversized_result_is_refused() {
    let p = load_with("bigresult", Limits { memory_bytes: 256 << 20, ..Limits::default() }, vec![], vec![]);
    let e = err_of(&p, "bigresult", &[]);
    assert!(e.contains("exceeds the limit of 1048576 bytes"), "{e}");
    // Within the default 64 MiB memory the guest cannot even build it.
    let p = load("bigresult");
    let e = err_of(&p, "bigresult", &[]);
    assert!(e.contains("memory limit") || e.contains("exceeds the limit"), "{e}");
    assert_host_alive();
}

#[test]
fn files_outside_the_preopens_are_not_readable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.txt"), "granted content").unwrap();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "top secret").unwrap();
    let p = load_with("readfile", Limits::default(), vec![], vec![Preopen { host: dir.path().to_path_buf(), guest: "data".into() }]);
    let read = |path: &str| p.resolve("readfile", &[path.to_string()]).unwrap_or_else(|e| e.to_string());
    assert_eq!(read("data/ok.txt"), "granted content");
    for outside in ["/etc/passwd", "data/../../etc/passwd", secret.path().to_str().unwrap()] {
        let got = read(outside);
        assert!(!got.contains("root:") && !got.contains("top secret"), "{outside} leaked: {got}");
    }
    assert_host_alive();
}

#[test]
fn the_environment_is_empty() {
    let p = load("readenv");
    let got = p.resolve("readenv", &[]).unwrap_or_else(|e| e.to_string());
    assert!(!got.contains("PATH=") && !got.contains("HOME="), "environment leaked: {got}");
    assert!(std::env::var_os("PATH").is_some(), "the host itself has an environment");
}

#[test]
fn sockets_are_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let p = load("socket");
    let got = p.resolve("socket", std::slice::from_ref(&addr)).unwrap_or_else(|e| e.to_string());
    assert!(!got.contains("connected"), "connected to {addr}: {got}");
    assert!(listener.accept().is_err(), "the listener received a connection");
}

#[test]
fn a_brokered_call_outside_the_grant_is_denied_without_leaving_the_host() {
    // Granted: /fixture/*. Asked: /other/secret. The AWS slot has no endpoint configured; a request
    // would fail differently, so "denied" proves the broker refused it before any AWS access.
    let grants = vec![Grant { action: "ssm:GetParameter".into(), resource: "arn:aws:ssm:*:*:parameter/fixture/*".into(), ..Grant::default() }];
    let p = load_with("overreach", Limits::default(), grants, vec![]);
    let got = p.resolve("overreach", &["/other/secret".into()]).unwrap();
    assert!(got.starts_with("denied:"), "{got}");
    assert!(got.contains("ssm:GetParameter") && got.contains("parameter/other/secret"), "{got}");
    // No grant at all: denied too.
    let p = load("overreach");
    assert!(p.resolve("overreach", &["/fixture/x".into()]).unwrap().starts_with("denied:"));
}

#[test]
fn a_panic_is_a_trap_and_the_next_call_works() {
    let p = load("panic");
    let e = err_of(&p, "panic", &[]);
    assert!(e.contains("plugin \"panic\" resolver panic") && e.contains("panicked"), "{e}");
    assert_host_alive();
}

fn plan() -> Plan {
    Plan {
        command: "deploy".into(),
        cluster: "c".into(),
        service: Some("s".into()),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        caller: "arn:aws:iam::123456789012:user/me".into(),
        time: "2026-11-26T12:00:00Z".into(),
        task_definition: Some("{}".into()),
        task_definition_arn: None,
        service_definition: None,
        diff: String::new(),
        desired_count: None,
        overrides: None,
        stage: None,
        steps: vec![],
    }
}

#[test]
fn a_trapping_gate_and_a_spinning_gate_fail_closed() {
    for name in ["trapgate", "slowgate"] {
        let p = load(name);
        let outcome = cortado::plugin::gate_outcome(&p, &plan());
        match outcome {
            Decision::Deny(reasons) => assert!(reasons.iter().any(|r| r.contains(&format!("plugin \"{name}\" gate"))), "{reasons:?}"),
            other => panic!("{name}: expected deny, got {other:?}"),
        }
    }
    assert_host_alive();
}

#[test]
fn plugin_stdout_goes_to_the_log_and_config_is_passed() {
    let p = load("echo");
    assert_eq!(p.resolve("config", &[]).unwrap(), r#"{"greeting":"hi"}"#);
    p.resolve("log", &["hello".into()]).unwrap();
}

/// A core module with two linear memories (what no component of ours needs).
const TWO_MEMORIES: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x05, 0x02, 0x00, 0x01, 0x00, 0x01];
/// The same with one memory.
const ONE_MEMORY: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01];
/// A core module exporting `grow: () -> i32`, which grows its funcref table by 1 000 000 elements
/// (`table.grow`; the old size, or -1 when refused).
const TABLE_GROW: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
    0x03, 0x02, 0x01, 0x00, // function 0 has type 0
    0x04, 0x04, 0x01, 0x70, 0x00, 0x01, // table funcref, min 1, no max
    0x07, 0x08, 0x01, 0x04, b'g', b'r', b'o', b'w', 0x00, 0x00, // export "grow"
    0x0a, 0x0d, 0x01, 0x0b, 0x00, 0xd0, 0x70, 0x41, 0xc0, 0x84, 0x3d, 0xfc, 0x0f, 0x00, 0x0b, // ref.null; i32.const 1e6; table.grow 0
];

fn sandbox_store() -> wasmtime::Store<wasmtime::StoreLimits> {
    let engine = cortado::plugin::runtime::engine().unwrap();
    let mut store = wasmtime::Store::new(engine, cortado::plugin::instance::store_limits(&Limits::default()));
    store.limiter(|l| l);
    store.set_epoch_deadline(1000);
    store
}

#[test]
fn a_second_linear_memory_is_refused() {
    // Raw core modules: a Rust component cannot be made to declare two memories, and the limit is
    // the store's, whatever module asks.
    let engine = cortado::plugin::runtime::engine().unwrap();
    let one = wasmtime::Module::from_binary(engine, ONE_MEMORY).expect("one memory compiles");
    wasmtime::Instance::new(&mut sandbox_store(), &one, &[]).expect("one memory is allowed");
    let two = wasmtime::Module::from_binary(engine, TWO_MEMORIES).expect("multi-memory compiles");
    let e = wasmtime::Instance::new(&mut sandbox_store(), &two, &[]).expect_err("a second memory must be refused");
    assert!(format!("{e:#}").contains("memor"), "{e:#}");
}

#[test]
fn table_growth_is_bounded() {
    let engine = cortado::plugin::runtime::engine().unwrap();
    let m = wasmtime::Module::from_binary(engine, TABLE_GROW).expect("table module compiles");
    let mut store = sandbox_store();
    let i = wasmtime::Instance::new(&mut store, &m, &[]).expect("instantiate");
    let grow = i.get_typed_func::<(), i32>(&mut store, "grow").unwrap();
    // trap_on_grow_failure: refused growth traps rather than returning -1 to a guest that ignores it.
    let r = grow.call(&mut store, ());
    assert!(r.is_err(), "a table of 1 000 001 elements was allowed: {r:?}");
}

#[test]
fn every_plugin_fits_in_one_memory() {
    // memories(1): the fixtures (Rust components with the WASI adapter) still instantiate.
    for name in ["echo", "overreach", "bloat", "blocker"] {
        let p = load(name);
        p.instantiate_fresh().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
