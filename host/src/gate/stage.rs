//! Stage gates: a gate plugin bound to lifecycle hook stages (`stages: [POST_TEST_TRAFFIC_SHIFT]`)
//! judges a native deployment when it pauses at a PAUSE hook there. Allow → the hook is answered
//! CONTINUE; deny, a trap or a timeout → ROLLBACK (fail closed). The decision is an audit record
//! chained to the deploy's (`parent_run_id`), and the answer is a one-step plan that only the
//! approval made here lets `apply/` perform.
//!
//! Today's WIT (`cortado:plugin@0.1`) has no stage record: the gate's `evaluate()` gets the usual
//! plan with `command` = `stage:<STAGE>` and the stage details (stage, deployment and revision
//! ARNs, traffic weights, elapsed bake, hook, the deploy's plan digest) as JSON in both `overrides`
//! and `diff`. A typed record belongs to the next WIT version.

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::{Approval, GateResult, Overrides, Recorded, caller, judge, plan_digest, run_id};
use crate::context::Context;
use crate::plan::Plan;
use crate::plan::deployments::answer_plan;
use crate::plugin::LazyPlugin;
use crate::plugin::bindings;

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
    /// The deploy's decision record (`run_id`), when it was recorded.
    pub parent_run_id: Option<String>,
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
        })
    }
}

/// The verdict: the answer's plan (CONTINUE or ROLLBACK) and the approval to perform it.
pub struct StageDecision {
    pub allowed: bool,
    pub reasons: Vec<String>,
    pub plan: Plan,
    pub approval: Approval,
}

/// The gates bound to `stage`.
pub fn bound<'a>(ctx: &'a Context, stage: &str) -> Vec<&'a LazyPlugin> {
    ctx.plugins.plugins.iter().map(|lp| lp.as_ref()).filter(|lp| lp.config.stages.iter().any(|s| s == stage)).collect()
}

/// Asks the gates bound to the stage, records the decision and returns the answer to perform.
pub async fn evaluate_stage(ctx: &Context, aws: &crate::aws::Aws, stage: &StagePlan) -> Result<StageDecision> {
    let gates = bound(ctx, &stage.stage);
    let who = caller(aws).await?;
    let wit = wit_plan(ctx, aws, stage, &who);
    let results: Vec<GateResult> = gates.iter().map(|lp| judge(lp, &wit, &Overrides::default())).collect();
    let blocked: Vec<&GateResult> = results.iter().filter(|r| r.outcome == "blocked").collect();
    let allowed = blocked.is_empty();
    let reasons: Vec<String> = blocked.iter().flat_map(|r| r.reasons.iter().map(move |why| format!("gate {}: {why}", r.gate))).collect();
    let action = if allowed { "CONTINUE" } else { "ROLLBACK" };
    let plan = answer_plan(ctx, &stage.deployment_arn, &stage.hook_id, action, &stage.deployment);
    let digest = plan_digest(&plan);
    let log = super::Sink::for_config(&ctx.config, aws);
    let run_id = run_id();
    let record = json!({
        "kind": "stage-decision", "run_id": run_id, "parent_run_id": stage.parent_run_id, "time": wit.time,
        "command": wit.command, "cluster": plan.cluster, "service": plan.service, "caller": who.arn,
        "stage": stage.stage, "service_deployment_arn": stage.deployment_arn, "hook_id": stage.hook_id,
        "plan_digest": digest, "mutations": plan.mutations(),
        "gates": results.iter().map(|r| r.to_json(&Overrides::default())).collect::<Vec<_>>(),
        "outcome": if allowed { "continue" } else { "rollback" },
    });
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
    Ok(StageDecision { allowed, reasons, plan, approval })
}

/// The deploy's own WIT plan (what gates saw for the deploy), with the stage in place of the
/// command and the stage details as its diff and overrides.
fn wit_plan(ctx: &Context, aws: &crate::aws::Aws, stage: &StagePlan, who: &super::Caller) -> bindings::Plan {
    let details = stage.details().to_string();
    let empty = Plan::new("", &ctx.config.cluster, ctx.config.service.as_deref());
    let base = super::wit_plan(aws, stage.deploy_plan.as_ref().unwrap_or(&empty), who);
    bindings::Plan {
        command: format!("stage:{}", stage.stage),
        service_definition: None,
        diff: details.clone(),
        desired_count: None,
        overrides: Some(details),
        ..base
    }
}
