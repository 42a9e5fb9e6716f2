//! Waiting on a CodeDeploy deployment: its status, lifecycle events and traffic shift.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use aws_sdk_codedeploy::types::DeploymentStatus;

use super::{Interrupted, RolloutFailed, poll_interval};
use crate::aws::{Aws, SdkContext};
use crate::progress::Progress;

/// Polls a CodeDeploy deployment to Succeeded (ok) or Failed/Stopped (error), showing status
/// changes and the traffic shifted to the replacement task set.
pub async fn wait_deployment(aws: &Aws, cluster: &str, service: &str, id: &str, timeout: Duration, reporter: &dyn Progress) -> Result<()> {
    let client = aws.codedeploy();
    let start = Instant::now();
    let deadline = start + timeout;
    let mut last_status = String::new();
    let mut last_lifecycle = String::new();
    crate::interrupt::set_hint(format!("interrupted; CodeDeploy deployment {id} goes on. Resume watching with `cortado wait`."));
    loop {
        let out = client.get_deployment().deployment_id(id).send().await.sdk_context(|| format!("reading CodeDeploy deployment {id}"))?;
        let info = out.deployment_info().context("GetDeployment returned nothing")?;
        let status = info.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if status != last_status {
            reporter.info(&format!("CodeDeploy deployment {id}: {status}"));
            last_status = status.clone();
        }
        if let Ok(t) = client.get_deployment_target().deployment_id(id).target_id(format!("{cluster}:{service}")).send().await
            && let Some(ecs_target) = t.deployment_target().and_then(|d| d.ecs_target())
        {
            let events: Vec<String> = ecs_target
                .lifecycle_events()
                .iter()
                .filter(|e| e.status().is_some_and(|s| s.as_str() != "Pending"))
                .map(|e| format!("{}:{}", e.lifecycle_event_name().unwrap_or(""), e.status().map(|s| s.as_str()).unwrap_or("")))
                .collect();
            let traffic: Vec<String> = ecs_target
                .task_sets_info()
                .iter()
                .map(|ts| format!("{} {}%", ts.task_set_label().map(|l| l.as_str()).unwrap_or(""), ts.traffic_weight()))
                .collect();
            let summary = format!("{} | traffic {}", events.join(" "), traffic.join(" / "));
            if summary != last_lifecycle {
                reporter.info(&format!("  {summary}"));
                last_lifecycle = summary.clone();
            }
            reporter.status(&format!("CodeDeploy {id} {status}, traffic {}", traffic.join(" / ")));
        }
        match info.status() {
            Some(DeploymentStatus::Succeeded) => return Ok(()),
            Some(DeploymentStatus::Failed) | Some(DeploymentStatus::Stopped) => {
                let why = info
                    .error_information()
                    .map(|e| format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or(""), e.message().unwrap_or("")))
                    .unwrap_or_default();
                let rollback =
                    info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(|r| format!("; rolled back by deployment {r}")).unwrap_or_default();
                return Err(RolloutFailed(format!("CodeDeploy deployment {id} {status}: {why}{rollback}")).into());
            }
            _ => {}
        }
        let now = Instant::now();
        if now >= deadline {
            let msg = format!("timed out after {} waiting for CodeDeploy deployment {id} ({status})", crate::config::duration::format_go_duration(timeout));
            return Err(RolloutFailed(msg).into());
        }
        tokio::select! {
            _ = tokio::time::sleep(poll_interval(start.elapsed()).min(deadline - now)) => {}
            _ = crate::interrupt::interrupted() => {
                return Err(Interrupted(format!("interrupted; CodeDeploy deployment {id} goes on ({status}). Resume watching with `cortado wait`.")).into());
            }
        }
    }
}
