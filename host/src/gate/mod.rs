//! Policy gates: every gate plugin is asked after the plan is known and before the first mutating
//! call, and its decision is enforced at the level the config sets for it (the Sentinel model):
//!
//! - `advisory`: a denial is a warning; the command goes on.
//! - `soft-mandatory`: a denial stops the command unless `--override GATE --reason "…"` is given;
//!   the override and its reason are recorded.
//! - `hard-mandatory` (the default): a denial stops the command; no override is possible.
//!
//! A gate that traps, times out or cannot be loaded denies (fail closed). Every decision, dry runs
//! included, is appended to the audit log.

pub mod audit;

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::error::InputError;
use crate::output::Style;
use crate::plugin::bindings::{Decision, Hook, Plan};
use crate::plugin::{PluginHost, catalog, gate_outcome, runtime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    Advisory,
    SoftMandatory,
    HardMandatory,
}

impl Enforcement {
    pub fn parse(s: Option<&str>) -> Enforcement {
        match s {
            Some("advisory") => Enforcement::Advisory,
            Some("soft-mandatory") => Enforcement::SoftMandatory,
            _ => Enforcement::HardMandatory,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Advisory => "advisory",
            Enforcement::SoftMandatory => "soft-mandatory",
            Enforcement::HardMandatory => "hard-mandatory",
        }
    }
}

/// `--override GATE --reason TEXT`
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub gates: Vec<String>,
    pub reason: Option<String>,
}

/// One gate's verdict after enforcement.
#[derive(Debug, Clone)]
pub struct GateResult {
    pub gate: String,
    pub sha256: String,
    pub enforcement: Enforcement,
    pub decision: &'static str,
    pub reasons: Vec<String>,
    pub overridden: bool,
    /// allowed, warned, overridden, blocked
    pub outcome: &'static str,
}

pub struct Evaluation {
    pub results: Vec<GateResult>,
}

impl Evaluation {
    pub fn blocked(&self) -> Vec<&GateResult> {
        self.results.iter().filter(|r| r.outcome == "blocked").collect()
    }
}

/// Who is deploying, for gates and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub arn: String,
    pub account: String,
}

/// The plan as JSON: what the audit log digests and records.
pub fn plan_json(plan: &Plan) -> Value {
    json!({
        "command": plan.command, "cluster": plan.cluster, "service": plan.service, "region": plan.region,
        "account": plan.account, "caller": plan.caller, "time": plan.time,
        "task_definition": plan.task_definition, "task_definition_arn": plan.task_definition_arn,
        "service_definition": plan.service_definition, "diff": plan.diff, "desired_count": plan.desired_count,
        "overrides": plan.overrides,
    })
}

/// Asks every gate plugin about `plan`, enforces the levels, prints the decisions (stderr) and
/// appends them to the audit log.
pub fn evaluate(plugins: &PluginHost, plan: &Plan, overrides: &Overrides, audit: &audit::AuditLog, dry_run: bool) -> Result<Evaluation> {
    let style = Style::stderr();
    let gates: Vec<_> = plugins
        .plugins
        .iter()
        .filter(|lp| match (&lp.config.path, catalog::first_party(&lp.config.name)) {
            (None, Some(fp)) => fp.gate,
            _ => true, // custom plugins: decided by their manifest below
        })
        .collect();
    // Overrides must name a configured gate: a typo must not pass silently.
    for name in &overrides.gates {
        if !gates.iter().any(|g| &g.config.name == name) {
            return Err(InputError::new(format!("--override {name}: no gate plugin is named {name:?}")).into());
        }
    }
    if !overrides.gates.is_empty() && overrides.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(InputError::new("--override needs --reason \"why\" (it is recorded in the audit log)").into());
    }
    let input = plan_json(plan);
    let input_digest = runtime::sha256_hex(input.to_string().as_bytes());
    let mut results = Vec::new();
    let mut chain_head = None;
    for lp in gates {
        let name = lp.config.name.clone();
        let enforcement = Enforcement::parse(lp.config.enforcement.as_deref());
        let (decision, reasons, sha) = match lp.get() {
            Ok(loaded) => {
                if lp.config.path.is_some() && !loaded.manifest.hooks.contains(&Hook::Gate) {
                    continue;
                }
                let (d, r) = match gate_outcome(loaded, plan) {
                    Decision::Allow => ("allow", vec![]),
                    Decision::Warn(r) => ("warn", r),
                    Decision::Deny(r) => ("deny", r),
                };
                (d, r, loaded.spec.digest.clone())
            }
            Err(e) => ("deny", vec![format!("gate could not be loaded: {e}")], lp.bytes().map(|(_, d)| d).unwrap_or_default()),
        };
        let overridden = decision == "deny" && enforcement == Enforcement::SoftMandatory && overrides.gates.contains(&name);
        let outcome = match (decision, enforcement) {
            ("allow", _) => "allowed",
            ("warn", _) | ("deny", Enforcement::Advisory) => "warned",
            ("deny", Enforcement::SoftMandatory) if overridden => "overridden",
            _ => "blocked",
        };
        let short = sha.get(..12).unwrap_or("");
        let head = format!("gate {name} ({}, sha256 {short}): {}", enforcement.as_str(), decision.to_uppercase());
        let line = if reasons.is_empty() { head } else { format!("{head}: {}", reasons.join("; ")) };
        match outcome {
            "allowed" => eprintln!("{}", style.green(&line)),
            "warned" => eprintln!("{}", style.yellow(&line)),
            "overridden" => eprintln!("{} (overridden: {})", style.yellow(&line), overrides.reason.as_deref().unwrap_or("")),
            _ => {
                let why =
                    if enforcement == Enforcement::HardMandatory && overrides.gates.contains(&name) { " (hard-mandatory: cannot be overridden)" } else { "" };
                eprintln!("{}{why}", style.red(&line));
            }
        }
        let mut record = Map::new();
        record.insert("time".into(), json!(plan.time));
        record.insert("command".into(), json!(plan.command));
        record.insert("cluster".into(), json!(plan.cluster));
        record.insert("service".into(), json!(plan.service));
        record.insert("region".into(), json!(plan.region));
        record.insert("caller".into(), json!(plan.caller));
        record.insert("plugin".into(), json!(name));
        record.insert("sha256".into(), json!(sha));
        record.insert("enforcement".into(), json!(enforcement.as_str()));
        record.insert("input_digest".into(), json!(input_digest));
        record.insert("task_definition_arn".into(), json!(plan.task_definition_arn));
        record.insert("decision".into(), json!(decision));
        record.insert("reasons".into(), json!(reasons));
        record.insert("outcome".into(), json!(outcome));
        record.insert("override".into(), json!(overridden));
        record.insert("override_reason".into(), if overridden { json!(overrides.reason) } else { Value::Null });
        record.insert("dry_run".into(), json!(dry_run));
        chain_head = Some(audit.append(record)?);
        results.push(GateResult { gate: name, sha256: sha, enforcement, decision, reasons, overridden, outcome });
    }
    if let Some(h) = chain_head {
        // The head hash in the command's own log anchors the chain outside the file.
        eprintln!("audit: {} decision(s) appended to {} (head {h})", results.len(), audit.path.display());
    }
    for name in &overrides.gates {
        if !results.iter().any(|r| &r.gate == name && r.overridden) {
            tracing::warn!("--override {name} was not needed or not possible (only a soft-mandatory denial can be overridden)");
        }
    }
    Ok(Evaluation { results })
}

/// The audit log path: `audit_log` in the config, else `cortado-audit.jsonl` beside the config.
pub fn audit_path(config: &crate::config::Config) -> PathBuf {
    config.audit_log.clone().unwrap_or_else(|| config.dir.join("cortado-audit.jsonl"))
}

/// What a command knows when it asks the gates.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub command: String,
    pub task_definition: Option<Value>,
    pub task_definition_arn: Option<String>,
    pub service_definition: Option<Value>,
    pub diff: String,
    pub desired_count: Option<i64>,
    pub overrides: Option<Value>,
}

/// Raised when a gate blocks a command: exit 1, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error("{}blocked by {}: nothing was changed", if *.1 { "dry run: would be " } else { "" }, .0.join(", "))]
pub struct Blocked(pub Vec<String>, pub bool);

/// The caller's identity (STS GetCallerIdentity, always allowed by IAM).
pub async fn caller(aws: &crate::aws::Aws) -> Caller {
    match aws.sts().get_caller_identity().send().await {
        Ok(out) => Caller { arn: out.arn().unwrap_or_default().to_owned(), account: out.account().unwrap_or_default().to_owned() },
        Err(e) => {
            tracing::warn!("cannot read the caller identity: {}", crate::aws::describe_error(&e));
            Caller::default()
        }
    }
}

/// Builds the plan, asks the gates (if any are configured) and fails with [`Blocked`] when one
/// blocks. Called by every mutating command before its first mutating call.
pub async fn check(app: &crate::commands::App, aws: &crate::aws::Aws, input: PlanInput, overrides: &Overrides, dry_run: bool) -> Result<Option<Evaluation>> {
    let has_gates = app.plugins.plugins.iter().any(|lp| match (&lp.config.path, catalog::first_party(&lp.config.name)) {
        (None, Some(fp)) => fp.gate,
        _ => true,
    });
    if !has_gates {
        if !overrides.gates.is_empty() {
            return Err(InputError::new("--override given but no gate plugin is configured").into());
        }
        return Ok(None);
    }
    let who = caller(aws).await;
    let plan = Plan {
        command: input.command.clone(),
        cluster: app.config.cluster.clone(),
        service: app.config.service.clone(),
        region: aws.region().to_owned(),
        account: who.account.clone(),
        caller: who.arn.clone(),
        time: jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        task_definition: input.task_definition.as_ref().map(Value::to_string),
        task_definition_arn: input.task_definition_arn.clone(),
        service_definition: input.service_definition.as_ref().map(Value::to_string),
        diff: input.diff.clone(),
        desired_count: input.desired_count,
        overrides: input.overrides.as_ref().map(Value::to_string),
    };
    let log = audit::AuditLog { path: audit_path(&app.config) };
    let eval = evaluate(&app.plugins, &plan, overrides, &log, dry_run)?;
    let blocked: Vec<String> = eval.blocked().iter().map(|r| format!("gate {} ({})", r.gate, r.enforcement.as_str())).collect();
    if !blocked.is_empty() {
        return Err(Blocked(blocked, dry_run).into());
    }
    Ok(Some(eval))
}
