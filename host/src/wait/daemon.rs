//! Waiting on an ECS Managed Daemon deployment (DescribeDaemonDeployments) by its ARN — the one
//! CreateDaemon/UpdateDaemon returned, never "the newest". SUCCESSFUL is success; STOPPED,
//! ROLLBACK_* and STOP_REQUESTED are failures, reported with ECS's status reason and the circuit
//! breaker's and alarms' states (a `rollback`'s own deployment succeeds the same way: it is an
//! UpdateDaemon). A daemon deployment has no lifecycle stages, so `--wait-until ecs:STAGE` is refused.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::pace::Pacer;
use super::{Outage, RolloutFailed, pause};
use crate::aws::daemon;
use crate::progress::Progress;

const FAILED: &[&str] = &["STOPPED", "STOP_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"];

/// What a finished wait saw.
pub struct Waited {
    pub deployment: Value,
    pub polls: u32,
    pub elapsed: Duration,
}

/// Polls `arn` until it ends or `timeout` passes; reports each change of status or instance counts.
pub async fn wait(ecs: &aws_sdk_ecs::Client, arn: &str, timeout: Duration, poll: Option<Duration>, progress: &dyn Progress) -> Result<Waited> {
    let start = Instant::now();
    let mut pacer = Pacer::new(poll);
    let mut outage = Outage::default();
    let mut last = String::new();
    let mut polls = 0;
    loop {
        outage.polling();
        polls += 1;
        match daemon::describe_deployment(ecs, arn, crate::aws::ecs::POLL_ATTEMPTS).await {
            Err(e) => {
                outage.failed(e, progress)?;
                pause(outage.backoff().min(timeout.saturating_sub(start.elapsed())), &format!("daemon deployment {arn}")).await?;
                continue;
            }
            Ok(None) => return Err(RolloutFailed(format!("daemon deployment {arn} is not found")).into()),
            Ok(Some(d)) => {
                outage.recovered(progress);
                let line = line(&d);
                if line != last {
                    progress.info(&line);
                    last = line;
                }
                let status = d.get("status").and_then(Value::as_str).unwrap_or("");
                if status == "SUCCESSFUL" {
                    return Ok(Waited { deployment: d, polls, elapsed: start.elapsed() });
                }
                if FAILED.contains(&status) && status != "ROLLBACK_IN_PROGRESS" {
                    return Err(RolloutFailed(failure(&d)).into());
                }
            }
        }
        if start.elapsed() >= timeout {
            return Err(RolloutFailed(format!("timed out after {}s: daemon deployment {arn} is still {}", timeout.as_secs(), last)).into());
        }
        let d = pacer.next(None).min(timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(10)));
        pause(d, &format!("daemon deployment {arn}")).await?;
    }
}

/// `daemon deployment …/ID IN_PROGRESS: 2/4 instances on the new revision, 2 on the old`
pub fn line(d: &Value) -> String {
    let id = d.get("daemonDeploymentArn").and_then(Value::as_str).and_then(|a| a.rsplit('/').next()).unwrap_or("?");
    let status = d.get("status").and_then(Value::as_str).unwrap_or("?");
    let count = |v: Option<&Value>| v.and_then(|r| r.get("totalRunningInstanceCount")).and_then(Value::as_i64).unwrap_or(0);
    let target = count(d.get("targetDaemonRevision"));
    let source: i64 = d.get("sourceDaemonRevisions").and_then(Value::as_array).into_iter().flatten().map(|r| count(Some(r))).sum();
    format!("daemon deployment {id} {status}: {target} instance(s) on the new revision, {source} on the old")
}

/// The failure message: status, reason, circuit breaker and alarms.
fn failure(d: &Value) -> String {
    let status = d.get("status").and_then(Value::as_str).unwrap_or("?");
    let reason = d.get("statusReason").and_then(Value::as_str).unwrap_or("no reason given");
    let mut msg = format!("daemon deployment {status}: {reason}");
    if let Some(cb) = d.get("circuitBreaker").filter(|c| c.get("status").and_then(Value::as_str) == Some("TRIGGERED")) {
        msg.push_str(&format!(" (circuit breaker TRIGGERED after {} failure(s))", cb.get("failureCount").and_then(Value::as_i64).unwrap_or(0)));
    }
    if let Some(names) = d.pointer("/alarms/triggeredAlarmNames").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        msg.push_str(&format!(" (alarms: {})", names.join(", ")));
    }
    if let Some(to) = d.pointer("/rollback/rollbackTargetDaemonRevisionArn").and_then(Value::as_str) {
        msg.push_str(&format!("; rolled back to revision {to}"));
    }
    msg
}
