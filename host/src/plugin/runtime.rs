//! The process-wide wasmtime engine, the on-disk cache of compiled components, and the epoch ticker
//! that turns per-call deadlines into traps.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Result;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::fn_cache::FunctionCache;
use super::{cache_gc, cache_mac};

/// One epoch tick; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine shared by every plugin of the process, with its ticker thread started.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.wasm_component_model(true).epoch_interruption(true).max_wasm_stack(512 * 1024);
            if let Some(functions) = function_cache() {
                config.enable_incremental_compilation(functions.clone()).map_err(|e| format!("{e:#}"))?;
            }
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            if let Some(functions) = function_cache() {
                functions.set_compat(compat_hash(&engine));
            }
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

/// The engine's compatibility hash (wasmtime's version and configuration), as cache names carry it.
fn compat_hash(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The functions compiled for earlier components ([`fn_cache`]), in the compile cache's directory
/// under its key; None when the compile cache is not used.
fn function_cache() -> Option<&'static Arc<FunctionCache>> {
    static FUNCTIONS: OnceLock<Option<Arc<FunctionCache>>> = OnceLock::new();
    FUNCTIONS.get_or_init(|| Some(Arc::new(FunctionCache::new(cache_dir()?, cache_mac::key()?)))).as_ref()
}

/// sha256 of a component, lowercase hex.
pub use crate::util::sha256_hex;

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
    let compat = compat_hash(engine);
    let context = cache_mac::Context { digest, compat: &compat };
    let entry = cache_mac::key().and_then(|key| Some(Entry::new(&cache_dir()?, &context, key)));
    if let Some(component) = entry.as_ref().and_then(|e| e.load(engine, &context)) {
        return Ok(component);
    }
    // Another cortado of this user compiling the same component (parallel CI jobs on one machine,
    // a test suite) is waited for, not repeated: a lock per entry while compiling, then a second look.
    let _compiling = entry.as_ref().and_then(Entry::lock);
    if _compiling.is_some()
        && let Some(component) = entry.as_ref().and_then(|e| e.load(engine, &context))
    {
        return Ok(component);
    }
    let component = Component::from_binary(engine, bytes).map_err(|e| anyhow::anyhow!("compiling the component: {e:#}"))?;
    if let Some(e) = &entry {
        e.store(&context, &component);
        tracing::debug!("compile cache: compiled {digest} into {}", e.artifact.display());
    }
    if let Some(functions) = function_cache() {
        let written = functions.write_pack(digest);
        tracing::debug!("compile cache: {written} newly compiled function(s) of {digest} kept for other components");
    }
    Ok(component)
}

/// How long a cortado waits for another one compiling the same component: longer than the largest
/// component takes on a loaded machine, short enough that a stuck process holds nobody for long.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// One cache entry: the artifact and its MAC, under this user's key.
struct Entry<'k> {
    artifact: PathBuf,
    mac: PathBuf,
    key: &'k [u8; 32],
    key_id: String,
}

impl<'k> Entry<'k> {
    fn new(dir: &Path, ctx: &cache_mac::Context, key: &'k [u8; 32]) -> Self {
        let key_id = cache_mac::key_id(key);
        let name = format!("{}-{}-{key_id}", ctx.digest, ctx.compat);
        Entry { artifact: dir.join(format!("{name}.cwasm")), mac: dir.join(format!("{name}.mac")), key, key_id }
    }

    /// An exclusive lock on `NAME.lock` beside the entry, held while compiling it (released when the
    /// file is dropped, or when the process ends). None when it cannot be taken: after
    /// [`LOCK_WAIT`], or when the file cannot be opened, the component is compiled without it.
    fn lock(&self) -> Option<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.artifact.with_extension("lock");
        // The first compile in a fresh cache creates its directory here, not only when storing.
        let _ = cache_mac::private_dir(path.parent()?);
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).ok()?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(50)),
                Err(_) => {
                    tracing::warn!("compile cache: {} is still locked by another cortado; compiling without waiting", path.display());
                    return None;
                }
            }
        }
    }

    /// The cached component, when the entry exists and verifies.
    fn load(&self, engine: &Engine, ctx: &cache_mac::Context) -> Option<Component> {
        let tag = match std::fs::read(&self.mac) {
            Ok(tag) => tag,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return skip(&self.mac, e),
        };
        let file = match std::fs::File::open(&self.artifact) {
            Ok(f) => f,
            Err(e) => return skip(&self.artifact, e),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return skip(&self.artifact, e),
        };
        // One open file, read once: the bytes whose MAC is checked are the bytes deserialized.
        // Nothing is reopened by path after the check (a path can be swapped; these bytes cannot).
        let loaded = self.load_read(engine, ctx, file, &tag);
        match loaded {
            Ok(component) => {
                cache_gc::touch_if_old(&self.artifact, &meta, std::time::SystemTime::now());
                Some(component)
            }
            Err(why) => {
                tracing::warn!("compile cache: {} {why}; recompiling it, not loading it", self.artifact.display());
                None
            }
        }
    }

    /// Read once into memory: the bytes verified are the bytes deserialized.
    fn load_read(&self, engine: &Engine, ctx: &cache_mac::Context, mut file: std::fs::File, tag: &[u8]) -> Result<Component, String> {
        use std::io::Read;
        let mut artifact = Vec::new();
        file.read_to_end(&mut artifact).map_err(|e| format!("cannot be read ({e})"))?;
        cache_mac::verify(self.key, ctx, &artifact, tag)?;
        // SAFETY: the MAC of these very bytes verified under this user's key for this component's
        // sha256 and this engine: only this user's cortado wrote them, with `Component::serialize`.
        unsafe { Component::deserialize(engine, &artifact) }.map_err(|e| format!("is unusable ({e:#})"))
    }

    /// Writes the entry: the old MAC is removed first and the new one written last, so an
    /// interrupted or concurrent write leaves an entry that is recompiled, never one that loads.
    fn store(&self, ctx: &cache_mac::Context, component: &Component) {
        let (Ok(serialized), Some(dir)) = (component.serialize(), self.artifact.parent()) else { return };
        let _ = cache_mac::private_dir(dir);
        let _ = std::fs::remove_file(&self.mac);
        let tag = cache_mac::mac(self.key, ctx, &serialized);
        let _ = replace(&self.artifact, &serialized) && replace(&self.mac, &tag);
        // A compile is rare (a new plugin, cortado or wasmtime): the time to sweep what such
        // changes left behind.
        cache_gc::prune(dir, &self.key_id, std::time::SystemTime::now());
    }
}

fn skip<T>(path: &Path, e: std::io::Error) -> Option<T> {
    tracing::debug!("cannot read cache entry {}: {e}", path.display());
    None
}

/// Writes `bytes` aside (owner-only) and renames them over `path`.
pub(super) fn replace(path: &Path, bytes: &[u8]) -> bool {
    let Some(name) = path.file_name() else { return false };
    let tmp = path.with_file_name(format!("{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let written = cache_mac::write_private(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_ok();
    if !written {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
