//! The one path every mutating command takes (cargo's `ops/` under its `commands/`):
//! plan (built by the caller) → gate → dry run stops here → apply → wait (the caller's follow) →
//! the steps that wait for the rollout → outcome record. Commands only turn arguments into a plan
//! and options, and outcomes into output; none of them calls the gate or apply itself.

pub mod follow;

use anyhow::Result;
use aws_config::SdkConfig;

use crate::apply::{Applied, Apply};
use crate::aws::Aws;
use crate::context::Context;
use crate::gate::{self, Approval, Overrides};
use crate::plan::Plan;
use crate::progress::Progress;

/// How a command wants its plan carried out.
pub struct Options<'a> {
    pub overrides: &'a Overrides,
    pub dry_run: bool,
    /// Whether the follow waits; the steps that wait for the rollout run only then.
    pub wait: bool,
    pub progress: &'a dyn Progress,
    /// Credentials of the ECS agent, for steps sent as the task execution role.
    pub agent: Option<SdkConfig>,
}

impl<'a> Options<'a> {
    pub fn new(overrides: &'a Overrides, dry_run: bool, progress: &'a dyn Progress) -> Self {
        Options { overrides, dry_run, wait: true, progress, agent: None }
    }
}

/// What became of a plan that was carried out: what was done and the command's result. The
/// outcome record is already written.
pub struct Outcome {
    pub applied: Applied,
    pub result: Result<()>,
}

impl Outcome {
    /// The command's result, dropping what was applied.
    pub fn into_result(self) -> Result<()> {
        self.result
    }
}

/// What [`execute`] did.
pub enum Ran {
    /// `--dry-run`: the gates judged (and the decision was recorded), nothing was sent.
    DryRun,
    Done(Outcome),
}

/// Gates `plan`, then (unless a dry run) checks `ready` (a confirmation, a tool the command needs
/// afterwards), applies the steps, follows the rollout and records the outcome. A gate that
/// blocks, or a `ready` that refuses, returns an error with nothing changed.
pub async fn execute(
    ctx: &Context,
    aws: &Aws,
    plan: &Plan,
    opts: Options<'_>,
    ready: impl FnOnce() -> Result<()>,
    follow: impl AsyncFnOnce(&Apply<'_>) -> Result<()>,
) -> Result<Ran> {
    let approval = gate::evaluate(ctx, aws, plan, opts.overrides, opts.dry_run).await?;
    if opts.dry_run {
        return Ok(Ran::DryRun);
    }
    let mut apply = Apply::new(plan, approval, aws, opts.progress)?;
    if let Some(agent) = opts.agent {
        apply = apply.with_agent(agent);
    }
    if let Err(e) = ready() {
        let refused: Result<()> = Err(anyhow::anyhow!("{e:#}"));
        apply.finish(&refused)?;
        return Err(e);
    }
    Ok(Ran::Done(carry_out(apply, opts.wait, opts.progress, follow).await?))
}

/// Applies a plan that stage gates approved (their decision is already recorded): the same
/// apply, no follow.
pub async fn apply_approved(plan: &Plan, approval: Approval, aws: &Aws, progress: &dyn Progress) -> Result<Outcome> {
    let apply = Apply::new(plan, approval, aws, progress)?;
    carry_out(apply, false, progress, async |_| Ok(())).await
}

/// Performs an approved apply whose lock may already be held: the steps, the follow, the steps
/// after the wait (when `wait`), then the outcome record. `stack` uses it per member.
pub async fn carry_out(mut apply: Apply<'_>, wait: bool, progress: &dyn Progress, follow: impl AsyncFnOnce(&Apply<'_>) -> Result<()>) -> Result<Outcome> {
    let mut result = apply.run().await;
    if result.is_ok() {
        result = follow(&apply).await;
    }
    if result.is_ok() && wait {
        result = apply.run_after_wait().await;
    }
    if !apply.applied.tag_failures.is_empty() {
        // Reported after the wait, which a tag failure does not abandon.
        let msg = format!("the service's tags were not changed: {}", apply.applied.tag_failures.join("; "));
        match &result {
            Ok(()) => result = Err(anyhow::anyhow!("the rollout completed, but {msg}")),
            Err(_) => progress.info(&msg),
        }
    }
    let applied = apply.finish(&result)?;
    Ok(Outcome { applied, result })
}
