//! Compiled functions shared between components: cranelift's incremental compilation cache, kept
//! on disk beside the compiled components.
//!
//! Components built by one toolchain share most of their code: every componentize-py component
//! carries the same CPython, every componentize-js one the same StarlingMonkey engine. Without this
//! cache each new component (a new plugin, or a new version of one) compiles all of that again:
//! seconds of CPU per component. With it, cranelift first looks each function up by its own key (a
//! sha256 of the function's IR and the target ISA and flags) and compiles only what it has not seen.
//!
//! What is cached is compiled code that wasmtime turns into machine code without further checks, so
//! it is authenticated like the compile cache ([`super::cache_mac`]): the functions a compile added
//! are written, once it ends, as one pack `SHA256-ENGINE-KEYID.fnpack` (the component's sha256, the
//! engine's compatibility hash, the key's id) whose MAC binds its bytes to this user's key, cortado's
//! version and the engine. A compile loads every pack of this key and engine whose MAC verifies; a
//! pack that does not is ignored with a warning, never read further. Packs are pruned with the rest
//! of the cache ([`super::cache_gc`]).
//!
//! Pack layout: `MAGIC`, then entries `u32 key length, key, u32 value length, value` (little-endian);
//! its MAC is the `.fnpack` file's last 32 bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::cache_mac;

const MAGIC: &[u8] = b"cortado fnpack 1\n";
const MAC_LEN: usize = 32;
/// A pack larger than this is not read (the largest, a JavaScript engine's, is tens of MB).
const MAX_PACK: u64 = 512 << 20;

/// The store cranelift consults through `wasmtime::Config::enable_incremental_compilation`.
#[derive(Debug)]
pub struct FunctionCache {
    dir: PathBuf,
    key: &'static [u8; 32],
    key_id: String,
    /// The engine's compatibility hash: known only once the engine exists, before any compile.
    compat: OnceLock<String>,
    /// Every verified pack's functions, read at the first lookup (a process that compiles nothing
    /// reads nothing) and lent out without a copy.
    packs: OnceLock<HashMap<Vec<u8>, Vec<u8>>>,
    /// Every function this process compiled: a run that compiles two new components shares between
    /// them too.
    compiled: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// The keys of the functions compiled since the last pack was written (their code is in `compiled`).
    fresh: Mutex<Vec<Vec<u8>>>,
}

/// Cache keys and compiled functions, as a pack holds them.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

impl FunctionCache {
    pub fn new(dir: PathBuf, key: &'static [u8; 32]) -> Self {
        FunctionCache {
            dir,
            key,
            key_id: cache_mac::key_id(key),
            compat: OnceLock::new(),
            packs: OnceLock::new(),
            compiled: Mutex::default(),
            fresh: Mutex::default(),
        }
    }

    /// Binds the cache to the engine whose compatibility hash is `compat`.
    pub fn set_compat(&self, compat: String) {
        let _ = self.compat.set(compat);
    }

    fn mac_context(&self, digest: &str) -> (String, &str) {
        (format!("fnpack:{digest}"), self.compat.get().map(String::as_str).unwrap_or_default())
    }

    /// Writes the functions compiled since the last call as the pack of component `digest`, and
    /// forgets them. Returns how many were written.
    pub fn write_pack(&self, digest: &str) -> usize {
        let fresh = std::mem::take(&mut *self.fresh.lock().unwrap_or_else(|p| p.into_inner()));
        if fresh.is_empty() || self.compat.get().is_none() {
            return 0;
        }
        let mut bytes = MAGIC.to_vec();
        {
            let compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
            for (k, v) in fresh.iter().filter_map(|k| Some((k, compiled.get(k)?))) {
                for part in [k, v] {
                    bytes.extend_from_slice(&(part.len() as u32).to_le_bytes());
                    bytes.extend_from_slice(part);
                }
            }
        }
        let (ctx_digest, compat) = self.mac_context(digest);
        let tag = cache_mac::mac(self.key, &cache_mac::Context { digest: &ctx_digest, compat }, &bytes);
        bytes.extend_from_slice(&tag);
        let path = self.dir.join(format!("{digest}-{compat}-{}.fnpack", self.key_id));
        let _ = cache_mac::private_dir(&self.dir);
        if super::runtime::replace(&path, &bytes) { fresh.len() } else { 0 }
    }

    /// Every pack of this key and engine that verifies, merged.
    fn load_packs(&self) -> HashMap<Vec<u8>, Vec<u8>> {
        let mut known = HashMap::new();
        let Some(compat) = self.compat.get() else { return known };
        let suffix = format!("-{compat}-{}.fnpack", self.key_id);
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return known };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(digest) = name.strip_suffix(&suffix) else { continue };
            match self.read_pack(&entry.path(), digest) {
                Ok(functions) => {
                    // Used: kept by the next prune as long as the components it serves are.
                    if let Ok(meta) = entry.metadata() {
                        super::cache_gc::touch_if_old(&entry.path(), &meta, std::time::SystemTime::now());
                    }
                    known.extend(functions)
                }
                Err(why) => tracing::warn!("compile cache: {} {why}; not using it", entry.path().display()),
            }
        }
        known
    }

    /// The functions of one pack, once its MAC verified over the very bytes parsed.
    fn read_pack(&self, path: &Path, digest: &str) -> Result<Entries, String> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
        let mut bytes = Vec::new();
        file.take(MAX_PACK + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot be read ({e})"))?;
        if bytes.len() as u64 > MAX_PACK || bytes.len() < MAGIC.len() + MAC_LEN {
            return Err(format!("has an implausible size ({} bytes)", bytes.len()));
        }
        let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let (ctx_digest, compat) = self.mac_context(digest);
        cache_mac::verify(self.key, &cache_mac::Context { digest: &ctx_digest, compat }, body, tag)?;
        parse(body).ok_or_else(|| "is malformed".to_owned())
    }
}

/// A pack's entries (without its MAC); None when it is not one.
fn parse(body: &[u8]) -> Option<Entries> {
    let mut rest = body.strip_prefix(MAGIC)?;
    let take = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let part = rest.get(4..4 + len)?.to_vec();
        *rest = &rest[4 + len..];
        Some(part)
    };
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let k = take(&mut rest)?;
        let v = take(&mut rest)?;
        entries.push((k, v));
    }
    Some(entries)
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        if let Some(code) = self.packs.get_or_init(|| self.load_packs()).get(key) {
            return Some(Cow::Borrowed(code.as_slice()));
        }
        // Compiled earlier in this process: behind a lock, so a copy.
        self.compiled.lock().unwrap_or_else(|p| p.into_inner()).get(key).map(|v| Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.compiled.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_vec(), value);
        self.fresh.lock().unwrap_or_else(|p| p.into_inner()).push(key.to_vec());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::CacheStore;

    static KEY: [u8; 32] = [3; 32];
    static OTHER: [u8; 32] = [4; 32];

    fn cache(dir: &Path, key: &'static [u8; 32]) -> FunctionCache {
        let c = FunctionCache::new(dir.to_path_buf(), key);
        c.set_compat("00112233aabbccdd".into());
        c
    }

    #[test]
    fn functions_compiled_for_one_component_are_found_by_the_next_process() {
        let dir = tempfile::tempdir().unwrap();
        let first = cache(dir.path(), &KEY);
        assert!(first.get(b"f1").is_none());
        first.insert(b"f1", b"code one".to_vec());
        first.insert(b"f2", vec![]);
        assert_eq!(first.write_pack("aa"), 2);
        assert_eq!(first.write_pack("aa"), 0, "nothing new");
        let next = cache(dir.path(), &KEY);
        assert_eq!(next.get(b"f1").as_deref(), Some(&b"code one"[..]));
        assert_eq!(next.get(b"f2").as_deref(), Some(&b""[..]));
        assert!(next.get(b"f3").is_none());
    }

    #[test]
    fn a_pack_of_another_key_engine_or_component_or_an_edited_one_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let first = cache(dir.path(), &KEY);
        first.insert(b"f1", b"code".to_vec());
        first.write_pack("aa");
        let path = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        assert!(cache(dir.path(), &OTHER).get(b"f1").is_none(), "another user's key");
        let other_engine = FunctionCache::new(dir.path().to_path_buf(), &KEY);
        other_engine.set_compat("ffffffffffffffff".into());
        assert!(other_engine.get(b"f1").is_none(), "another engine");
        // Renamed to another component's name: its MAC names the first one.
        let renamed = path.with_file_name(path.file_name().unwrap().to_string_lossy().replacen("aa", "bb", 1));
        std::fs::rename(&path, &renamed).unwrap();
        assert!(cache(dir.path(), &KEY).get(b"f1").is_none(), "renamed");
        std::fs::rename(&renamed, &path).unwrap();
        assert!(cache(dir.path(), &KEY).get(b"f1").is_some());
        let mut bytes = std::fs::read(&path).unwrap();
        let at = MAGIC.len() + 10;
        bytes[at] ^= 1;
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache(dir.path(), &KEY).get(b"f1").is_none(), "edited");
    }

    #[test]
    fn a_function_compiled_earlier_in_the_process_is_found_before_any_pack_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), &KEY);
        assert!(c.get(b"f1").is_none());
        c.insert(b"f1", b"code".to_vec());
        assert_eq!(c.get(b"f1").as_deref(), Some(&b"code"[..]));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert_eq!(parse(MAGIC), Some(vec![]));
        assert!(parse(b"not a pack").is_none());
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&10u32.to_le_bytes());
        body.extend_from_slice(b"short");
        assert!(parse(&body).is_none());
    }
}
