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

use super::cache_mac;

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
///
/// A cached artifact is native code run without further checks, so each one is authenticated
/// (see [`super::cache_mac`]): an entry whose MAC does not verify — copied in from another
/// machine, branch or component, or edited — is recompiled with a warning, never deserialized.
pub fn load_component(engine: &Engine, bytes: &[u8], digest: &str) -> Result<Component> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let compat = format!("{:016x}", h.finish());
    let key = cache_mac::key();
    let cached = cache_dir().filter(|_| key.is_some()).map(|d| d.join(format!("{digest}-{compat}.cwasm")));
    let context = cache_mac::Context { digest, compat: &compat };
    if let (Some(path), Some(key)) = (&cached, key) {
        match std::fs::read(path) {
            Ok(file) => match cache_mac::open(key, &context, &file) {
                Ok(artifact) => {
                    // SAFETY: the artifact's MAC verified under this user's key for this component's
                    // sha256 and this engine: only this user's cortado wrote it, with
                    // `Component::serialize` of these very component bytes.
                    match unsafe { Component::deserialize(engine, artifact) } {
                        Ok(c) => return Ok(c),
                        Err(e) => tracing::debug!("ignoring unusable cache entry {}: {e:#}", path.display()),
                    }
                }
                Err(why) => tracing::warn!("compile cache: {} {why}; recompiling it, not loading it", path.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::debug!("cannot read cache entry {}: {e}", path.display()),
        }
    }
    let component = Component::from_binary(engine, bytes).map_err(|e| anyhow::anyhow!("compiling the component: {e:#}"))?;
    if let (Some(path), Some(key)) = (&cached, key)
        && let Ok(serialized) = component.serialize()
        && let Some(dir) = path.parent()
    {
        let _ = cache_mac::private_dir(dir);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if cache_mac::write_private(&tmp, &cache_mac::seal(key, &context, &serialized)).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(component)
}
