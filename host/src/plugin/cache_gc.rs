//! Keeps the compile cache from growing without bound: every cortado or wasmtime upgrade and every
//! new plugin version leaves its old artifacts behind (a Python component's is ~40 MB).
//!
//! A cache hit refreshes its entry's modification time (at most once a day, so a hit costs no
//! write); each compile that stores an entry then removes this user's entries unused for
//! [`STALE_AFTER`], entries of the previous format (`SHA256-ENGINE.cwasm`, which no longer load),
//! and temporary files left by interrupted writes. Only files the current user owns and whose names
//! have the cache's shape are removed; other users' entries in a shared directory are theirs to prune.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Entries not used for this long are removed by the next compile into the same directory.
const STALE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);
/// A cache hit refreshes the entry's modification time when it is older than this.
const TOUCH_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Temporary files (`NAME.tmpPID`) older than this belong to a write that was interrupted.
const TMP_AFTER: Duration = Duration::from_secs(3600);

/// Marks an entry as used (its `.cwasm`'s mtime), when the last mark is a day old.
pub fn touch_if_old(artifact: &Path, meta: &std::fs::Metadata, now: SystemTime) {
    let old = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age > TOUCH_EVERY);
    if old && let Ok(f) = std::fs::File::options().append(true).open(artifact) {
        let _ = f.set_modified(now);
    }
}

/// What a file of the cache directory is, from its name.
#[derive(Debug, PartialEq)]
enum Kind {
    /// `SHA256-ENGINE-KEYID.cwasm`, `.mac`, `.lock` (held while compiling) or `.fnpack` (the
    /// functions its compile added, [`super::fn_cache`]) of this key.
    Ours,
    /// `SHA256-ENGINE.cwasm`: the format before MACs lived beside the artifact.
    Legacy,
    /// `NAME.cwasm.tmpPID`, `NAME.mac.tmpPID` or `NAME.fnpack.tmpPID`.
    Temporary,
    /// Another key's entry, or not the cache's at all.
    Other,
}

fn kind(name: &str, key_id: &str) -> Kind {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some((entry, pid)) = name.rsplit_once(".tmp") {
        let is_entry = entry.ends_with(".cwasm") || entry.ends_with(".mac") || entry.ends_with(".fnpack");
        let digest = entry.get(..64).unwrap_or_default();
        return if is_entry && hex(digest, 64) && pid.bytes().all(|b| b.is_ascii_digit()) { Kind::Temporary } else { Kind::Other };
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let parts: Vec<&str> = stem.split('-').collect();
    match (parts.as_slice(), ext) {
        ([d, c, k], "cwasm" | "mac" | "lock" | "fnpack") if hex(d, 64) && hex(c, 16) && *k == key_id => Kind::Ours,
        ([d, c], "cwasm") if hex(d, 64) && hex(c, 16) => Kind::Legacy,
        _ => Kind::Other,
    }
}

/// Removes this user's stale entries, legacy entries and leftover temporary files from `dir`;
/// returns how many files were removed.
pub fn prune(dir: &Path, key_id: &str, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        let limit = match kind(&name, key_id) {
            Kind::Ours | Kind::Legacy => STALE_AFTER,
            Kind::Temporary => TMP_AFTER,
            Kind::Other => continue,
        };
        // A MAC is as old as its artifact (whose mtime a hit refreshes); without one it is an
        // orphan (an entry's artifact is always written before its MAC).
        let dated = match name.strip_suffix(".mac") {
            Some(stem) => std::fs::metadata(dir.join(format!("{stem}.cwasm"))).ok(),
            None => Some(meta.clone()),
        };
        let age = match dated {
            Some(d) => d.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default(),
            None => Duration::MAX,
        };
        if age > limit && meta.is_file() && super::cache_mac::owner_only(&meta) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::debug!("compile cache: removed {removed} stale file(s) from {}", dir.display());
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "f94f0c70ef055d595a6971f2581144b4a0975cad169ff7235fcdf178da612c6e";

    #[test]
    fn names_are_classified_by_shape() {
        let key = "0123456789abcdef";
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-{key}.cwasm"), key), Kind::Ours);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-{key}.mac"), key), Kind::Ours);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-{key}.fnpack"), key), Kind::Ours);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-{key}.fnpack.tmp4242"), key), Kind::Temporary);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-fedcba9876543210.cwasm"), key), Kind::Other);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb.cwasm"), key), Kind::Legacy);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-{key}.cwasm.tmp4242"), key), Kind::Temporary);
        assert_eq!(kind("notes.txt", key), Kind::Other);
        assert_eq!(kind(&format!("{D}-9251c85941f77eeb-{key}.cwasm.tmpx"), key), Kind::Other);
    }

    #[test]
    fn stale_legacy_and_leftover_files_go_fresh_and_foreign_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let key = "0123456789abcdef";
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        let file = |name: &str, age: Duration| {
            let f = std::fs::File::create(dir.path().join(name)).unwrap();
            f.set_modified(now - age).unwrap();
        };
        let ours = |c: &str, ext: &str| format!("{D}-{c}-{key}.{ext}");
        file(&ours("0000000000000001", "cwasm"), 40 * day); // stale: goes, with its MAC
        file(&ours("0000000000000001", "mac"), Duration::ZERO);
        file(&ours("0000000000000002", "cwasm"), 2 * day); // in use: stays
        file(&ours("0000000000000002", "mac"), 2 * day);
        file(&format!("{D}-0000000000000003.cwasm"), 40 * day); // legacy: goes
        file(&format!("{D}-0000000000000004-fedcba9876543210.cwasm"), 400 * day); // another key's: stays
        file(&format!("{}.tmp77", ours("0000000000000005", "cwasm")), 2 * day); // interrupted write: goes
        file("README", 400 * day); // not the cache's: stays
        assert_eq!(prune(dir.path(), key, now), 4);
        let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "README".to_owned(),
                ours("0000000000000002", "cwasm"),
                ours("0000000000000002", "mac"),
                format!("{D}-0000000000000004-fedcba9876543210.cwasm")
            ]
        );
    }

    #[test]
    fn a_hit_refreshes_an_entry_at_most_daily() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.cwasm");
        let now = SystemTime::now();
        let f = std::fs::File::create(&path).unwrap();
        f.set_modified(now - Duration::from_secs(3600)).unwrap();
        touch_if_old(&path, &std::fs::metadata(&path).unwrap(), now);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), now - Duration::from_secs(3600), "an hour old: untouched");
        f.set_modified(now - 3 * TOUCH_EVERY).unwrap();
        touch_if_old(&path, &std::fs::metadata(&path).unwrap(), now);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), now);
    }
}
