//! `cortado audit verify FILE`: checks the audit log's hash chain.

use std::path::Path;

use anyhow::Result;

use crate::gate::audit::{self, Verdict};

pub fn verify(path: &Path) -> Result<()> {
    match audit::verify(path)? {
        Verdict::Intact { records, head } => {
            println!("{}: {records} records, chain intact, head {head}", path.display());
            Ok(())
        }
        Verdict::Broken { line, reason } => anyhow::bail!("{}:{line}: audit chain broken: {reason}", path.display()),
    }
}
