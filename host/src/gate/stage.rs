//! Stage gates: a gate plugin bound to lifecycle hook stages (`stages: [POST_TEST_TRAFFIC_SHIFT]`)
//! judges a native deployment when it pauses at a PAUSE hook there. Allow → the hook is answered
//! CONTINUE; deny, a trap or a timeout → ROLLBACK (fail closed). The decision is an audit record
//! chained to the deploy's (`parent_run_id`), and the answer is a one-step plan that only the
//! approval made here lets `apply/` perform.
//!
//! A gate built against `cortado:plugin@0.2.0` gets the typed `stage` record in its plan and may
//! answer `inconclusive`: the hook stays paused and the gate is asked again at the next poll (an
//! inconclusive verdict is recorded when its reasons change), until the command's `--timeout`,
//! when the deployment is rolled back. Every plan also carries `command` = `stage:<STAGE>` and the
//! stage details as JSON in `overrides` and `diff`: all a 0.1.0 gate sees.

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::{Approval, Caller, GateResult, Overrides, Recorded, plan_digest, run_id, show, verdict};
use crate::context::Context;
use crate::plan::Plan;
use crate::plan::deployments::answer_plan;
use crate::plugin::LazyPlugin;
use crate::plugin::bindings;

/// A gate whose inconclusive reasons change at every poll (a counter, a timestamp) cannot grow the
/// audit chain without bound: past this many records at one hook, only the final decision is.
pub const MAX_INCONCLUSIVE_RECORDS: u32 = 20;

/// What a stage gate judges.
#[derive(Debug, Clone)]
pub struct StagePlan {
    pub stage: String,
    pub deployment_arn: String,
    pub hook_id: String,
    /// The described service deployment (revisions, weights, hooks, configuration).
    pub deployment: Value,
    /// Seconds since the deployment was created.
    pub elapsed_seconds: f64,
    /// The deploy's plan: its digest and its task definition (what the gate saw before the deploy).
    pub deploy_plan: Option<Plan>,
    /// Without a deploy plan: a plan holding the target revision's task definition, what the gates
    /// judge then (`continue` and stages reached under `wait` used to show them none).
    pub target: Option<Plan>,
    /// The deploy's decision record (`run_id`), when it was recorded.
    pub parent_run_id: Option<String>,
    /// How many times the gates were asked at this hook before.
    pub attempt: u32,
    /// The reasons of the last inconclusive verdict at this hook (recorded once while unchanged).
    pub previous_reasons: Vec<String>,
    /// Inconclusive verdicts already recorded at this hook (at most [`MAX_INCONCLUSIVE_RECORDS`]).
    pub inconclusive_recorded: u32,
    /// No time is left (`--timeout`): an inconclusive verdict now rolls back.
    pub last_chance: bool,
}

impl StagePlan {
    /// The JSON a gate sees in `overrides` (and `diff`).
    pub fn details(&self) -> Value {
        let d = &self.deployment;
        json!({
            "stage": self.stage,
            "hook_id": self.hook_id,
            "service_deployment_arn": self.deployment_arn,
            "status": d.get("status"),
            "lifecycle_stage": d.get("lifecycleStage"),
            "strategy": d.pointer("/deploymentConfiguration/strategy"),
            "target_revision": d.get("targetServiceRevision"),
            "source_revisions": d.get("sourceServiceRevisions"),
            "elapsed_seconds": self.elapsed_seconds,
            "bake_time_in_minutes": d.pointer("/deploymentConfiguration/bakeTimeInMinutes"),
            "deploy_plan_digest": self.deploy_plan.as_ref().map(plan_digest),
            "parent_run_id": self.parent_run_id,
            "attempt": self.attempt,
        })
    }

    /// The typed record a 0.2.0 gate gets.
    fn wit_stage(&self) -> bindings::Stage {
        let d = &self.deployment;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        let target = d.get("targetServiceRevision");
        let weight = |k: &str| target.and_then(|t| t.get(k)).and_then(Value::as_f64);
        let sources = d.get("sourceServiceRevisions").and_then(Value::as_array);
        bindings::Stage {
            name: self.stage.clone(),
            hook_id: self.hook_id.clone(),
            service_deployment_arn: self.deployment_arn.clone(),
            strategy: text(d.pointer("/deploymentConfiguration/strategy")),
            target_revision_arn: text(target.and_then(|t| t.get("arn"))),
            source_revision_arns: sources.into_iter().flatten().map(|s| text(s.get("arn"))).collect(),
            production_weight: weight("requestedProductionTrafficWeight"),
            test_weight: weight("requestedTestTrafficWeight"),
            elapsed_seconds: self.elapsed_seconds,
            bake_time_in_minutes: d.pointer("/deploymentConfiguration/bakeTimeInMinutes").and_then(Value::as_u64).and_then(|m| u32::try_from(m).ok()),
            deploy_plan_digest: self.deploy_plan.as_ref().map(plan_digest),
            parent_run_id: self.parent_run_id.clone(),
            attempt: self.attempt,
            deployment: d.to_string(),
        }
    }
}

/// What the gates decided at a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    Rollback,
    /// Not yet: the hook stays paused and the gates are asked again.
    Inconclusive,
}

/// The verdict, and (unless inconclusive) the answer's plan (CONTINUE or ROLLBACK) with the
/// approval to perform it.
pub struct StageDecision {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub answer: Option<(Plan, Approval)>,
}

/// The gates bound to `stage`.
pub fn bound<'a>(ctx: &'a Context, stage: &str) -> Vec<&'a LazyPlugin> {
    ctx.plugins.plugins.iter().map(|lp| lp.as_ref()).filter(|lp| lp.config.stages.iter().any(|s| s == stage)).collect()
}

/// Asks the gates bound to the stage, records the decision and returns the answer to perform.
/// `who` is the deploying identity (looked up once per run by the caller, not at every re-ask).
pub async fn evaluate_stage(ctx: &Context, aws: &crate::aws::Aws, stage: &StagePlan, who: &Caller) -> Result<StageDecision> {
    let gates = bound(ctx, &stage.stage);
    let wit = wit_plan(ctx, aws, stage, who);
    let results: Vec<GateResult> = gates.iter().map(|lp| verdict(lp, &wit, &Overrides::default())).collect();
    let (verdict, reasons) = verdict_of(&results, stage.last_chance);
    // A gate asked again with nothing new to say is neither printed nor recorded again; and a
    // gate whose reasons change at every poll stops being recorded after the cap.
    let news = reasons != stage.previous_reasons;
    if verdict == Verdict::Inconclusive && !(news && stage.inconclusive_recorded < MAX_INCONCLUSIVE_RECORDS) {
        if news {
            results.iter().for_each(|r| show(r, &Overrides::default()));
        }
        return Ok(StageDecision { verdict, reasons, answer: None });
    }
    results.iter().for_each(|r| show(r, &Overrides::default()));
    let log = super::Sink::for_config(&ctx.config, aws);
    let run_id = run_id();
    let mut record = json!({
        "kind": "stage-decision", "run_id": run_id, "parent_run_id": stage.parent_run_id, "time": wit.time,
        "command": wit.command, "cluster": ctx.config.cluster, "service": ctx.config.service, "caller": who.arn,
        "stage": stage.stage, "service_deployment_arn": stage.deployment_arn, "hook_id": stage.hook_id,
        "attempt": stage.attempt,
        "gates": results.iter().map(|r| r.to_json(&Overrides::default())).collect::<Vec<_>>(),
        "outcome": match verdict { Verdict::Continue => "continue", Verdict::Rollback => "rollback", Verdict::Inconclusive => "inconclusive" },
    });
    if verdict == Verdict::Inconclusive {
        let record: Map<String, Value> = record.as_object().cloned().unwrap_or_default();
        let head = log.append(record).map_err(|e| e.context("the stage decision could not be recorded: the deployment is left paused"))?;
        eprintln!("audit: stage decision at {} (inconclusive) appended to {} (head {head})", stage.stage, log.location());
        return Ok(StageDecision { verdict, reasons, answer: None });
    }
    let action = if verdict == Verdict::Continue { "CONTINUE" } else { "ROLLBACK" };
    let plan = answer_plan(ctx, &stage.deployment_arn, &stage.hook_id, action, &stage.deployment);
    let digest = plan_digest(&plan);
    record["plan_digest"] = json!(digest);
    record["mutations"] = json!(plan.mutations());
    record["steps"] = json!(plan.steps_json());
    let record: Map<String, Value> = record.as_object().cloned().unwrap_or_default();
    let decision_hash = log.append(record).map_err(|e| e.context("the stage decision could not be recorded: the deployment is left paused"))?;
    eprintln!("audit: stage decision at {} ({action}) appended to {} (head {decision_hash})", stage.stage, log.location());
    let approval = Approval {
        plan_digest: digest,
        dry_run: false,
        record: Some(Recorded { evidence: None, log, run_id, decision_hash }),
        // The deploy that reached this stage holds the service's lock; its own answer must not wait for it.
        lock: None,
    };
    Ok(StageDecision { verdict, reasons, answer: Some((plan, approval)) })
}

/// Any denial (or failure) rolls back; otherwise an inconclusive gate keeps the hook paused,
/// until the last chance, when it rolls back too (fail closed).
fn verdict_of(results: &[GateResult], last_chance: bool) -> (Verdict, Vec<String>) {
    let blocked: Vec<&GateResult> = results.iter().filter(|r| r.outcome == "blocked").collect();
    let reasons = |rs: &[&GateResult], prefix: &str| -> Vec<String> {
        rs.iter().flat_map(|r| r.reasons.iter().map(move |why| format!("gate {}: {prefix}{why}", r.gate))).collect()
    };
    let (pending, denied): (Vec<&GateResult>, Vec<&GateResult>) = blocked.into_iter().partition(|r| r.decision == "inconclusive");
    if !denied.is_empty() {
        return (Verdict::Rollback, reasons(&denied, ""));
    }
    match (pending.is_empty(), last_chance) {
        (true, _) => (Verdict::Continue, Vec::new()),
        (false, false) => (Verdict::Inconclusive, reasons(&pending, "inconclusive: ")),
        (false, true) => (Verdict::Rollback, reasons(&pending, "still inconclusive at --timeout: ")),
    }
}

/// The deploy's own WIT plan (what gates saw for the deploy, its `steps` included: the requests
/// that started the deployment being judged), with the stage in place of the command and the stage
/// details as its diff and overrides.
fn wit_plan(ctx: &Context, aws: &crate::aws::Aws, stage: &StagePlan, who: &Caller) -> bindings::Plan {
    let details = stage.details().to_string();
    let empty = Plan::new("", &ctx.config.cluster, ctx.config.service.as_deref());
    let base = super::wit_plan(aws, stage.deploy_plan.as_ref().or(stage.target.as_ref()).unwrap_or(&empty), who);
    bindings::Plan {
        command: format!("stage:{}", stage.stage),
        service_definition: None,
        diff: details.clone(),
        desired_count: None,
        overrides: Some(details),
        stage: Some(stage.wit_stage()),
        steps: super::wit_steps(stage.deploy_plan.as_ref().unwrap_or(&empty)),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::{Verdict, verdict_of};
    use crate::gate::{Enforcement, GateResult};

    fn result(gate: &str, decision: &'static str, outcome: &'static str) -> GateResult {
        GateResult {
            gate: gate.into(),
            sha256: String::new(),
            enforcement: Enforcement::HardMandatory,
            decision,
            reasons: vec![format!("{decision} reason")],
            overridden: false,
            outcome,
            verified: Vec::new(),
        }
    }

    #[test]
    fn a_denial_rolls_back_whatever_the_others_say() {
        let (v, why) = verdict_of(&[result("a", "inconclusive", "blocked"), result("b", "deny", "blocked")], false);
        assert_eq!(v, Verdict::Rollback);
        assert_eq!(why, vec!["gate b: deny reason"]);
    }

    #[test]
    fn inconclusive_waits_then_rolls_back_at_the_last_chance() {
        let pending = [result("a", "allow", "allowed"), result("c", "inconclusive", "blocked")];
        assert_eq!(verdict_of(&pending, false), (Verdict::Inconclusive, vec!["gate c: inconclusive: inconclusive reason".to_owned()]));
        assert_eq!(verdict_of(&pending, true), (Verdict::Rollback, vec!["gate c: still inconclusive at --timeout: inconclusive reason".to_owned()]));
    }

    #[test]
    fn allowed_warned_and_advisory_inconclusive_continue() {
        let rs = [result("a", "allow", "allowed"), result("w", "warn", "warned"), result("i", "inconclusive", "warned")];
        assert_eq!(verdict_of(&rs, true), (Verdict::Continue, vec![]));
        assert_eq!(verdict_of(&[], false), (Verdict::Continue, vec![]));
    }
}
