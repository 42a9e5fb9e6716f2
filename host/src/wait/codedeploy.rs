//! Waiting on a CodeDeploy deployment: its status, lifecycle events and traffic shift, to its end
//! or (`--wait-until codedeploy:EVENT`, ecspresso v2.6.2) to one lifecycle event of its ECS target.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use aws_sdk_codedeploy::types::{DeploymentInfo, DeploymentStatus, EcsTarget};

use super::{Interrupted, RolloutFailed, poll_interval};
use crate::aws::{Aws, SdkContext};
use crate::progress::Progress;

/// The lifecycle events of an ECS deployment target, in the order CodeDeploy runs them (AWS
/// CodeDeploy User Guide, "AppSpec 'hooks' section for an Amazon ECS deployment"): the five hooks
/// and the three events CodeDeploy runs itself (Install, AllowTestTraffic, AllowTraffic).
pub const LIFECYCLE_EVENTS: [&str; 8] =
    ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"];

/// The canonical name of a lifecycle event (matched without regard to case), or None.
pub fn lifecycle_event(name: &str) -> Option<&'static str> {
    LIFECYCLE_EVENTS.iter().copied().find(|e| e.eq_ignore_ascii_case(name))
}

/// Why a CodeDeploy wait returned successfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The deployment Succeeded.
    Succeeded,
    /// The wanted lifecycle event Succeeded (or was Skipped) while the deployment has `status`.
    Reached { event: String, event_status: String, status: String },
}

/// What to wait for and how often to look.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// `--wait-until codedeploy:EVENT`: stop once this event of the ECS target is done.
    pub event: Option<String>,
    /// A fixed poll interval (`CORTADO_POLL_INTERVAL`); None: [`poll_interval`]'s schedule.
    pub poll: Option<Duration>,
}

/// Polls a CodeDeploy deployment to Succeeded (ok) or Failed/Stopped (error), showing status
/// changes and the traffic shifted to the replacement task set.
pub async fn wait_deployment(aws: &Aws, cluster: &str, service: &str, id: &str, timeout: Duration, reporter: &dyn Progress) -> Result<()> {
    wait_until(aws, cluster, service, id, &Wanted::default(), timeout, reporter).await.map(|_| ())
}

/// Like [`wait_deployment`], but returns as soon as `wanted.event` has Succeeded or was Skipped —
/// ecspresso's condition; a Failed event, or a deployment that ends before the event is done, is
/// an error. The deployment itself goes on in CodeDeploy.
///
/// Unlike ecspresso, a Failed or Stopped deployment is always an error: CodeDeploy marks the
/// events after a failure Skipped, and ecspresso's `Skipped → done` then exits 0 on a failed
/// deployment.
pub async fn wait_until(aws: &Aws, cluster: &str, service: &str, id: &str, wanted: &Wanted, timeout: Duration, reporter: &dyn Progress) -> Result<Outcome> {
    let client = aws.codedeploy();
    let start = Instant::now();
    let deadline = start + timeout;
    let mut shown = Shown::default();
    crate::interrupt::set_hint(format!("interrupted; CodeDeploy deployment {id} goes on. Resume watching with `cortado wait`."));
    loop {
        let out = client.get_deployment().deployment_id(id).send().await.sdk_context(|| format!("reading CodeDeploy deployment {id}"))?;
        let info = out.deployment_info().context("GetDeployment returned nothing")?;
        let status = info.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        shown.status(reporter, id, &status);
        let target = client.get_deployment_target().deployment_id(id).target_id(format!("{cluster}:{service}")).send().await.ok();
        let ecs_target = target.as_ref().and_then(|t| t.deployment_target()).and_then(|d| d.ecs_target());
        if let Some(t) = ecs_target {
            shown.target(reporter, id, &status, t);
        }
        let failed = matches!(info.status(), Some(DeploymentStatus::Failed | DeploymentStatus::Stopped));
        if let Some(event) = wanted.event.as_ref().filter(|_| !failed)
            && let Some(outcome) = event_done(id, event, ecs_target, &status)?
        {
            return Ok(outcome);
        }
        if let Some(outcome) = ended(id, info, &status, wanted.event.as_deref())? {
            return Ok(outcome);
        }
        let now = Instant::now();
        if now >= deadline {
            let what = wanted.event.as_deref().map(|e| format!(" to reach {e}")).unwrap_or_default();
            let msg =
                format!("timed out after {} waiting for CodeDeploy deployment {id}{what} ({status})", crate::config::duration::format_go_duration(timeout));
            return Err(RolloutFailed(msg).into());
        }
        let next = wanted.poll.unwrap_or_else(|| poll_interval(start.elapsed()));
        tokio::select! {
            _ = tokio::time::sleep(next.min(deadline - now)) => {}
            _ = crate::interrupt::interrupted() => {
                return Err(Interrupted(format!("interrupted; CodeDeploy deployment {id} goes on ({status}). Resume watching with `cortado wait`.")).into());
            }
        }
    }
}

/// The wanted event's state on the target: done (Succeeded or Skipped), failed (an error), or not
/// yet (None, also when the target is not readable yet).
fn event_done(id: &str, event: &str, target: Option<&EcsTarget>, status: &str) -> Result<Option<Outcome>> {
    let Some(e) = target.and_then(|t| t.lifecycle_events().iter().find(|e| e.lifecycle_event_name() == Some(event))) else {
        return Ok(None);
    };
    let event_status = e.status().map(|s| s.as_str()).unwrap_or("");
    match event_status {
        "Succeeded" | "Skipped" => Ok(Some(Outcome::Reached { event: event.to_owned(), event_status: event_status.to_owned(), status: status.to_owned() })),
        "Failed" => {
            let why = e.diagnostics().and_then(|d| d.message()).map(|m| format!(": {m}")).unwrap_or_default();
            Err(RolloutFailed(format!("CodeDeploy deployment {id}: lifecycle event {event} Failed{why} (deployment {status})")).into())
        }
        _ => Ok(None),
    }
}

/// A finished deployment: Succeeded is the outcome (unless an event was wanted and never done),
/// Failed and Stopped are errors with the reason and the rollback deployment. None while it runs.
fn ended(id: &str, info: &DeploymentInfo, status: &str, event: Option<&str>) -> Result<Option<Outcome>> {
    match info.status() {
        Some(DeploymentStatus::Succeeded) => match event {
            Some(e) => Err(RolloutFailed(format!("CodeDeploy deployment {id} {status} without its lifecycle event {e} being reached")).into()),
            None => Ok(Some(Outcome::Succeeded)),
        },
        Some(DeploymentStatus::Failed) | Some(DeploymentStatus::Stopped) => {
            let why =
                info.error_information().map(|e| format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or(""), e.message().unwrap_or(""))).unwrap_or_default();
            let rollback =
                info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(|r| format!("; rolled back by deployment {r}")).unwrap_or_default();
            let before = event.map(|e| format!(" before its lifecycle event {e} was reached")).unwrap_or_default();
            Err(RolloutFailed(format!("CodeDeploy deployment {id} {status}{before}: {why}{rollback}")).into())
        }
        _ => Ok(None),
    }
}

/// What was last printed, so that only changes are.
#[derive(Default)]
struct Shown {
    status: String,
    lifecycle: String,
}

impl Shown {
    fn status(&mut self, reporter: &dyn Progress, id: &str, status: &str) {
        if status != self.status {
            reporter.info(&format!("CodeDeploy deployment {id}: {status}"));
            self.status = status.to_owned();
        }
    }

    /// The lifecycle events under way or done, and the traffic weights of the task sets.
    fn target(&mut self, reporter: &dyn Progress, id: &str, status: &str, t: &EcsTarget) {
        let events: Vec<String> = t
            .lifecycle_events()
            .iter()
            .filter(|e| e.status().is_some_and(|s| s.as_str() != "Pending"))
            .map(|e| format!("{}:{}", e.lifecycle_event_name().unwrap_or(""), e.status().map(|s| s.as_str()).unwrap_or("")))
            .collect();
        let traffic: Vec<String> =
            t.task_sets_info().iter().map(|ts| format!("{} {}%", ts.task_set_label().map(|l| l.as_str()).unwrap_or(""), ts.traffic_weight())).collect();
        let summary = format!("{} | traffic {}", events.join(" "), traffic.join(" / "));
        if summary != self.lifecycle {
            reporter.info(&format!("  {summary}"));
            self.lifecycle = summary;
        }
        reporter.status(&format!("CodeDeploy {id} {status}, traffic {}", traffic.join(" / ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_event_names_are_canonical() {
        assert_eq!(lifecycle_event("AfterAllowTestTraffic"), Some("AfterAllowTestTraffic"));
        assert_eq!(lifecycle_event("afterallowtraffic"), Some("AfterAllowTraffic"));
        assert_eq!(lifecycle_event("ApplicationStart"), None);
    }
}
