//! Plugin runtime benchmarks (run with `cargo bench -p cortado --bench plugins`, or bench/plugins.sh).
//!
//! Reports, per first-party plugin: cold compile and cache-hit load; then instantiate and per-call
//! latency (the `echo` fixture and a tfstate lookup), and rendering a task definition with 10 000
//! tfstate lookups against the same document with 10 000 `env` calls (no plugin). Numbers are
//! printed, not asserted: targets are cached load ≤ 5 ms, a call ≤ 5 µs, 10 000 lookups ≤ 100 ms.
//! "cache-hit load" includes the cache entry's keyed-BLAKE3 MAC check (target ≤ 0.5 ms per plugin),
//! reported beside it as "of which MAC"; "shared dir" is the same load from a directory others may
//! write (read into memory, verified, deserialised from the copy).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cortado::config::{Grant, PluginConfig};
use cortado::definitions::Renderer;
use cortado::functions::Registry;
use cortado::jsonnet::JsonnetOptions;
use cortado::plugin::broker::{AwsSlot, Broker};
use cortado::plugin::instance::{Limits, LoadedPlugin, PluginSpec, Preopen};
use cortado::plugin::{bundled, runtime};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().ok().and_then(|e| e.ancestors().nth(3).map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("target")))
}

fn spec(name: &str, bytes: &[u8], config: &str, preopens: Vec<Preopen>) -> PluginSpec {
    PluginSpec {
        name: name.into(),
        digest: runtime::sha256_hex(bytes),
        config_json: config.into(),
        preopens,
        limits: Limits::default(),
        broker: Arc::new(Broker::new(name, Vec::<Grant>::new(), AwsSlot::new(Some("us-east-1".into()), None))),
    }
}

fn per(d: Duration, n: u32) -> String {
    let ns = d.as_nanos() as f64 / n as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn main() {
    let cache = tempfile::tempdir().expect("tempdir");
    // SAFETY: set before any thread reads the environment (the engine is created below).
    unsafe { std::env::set_var("CORTADO_CACHE_DIR", cache.path()) };
    let engine = runtime::engine().expect("engine");

    println!("== load (per first-party plugin)");
    for name in ["ssm", "secretsmanager", "tfstate", "cloudformation", "image-policy", "change-freeze"] {
        let Some(bytes) = bundled(name) else {
            println!("{name:16} not bundled (run scripts/build-plugins.sh, then rebuild)");
            continue;
        };
        let digest = runtime::sha256_hex(bytes);
        let t = Instant::now();
        runtime::load_component(engine, bytes, &digest).expect("cold compile");
        let cold = t.elapsed();
        let n = 20;
        let (hit, shared) = (cache_hits(engine, bytes, &digest, n, cache.path(), 0o700), cache_hits(engine, bytes, &digest, n, cache.path(), 0o770));
        // The integrity check alone, on this component's artifact.
        let artifact = runtime::load_component(engine, bytes, &digest).expect("cache hit").serialize().expect("serialize");
        let ctx = cortado::plugin::cache_mac::Context { digest: &digest, compat: "bench" };
        let tag = cortado::plugin::cache_mac::mac(&[7; 32], &ctx, &artifact);
        let t = Instant::now();
        for _ in 0..n {
            cortado::plugin::cache_mac::verify(&[7; 32], &ctx, &artifact, &tag).expect("verifies");
        }
        let mac = t.elapsed() / n;
        let t = Instant::now();
        let p = LoadedPlugin::load(bytes, spec(name, bytes, "null", vec![])).expect("load");
        let full = t.elapsed();
        let n = 200;
        let t = Instant::now();
        for _ in 0..n {
            p.instantiate_fresh().expect("instantiate");
        }
        println!(
            "{name:16} {:>7} KB  cold compile {:>8.1} ms  cache-hit load {:>6.2} ms (of which MAC {:>5.3} ms; shared dir {:>5.2} ms)  load+link+manifest {:>6.2} ms  instantiate {}",
            bytes.len() / 1024,
            cold.as_secs_f64() * 1e3,
            hit.as_secs_f64() * 1e3,
            mac.as_secs_f64() * 1e3,
            shared.as_secs_f64() * 1e3,
            full.as_secs_f64() * 1e3,
            per(t.elapsed(), n)
        );
    }

    other_languages(engine, cache.path());

    println!("== calls");
    let echo_path = target_dir().join("wasm32-wasip2/fixture/cortado_fixture_echo.wasm");
    if let Ok(bytes) = std::fs::read(&echo_path) {
        let p = LoadedPlugin::load(&bytes, spec("echo", &bytes, "null", vec![])).expect("echo");
        let args = vec!["hello".to_string()];
        for _ in 0..1000 {
            p.resolve("echo", &args).expect("echo");
        }
        let n = 100_000;
        let t = Instant::now();
        for _ in 0..n {
            p.resolve("echo", &args).expect("echo");
        }
        println!("echo (1 arg)        {} per call", per(t.elapsed(), n));
    } else {
        println!("echo fixture missing at {}", echo_path.display());
    }

    // A state with 10 000 resources-worth of lookups over 100 subnets.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut instances = Vec::new();
    for i in 0..100 {
        instances.push(serde_json::json!({"index_key": i, "attributes": {"id": format!("subnet-{i:08}"), "cidr_block": format!("10.0.{i}.0/24")}}));
    }
    let state = serde_json::json!({"version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "bench", "outputs": {},
        "resources": [{"mode": "managed", "type": "aws_subnet", "name": "private", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": instances}]});
    std::fs::write(dir.path().join("terraform.tfstate"), state.to_string()).expect("state");
    let Some(tf_bytes) = bundled("tfstate") else { return };
    let tf = Arc::new(
        LoadedPlugin::load(
            tf_bytes,
            spec("tfstate", tf_bytes, r#"{"path": "/tfstate/terraform.tfstate"}"#, vec![Preopen { host: dir.path().to_path_buf(), guest: "/tfstate".into() }]),
        )
        .expect("tfstate"),
    );
    tf.resolve("tfstate", &["aws_subnet.private[0].id".into()]).expect("first lookup reads the state");
    let n = 10_000;
    let t = Instant::now();
    for i in 0..n {
        tf.resolve("tfstate", &[format!("aws_subnet.private[{}].id", i % 100)]).expect("lookup");
    }
    println!("tfstate lookup      {} per call", per(t.elapsed(), n));

    let env: cortado::template::EnvLookup = Arc::new(|k: &str| if k == "X" { Some("subnet-00000001".into()) } else { None });
    let mut with_plugin = Registry::with_env(env.clone());
    let tf2 = tf.clone();
    with_plugin
        .add(
            "tfstate",
            1,
            0,
            Arc::new(move |args: &[cortado::template::Value]| {
                tf2.resolve("tfstate", &[args[0].to_string()]).map(cortado::template::Value::String).map_err(|e| e.to_string())
            }),
            None,
        )
        .expect("register");
    let without = Registry::with_env(env);
    let mut lookups = Vec::new();
    let mut envs = Vec::new();
    for i in 0..n {
        lookups.push(format!("{{\"name\": \"S{i}\", \"value\": \"{{{{ tfstate `aws_subnet.private[{}].id` }}}}\"}}", i % 100));
        envs.push(format!("{{\"name\": \"S{i}\", \"value\": \"{{{{ env `X` }}}}\"}}"));
    }
    let td = |env: &[String]| {
        format!("{{\"family\": \"bench\", \"containerDefinitions\": [{{\"name\": \"app\", \"image\": \"nginx\", \"environment\": [{}]}}]}}", env.join(","))
    };
    std::fs::write(dir.path().join("plugin.json"), td(&lookups)).expect("write");
    std::fs::write(dir.path().join("native.json"), td(&envs)).expect("write");
    let opts = JsonnetOptions::default();
    for (label, file, reg) in
        [("render, 10 000 tfstate lookups (plugin)", "plugin.json", &with_plugin), ("render, 10 000 env calls (no plugin)", "native.json", &without)]
    {
        let r = Renderer { registry: reg, jsonnet: &opts, strict: false };
        let path = dir.path().join(file);
        r.task_definition(&path).expect("render");
        let runs = 5;
        let t = Instant::now();
        for _ in 0..runs {
            r.task_definition(&path).expect("render");
        }
        println!("{label:42} {:.1} ms", (t.elapsed() / runs).as_secs_f64() * 1e3);
    }
    let _ = PluginConfig::clone;
}

/// The mean of `n` cache-hit loads with the cache directory at `mode`: 0700 (owner-only: the entry
/// is verified through a mapping and mapped by wasmtime) or 0770 (others may write: read, verified
/// and deserialised from memory). The directory is left at 0700.
fn cache_hits(engine: &wasmtime::Engine, bytes: &[u8], digest: &str, n: u32, dir: &std::path::Path, mode: u32) -> std::time::Duration {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod the cache dir");
    let t = Instant::now();
    for _ in 0..n {
        runtime::load_component(engine, bytes, digest).expect("cache hit");
    }
    let took = t.elapsed() / n;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod the cache dir");
    took
}

/// The Python and JavaScript components (scripts/build-plugin-langs.sh), each with an `echo`
/// function: size, cold compile, cache-hit load, load+link+manifest, instantiate, one call.
fn other_languages(engine: &wasmtime::Engine, cache: &std::path::Path) {
    println!("== other languages (the spin fixtures' echo function)");
    for lang in ["py", "js"] {
        let path = target_dir().join(format!("wasm32-wasip2/{lang}/spin.wasm"));
        let Ok(bytes) = std::fs::read(&path) else {
            println!("{lang:4} missing at {} (run scripts/build-plugin-langs.sh)", path.display());
            continue;
        };
        let digest = runtime::sha256_hex(&bytes);
        let t = Instant::now();
        runtime::load_component(engine, &bytes, &digest).expect("cold compile");
        let cold = t.elapsed();
        let n = 10;
        let (hit, shared) = (cache_hits(engine, &bytes, &digest, n, cache, 0o700), cache_hits(engine, &bytes, &digest, n, cache, 0o770));
        let t = Instant::now();
        let p = LoadedPlugin::load(&bytes, spec(lang, &bytes, "null", vec![])).expect("load");
        let full = t.elapsed();
        let t = Instant::now();
        for _ in 0..n {
            p.instantiate_fresh().expect("instantiate");
        }
        let inst = t.elapsed();
        let args = vec!["hello".to_string()];
        let t = Instant::now();
        p.resolve("echo", &args).expect("first echo");
        let first = t.elapsed();
        let calls = 10_000;
        let t = Instant::now();
        for _ in 0..calls {
            p.resolve("echo", &args).expect("echo");
        }
        println!(
            "{lang:4} {:>6.1} MB  cold compile {:>7.0} ms  cache-hit load {:>6.1} ms (shared dir {:>6.1} ms)  load+link+manifest {:>6.1} ms  instantiate {}  first call {}  call {}",
            bytes.len() as f64 / (1 << 20) as f64,
            cold.as_secs_f64() * 1e3,
            hit.as_secs_f64() * 1e3,
            shared.as_secs_f64() * 1e3,
            full.as_secs_f64() * 1e3,
            per(inst, n),
            per(first, 1),
            per(t.elapsed(), calls)
        );
        // Another component of the same toolchain (the ssm twin), compiled after spin: most of its
        // functions are spin's (the same CPython or JavaScript engine), found in the function cache.
        let path = target_dir().join(format!("wasm32-wasip2/{lang}/ssm.wasm"));
        if let Ok(bytes) = std::fs::read(&path) {
            let t = Instant::now();
            runtime::load_component(engine, &bytes, &runtime::sha256_hex(&bytes)).expect("compile the ssm twin");
            println!(
                "{lang:4} then the ssm twin ({:.1} MB): cold compile {:>7.0} ms, spin's functions reused",
                bytes.len() as f64 / (1 << 20) as f64,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}
