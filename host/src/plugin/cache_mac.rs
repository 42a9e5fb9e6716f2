//! Authentication of the compile cache: every cached `.cwasm` is native code that wasmtime runs
//! without verifying it, so each entry carries a MAC (keyed BLAKE3) under a per-user key, checked
//! before the artifact is deserialized.
//!
//! - The key is 32 random bytes in `$XDG_CONFIG_HOME/cortado/cache.key` (else
//!   `~/.config/cortado/cache.key`): outside the cache directory, so a restored or shared cache
//!   (a CI cache from another branch, a copied `~/.cache`) brings artifacts but never their key.
//!   It is created on first use with mode 0600 (its directory 0700), and used only while it is a
//!   regular file (not a symlink) owned by the current user with no group or other permission
//!   bits; otherwise the cache is not used at all (every plugin is compiled in memory) and a
//!   warning says why.
//! - An entry is two files: `NAME.cwasm`, the artifact exactly as `Component::serialize` wrote
//!   it, and `NAME.mac`, its MAC. The MAC covers a version tag, cortado's version, the
//!   component's sha256, the engine's compatibility hash (wasmtime's version and configuration)
//!   and the artifact bytes; so an artifact of another component, engine or user does not verify.
//! - Entries are named with [`key_id`], a public tag of the key: users (or HOMEs, as in CI jobs
//!   and tests) that share one cache directory keep separate entries instead of overwriting each
//!   other's and recompiling at every run.
//! - Loading (see `runtime::load_component`): the artifact is opened once and read once into
//!   memory; the MAC is checked over those bytes and those same bytes are deserialized. The file
//!   is never reopened or mapped by path after the check, so swapping it in between changes
//!   nothing that is loaded.
//!
//! Keyed BLAKE3 rather than HMAC-SHA256: the check runs at every load of every plugin, over
//! artifacts of 1–40 MB, and BLAKE3 is several times faster here (README "Benchmarks"); as a keyed
//! hash it is a PRF, which is what a MAC needs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const MAC_LEN: usize = blake3::OUT_LEN;
const KEY_LEN: usize = blake3::KEY_LEN;
const TAG: &[u8] = b"cortado compile cache v2\0";

/// What an artifact is bound to besides its bytes.
pub struct Context<'a> {
    /// sha256 of the component the artifact was compiled from.
    pub digest: &'a str,
    /// The engine's compatibility hash.
    pub compat: &'a str,
}

/// The MAC of `artifact` in `ctx` under `key`.
pub fn mac(key: &[u8; KEY_LEN], ctx: &Context, artifact: &[u8]) -> [u8; MAC_LEN] {
    let mut m = blake3::Hasher::new_keyed(key);
    for part in [TAG, env!("CARGO_PKG_VERSION").as_bytes(), ctx.digest.as_bytes(), ctx.compat.as_bytes()] {
        m.update(&(part.len() as u64).to_le_bytes());
        m.update(part);
    }
    m.update(artifact);
    *m.finalize().as_bytes()
}

/// Whether `tag` is the MAC of `artifact` (compared in constant time), or why not.
pub fn verify(key: &[u8; KEY_LEN], ctx: &Context, artifact: &[u8], tag: &[u8]) -> Result<(), &'static str> {
    let tag = <[u8; MAC_LEN]>::try_from(tag).map_err(|_| "has a malformed MAC")?;
    // `blake3::Hash`'s equality is constant-time.
    if blake3::Hash::from_bytes(mac(key, ctx, artifact)) != blake3::Hash::from_bytes(tag) {
        return Err("failed its integrity check (not written by this user's cortado for this component and engine)");
    }
    Ok(())
}

/// A public name for the key (16 hex digits), put in entry file names; it reveals nothing of the
/// key (a keyed hash of a constant).
pub fn key_id(key: &[u8; KEY_LEN]) -> String {
    hex::encode(&blake3::keyed_hash(key, b"cortado compile cache key id").as_bytes()[..8])
}

/// Whether only the current user (or root) can change what `meta` describes: owned by the
/// effective user, not writable by group or others.
pub fn owner_only(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    meta.uid() == unsafe { libc::geteuid() } && meta.mode() & 0o022 == 0
}

/// Where the key lives: `$XDG_CONFIG_HOME/cortado/cache.key`, else `~/.config/cortado/cache.key`.
pub fn key_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("cortado/cache.key"))
}

/// The process's cache key, loaded (or created) once; `None` when the cache must not be used.
pub fn key() -> Option<&'static [u8; KEY_LEN]> {
    static KEY: OnceLock<Option<[u8; KEY_LEN]>> = OnceLock::new();
    KEY.get_or_init(|| {
        let path = key_path()?;
        match load_or_create(&path) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!("compile cache disabled: {}: {e}", path.display());
                None
            }
        }
    })
    .as_ref()
}

fn load_or_create(path: &Path) -> Result<[u8; KEY_LEN], String> {
    match check_and_read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => return other.map_err(|e| e.to_string()),
    }
    let dir = path.parent().ok_or("no parent directory")?;
    private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut key = [0u8; KEY_LEN];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).map_err(|e| format!("no randomness for the key: {e}"))?;
    // Written aside, then linked into place: the link fails if another process made the key
    // first, and nobody ever reads a half-written key.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    write_private(&tmp, &key).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_and_read(path).map_err(|e| e.to_string()),
        Err(e) => Err(format!("cannot create the key: {e}")),
    }
}

/// The key, after checking that only the current user could have written or read it.
fn check_and_read(path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    use std::os::unix::fs::MetadataExt;
    let bad = |why: String| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why);
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(bad("refusing the compile-cache key: not a regular file".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(bad(format!("refusing the compile-cache key: owned by uid {}, not {me}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(bad(format!("refusing the compile-cache key: mode {:o} lets others read or write it (chmod 600 it)", meta.mode() & 0o777)));
    }
    let bytes = std::fs::read(path)?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| bad(format!("refusing the compile-cache key: {} bytes, not {KEY_LEN}", bytes.len())))
}

/// Creates `dir` (and missing parents) with mode 0700.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes a new file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_verifies_only_for_its_key_component_and_engine() {
        let key = [7u8; KEY_LEN];
        let ctx = Context { digest: "abc", compat: "0011" };
        let tag = mac(&key, &ctx, b"native code");
        assert_eq!(verify(&key, &ctx, b"native code", &tag), Ok(()));
        assert!(verify(&[8u8; KEY_LEN], &ctx, b"native code", &tag).is_err(), "another user's key");
        assert!(verify(&key, &Context { digest: "abd", compat: "0011" }, b"native code", &tag).is_err(), "another component");
        assert!(verify(&key, &Context { digest: "abc", compat: "0012" }, b"native code", &tag).is_err(), "another engine");
        assert!(verify(&key, &ctx, b"native codf", &tag).is_err(), "edited artifact");
        assert!(verify(&key, &ctx, b"native code", &tag[..MAC_LEN - 1]).is_err(), "short MAC");
        assert_ne!(key_id(&key), key_id(&[8u8; KEY_LEN]));
        assert_eq!(key_id(&key).len(), 16);
    }

    #[test]
    fn a_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("cortado-key-test-{}", std::process::id()));
        let path = dir.join("cortado/cache.key");
        let key = load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), key, "the same key is read back");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(e.contains("mode 644"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
