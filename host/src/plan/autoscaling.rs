//! `--suspend-auto-scaling`, `--resume-auto-scaling`, `--auto-scaling-min/max`: a change to
//! Application Auto Scaling's scalable target for the service, planned only when a flag asks for it
//! and the service has a target.

use anyhow::Result;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};

use super::Step;
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
/// scalable target (without one the flags are ignored, with a warning, as ecspresso does).
pub async fn step(aws: &Aws, cluster: &str, service: &str, change: &Change) -> Result<Option<Step>> {
    if change.is_empty() {
        return Ok(None);
    }
    let (resource, targets) = scalable_targets(aws, cluster, service).await?;
    if targets.is_empty() {
        tracing::warn!("no scalable target for {resource}: auto scaling flags ignored");
        return Ok(None);
    }
    Ok(Some(Step::RegisterScalableTarget { resource, min: change.min, max: change.max, suspend: change.suspend }))
}
