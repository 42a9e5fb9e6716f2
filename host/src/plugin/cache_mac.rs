//! Authentication of the compile cache: every cached `.cwasm` is native code that wasmtime runs
//! without verifying it, so each entry carries an HMAC-SHA256 under a per-user key, checked before
//! the artifact is deserialized.
//!
//! - The key is 32 random bytes in `$XDG_CONFIG_HOME/cortado/cache.key` (else
//!   `~/.config/cortado/cache.key`): outside the cache directory, so a restored or shared cache
//!   (a CI cache from another branch, a copied `~/.cache`) brings artifacts but never their key.
//!   It is created on first use with mode 0600 (its directory 0700), and used only while it is a
//!   regular file (not a symlink) owned by the current user with no group or other permission
//!   bits; otherwise the cache is not used at all (every plugin is compiled in memory) and a
//!   warning says why.
//! - An entry is `MAC || artifact`. The MAC covers a version tag, cortado's version, the
//!   component's sha256, the engine's compatibility hash (wasmtime's version and configuration)
//!   and the artifact bytes; so an artifact of another component, engine or user does not verify.
//! - The bytes verified are the bytes deserialized (read once into memory): no window in which
//!   the file could be swapped between the check and the load.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2_011::Sha256>;

const MAC_LEN: usize = 32;
const KEY_LEN: usize = 32;
const TAG: &[u8] = b"cortado compile cache v1\0";

/// What an artifact is bound to besides its bytes.
pub struct Context<'a> {
    /// sha256 of the component the artifact was compiled from.
    pub digest: &'a str,
    /// The engine's compatibility hash.
    pub compat: &'a str,
}

fn mac(key: &[u8; KEY_LEN], ctx: &Context, artifact: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [TAG, env!("CARGO_PKG_VERSION").as_bytes(), ctx.digest.as_bytes(), ctx.compat.as_bytes()] {
        m.update(&(part.len() as u64).to_le_bytes());
        m.update(part);
    }
    m.update(artifact);
    m
}

/// `MAC || artifact`, the bytes a cache entry holds.
pub fn seal(key: &[u8; KEY_LEN], ctx: &Context, artifact: &[u8]) -> Vec<u8> {
    let tag = mac(key, ctx, artifact).finalize().into_bytes();
    let mut out = Vec::with_capacity(MAC_LEN + artifact.len());
    out.extend_from_slice(&tag);
    out.extend_from_slice(artifact);
    out
}

/// The artifact of a cache entry whose MAC verifies (compared in constant time), or why not.
pub fn open<'f>(key: &[u8; KEY_LEN], ctx: &Context, file: &'f [u8]) -> Result<&'f [u8], &'static str> {
    if file.len() <= MAC_LEN {
        return Err("is too short to hold an authenticated artifact");
    }
    let (tag, artifact) = file.split_at(MAC_LEN);
    mac(key, ctx, artifact).verify_slice(tag).map_err(|_| "failed its integrity check (not written by this user's cortado for this component and engine)")?;
    Ok(artifact)
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
        let sealed = seal(&key, &ctx, b"native code");
        assert_eq!(open(&key, &ctx, &sealed), Ok(&b"native code"[..]));
        assert!(open(&[8u8; KEY_LEN], &ctx, &sealed).is_err(), "another user's key");
        assert!(open(&key, &Context { digest: "abd", compat: "0011" }, &sealed).is_err(), "another component");
        assert!(open(&key, &Context { digest: "abc", compat: "0012" }, &sealed).is_err(), "another engine");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&key, &ctx, &tampered).is_err(), "edited artifact");
        assert!(open(&key, &ctx, &sealed[..MAC_LEN]).is_err(), "no artifact");
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
