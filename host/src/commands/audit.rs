//! `cortado audit verify FILE|s3://BUCKET/PREFIX/`: checks the audit log's hash chain, and names
//! decisions that have no outcome (an apply that was interrupted, or is still running). On S3 it
//! walks every chain under the prefix and reports every problem, with each record's retention.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::config::shared::S3Url;
use crate::gate::audit::{self, Verdict};

pub async fn verify(path: &Path, as_json: bool, globals: &crate::context::Globals) -> Result<()> {
    if let Some(url) = path.to_str().and_then(S3Url::parse) {
        let url = url.map_err(crate::error::InputError::new)?;
        return verify_s3(&url, as_json, globals).await;
    }
    let verdict = audit::verify(path)?;
    if as_json {
        let v = match &verdict {
            Verdict::Intact { records, head, open } => json!({
                "chain": path.display().to_string(), "intact": true, "records": records, "head": head,
                "open_decisions": open.iter().map(|o| json!({"line": o.line, "run_id": o.run_id, "command": o.command})).collect::<Vec<_>>(),
            }),
            Verdict::Broken { line, reason } => json!({"chain": path.display().to_string(), "intact": false, "line": line, "problems": [reason]}),
        };
        println!("{v}");
    }
    match verdict {
        Verdict::Intact { records, head, open } => {
            if !as_json {
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
            }
            Ok(())
        }
        Verdict::Broken { line, reason } => anyhow::bail!("{}:{line}: audit chain broken: {reason}", path.display()),
    }
}

async fn verify_s3(url: &S3Url, as_json: bool, globals: &crate::context::Globals) -> Result<()> {
    let region = crate::aws::region_from_env();
    let aws = crate::aws::Aws::load(region.as_deref(), globals.assume_role_arn.as_deref()).await?;
    let reports = crate::gate::s3chain::verify(&aws.s3(), url).await?;
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
