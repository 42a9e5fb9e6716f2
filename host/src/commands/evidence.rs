//! `cortado evidence verify FILE` and `cortado evidence keygen FILE` (see `gate::evidence`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::args::OutputArgs;
use crate::config::shared::S3Url;
use crate::context::Globals;
use crate::error::InputError;
use crate::gate::evidence;

#[derive(clap::Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Check an evidence file's signature and that it matches the audit chain's records
    Verify {
        /// The evidence file (cortado-evidence/RUN.dsse.json), or s3://BUCKET/PREFIX/evidence/…/RUN.dsse.json
        file: PathBuf,
        /// The signer's Ed25519 public key (64 hex digits)
        #[arg(long = "public-key", value_name = "HEX", conflicts_with = "key_file")]
        public_key: Option<String>,
        /// The signing key file (its public key is used)
        #[arg(long = "key-file", value_name = "PATH")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Write a new Ed25519 signing key file (for `signing: {key_file: PATH}`) and print its public key
    Keygen {
        /// Where to write the key (must not exist; written with mode 0600)
        file: PathBuf,
    },
}

impl EvidenceCommand {
    /// `cortado evidence verify|keygen`.
    pub async fn exec(self, globals: &Globals) -> Result<()> {
        match self {
            EvidenceCommand::Verify { file, public_key, key_file, output } => {
                verify(&file, public_key.as_deref(), key_file.as_deref(), output.json(), globals).await
            }
            EvidenceCommand::Keygen { file } => keygen(&file),
        }
    }
}

pub fn keygen(path: &Path) -> Result<()> {
    let public = evidence::keygen(path)?;
    println!("{public}");
    eprintln!("wrote {} (keep it secret); public key above, for `cortado evidence verify --public-key`", path.display());
    Ok(())
}

/// The audit records at `location` (a JSONL file or `s3://bucket/dir/`), and the chain's problems.
async fn records(location: &str, globals: &crate::context::Globals) -> Result<(Vec<Map<String, Value>>, Vec<String>)> {
    if let Some(url) = S3Url::parse(location) {
        let url = url.map_err(InputError::new)?;
        let region = crate::aws::region_from_env();
        let aws = crate::aws::Aws::load(region.as_deref(), globals.assume_role_arn.as_deref()).await?;
        let reports = crate::gate::s3chain::verify(&aws.s3(), &url).await?;
        let problems = reports.iter().flat_map(|r| r.problems.clone()).collect();
        return Ok((reports.into_iter().flat_map(|r| r.records.into_iter().map(|s| s.record)).collect(), problems));
    }
    let path = Path::new(location);
    let problems = match crate::gate::audit::verify(path)? {
        crate::gate::audit::Verdict::Intact { .. } => vec![],
        crate::gate::audit::Verdict::Broken { line, reason } => vec![format!("{}:{line}: {reason}", path.display())],
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter_map(|v| v.as_object().cloned()).collect(), problems))
}

/// A release statement (`stack deploy`): each member's decision and outcome records must be in
/// its audit log (the stack's, or the member's own), intact and saying what the statement says.
async fn release_members(p: &Value, location: &str, recs: &[Map<String, Value>], globals: &Globals) -> Result<Vec<String>> {
    let Some(members) = p["members"].as_object() else { return Ok(Vec::new()) };
    let mut problems = Vec::new();
    for (name, m) in members {
        let log = m["audit"]["log"].as_str().unwrap_or(location);
        let own;
        let records = if log == location {
            recs
        } else {
            own = records(log, globals).await.with_context(|| format!("member {name}'s audit log {log}"))?.0;
            &own
        };
        problems.extend(evidence::member_against_chain(m, records).into_iter().map(|x| format!("member {name}: {x}")));
    }
    Ok(problems)
}

/// The members a release statement lists, one line each.
fn print_members(p: &Value) {
    let Some(members) = p["members"].as_object() else { return };
    println!("  release of {} member(s) (stack {}):", members.len(), p["stack"].as_str().unwrap_or("?"));
    for (name, m) in members {
        let td = m["registered"].as_str().or(m["task_definition"].as_str()).unwrap_or("-");
        println!("    {name}: {} ({}), plan {}", m["state"].as_str().unwrap_or("?"), td, m["plan_digest"].as_str().unwrap_or("-"));
    }
}

pub async fn verify(file: &Path, public_key: Option<&str>, key_file: Option<&Path>, as_json: bool, globals: &crate::context::Globals) -> Result<()> {
    let text = match file.to_str().and_then(|f| f.strip_prefix("s3://")) {
        Some(rest) => {
            let (bucket, key) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .ok_or_else(|| InputError::new(format!("{}: expected s3://BUCKET/KEY", file.display())))?;
            let region = crate::aws::region_from_env();
            let aws = crate::aws::Aws::load(region.as_deref(), globals.assume_role_arn.as_deref()).await?;
            String::from_utf8(crate::gate::s3chain::get_bytes(&aws.s3(), bucket, key).await?).with_context(|| format!("{}: not UTF-8", file.display()))?
        }
        None => std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
    };
    let verifier = match (public_key, key_file, evidence::first_keyid(&text)) {
        (Some(h), _, _) => evidence::Verifier::Ed25519(
            hex::decode(h.trim()).ok().filter(|k| k.len() == 32).ok_or_else(|| InputError::new("--public-key: expected 64 hex digits"))?,
        ),
        (None, Some(k), _) => {
            use ring::signature::KeyPair;
            evidence::Verifier::Ed25519(evidence::load_key(k)?.public_key().as_ref().to_vec())
        }
        // Signed by KMS: the key id is the key's ARN, and KMS gives its public key.
        (None, None, Some(arn)) if crate::aws::arn::Arn::is_of(&arn, "kms") => {
            let region = crate::aws::arn::Arn::parse(&arn).map(|a| a.region).filter(|r| !r.is_empty());
            let aws = crate::aws::Aws::load(region.as_deref(), globals.assume_role_arn.as_deref()).await?;
            evidence::kms_verifier(&aws.sdk, &arn).await?
        }
        (None, None, _) => return Err(InputError::new("evidence verify needs --public-key HEX or --key-file PATH (or an envelope signed by a KMS key)").into()),
    };
    let statement = evidence::open_with(&text, &verifier).with_context(|| format!("{}: signature check failed", file.display()))?;
    let public = verifier.key_id();
    let p = &statement["predicate"];
    let location =
        globals.audit_log.clone().or_else(|| p["audit"]["log"].as_str().map(str::to_owned)).context("the statement names no audit log; pass --audit-log")?;
    let (recs, chain_problems) = records(&location, globals).await?;
    let mut problems = chain_problems;
    problems.extend(evidence::against_chain(&statement, &recs));
    problems.extend(release_members(p, &location, &recs, globals).await?);
    if as_json {
        println!(
            "{}",
            json!({"file": file.display().to_string(), "signature": "valid", "keyid": public, "audit_log": location,
                "matches_chain": problems.is_empty(), "problems": problems,
                "records_after_head": evidence::records_after_head(&statement, &recs), "subject": statement["subject"], "predicate": p})
        );
    } else {
        println!("{}: signature valid (key {})", file.display(), public);
        println!(
            "  {} of {:?} by {}: {}, outcome {}",
            p["command"].as_str().unwrap_or("?"),
            p["service"],
            p["caller"].as_str().unwrap_or("?"),
            p["verificationResult"],
            p["outcome"]["result"]
        );
        match p["outcome"]["completed_early"].as_bool() {
            Some(true) => println!("  the deployment completed early, by its early success criteria (old tasks may have run on after it)"),
            Some(false) => println!("  the deployment had early success criteria and completed in full"),
            None => {}
        }
        print_members(p);
        if problems.is_empty() {
            println!("  matches the audit chain at {location} (decision {}, outcome {})", p["audit"]["decision"], p["audit"]["outcome"]);
            match evidence::records_after_head(&statement, &recs) {
                Some(0) => println!("  the chain ends at the head this statement signed: every record is anchored"),
                Some(n) => println!("  the chain reaches the head this statement signed, then has {n} later record(s) (anchored by later statements only)"),
                None => println!("  (this statement carries no chain head: older cortado)"),
            }
        }
        for x in &problems {
            println!("  {x}");
        }
    }
    if !problems.is_empty() {
        bail!("{}: the evidence does not match the audit chain at {location}: {} problem(s)", file.display(), problems.len());
    }
    Ok(())
}
