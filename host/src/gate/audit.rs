//! The audit log: a write-ahead record of every gated command. Before the first mutation a
//! `decision` record (the plan's digest and mutations, each gate's verdict) is appended and
//! fsynced; after the command an `outcome` record (what changed, the result, the error) is chained
//! to it. An interrupted apply leaves a decision without an outcome, and [`verify`] names it.
//!
//! Each record carries `prev` (the previous record's hash) and `hash` (sha256 of the record's
//! canonical JSON, RFC 8785, without `hash`), so an altered, removed or reordered record breaks the
//! chain. Appending takes an exclusive lock on the file and reads the head under it, so concurrent
//! cortado processes never fork the chain.
//!
//! A chain alone proves only that it is self-consistent: whoever can write the file can edit a
//! record and re-hash everything after it, or cut the tail off, and the result verifies. It proves
//! something against a head kept elsewhere: cortado prints the head after each decision (CI logs),
//! puts it into each signed evidence statement, and `cortado audit head` prints it on demand;
//! `audit verify --expect-head HASH` then checks that the chain still passes through that head
//! ([`anchor`]), so every record up to it is exactly what was written then.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct AuditLog {
    pub path: PathBuf,
}

pub use crate::util::sha256_hex;

/// RFC 8785 (JCS) serialisation: object keys sorted by their UTF-16 code units, no white space,
/// strings escaped as ECMAScript's JSON.stringify does (which serde_json matches), integers as
/// integers. Records hold no non-integer numbers but wait times; those use the shortest form that
/// round-trips (ECMAScript's rule for the values cortado writes).
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => out.push_str(&format!("{f:.0}")),
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// The hash of a record: sha256 of its canonical JSON without the `hash` field.
pub fn record_hash(record: &Map<String, Value>) -> String {
    let mut r = record.clone();
    r.remove("hash");
    sha256_hex(canonical(&Value::Object(r)).as_bytes())
}

impl AuditLog {
    /// Appends a record after the current head, under an exclusive lock, and fsyncs it. Returns the
    /// record's hash (the new head). Any failure is an error: the caller must not go on.
    pub fn append(&self, mut record: Map<String, Value>) -> Result<String> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let ctx = || format!("audit log {}", self.path.display());
        let mut f: File = OpenOptions::new().read(true).append(true).create(true).open(&self.path).with_context(ctx)?;
        f.lock().with_context(|| format!("locking {}", ctx()))?;
        let mut text = String::new();
        f.seek(SeekFrom::Start(0)).with_context(ctx)?;
        f.read_to_string(&mut text).with_context(|| format!("reading {}", ctx()))?;
        let prev = match text.lines().rfind(|l| !l.trim().is_empty()) {
            Some(last) => serde_json::from_str::<Value>(last)
                .ok()
                .and_then(|v| v.get("hash").and_then(Value::as_str).map(str::to_owned))
                .with_context(|| format!("{}: the last record has no hash; run `cortado audit verify`", ctx()))?,
            None => GENESIS.to_owned(),
        };
        // A run with a plugin outside the sandbox says so in every record it writes.
        let unsandboxed = crate::plugin::external::unsandboxed();
        if !unsandboxed.is_empty() {
            record.insert("unsandboxed_plugins".into(), unsandboxed.iter().map(|n| Value::String(n.clone())).collect());
        }
        record.insert("prev".into(), Value::String(prev));
        let hash = record_hash(&record);
        record.insert("hash".into(), Value::String(hash.clone()));
        let mut line = canonical(&Value::Object(record));
        line.push('\n');
        if !text.is_empty() && !text.ends_with('\n') {
            line.insert(0, '\n');
        }
        f.write_all(line.as_bytes()).with_context(|| format!("writing {}", ctx()))?;
        f.sync_all().with_context(|| format!("fsync of {}", ctx()))?;
        f.unlock().with_context(|| format!("unlocking {}", ctx()))?;
        Ok(hash)
    }
}

/// A decision that was approved (not a dry run) but has no outcome record.
#[derive(Debug, PartialEq, Eq)]
pub struct Open {
    pub line: usize,
    pub run_id: String,
    pub command: String,
}

/// The result of checking a chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every record fits; the head hash, the count, and decisions without an outcome.
    Intact { records: usize, head: String, open: Vec<Open> },
    /// The first record (1-based line) that does not fit, and why.
    Broken { line: usize, reason: String },
}

pub fn verify(path: &Path) -> Result<Verdict> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    let mut decisions: BTreeMap<String, Open> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
            return Ok(Verdict::Broken { line: lineno, reason: "not a JSON object".into() });
        };
        let claimed_prev = record.get("prev").and_then(Value::as_str).unwrap_or("");
        if claimed_prev != prev {
            let reason = if count == 0 && claimed_prev != GENESIS {
                "the first record does not start the chain: records before it were removed".to_owned()
            } else {
                "its `prev` does not match the record before it: that record was altered, or records between them were removed or reordered".to_owned()
            };
            return Ok(Verdict::Broken { line: lineno, reason });
        }
        let claimed_hash = record.get("hash").and_then(Value::as_str).unwrap_or("");
        if claimed_hash != record_hash(&record) {
            return Ok(Verdict::Broken { line: lineno, reason: "its content does not match its `hash`: this record was altered".into() });
        }
        let s = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match s("kind").as_str() {
            "decision" if s("outcome") == "approved" && record.get("dry_run") != Some(&Value::Bool(true)) => {
                decisions.insert(claimed_hash.to_owned(), Open { line: lineno, run_id: s("run_id"), command: s("command") });
            }
            "outcome" => {
                decisions.remove(&s("decision"));
            }
            _ => {}
        }
        prev = claimed_hash.to_owned();
        count += 1;
    }
    let mut open: Vec<Open> = decisions.into_values().collect();
    open.sort_by_key(|o| o.line);
    Ok(Verdict::Intact { records: count, head: prev, open })
}

/// The hashes of the records of the chain at `path`, in order (for anchoring; verify it first).
pub fn hashes(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).ok().and_then(|v| v.get("hash").and_then(Value::as_str).map(str::to_owned)).unwrap_or_default())
        .collect())
}

/// How an intact chain relates to a head taken earlier (`audit head`, an evidence statement).
#[derive(Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The chain ends at the expected head.
    Reaches,
    /// The chain passes through the expected head (record `at`, 1-based) and goes on for `more`.
    Extends { at: usize, more: usize },
    /// No record has that hash: the chain was rewritten or truncated since the head was taken.
    Missing,
}

/// Where `expected` is in the chain whose record hashes are `hashes`.
pub fn anchor(hashes: &[String], expected: &str) -> Anchor {
    match hashes.iter().position(|h| h.eq_ignore_ascii_case(expected)) {
        Some(i) if i + 1 == hashes.len() => Anchor::Reaches,
        Some(i) => Anchor::Extends { at: i + 1, more: hashes.len() - i - 1 },
        None => Anchor::Missing,
    }
}

/// The verdict of `--expect-head`: a line for the report, or the problem.
pub fn check_anchor(hashes: &[String], expected: &str, allow_extension: bool) -> Result<String, String> {
    match anchor(hashes, expected) {
        Anchor::Reaches => Ok(format!("reaches the expected head {expected} ({} records)", hashes.len())),
        Anchor::Extends { at, more } if allow_extension => {
            Ok(format!("passes through the expected head {expected} (record {at}) and extends it by {more} record(s) (--allow-extension)"))
        }
        Anchor::Extends { at, more } => Err(format!(
            "the chain passes through the expected head {expected} (record {at}) but has {more} record(s) after it; pass --allow-extension if appending since then is expected"
        )),
        Anchor::Missing => Err(format!(
            "the chain does not contain the expected head {expected}: it was rewritten or truncated since that head was taken ({} records now)",
            hashes.len()
        )),
    }
}

/// An expected head as given on the command line: 64 hex digits.
pub fn parse_head(text: &str) -> Result<String, String> {
    let t = text.trim().to_ascii_lowercase();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t)
    } else {
        Err(format!("--expect-head {text:?}: expected a record hash (64 hex digits)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(n: i64) -> Map<String, Value> {
        json!({"n": n, "decision": "allow"}).as_object().unwrap().clone()
    }

    #[test]
    fn canonical_json_sorts_keys_by_utf16_and_drops_white_space() {
        let v = json!({"b": [1, 2.0, "x\n"], "a": {"z": null, "\u{e000}": 1, "\u{1f600}": 2}, "c": true});
        assert_eq!(canonical(&v), "{\"a\":{\"z\":null,\"\u{1f600}\":2,\"\u{e000}\":1},\"b\":[1,2,\"x\\n\"],\"c\":true}");
    }

    #[test]
    fn a_chain_verifies_and_tampering_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog { path: dir.path().join("audit.jsonl") };
        for n in 0..4 {
            log.append(rec(n)).unwrap();
        }
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Intact { records: 4, .. }));
        let text = std::fs::read_to_string(&log.path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        let altered = text.replacen("\"n\":1", "\"n\":7", 1);
        std::fs::write(&log.path, &altered).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 2, .. }));

        let deleted = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        std::fs::write(&log.path, deleted).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 2, .. }));

        let reordered = format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3]);
        std::fs::write(&log.path, reordered).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 2, .. }));

        let last = format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[2], lines[3].replace("allow", "deny"));
        std::fs::write(&log.path, last).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 4, .. }));

        std::fs::write(&log.path, format!("{}\n{}\n", lines[1], lines[2])).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 1, .. }));
    }

    #[test]
    fn an_anchor_catches_rewrites_truncation_and_extension() {
        let h = |n: &str| n.repeat(64);
        let chain = vec![h("a"), h("b"), h("c")];
        assert_eq!(anchor(&chain, &h("c")), Anchor::Reaches);
        assert_eq!(anchor(&chain, &h("b")), Anchor::Extends { at: 2, more: 1 });
        assert_eq!(anchor(&chain, &h("d")), Anchor::Missing);
        assert!(check_anchor(&chain, &h("b"), false).is_err());
        assert!(check_anchor(&chain, &h("b"), true).is_ok());
        assert!(parse_head("xyz").is_err());
    }

    #[test]
    fn a_decision_without_outcome_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog { path: dir.path().join("audit.jsonl") };
        let d = |id: &str| json!({"kind": "decision", "outcome": "approved", "run_id": id, "command": "deploy"}).as_object().unwrap().clone();
        let first = log.append(d("r1")).unwrap();
        log.append(d("r2")).unwrap();
        log.append(json!({"kind": "outcome", "decision": first}).as_object().unwrap().clone()).unwrap();
        match verify(&log.path).unwrap() {
            Verdict::Intact { records: 3, open, .. } => assert_eq!(open, vec![Open { line: 2, run_id: "r2".into(), command: "deploy".into() }]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn concurrent_appends_never_fork_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let log = AuditLog { path };
                    for n in 0..25 {
                        log.append(rec(t * 100 + n)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(matches!(verify(&path).unwrap(), Verdict::Intact { records: 200, .. }));
    }
}
