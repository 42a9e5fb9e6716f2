//! The audit log: one JSON line per gate decision, each carrying the sha256 of the line before it
//! (`prev`) and of its own content (`hash`), so that an altered or deleted line breaks the chain.
//! `cortado audit verify FILE` walks it and names the first record that does not fit.
//!
//! A hash chain proves integrity relative to its newest record: whoever can rewrite the whole file
//! can rewrite the chain. cortado therefore logs the head hash after each decision so that CI logs
//! (kept elsewhere) anchor it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct AuditLog {
    pub path: PathBuf,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash of a record: sha256 of its canonical JSON (sorted keys) without the `hash` field.
fn record_hash(record: &Map<String, Value>) -> String {
    let mut r = record.clone();
    r.remove("hash");
    sha256_hex(Value::Object(r).to_string().as_bytes())
}

impl AuditLog {
    /// Appends a record, chaining it to the last line. Returns the new head hash.
    pub fn append(&self, mut record: Map<String, Value>) -> Result<String> {
        let prev = match std::fs::read(&self.path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                match text.lines().rfind(|l| !l.trim().is_empty()) {
                    Some(last) => sha256_hex(last.as_bytes()),
                    None => GENESIS.to_owned(),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => GENESIS.to_owned(),
            Err(e) => return Err(e).with_context(|| format!("reading audit log {}", self.path.display())),
        };
        // A run with a plugin outside the sandbox says so in every record it writes.
        let unsandboxed = crate::plugin::external::unsandboxed();
        if !unsandboxed.is_empty() {
            record.insert("unsandboxed_plugins".into(), unsandboxed.iter().map(|n| Value::String(n.clone())).collect());
        }
        record.insert("prev".into(), Value::String(prev));
        let hash = record_hash(&record);
        record.insert("hash".into(), Value::String(hash));
        let line = Value::Object(record).to_string();
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut f =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.path).with_context(|| format!("opening audit log {}", self.path.display()))?;
        f.write_all(format!("{line}\n").as_bytes()).with_context(|| format!("writing audit log {}", self.path.display()))?;
        f.sync_data().ok();
        Ok(sha256_hex(line.as_bytes()))
    }
}

/// The result of checking a chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every record fits; the head hash and the count.
    Intact { records: usize, head: String },
    /// The first record (1-based line) that does not fit, and why.
    Broken { line: usize, reason: String },
}

pub fn verify(path: &Path) -> Result<Verdict> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
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
                "its `prev` does not match the line before it: that line was altered, or records between them were removed".to_owned()
            };
            return Ok(Verdict::Broken { line: lineno, reason });
        }
        let claimed_hash = record.get("hash").and_then(Value::as_str).unwrap_or("");
        if claimed_hash != record_hash(&record) {
            return Ok(Verdict::Broken { line: lineno, reason: "its content does not match its `hash`: this record was altered".into() });
        }
        prev = sha256_hex(line.as_bytes());
        count += 1;
    }
    Ok(Verdict::Intact { records: count, head: prev })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(n: i64) -> Map<String, Value> {
        json!({"n": n, "decision": "allow"}).as_object().unwrap().clone()
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

        // Altered content of line 2.
        let altered = text.replacen("\"n\":1", "\"n\":7", 1);
        std::fs::write(&log.path, &altered).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 2, .. }));

        // Line 2 deleted: line 3 (now the 2nd line) no longer chains.
        let deleted = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        std::fs::write(&log.path, deleted).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 2, .. }));

        // The last line altered (no line after it to notice): its own hash catches it.
        let last = format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[2], lines[3].replace("allow", "deny"));
        std::fs::write(&log.path, last).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 4, .. }));

        // The first line removed.
        std::fs::write(&log.path, format!("{}\n{}\n", lines[1], lines[2])).unwrap();
        assert!(matches!(verify(&log.path).unwrap(), Verdict::Broken { line: 1, .. }));
    }
}
