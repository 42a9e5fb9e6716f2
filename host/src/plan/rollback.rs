//! The plan of `rollback`: back to the previous ACTIVE revision of the running task definition's
//! family (ECS, or a CodeDeploy deployment of it), or — when a CodeDeploy deployment is in
//! progress — stopping it with auto rollback. The revision rolled back from is deregistered only
//! after the rollback completed. An ECS service deployment in progress is rolled back by ECS
//! instead (StopServiceDeployment ROLLBACK, or ContinueServiceDeployment ROLLBACK at a paused hook).

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::step::{Service, Step};
use super::{Plan, Role, codedeploy, described_td};
use crate::aws::{Aws, ecs};
use crate::context::Context;

#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    pub deregister: bool,
    pub wait: bool,
    pub rollback_events: Vec<String>,
    /// `--with-previous-task-definition` (ecspresso v3): deploy the previous revision even when a
    /// service deployment is active, instead of rolling that deployment back.
    pub with_previous: bool,
}

pub struct RollbackPlan {
    pub plan: Plan,
    pub remote: Value,
    pub codedeploy: bool,
    /// A CodeDeploy deployment being stopped (no wait follows).
    pub stops: Option<String>,
    /// The ECS service deployment being rolled back (the wait expects ROLLBACK_SUCCESSFUL).
    pub service_deployment: Option<String>,
    pub from: String,
    pub to: Option<String>,
}

/// The next lower ACTIVE revision of `current`'s family.
pub fn target(current: &str, active: &[String]) -> Option<String> {
    let rev = ecs::revision_of_arn(current)?;
    active.iter().filter(|a| ecs::revision_of_arn(a).is_some_and(|r| r < rev)).max_by_key(|a| ecs::revision_of_arn(a)).cloned()
}

pub async fn plan(ctx: &Context, aws: &Aws, opts: &RollbackOptions) -> Result<RollbackPlan> {
    if opts.deregister && !opts.wait {
        return Err(
            crate::error::InputError::new("--no-wait needs --no-deregister-task-definition (cortado deregisters only after the rollback completes)").into()
        );
    }
    codedeploy::check_rollback_events(&opts.rollback_events)?;
    let service = ctx.service_name()?;
    let client = aws.ecs();
    let sv = ecs::describe_service(&client, &ctx.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let current = sv.get("taskDefinition").and_then(Value::as_str).unwrap_or("").to_owned();
    let family = ecs::family_of_arn(&current).unwrap_or("").to_owned();
    let is_codedeploy = crate::aws::controller::Controller::of(&sv) == crate::aws::controller::Controller::CodeDeploy;
    let mut plan = Plan::new("rollback", &ctx.config.cluster, Some(&service));
    plan.service_before = Some(sv.clone());

    if is_codedeploy && let Some(id) = codedeploy::in_progress(ctx, aws).await? {
        // Stopping with auto rollback leaves the service on what it ran before the deployment.
        plan.task_definitions.push(described_td(&client, &current, Role::Runs).await?);
        plan.diff = format!("stop CodeDeploy deployment {id} (auto rollback)\n");
        let input = json!({"deploymentId": id, "autoRollbackEnabled": true});
        plan.push(Step::new(Service::CodeDeploy, "StopDeployment", input, format!("deployment {id} (auto rollback)")));
        return Ok(RollbackPlan { plan, remote: sv, codedeploy: true, stops: Some(id), service_deployment: None, from: current, to: None });
    }
    if !is_codedeploy && !opts.with_previous {
        if let Some(active) = super::deployments::active_rollback(ctx, aws).await? {
            let to = active.plan.running_td().and_then(|t| t.arn.clone());
            return Ok(RollbackPlan { plan: active.plan, remote: sv, codedeploy: false, stops: None, service_deployment: Some(active.arn), from: current, to });
        }
        if ctx.config.ecspresso_v3 {
            anyhow::bail!(
                "no active deployment of service {service} to roll back ({}: rollback stops an active deployment); pass --with-previous-task-definition to deploy the revision before {}",
                crate::config::V3_NOTE,
                ecs::short_task_definition(&current)
            );
        }
    }

    let active = ecs::active_revisions(&client, &family).await?;
    let to = target(&current, &active)
        .with_context(|| format!("rollback target is not found: no ACTIVE revision of {family} below {}", ecs::short_task_definition(&current)))?;
    let target_td = described_td(&client, &to, Role::Runs).await?;
    let current_td = described_td(&client, &current, Role::Runs).await?;
    plan.diff = crate::diff::Pair::task_definition(&target_td.body, Some(&current_td.body), &current, &to).unified();
    plan.task_definitions.push(target_td);
    if is_codedeploy {
        let t = codedeploy::target(ctx, aws).await?;
        plan.push(super::deploy::deployment_step(&t, &sv, ctx.config.appspec.as_ref(), json!(to), &opts.rollback_events)?);
    } else {
        plan.push(super::deploy::update_step(json!({"cluster": ctx.config.cluster, "service": service}), Some(json!(to))));
    }
    let mut after = sv.clone();
    after["taskDefinition"] = json!(to);
    plan.service_after = Some(after);
    if opts.deregister {
        plan.task_definitions.push(super::PlannedTd { role: Role::Removed, ..current_td });
        plan.after_wait.push(super::lifecycle::deregister_step(&current));
    }
    Ok(RollbackPlan { plan, remote: sv, codedeploy: is_codedeploy, stops: None, service_deployment: None, from: current, to: Some(to) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_the_next_lower_active_revision() {
        let a = |r: i32| format!("arn:aws:ecs:r:1:task-definition/app:{r}");
        let active = vec![a(1), a(3), a(4), a(7)];
        assert_eq!(target(&a(7), &active), Some(a(4)));
        assert_eq!(target(&a(5), &active), Some(a(4)));
        assert_eq!(target(&a(1), &active), None);
    }
}
