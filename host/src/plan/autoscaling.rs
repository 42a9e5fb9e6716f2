//! `--suspend-auto-scaling`, `--resume-auto-scaling`, `--auto-scaling-min/max`: a change to
//! Application Auto Scaling's scalable target for the service, planned only when a flag asks for it
//! and the service has a target.

use anyhow::Result;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};

use serde_json::{Value, json};

use super::step::{Service, Step};
use crate::aws::{Aws, SdkContext};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    /// Some(true) suspends scaling in, out and scheduled; Some(false) resumes all three.
    pub suspend: Option<bool>,
    pub min: Option<i32>,
    pub max: Option<i32>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.suspend.is_none() && self.min.is_none() && self.max.is_none()
    }
}

/// The service's scalable targets (ECS DesiredCount dimension) and their resource id.
pub async fn scalable_targets(aws: &Aws, cluster: &str, service: &str) -> Result<(String, Vec<ScalableTarget>)> {
    let resource = format!("service/{cluster}/{service}");
    let out = aws
        .autoscaling()
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .sdk_context(|| "describing scalable targets".into())?;
    Ok((resource, out.scalable_targets().to_vec()))
}

/// The RegisterScalableTarget step for `change`, if the flags ask for one and the service has a
/// scalable target (without one the flags are ignored, with a warning, as ecspresso does), and
/// the compensation to send if the deploy fails before its rollout starts: suspending a target
/// that was scaling is undone then.
pub async fn step(aws: &Aws, cluster: &str, service: &str, change: &Change) -> Result<Option<(Step, Vec<Step>)>> {
    if change.is_empty() {
        return Ok(None);
    }
    let (resource, targets) = scalable_targets(aws, cluster, service).await?;
    if targets.is_empty() {
        tracing::warn!("no scalable target for {resource}: auto scaling flags ignored");
        return Ok(None);
    }
    let was_scaling = targets.iter().any(|t| t.suspended_state().is_none_or(|s| s.dynamic_scaling_in_suspended() != Some(true)));
    let undo = if change.suspend == Some(true) && was_scaling {
        let resume = Change { suspend: Some(false), min: None, max: None };
        let mut s = register(&resource, &resume);
        s.resource = format!("{} (compensation: the deploy failed before its rollout)", s.resource);
        vec![s]
    } else {
        vec![]
    };
    Ok(Some((register(&resource, change), undo)))
}

/// RegisterScalableTarget for the service's DesiredCount dimension with exactly what `change` sets.
pub fn register(resource: &str, change: &Change) -> Step {
    let mut input = json!({"ServiceNamespace": "ecs", "ResourceId": resource, "ScalableDimension": "ecs:service:DesiredCount"});
    if let Some(m) = change.min {
        input["MinCapacity"] = json!(m);
    }
    if let Some(m) = change.max {
        input["MaxCapacity"] = json!(m);
    }
    if let Some(s) = change.suspend {
        input["SuspendedState"] = json!({"DynamicScalingInSuspended": s, "DynamicScalingOutSuspended": s, "ScheduledScalingSuspended": s});
    }
    let what = format!(
        "{resource}{}{}{}",
        change.suspend.map(|s| if s { " suspend" } else { " resume" }).unwrap_or(""),
        change.min.map(|m| format!(" min {m}")).unwrap_or_default(),
        change.max.map(|m| format!(" max {m}")).unwrap_or_default()
    );
    Step::new(Service::AutoScaling, "RegisterScalableTarget", input, what)
}

/// The scalable-target change a plan's RegisterScalableTarget step makes (what the gate's plan
/// calls `autoscaling`): read from the step's input, so the two cannot disagree.
pub fn change_of(input: &Value) -> Change {
    let int = |k: &str| input.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
    Change { suspend: input.pointer("/SuspendedState/DynamicScalingInSuspended").and_then(Value::as_bool), min: int("MinCapacity"), max: int("MaxCapacity") }
}
