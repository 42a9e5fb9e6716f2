//! What the last successful `stack deploy` changed, kept beside the stack file
//! (`<stack>.last-run.json`): `stack rollback` sends those members back to what ran before it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Value, json};

use crate::error::InputError;

/// One member the run changed: the task definition before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub member: String,
    pub before: String,
    pub after: String,
}

/// `<dir>/<stem>.last-run.json` for the stack file `<dir>/<stem>.yml`.
pub fn path(stack: &Path) -> PathBuf {
    let stem = stack.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "cortado-stack".into());
    stack.with_file_name(format!("{stem}.last-run.json"))
}

/// Writes the record of a successful run (replacing the previous one).
pub fn write(stack: &Path, run_id: Option<&str>, changed: &[Changed]) -> Result<()> {
    let members: Vec<Value> = changed.iter().map(|c| json!({"member": c.member, "before": c.before, "after": c.after})).collect();
    let doc = json!({"run_id": run_id, "time": jiff::Timestamp::now().to_string(), "members": members});
    let p = path(stack);
    std::fs::write(&p, format!("{doc:#}\n")).map_err(|e| anyhow::anyhow!("{}: cannot write the stack's last run: {e}", p.display()))
}

/// The last successful run's changes (bad input when there is none).
pub fn read(stack: &Path) -> Result<(Option<String>, Vec<Changed>)> {
    let p = path(stack);
    let text =
        std::fs::read_to_string(&p).map_err(|e| InputError::in_file(&p, format!("no successful `stack deploy` is recorded ({e}); nothing to roll back")))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| InputError::in_file(&p, format!("invalid JSON: {e}")))?;
    let text_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut out = Vec::new();
    for m in doc.get("members").and_then(Value::as_array).into_iter().flatten() {
        match (text_of(m, "member"), text_of(m, "before"), text_of(m, "after")) {
            (Some(member), Some(before), Some(after)) => out.push(Changed { member, before, after }),
            _ => return Err(InputError::in_file(&p, format!("members: expected {{member, before, after}}, found {m}")).into()),
        }
    }
    Ok((text_of(&doc, "run_id"), out))
}

/// After `stack rollback`: the run is undone, a second rollback must not redo it.
pub fn clear(stack: &Path) -> Result<()> {
    let p = path(stack);
    match std::fs::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(anyhow::anyhow!("{}: {e}", p.display())),
        _ => Ok(()),
    }
}
