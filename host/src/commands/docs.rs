//! `completion` and `man`: documents generated from the clap definitions themselves, so they never
//! drift from the flags cortado accepts (clap_complete, clap_mangen).

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell` on stdout.
pub fn completion(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "cortado", &mut out);
    out.flush().context("writing the completion script")
}

/// `cortado.1` on stdout, or with `dir` one page per command there (`cortado-deploy.1`, …).
pub fn man(dir: Option<&Path>) -> Result<()> {
    let cmd = Cli::command();
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out).context("writing the man page")?;
            out.flush().context("writing the man page")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir).with_context(|| format!("writing man pages into {}", dir.display()))?;
            tracing::info!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}
