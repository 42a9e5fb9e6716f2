//! `cortado audit verify FILE`: checks the audit log's hash chain, and names decisions that have
//! no outcome (an apply that was interrupted, or is still running).

use std::path::Path;

use anyhow::Result;

use crate::gate::audit::{self, Verdict};

pub fn verify(path: &Path) -> Result<()> {
    match audit::verify(path)? {
        Verdict::Intact { records, head, open } => {
            println!("{}: {records} records, chain intact, head {head}", path.display());
            for o in &open {
                println!(
                    "{}:{}: decision without outcome: {} (run {}) was approved but never reported what it changed: interrupted, or still running",
                    path.display(),
                    o.line,
                    o.command,
                    o.run_id
                );
            }
            Ok(())
        }
        Verdict::Broken { line, reason } => anyhow::bail!("{}:{line}: audit chain broken: {reason}", path.display()),
    }
}
