//! The process-wide wasmtime engine, the on-disk cache of compiled components, and the epoch ticker
//! that turns per-call deadlines into traps.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Result;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// One epoch tick; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine shared by every plugin of the process, with its ticker thread started.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.wasm_component_model(true).epoch_interruption(true).max_wasm_stack(512 * 1024);
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let ticker = engine.clone();
            std::thread::Builder::new()
                .name("cortado-epoch".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(EPOCH_TICK);
                        ticker.increment_epoch();
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("cannot create the wasm engine: {e}"))
}

/// sha256 of a component, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where compiled components are cached: `$CORTADO_CACHE_DIR`, else `~/.cache/cortado/components`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CORTADO_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("cortado/components"))
}

/// Compiles a component, or loads it from the cache keyed by its sha256 and the engine's
/// compatibility hash (so a new wasmtime or different CPU features never load a stale artifact).
pub fn load_component(engine: &Engine, bytes: &[u8], digest: &str) -> Result<Component> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let key = format!("{digest}-{:016x}.cwasm", h.finish());
    let cached = cache_dir().map(|d| d.join(&key));
    if let Some(path) = &cached
        && path.is_file()
    {
        // SAFETY: the file was written by `Component::serialize` from the same component bytes
        // (the key is their sha256) for an engine with the same compatibility hash.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(c) => return Ok(c),
            Err(e) => tracing::debug!("ignoring unusable cache entry {}: {e:#}", path.display()),
        }
    }
    let component = Component::from_binary(engine, bytes).map_err(|e| anyhow::anyhow!("compiling the component: {e:#}"))?;
    if let Some(path) = &cached
        && let Ok(serialized) = component.serialize()
        && let Some(dir) = path.parent()
    {
        let _ = std::fs::create_dir_all(dir);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
    Ok(component)
}
