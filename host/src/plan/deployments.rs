//! Plans that act on an ECS service deployment in progress: `continue` (answer a PAUSE hook),
//! `rollback` of an active deployment (StopServiceDeployment ROLLBACK, or ContinueServiceDeployment
//! ROLLBACK when it waits at a hook), and a stage gate's answer.

use anyhow::Result;
use serde_json::{Value, json};

use super::{Plan, Role, Step, described_td};
use crate::aws::deployments::{self as sd, PausedHook};
use crate::aws::{Aws, ecs};
use crate::context::Context;
use crate::error::InputError;

/// A plan on one service deployment, with the deployment as described when it was made.
pub struct DeploymentPlan {
    pub plan: Plan,
    pub deployment: Value,
    pub arn: String,
    /// The hook answered (continue, or a rollback of a paused deployment).
    pub hook: Option<PausedHook>,
}

/// `cortado continue [--hook-id ID] [--rollback]`: the only paused hook, or the one named.
pub async fn continue_plan(ctx: &Context, aws: &Aws, hook_id: Option<&str>, rollback: bool) -> Result<DeploymentPlan> {
    let service = ctx.service_name()?;
    let client = aws.ecs();
    let d = sd::in_progress(&client, &ctx.config.cluster, &service)
        .await?
        .ok_or_else(|| InputError::new(format!("service {service} has no service deployment in progress: nothing to continue")))?;
    let arn = str_of(&d, "serviceDeploymentArn").to_owned();
    let paused = sd::paused_hooks(&d);
    let hook = match hook_id {
        Some(id) => paused
            .iter()
            .find(|h| h.hook_id == id)
            .cloned()
            .ok_or_else(|| InputError::new(format!("--hook-id {id}: no PAUSE hook of {arn} awaits action (waiting: {})", ids(&paused))))?,
        None => match paused.as_slice() {
            [one] => one.clone(),
            [] => return Err(InputError::new(format!("service deployment {arn} is not paused at a hook (stage {})", str_of(&d, "lifecycleStage"))).into()),
            _ => return Err(InputError::new(format!("several hooks await action ({}): choose one with --hook-id", ids(&paused))).into()),
        },
    };
    let action = if rollback { "ROLLBACK" } else { "CONTINUE" };
    let mut plan = answer_plan(ctx, &arn, &hook.hook_id, action, &d);
    add_target_td(&client, &mut plan, &d, rollback).await?;
    Ok(DeploymentPlan { plan, deployment: d, arn, hook: Some(hook) })
}

/// The rollback of an active service deployment, or None when none is in progress.
pub async fn active_rollback(ctx: &Context, aws: &Aws) -> Result<Option<DeploymentPlan>> {
    let service = ctx.service_name()?;
    let client = aws.ecs();
    let Some(d) = sd::in_progress(&client, &ctx.config.cluster, &service).await? else { return Ok(None) };
    let arn = str_of(&d, "serviceDeploymentArn").to_owned();
    let hook = sd::paused_hooks(&d).into_iter().next();
    let mut plan = match &hook {
        Some(h) => answer_plan(ctx, &arn, &h.hook_id, "ROLLBACK", &d),
        None => {
            let mut p = base(ctx, &d);
            p.diff = format!("stop service deployment {arn} (ROLLBACK to its source revision)\n");
            let input = json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"});
            p.push(Step::ecs("StopServiceDeployment", input, format!("service deployment {arn} (ROLLBACK)")));
            p
        }
    };
    plan.command = "rollback".into();
    add_target_td(&client, &mut plan, &d, true).await?;
    Ok(Some(DeploymentPlan { plan, deployment: d, arn, hook }))
}

/// The one-step plan answering `hook_id` with `action` (CONTINUE or ROLLBACK).
pub fn answer_plan(ctx: &Context, arn: &str, hook_id: &str, action: &str, deployment: &Value) -> Plan {
    let mut plan = base(ctx, deployment);
    plan.diff = format!("answer hook {hook_id} of service deployment {arn} at {}: {action}\n", str_of(deployment, "lifecycleStage"));
    plan.overrides = Some(json!({"service_deployment_arn": arn, "hook_id": hook_id, "action": action}));
    let input = json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": action});
    plan.push(Step::ecs("ContinueServiceDeployment", input, format!("hook {hook_id} of service deployment {arn} ({action})")));
    plan
}

/// What a stage gate judges when no deploy plan is at hand (the deployment was started by another
/// run, and this one is `wait` or `continue`): the target revision's task definition, with its body.
pub async fn target_revision_plan(ctx: &Context, aws: &Aws, d: &Value) -> Result<Plan> {
    let mut plan = base(ctx, d);
    plan.command = "deploy".into();
    add_target_td(&aws.ecs(), &mut plan, d, false).await?;
    Ok(plan)
}

fn base(ctx: &Context, deployment: &Value) -> Plan {
    let mut plan = Plan::new("continue", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.service_before = Some(deployment.clone());
    plan
}

/// What will run afterwards (the target revision's task definition, or the source's on a rollback),
/// with its body, so that gates judge it like any other plan.
async fn add_target_td(client: &aws_sdk_ecs::Client, plan: &mut Plan, d: &Value, rollback: bool) -> Result<()> {
    let rev = if rollback {
        d.pointer("/sourceServiceRevisions/0/arn").and_then(Value::as_str)
    } else {
        d.pointer("/targetServiceRevision/arn").and_then(Value::as_str)
    };
    let Some(rev) = rev else { return Ok(()) };
    if let Some((_, td)) = sd::revision_task_definitions(client, &[rev.to_owned()]).await?.into_iter().next() {
        plan.task_definitions.push(described_td(client, &td, Role::Runs).await?);
        plan.diff.push_str(&format!("runs afterwards: {}\n", ecs::short_task_definition(&td)));
    }
    Ok(())
}

fn ids(hooks: &[PausedHook]) -> String {
    if hooks.is_empty() { "none".into() } else { hooks.iter().map(|h| format!("{} at {}", h.hook_id, h.stage)).collect::<Vec<_>>().join(", ") }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}
