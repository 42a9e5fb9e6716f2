//! `cortado audit verify FILE|s3://BUCKET/PREFIX/`: checks the audit log's hash chain, and names
//! decisions that have no outcome (an apply that was interrupted, or is still running). On S3 it
//! walks every chain under the prefix and reports every problem, with each record's retention,
//! and checks each chain against the heads recorded beside it (`head.json`, every version).
//!
//! `audit head` prints the head hash and record count; `verify --expect-head HASH` checks that
//! the chain still reaches that head (with `--allow-extension`, passes through it): a chain proves
//! nothing by itself against whoever can rewrite it, only against a head kept elsewhere.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use super::args::OutputArgs;
use crate::config::shared::S3Url;
use crate::context::Globals;
use crate::gate::audit::{self, Verdict};

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; names the first record that was altered or removed (a file), or
    /// every gap, edit, re-ordering, fork and open decision (s3://BUCKET/PREFIX/), with retention
    Verify {
        /// The audit log (JSON lines, e.g. cortado-audit.jsonl) or s3://BUCKET/PREFIX/
        file: PathBuf,
        /// A head taken earlier (`cortado audit head`, an evidence statement, a CI log): the chain
        /// must still reach it, which proves every record up to it unchanged
        #[arg(long = "expect-head", value_name = "HASH")]
        expect_head: Option<String>,
        /// With --expect-head: records appended after that head are fine
        #[arg(long = "allow-extension", requires = "expect_head")]
        allow_extension: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the chain's head hash and record count (keep it elsewhere, then `verify --expect-head`)
    Head {
        /// The audit log (JSON lines) or s3://BUCKET/PREFIX/CLUSTER/SERVICE/
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
}

impl AuditCommand {
    /// `cortado audit verify|head`: `--expect-head` is checked before the log is read.
    pub async fn exec(self, globals: &Globals) -> Result<()> {
        match self {
            AuditCommand::Verify { file, expect_head, allow_extension, output } => {
                let anchor = Expect::parse(expect_head.as_deref(), allow_extension)?;
                verify(&file, anchor.as_ref(), output.json(), globals).await
            }
            AuditCommand::Head { file, output } => head(&file, output.json(), globals).await,
        }
    }
}

/// `--expect-head HASH [--allow-extension]`.
pub struct Expect {
    pub head: String,
    pub allow_extension: bool,
}

impl Expect {
    pub fn parse(head: Option<&str>, allow_extension: bool) -> Result<Option<Expect>> {
        match head {
            None => Ok(None),
            Some(h) => Ok(Some(Expect { head: audit::parse_head(h).map_err(crate::error::InputError::new)?, allow_extension })),
        }
    }

    fn check(&self, hashes: &[String]) -> Result<String, String> {
        audit::check_anchor(hashes, &self.head, self.allow_extension)
    }
}

/// `cortado audit head`: `HASH RECORDS` (one line per chain on S3, with its location).
pub async fn head(path: &Path, as_json: bool, globals: &crate::context::Globals) -> Result<()> {
    if let Some(url) = path.to_str().and_then(S3Url::parse) {
        let url = url.map_err(crate::error::InputError::new)?;
        let reports = s3_reports(&url, globals).await?;
        for r in &reports {
            if !r.problems.is_empty() {
                anyhow::bail!("s3://{}/{}: audit chain broken ({}); run `cortado audit verify` — no head to print", url.bucket, r.dir, r.problems.join("; "));
            }
            let at = format!("s3://{}/{}", url.bucket, r.dir);
            if as_json {
                println!("{}", json!({"chain": at, "head": r.head, "records": r.records.len()}));
            } else {
                println!("{} {} {at}", r.head, r.records.len());
            }
        }
        return Ok(());
    }
    match audit::verify(path)? {
        Verdict::Intact { records, head, .. } => {
            if as_json {
                println!("{}", json!({"chain": path.display().to_string(), "head": head, "records": records}));
            } else {
                println!("{head} {records}");
            }
            Ok(())
        }
        Verdict::Broken { line, reason } => anyhow::bail!("{}:{line}: audit chain broken: {reason}; no head to print", path.display()),
    }
}

pub async fn verify(path: &Path, expect: Option<&Expect>, as_json: bool, globals: &crate::context::Globals) -> Result<()> {
    if let Some(url) = path.to_str().and_then(S3Url::parse) {
        let url = url.map_err(crate::error::InputError::new)?;
        return verify_s3(&url, expect, as_json, globals).await;
    }
    let verdict = audit::verify(path)?;
    // Only an intact chain is compared with the anchor.
    let anchored = match (&verdict, expect) {
        (Verdict::Intact { .. }, Some(e)) => Some(e.check(&audit::hashes(path)?)),
        _ => None,
    };
    if as_json {
        let v = match &verdict {
            Verdict::Intact { records, head, open } => json!({
                "chain": path.display().to_string(), "intact": true, "records": records, "head": head,
                "open_decisions": open.iter().map(|o| json!({"line": o.line, "run_id": o.run_id, "command": o.command})).collect::<Vec<_>>(),
                "anchored": anchored.as_ref().map(|a| a.is_ok()),
                "anchor": anchored.as_ref().map(|a| match a { Ok(m) | Err(m) => m.clone() }),
            }),
            Verdict::Broken { line, reason } => json!({"chain": path.display().to_string(), "intact": false, "line": line, "problems": [reason]}),
        };
        println!("{v}");
    }
    match verdict {
        Verdict::Intact { records, head, open } => {
            if !as_json {
                println!("{}: {records} records, chain intact, head {head}", path.display());
                match &anchored {
                    Some(Ok(m)) => println!("{}: anchored: {m}", path.display()),
                    None => println!("{}: not anchored: this proves the chain consistent, not unchanged (pass --expect-head HASH)", path.display()),
                    Some(Err(_)) => {}
                }
                for o in &open {
                    println!(
                        "{}:{}: decision without outcome: {} (run {}) was approved but never reported what it changed: interrupted, or still running",
                        path.display(),
                        o.line,
                        o.command,
                        o.run_id
                    );
                }
            }
            match anchored {
                Some(Err(m)) => anyhow::bail!("{}: audit chain not anchored: {m}", path.display()),
                _ => Ok(()),
            }
        }
        Verdict::Broken { line, reason } => anyhow::bail!("{}:{line}: audit chain broken: {reason}", path.display()),
    }
}

async fn s3_reports(url: &S3Url, globals: &crate::context::Globals) -> Result<Vec<crate::gate::s3chain::ChainReport>> {
    let region = crate::aws::region_from_env();
    let aws = crate::aws::Aws::load(region.as_deref(), globals.assume_role_arn.as_deref()).await?;
    crate::gate::s3chain::verify(&aws.s3(), url).await
}

async fn verify_s3(url: &S3Url, expect: Option<&Expect>, as_json: bool, globals: &crate::context::Globals) -> Result<()> {
    let mut reports = s3_reports(url, globals).await?;
    if let Some(e) = expect {
        if reports.len() != 1 {
            return Err(crate::error::InputError::new(format!(
                "--expect-head: {url} holds {} chains; name one chain (s3://BUCKET/PREFIX/CLUSTER/SERVICE/)",
                reports.len()
            ))
            .into());
        }
        let r = &mut reports[0];
        let hashes: Vec<String> = r.records.iter().map(|s| s.hash.clone()).collect();
        match e.check(&hashes) {
            Ok(m) if r.problems.is_empty() => r.anchored = Some(m),
            Ok(_) => {}
            Err(m) => r.problems.push(format!("not anchored: {m}")),
        }
    }
    let broken: usize = reports.iter().map(|r| r.problems.len()).sum();
    if as_json {
        let chains: Vec<_> = reports.iter().map(|r| r.to_json(&url.bucket)).collect();
        println!("{}", json!({"location": url.to_string(), "intact": broken == 0, "chains": chains}));
    } else {
        if reports.is_empty() {
            println!("{url}: no audit records");
        }
        for r in &reports {
            let at = format!("s3://{}/{}", url.bucket, r.dir);
            let locked = r.records.iter().filter(|s| s.lock.mode.is_some()).count();
            let retention = match r.records.iter().filter_map(|s| s.lock.retain_until.as_deref()).min() {
                Some(min) => format!(
                    "{locked}/{} under Object Lock ({}), earliest retain-until {min}",
                    r.records.len(),
                    r.records.iter().find_map(|s| s.lock.mode.clone()).unwrap_or_default()
                ),
                None => "no Object Lock retention".to_owned(),
            };
            let state = if r.problems.is_empty() { "chain intact" } else { "CHAIN BROKEN" };
            println!("{at}: {} records, {state}, head {}; {retention}", r.records.len(), r.head);
            for p in &r.problems {
                println!("  {p}");
            }
            for w in &r.warnings {
                println!("  warning: {w}");
            }
            match (&r.anchored, r.recorded_head) {
                (Some(m), _) => println!("  anchored: {m}"),
                (None, true) => println!("  checked against every recorded version of its head.json"),
                (None, false) => println!("  not anchored: no head.json and no --expect-head; this proves the chain consistent, not unchanged"),
            }
            for (key, run, command) in &r.open {
                println!(
                    "  s3://{}/{key}: decision without outcome: {command} (run {run}) was approved but never reported what it changed: interrupted, or still running",
                    url.bucket
                );
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{url}: audit chain broken: {broken} problem(s)");
    }
    Ok(())
}
