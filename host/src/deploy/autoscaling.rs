//! `--suspend-auto-scaling`, `--resume-auto-scaling`, `--auto-scaling-min/max`: Application Auto
//! Scaling's scalable target for the service, changed only when a flag asks for it.

use anyhow::Result;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace, SuspendedState};

use super::progress::Reporter;
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

pub async fn apply(aws: &Aws, cluster: &str, service: &str, change: &Change, dry_run: bool, reporter: &Reporter) -> Result<()> {
    if change.is_empty() {
        return Ok(());
    }
    let client = aws.autoscaling();
    let (resource, targets) = scalable_targets(aws, cluster, service).await?;
    if targets.is_empty() {
        tracing::warn!("no scalable target for {resource}: auto scaling flags ignored");
        return Ok(());
    }
    let what = format!(
        "auto scaling:{}{}{}",
        change.suspend.map(|s| if s { " suspend" } else { " resume" }).unwrap_or(""),
        change.min.map(|m| format!(" min {m}")).unwrap_or_default(),
        change.max.map(|m| format!(" max {m}")).unwrap_or_default()
    );
    if dry_run {
        reporter.info(&format!("{what} (dry run)"));
        return Ok(());
    }
    let mut req = client
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .set_min_capacity(change.min)
        .set_max_capacity(change.max);
    if let Some(s) = change.suspend {
        req = req
            .suspended_state(SuspendedState::builder().dynamic_scaling_in_suspended(s).dynamic_scaling_out_suspended(s).scheduled_scaling_suspended(s).build());
    }
    req.send().await.sdk_context(|| format!("updating scalable target {resource}"))?;
    reporter.info(&what);
    Ok(())
}
