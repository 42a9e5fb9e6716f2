//! Policy gates: every gate plugin is asked after the plan is known and before the first mutating
//! call, and its decision is enforced at the level the config sets for it (the Sentinel model):
//!
//! - `advisory`: a denial is a warning; the command goes on.
//! - `soft-mandatory`: a denial stops the command unless `--override GATE --reason "…"` is given;
//!   the override and its reason are recorded.
//! - `hard-mandatory` (the default): a denial stops the command; no override is possible.
//!
//! A gate that traps, times out or cannot be loaded denies (fail closed). Every decision, dry runs
//! included, is appended to the audit log before anything changes.
//!
//! [`evaluate`] is the only way to get an [`Approval`], and `apply/` performs nothing without one
//! that matches the plan it is given: every mutating command goes plan → gate → apply, so no
//! command or sequence of commands reaches AWS around a gate. With no gate configured the approval
//! is still produced (and recorded when `audit_log` is set).

pub mod audit;
pub mod evidence;
pub mod s3chain;
pub mod stage;

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::InputError;
use crate::plan::Plan;
use crate::plugin::bindings::{self, Decision, Hook};
use crate::plugin::{LazyPlugin, catalog, gate_outcome};

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
    /// Signatures the gate reported accepting (image, digest, key id, format): `image-signature`.
    pub verified: Vec<Value>,
}

/// Who is deploying, for gates and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub arn: String,
    pub account: String,
}

/// Raised when a gate blocks a command: exit 1, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error("{}blocked by {}: nothing was changed", if *.1 { "dry run: would be " } else { "" }, .0.join(", "))]
pub struct Blocked(pub Vec<String>, pub bool);

/// Leave to perform one plan's steps. Only [`evaluate`] makes one (its fields are private), and
/// `apply/` checks that it was made for the plan it is given and not for a dry run.
pub struct Approval {
    plan_digest: String,
    dry_run: bool,
    record: Option<Recorded>,
    lock: Option<LockSpec>,
}

/// The deploy lock `apply/` must hold before its first mutation (from the config's `lock:`).
#[derive(Debug, Clone)]
pub struct LockSpec {
    pub url: crate::config::shared::S3Url,
    pub cluster: String,
    pub service: Option<String>,
    pub ttl: std::time::Duration,
    pub timeout: std::time::Duration,
    pub wait_for_others: bool,
    /// How long `--wait-for-others` waits (the command's timeout).
    pub others_timeout: std::time::Duration,
    /// The caller's ARN when the gate already looked it up.
    pub caller: Option<String>,
}

/// Where the records of a run go: the local JSONL file (the default) or the S3 chain.
// One value per run: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Sink {
    File(audit::AuditLog),
    S3(s3chain::S3Chain),
}

impl Sink {
    /// The sink the config names, for the service this command acts on.
    pub fn for_config(config: &crate::config::Config, aws: &crate::aws::Aws) -> Sink {
        match &config.audit_s3 {
            Some(url) => {
                let cluster = crate::aws::ecs::cluster_name(&config.cluster);
                Sink::S3(s3chain::S3Chain::new(aws.sdk.clone(), url, cluster, config.service.as_deref(), config.audit_retention.clone()))
            }
            None => Sink::File(audit::AuditLog { path: audit_path(config) }),
        }
    }

    /// Appends after the head and returns the record's hash (the new head).
    pub fn append(&self, mut record: Map<String, Value>) -> Result<String> {
        match self {
            Sink::File(log) => log.append(record),
            Sink::S3(chain) => {
                let unsandboxed = crate::plugin::external::unsandboxed();
                if !unsandboxed.is_empty() {
                    record.insert("unsandboxed_plugins".into(), unsandboxed.iter().map(|n| Value::String(n.clone())).collect());
                }
                chain.append(record)
            }
        }
    }

    pub fn location(&self) -> String {
        match self {
            Sink::File(log) => log.path.display().to_string(),
            Sink::S3(chain) => chain.location(),
        }
    }
}

/// The decision record an outcome is chained to.
struct Recorded {
    /// The statement to sign once the outcome is known (`signing:` configured).
    evidence: Option<evidence::Pending>,
    log: Sink,
    run_id: String,
    decision_hash: String,
}

impl Approval {
    /// Whether this approval was made for exactly `plan` (and may be acted on).
    pub fn permits(&self, plan: &Plan) -> bool {
        !self.dry_run && self.plan_digest == plan_digest(plan)
    }

    /// The lock to hold while acting on this approval, if the config asks for one.
    pub fn lock(&self) -> Option<&LockSpec> {
        self.lock.as_ref()
    }

    /// The run id of the recorded decision (None when nothing is recorded).
    pub fn run_id(&self) -> Option<String> {
        self.record.as_ref().map(|r| r.run_id.clone())
    }

    /// The recorded decision as a release statement names it: run id, plan digest, the decision
    /// record's hash and the log it is in (None when nothing is recorded).
    pub fn decision_ref(&self) -> Option<Value> {
        let r = self.record.as_ref()?;
        Some(json!({"run_id": r.run_id, "plan_digest": self.plan_digest, "decision": r.decision_hash, "audit_log": r.log.location()}))
    }

    /// Whether the outcome will be followed by a signed statement.
    pub fn signs_evidence(&self) -> bool {
        self.record.as_ref().is_some_and(|r| r.evidence.is_some())
    }

    /// Drops the statement this approval would sign: a stack's release statement covers it (one
    /// statement per release, and members would otherwise share a run id's file name).
    pub fn drop_evidence(&mut self) {
        if let Some(r) = self.record.as_mut() {
            r.evidence = None;
        }
    }

    /// Changes the statement to sign before the outcome completes it (a release adds its members).
    pub fn amend_evidence(&mut self, amend: impl FnOnce(&mut Value)) {
        if let Some(p) = self.record.as_mut().and_then(|r| r.evidence.as_mut()) {
            amend(&mut p.statement);
        }
    }

    /// Appends the outcome record (what changed, the result, the error), chained to the decision.
    pub fn record_outcome(self, outcome: Map<String, Value>) -> Result<Option<String>> {
        let Some(r) = self.record else { return Ok(None) };
        let mut rec = Map::new();
        rec.insert("kind".into(), json!("outcome"));
        rec.insert("run_id".into(), json!(r.run_id));
        rec.insert("decision".into(), json!(r.decision_hash));
        rec.insert("time".into(), json!(crate::util::rfc3339_now()));
        rec.extend(outcome);
        let hash = r.log.append(rec.clone())?;
        if let Some(pending) = r.evidence {
            let records = match &r.log {
                Sink::File(log) => audit::hashes(&log.path).ok().and_then(|h| h.iter().position(|x| *x == hash)).map(|i| i as u64 + 1),
                Sink::S3(chain) => chain.last_seq(),
            };
            let path = pending
                .finish(&rec, &hash, &r.log.location(), records)
                .map_err(|e| e.context("the outcome is recorded, but its signed evidence could not be written"))?;
            eprintln!("evidence: signed statement written to {}", path.display());
            // Beside the chain too, when it is on S3, so that an auditor needs no CI artefact.
            if let Sink::S3(chain) = &r.log {
                let url = chain
                    .put_evidence(&r.run_id, &std::fs::read(&path)?)
                    .map_err(|e| e.context("the outcome and local evidence are written, but the evidence could not be put on S3"))?;
                eprintln!("evidence: and at {url}");
            }
        }
        Ok(Some(hash))
    }
}

/// The digest that binds an approval (and the audit record) to a plan.
pub fn plan_digest(plan: &Plan) -> String {
    audit::sha256_hex(audit::canonical(&plan.to_json()).as_bytes())
}

/// A run id: unique per cortado invocation, shared by its decision and outcome records.
pub fn run_id() -> String {
    crate::util::unique_hex("run", 16)
}

/// The configured gates. A plugin whose config sets `enforcement:` but that implements no gate
/// hook is an error: an operator who asked for a gate must not silently get none. A first-party
/// plugin that is a gate only on request (image-policy: a verifier whose manifest also declares
/// the gate hook) is one when its config sets `enforcement:`, so configs using it as a verifier
/// keep their behaviour.
fn gates(ctx: &Context) -> Result<Vec<&LazyPlugin>> {
    let mut out = Vec::new();
    // Gates bound to lifecycle stages judge paused deployments (see [`stage`]), not commands.
    for lp in ctx.plugins.plugins.iter().filter(|lp| lp.config.stages.is_empty()) {
        let is_gate = match (lp.config.is_custom().then_some(()), catalog::first_party(&lp.config.name)) {
            (None, Some(fp)) if fp.gate => true,
            (None, Some(fp)) if catalog::OPT_IN_GATES.contains(&fp.name) => lp.config.enforcement.is_some(),
            (None, _) => false,
            // A custom plugin's manifest says; one that cannot be loaded is a gate that denies.
            (Some(_), _) => lp.get().map(|l| l.manifest.hooks.contains(&Hook::Gate)).unwrap_or(lp.config.enforcement.is_some()),
        };
        if !is_gate && lp.config.enforcement.is_some() {
            return Err(InputError::in_file(
                &ctx.config.path,
                format!("plugin {:?} has `enforcement:` but implements no gate hook; remove the key or use a gate plugin", lp.config.name),
            )
            .into());
        }
        if is_gate {
            out.push(lp.as_ref());
        }
    }
    Ok(out)
}

/// Whether `command` would be judged by any gate or recorded: used to fail early (and to skip the
/// caller lookup when nothing needs it).
pub fn audited(ctx: &Context) -> Result<bool> {
    Ok(!gates(ctx)?.is_empty() || ctx.config.audit_log.is_some() || ctx.config.audit_s3.is_some() || ctx.config.lock.is_some())
}

/// Asks every gate about `plan`, enforces the levels, prints the decisions (stderr), appends the
/// decision record (fsynced) and returns the approval — or [`Blocked`]. A dry run records its
/// decision too, but its approval permits nothing.
pub async fn evaluate(ctx: &Context, aws: &crate::aws::Aws, plan: &Plan, overrides: &Overrides, dry_run: bool) -> Result<Approval> {
    evaluate_in_run(ctx, aws, plan, overrides, dry_run, None).await
}

/// [`evaluate`] as one part of a larger run (a stack's release): the decision record carries the
/// given run id, so the stack's record and every member's share it (a fresh id when None).
pub async fn evaluate_in_run(ctx: &Context, aws: &crate::aws::Aws, plan: &Plan, overrides: &Overrides, dry_run: bool, run: Option<&str>) -> Result<Approval> {
    let gates = gates(ctx)?;
    check_overrides(&gates, overrides)?;
    preload(ctx)?;
    let digest = plan_digest(plan);
    let lock = ctx.config.lock.as_ref().map(|url| LockSpec {
        url: url.clone(),
        cluster: crate::aws::ecs::cluster_name(&plan.cluster).to_owned(),
        service: plan.service.clone(),
        ttl: ctx.config.lock_ttl,
        timeout: ctx.config.lock_timeout,
        wait_for_others: ctx.config.wait_for_others,
        others_timeout: ctx.config.timeout,
        caller: None,
    });
    // `unlock` is always recorded (in the default file when no audit log is configured): removing
    // another deployer's lock by hand must leave a trace.
    if gates.is_empty() && ctx.config.audit_log.is_none() && ctx.config.audit_s3.is_none() && ctx.config.signing_key.is_none() && plan.command != "unlock" {
        return Ok(Approval { plan_digest: digest, dry_run, record: None, lock });
    }
    let who = caller(aws).await?;
    let wit_plan = wit_plan(aws, plan, &who);
    let results: Vec<GateResult> = gates.iter().map(|lp| judge(lp, &wit_plan, overrides)).collect();
    let blocked: Vec<String> = results.iter().filter(|r| r.outcome == "blocked").map(|r| format!("gate {} ({})", r.gate, r.enforcement.as_str())).collect();
    let log = Sink::for_config(&ctx.config, aws);
    let run_id = run.map(str::to_owned).unwrap_or_else(run_id);
    let mut record = Map::new();
    record.insert("kind".into(), json!("decision"));
    record.insert("run_id".into(), json!(run_id));
    record.insert("time".into(), json!(wit_plan.time));
    record.insert("command".into(), json!(plan.command));
    record.insert("cluster".into(), json!(plan.cluster));
    record.insert("service".into(), json!(plan.service));
    record.insert("region".into(), json!(wit_plan.region));
    record.insert("account".into(), json!(who.account));
    record.insert("caller".into(), json!(who.arn));
    record.insert("plan_digest".into(), json!(digest));
    record.insert("task_definition_arn".into(), json!(wit_plan.task_definition_arn));
    record.insert("mutations".into(), json!(plan.mutations()));
    // The exact requests approved (references unresolved): with the outcome's `resolved`, what AWS received.
    record.insert("steps".into(), json!(plan.steps_json()));
    record.insert("gates".into(), Value::Array(results.iter().map(|r| r.to_json(overrides)).collect()));
    if let Some(pulled) = pulled_plugins(ctx) {
        record.insert("plugins".into(), pulled);
    }
    record.insert("outcome".into(), json!(if blocked.is_empty() { "approved" } else { "blocked" }));
    record.insert("dry_run".into(), json!(dry_run));
    if plan.command == "unlock" {
        // Whose lock was removed: the holder as the lock object named it.
        record.insert("lock".into(), plan.overrides.clone().unwrap_or(Value::Null));
    }
    let decision = record.clone();
    let decision_hash = log.append(record).map_err(|e| e.context("the decision could not be recorded: nothing was changed"))?;
    // The head hash in the command's own log anchors the chain outside the file.
    eprintln!("audit: decision on {} ({} gate(s)) appended to {} (head {decision_hash})", plan.command, results.len(), log.location());
    if !blocked.is_empty() {
        return Err(Blocked(blocked, dry_run).into());
    }
    let lock = lock.map(|l| LockSpec { caller: Some(who.arn.clone()), ..l });
    let evidence = match (&ctx.config.signing_key, dry_run) {
        (Some(signer), false) => {
            let mut d = decision;
            d.insert("hash".into(), json!(decision_hash));
            let out = ctx.config.dir.join("cortado-evidence");
            let td = plan.running_td().map(|t| (&t.arn, &t.body));
            let pending = evidence::pending(signer.clone(), Some(aws.sdk.clone()), out, &d, td)
                .map_err(|e| InputError::in_file(&ctx.config.path, format!("signing: {e:#}; nothing was changed")))?;
            Some(pending)
        }
        _ => None,
    };
    Ok(Approval { plan_digest: digest, dry_run, record: Some(Recorded { evidence, log, run_id, decision_hash }), lock })
}

/// Everything the steps and the wait will need is loaded before the first step: the evidence
/// signing key (a missing or unprotected key used to fail only after UpdateService was sent) and
/// every stage gate (a gate that cannot load would otherwise fail mid-rollout).
fn preload(ctx: &Context) -> Result<()> {
    if let Some(crate::config::shared::Signing::KeyFile(path)) = &ctx.config.signing_key {
        evidence::load_key(path).map_err(|e| InputError::in_file(&ctx.config.path, format!("signing: {e:#}; nothing was changed")))?;
    }
    for lp in ctx.plugins.plugins.iter().filter(|lp| !lp.config.stages.is_empty()) {
        if let Err(e) = lp.get() {
            let msg = format!("plugin {:?} (a stage gate) cannot be loaded: {e:#}; nothing was changed", lp.config.name);
            return Err(InputError::in_file(&ctx.config.path, msg).into());
        }
    }
    Ok(())
}

/// Overrides must name a configured gate (a typo must not pass silently) and carry a reason.
fn check_overrides(gates: &[&LazyPlugin], overrides: &Overrides) -> Result<()> {
    if gates.is_empty() && !overrides.gates.is_empty() {
        return Err(InputError::new("--override given but no gate plugin is configured").into());
    }
    for name in &overrides.gates {
        if !gates.iter().any(|g| &g.config.name == name) {
            return Err(InputError::new(format!("--override {name}: no gate plugin is named {name:?}")).into());
        }
    }
    if !overrides.gates.is_empty() && overrides.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(InputError::new("--override needs --reason \"why\" (it is recorded in the audit log)").into());
    }
    Ok(())
}

/// What a gate plugin sees: the plan in the WIT record. `task-definition` is the full body of the
/// task definition that will run, however the command chose it.
fn wit_plan(aws: &crate::aws::Aws, plan: &Plan, who: &Caller) -> bindings::Plan {
    let td = plan.running_td();
    bindings::Plan {
        command: plan.command.clone(),
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
        region: aws.region().to_owned(),
        account: who.account.clone(),
        caller: who.arn.clone(),
        time: crate::util::rfc3339_now(),
        task_definition: td.map(|t| t.body.to_string()),
        task_definition_arn: td.and_then(|t| t.arn.clone()),
        service_definition: plan.service_after.as_ref().or(plan.service_before.as_ref()).map(Value::to_string),
        diff: plan.diff.clone(),
        desired_count: plan.desired_count,
        overrides: plan.overrides.as_ref().map(Value::to_string),
        stage: None,
        steps: wit_steps(plan),
    }
}

/// The plan's steps as a gate gets them, in index order (apply, after-wait, on-failure), each
/// input as compact JSON: the same values the plan digest covers.
pub(crate) fn wit_steps(plan: &Plan) -> Vec<bindings::Step> {
    plan.all_steps()
        .map(|(phase, s)| bindings::Step {
            service: s.service.as_str().to_owned(),
            operation: s.operation.to_owned(),
            resource: s.resource.clone(),
            phase: phase.to_owned(),
            input: s.input.to_string(),
        })
        .collect()
}

/// One gate's verdict, enforced at its level and printed.
fn judge(lp: &LazyPlugin, plan: &bindings::Plan, overrides: &Overrides) -> GateResult {
    let result = verdict(lp, plan, overrides);
    show(&result, overrides);
    result
}

/// One gate's verdict, enforced at its level, not printed.
fn verdict(lp: &LazyPlugin, plan: &bindings::Plan, overrides: &Overrides) -> GateResult {
    let name = lp.config.name.clone();
    let enforcement = Enforcement::parse(lp.config.enforcement.as_deref());
    let mut verified = Vec::new();
    let (decision, reasons, sha) = match lp.get() {
        Ok(loaded) => {
            let _ = loaded.spec.broker.take_verified();
            let outcome = gate_outcome(loaded, plan);
            verified = loaded.spec.broker.take_verified();
            let (d, r) = match outcome {
                Decision::Allow => ("allow", vec![]),
                Decision::Warn(r) => ("warn", r),
                Decision::Deny(r) => ("deny", r),
                Decision::Inconclusive(r) => ("inconclusive", r),
            };
            (d, r, loaded.spec.digest.clone())
        }
        Err(e) => ("deny", vec![format!("gate could not be loaded: {e}")], lp.bytes().map(|(_, d)| d).unwrap_or_default()),
    };
    // Inconclusive blocks like a deny (not enough evidence is no approval); at a lifecycle stage
    // the caller asks again instead of rolling back (see `stage`).
    let refused = matches!(decision, "deny" | "inconclusive");
    let overridden = refused && enforcement == Enforcement::SoftMandatory && overrides.gates.contains(&name);
    let outcome = match (decision, enforcement) {
        ("allow", _) => "allowed",
        ("warn", _) => "warned",
        (_, Enforcement::Advisory) => "warned",
        (_, Enforcement::SoftMandatory) if overridden => "overridden",
        _ => "blocked",
    };
    GateResult { gate: name, sha256: sha, enforcement, decision, reasons, overridden, outcome, verified }
}

/// The plugins of this run pulled from a registry: name, reference, manifest and layer digests,
/// signing key id and format (None when there are none).
fn pulled_plugins(ctx: &Context) -> Option<Value> {
    let list: Vec<Value> = ctx
        .plugins
        .plugins
        .iter()
        .filter_map(|lp| lp.provenance.get().map(|p| json!({"name": lp.config.name, "oci": p.reference, "manifest_digest": p.manifest_digest, "layer_digest": p.layer_digest, "key_id": p.key_id, "format": p.format})))
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// Prints a verdict: one coloured line, and what an override did.
fn show(r: &GateResult, overrides: &Overrides) {
    let style = crate::style::Style::stderr();
    let (name, enforcement) = (&r.gate, r.enforcement);
    let short = r.sha256.get(..12).unwrap_or("");
    let head = format!("gate {name} ({}, sha256 {short}): {}", enforcement.as_str(), r.decision.to_uppercase());
    let line = if r.reasons.is_empty() { head } else { format!("{head}: {}", r.reasons.join("; ")) };
    match r.outcome {
        "allowed" => eprintln!("{}", style.green(&line)),
        "warned" => eprintln!("{}", style.yellow(&line)),
        "overridden" => eprintln!("{} (overridden: {})", style.yellow(&line), overrides.reason.as_deref().unwrap_or("")),
        _ => {
            let why = if enforcement == Enforcement::HardMandatory && overrides.gates.contains(name) { " (hard-mandatory: cannot be overridden)" } else { "" };
            eprintln!("{}{why}", style.red(&line));
        }
    }
    if overrides.gates.contains(name) && !r.overridden {
        tracing::warn!("--override {name} was not needed or not possible (only a soft-mandatory denial can be overridden)");
    }
}

impl GateResult {
    fn to_json(&self, overrides: &Overrides) -> Value {
        let mut v = json!({
            "plugin": self.gate, "sha256": self.sha256, "enforcement": self.enforcement.as_str(),
            "decision": self.decision, "reasons": self.reasons, "outcome": self.outcome,
            "override": self.overridden, "override_reason": if self.overridden { json!(overrides.reason) } else { Value::Null },
        });
        if !self.verified.is_empty() {
            v["verified"] = json!(self.verified);
        }
        v
    }
}

/// The audit log path: `audit_log` in the config, else `cortado-audit.jsonl` beside the config.
pub fn audit_path(config: &crate::config::Config) -> PathBuf {
    config.audit_log.clone().unwrap_or_else(|| config.dir.join("cortado-audit.jsonl"))
}

/// The caller's identity (STS GetCallerIdentity, always allowed by IAM). A gated command whose
/// caller cannot be identified fails closed: a decision must say who made it.
pub async fn caller(aws: &crate::aws::Aws) -> Result<Caller> {
    let out = aws.sts().get_caller_identity().send().await.map_err(|e| {
        anyhow::anyhow!("cannot identify the caller (STS GetCallerIdentity): {}; a gated command needs it, nothing was changed", crate::aws::describe_error(&e))
    })?;
    let arn = out.arn().unwrap_or_default().to_owned();
    if arn.is_empty() {
        anyhow::bail!("STS GetCallerIdentity returned no ARN; a gated command needs it, nothing was changed");
    }
    Ok(Caller { arn, account: out.account().unwrap_or_default().to_owned() })
}
