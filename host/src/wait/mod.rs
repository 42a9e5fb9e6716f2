//! Stage: waiting for what `apply` started. [`wait_ecs`] follows an ECS deployment,
//! [`codedeploy`] a CodeDeploy one, [`tasks`] the tasks of `run`.
//!
//! Waiting on the deployment cortado created — by its id — until ECS says it COMPLETED, FAILED or
//! was rolled back by the circuit breaker (ecspresso's waiter only compared task counts, so a
//! rollback looked like success: its issue #732).
//!
//! Polling follows [`pace`]: slow while tasks start, fast just before the end the rollout's rate
//! predicts, within about 20 DescribeServices calls a minute. [`deployments`] follows a native
//! (BLUE_GREEN, LINEAR, CANARY) service deployment. The timeout is a deadline to the second, and
//! Ctrl-C stops the wait cleanly, saying what is still in flight.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

pub mod codedeploy;
pub mod daemon;
pub mod deployments;
pub mod express;
pub mod pace;
pub mod tasks;

use crate::aws::{SdkContext, ecs};
use crate::progress::Progress;

/// The pause before the next poll, by how long the wait has lasted.
pub fn poll_interval(waited: Duration) -> Duration {
    match waited.as_secs() {
        0..300 => Duration::from_secs(2),
        300..900 => Duration::from_secs(5),
        _ => Duration::from_secs(10),
    }
}

/// A rollout that did not complete: exit 1 with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RolloutFailed(pub String);

/// Raised on Ctrl-C: the wait stopped, the deployment goes on in ECS.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

pub struct WaitStats {
    pub describe_calls: u32,
    pub elapsed: Duration,
    /// The deployment was completed by its early success criteria before the service was steady
    /// (target below its desired count, or source tasks still draining); None without them.
    pub completed_early: Option<bool>,
}

/// What to wait for: deployment `deployment` (or, when None, whatever is PRIMARY at the first
/// poll) of a service. Events older than `since` (epoch seconds) or in `known_events` are not shown.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    pub cluster: String,
    pub service: String,
    pub deployment: Option<String>,
    pub timeout: Duration,
    pub since: f64,
    pub known_events: HashSet<String>,
    /// The deployment was just created: it cannot be done yet, so the first look waits a second.
    pub just_created: bool,
    /// `CORTADO_POLL_INTERVAL`: a fixed interval instead of the paced one.
    pub poll: Option<Duration>,
    /// `--wait-until deployed`: a deployment that ECS completed by its early success criteria is
    /// done, drained or not. False (`stable`, stacks, rollbacks): the service must be steady too.
    pub early: bool,
}

pub async fn wait_ecs(client: &aws_sdk_ecs::Client, watch: Watch, reporter: &dyn Progress) -> Result<WaitStats> {
    let Watch { cluster, service, deployment: id, timeout, since, known_events, just_created, poll, early } = watch;
    let mut pacer = pace::Pacer::new(poll);
    let (cluster, service) = (cluster.as_str(), service.as_str());
    let start = Instant::now();
    let deadline = start + timeout;
    let mut seen_events = known_events;
    let mut last_table = String::new();
    let mut calls = 0u32;
    if just_created {
        pause(poll.unwrap_or(Duration::from_secs(1)).min(timeout), "waiting for the first poll").await?;
    }
    let mut target = id;
    crate::interrupt::set_hint(format!(
        "interrupted; ECS goes on with deployment {}. Resume watching with `cortado wait`, or roll back with `cortado rollback`.",
        target.as_deref().unwrap_or("(the current one)")
    ));
    let mut last_summary: String;
    let mut outage = Outage::default();
    let mut polls_of_target = 0u32;
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        outage.polling();
        let polled = tokio::time::timeout(left, ecs::poll_service(client, cluster, service)).await.map_err(anyhow::Error::from).and_then(|r| r);
        calls += 1;
        let sv = match polled {
            Ok(sv) => {
                outage.recovered(reporter);
                sv
            }
            Err(e) => {
                outage.failed(e, reporter)?;
                let now = Instant::now();
                if now >= deadline {
                    return Err(RolloutFailed(format!(
                        "timed out after {} waiting; {}",
                        crate::config::duration::format_go_duration(timeout),
                        outage.summary()
                    ))
                    .into());
                }
                pause(outage.backoff().min(deadline - now), "the deployment").await?;
                continue;
            }
        };
        polls_of_target += 1;
        let Some(sv) = sv else {
            return Err(RolloutFailed(format!("service {service} disappeared from cluster {cluster} while waiting")).into());
        };
        if let Some(status) = sv.get("status").and_then(Value::as_str).filter(|s| *s != "ACTIVE") {
            return Err(RolloutFailed(format!("service {service} is {status}")).into());
        }
        // New events, oldest first.
        if let Some(events) = sv.get("events").and_then(Value::as_array) {
            let mut fresh: Vec<&Value> = events
                .iter()
                .filter(|e| e.get("createdAt").and_then(Value::as_f64).unwrap_or(0.0) >= since - 1.0)
                .filter(|e| e.get("id").and_then(Value::as_str).is_some_and(|id| !seen_events.contains(id)))
                .collect();
            fresh.reverse();
            for e in fresh {
                if let Some(id) = e.get("id").and_then(Value::as_str) {
                    seen_events.insert(id.to_owned());
                }
                reporter.event(e.get("createdAt").unwrap_or(&Value::Null), e.get("message").and_then(Value::as_str).unwrap_or(""));
            }
        }
        let deployments = sv.get("deployments").and_then(Value::as_array).cloned().unwrap_or_default();
        let table = deployments_key(&deployments);
        if table != last_table {
            reporter.deployments(&deployments);
            last_table = table;
        }
        let primary = deployments.iter().find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"));
        let esc = early_success_of(&sv);
        if target.is_none() {
            target = primary.and_then(|d| d.get("id")).and_then(Value::as_str).map(str::to_owned);
        }
        let mine = target.as_deref().and_then(|t| deployments.iter().find(|d| d.get("id").and_then(Value::as_str) == Some(t)));
        let get = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let num = |d: &Value, k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
        match (mine, primary) {
            (Some(d), _) if get(d, "rolloutState") == "FAILED" => {
                let mut msg = format!(
                    "deployment {} of {} FAILED: {}",
                    get(d, "id"),
                    ecs::short_task_definition(&get(d, "taskDefinition")),
                    get(d, "rolloutStateReason")
                );
                if let Some(p) = primary.filter(|p| get(p, "id") != get(d, "id")) {
                    msg.push_str(&format!("; the circuit breaker rolled back to {}", ecs::short_task_definition(&get(p, "taskDefinition"))));
                }
                msg.push_str(&failure_details(client, cluster, &sv, &get(d, "id")).await);
                return Err(RolloutFailed(msg).into());
            }
            (Some(d), _) if get(d, "status") == "PRIMARY" && get(d, "rolloutState") == "COMPLETED" && (early && esc.is_some()) => {
                let steady = num(d, "runningCount") == num(d, "desiredCount") && deployments.len() == 1;
                if let Some(esc) = esc.as_ref().filter(|_| !steady) {
                    reporter.info(&format!("deployment {} completed by early success criteria ({esc})", get(d, "id")));
                }
                return Ok(WaitStats { describe_calls: calls, elapsed: start.elapsed(), completed_early: Some(!steady) });
            }
            (Some(d), _) if get(d, "status") == "PRIMARY" && get(d, "rolloutState") == "COMPLETED" && num(d, "runningCount") == num(d, "desiredCount") => {
                // Without `early`, a deployment completed early is followed until its sources are gone.
                if esc.is_some() && deployments.len() > 1 {
                    reporter.status("deployment completed by early success criteria; waiting for the source tasks to drain");
                } else {
                    return Ok(WaitStats { describe_calls: calls, elapsed: start.elapsed(), completed_early: esc.as_ref().map(|_| false) });
                }
            }
            (Some(d), _)
                if get(d, "status") == "PRIMARY"
                    && d.get("rolloutState").is_none()
                    && deployments.len() == 1
                    && num(d, "runningCount") == num(d, "desiredCount") =>
            {
                // Controllers without rollout states: one deployment at its count is stable.
                return Ok(WaitStats { describe_calls: calls, elapsed: start.elapsed(), completed_early: None });
            }
            (Some(d), Some(p)) if get(d, "status") != "PRIMARY" => {
                let mut msg = format!(
                    "deployment {} of {} was superseded: {} is now PRIMARY ({})",
                    get(d, "id"),
                    ecs::short_task_definition(&get(d, "taskDefinition")),
                    get(p, "id"),
                    ecs::short_task_definition(&get(p, "taskDefinition"))
                );
                msg.push_str(&failure_details(client, cluster, &sv, &get(d, "id")).await);
                return Err(RolloutFailed(msg).into());
            }
            // Right after UpdateService a read may still show the service before it (eventual
            // consistency): the new deployment is given a few polls to appear.
            (None, Some(_)) if target.is_some() && polls_of_target <= STALE_POLLS => {
                reporter.status("the new deployment is not visible yet (eventual consistency)");
            }
            (None, Some(p)) if target.is_some() => {
                let msg = format!(
                    "deployment {} is gone; {} ({}) is PRIMARY: the rollout was rolled back or replaced",
                    target.as_deref().unwrap_or(""),
                    get(p, "id"),
                    ecs::short_task_definition(&get(p, "taskDefinition"))
                );
                return Err(RolloutFailed(msg).into());
            }
            _ => {}
        }
        last_summary = match mine.or(primary) {
            Some(d) => format!(
                "deployment {} ({}) {} desired:{} running:{} pending:{} failed:{}",
                get(d, "id"),
                ecs::short_task_definition(&get(d, "taskDefinition")),
                get(d, "rolloutState"),
                num(d, "desiredCount"),
                num(d, "runningCount"),
                num(d, "pendingCount"),
                num(d, "failedTasks")
            ),
            None => "no deployment yet".into(),
        };
        reporter.status(&last_summary);
        let now = Instant::now();
        if now >= deadline {
            return Err(RolloutFailed(format!(
                "timed out after {} waiting; still in progress: {last_summary}",
                crate::config::duration::format_go_duration(timeout)
            ))
            .into());
        }
        let eta = mine.and_then(|d| rolling_eta(d, &deployments));
        pause(pacer.next(eta).min(deadline - now), &last_summary).await?;
    }
}

/// A service's early success criteria when enabled, as `healthy_percent=N,
/// source_service_revision_cleanup=X` (ecspresso's log fields); None when off.
pub fn early_success_of(sv: &Value) -> Option<String> {
    let esc = sv.pointer("/deploymentConfiguration/earlySuccessCriteria").filter(|e| e.get("enable").and_then(Value::as_bool) == Some(true))?;
    let hp = esc.get("healthyPercent").map(Value::to_string).unwrap_or_else(|| "?".into());
    let cleanup = esc.get("sourceServiceRevisionCleanup").and_then(Value::as_str).unwrap_or("?");
    Some(format!("healthy_percent={hp}, source_service_revision_cleanup={cleanup}"))
}

/// The time a rolling deployment needs to finish, at the rate it started tasks so far: the tasks
/// still to start, or the old tasks still to drain, whichever is more. The rate is measured up to
/// the deployment's `updatedAt` (when ECS last changed it), not up to this read: a read half a step
/// after a change would otherwise count the half step as work and predict the end far too late.
fn rolling_eta(d: &Value, deployments: &[Value]) -> Option<Duration> {
    let num = |d: &Value, k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0) as f64;
    let others: f64 = deployments.iter().filter(|o| o.get("id") != d.get("id")).map(|o| num(o, "runningCount")).sum();
    let left = (num(d, "desiredCount") - num(d, "runningCount")).max(others);
    let created = d.get("createdAt").and_then(Value::as_f64)?;
    let now = crate::util::epoch_now();
    // A clock skewed against ours or a missing stamp: measure to this read, as without one.
    let updated = d.get("updatedAt").and_then(Value::as_f64).filter(|u| *u >= created && *u <= now).unwrap_or(now);
    let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
    pace::eta(num(d, "runningCount"), left, secs(updated - created), secs(now - updated))
}

/// Polls right after an update that may show the service as it was before it.
const STALE_POLLS: u32 = 5;

/// A wait gives up on failing polls after this long without one answer.
const SUSTAINED_OUTAGE: Duration = Duration::from_secs(180);

/// Failed polls in a row: transient ones (throttling, 5xx, resets, timeouts) are retried with
/// back-off and reported once; anything else, or a sustained outage, ends the wait.
#[derive(Debug, Default)]
pub struct Outage {
    since: Option<Instant>,
    failures: u32,
    last: String,
    /// When the current poll started: an outage starts with the first poll that failed, not when
    /// its retries gave up.
    poll_started: Option<Instant>,
}

impl Outage {
    /// A poll starts now.
    pub fn polling(&mut self) {
        self.poll_started = Some(Instant::now());
    }

    /// A failed poll: Ok to try again after [`Outage::backoff`], Err to give up.
    pub fn failed(&mut self, err: anyhow::Error, reporter: &dyn Progress) -> Result<()> {
        if !crate::aws::error::is_transient(&err) {
            return Err(err);
        }
        // A poll cut short by the deadline says nothing new: keep the error AWS gave before it.
        let cut = err.chain().any(|e| e.is::<tokio::time::error::Elapsed>());
        if !cut || self.last.is_empty() {
            self.last = format!("{err:#}");
        }
        if self.failures == 0 {
            reporter.info(&format!("a poll failed ({}); retrying with back-off", self.last));
        }
        self.failures += 1;
        let started = self.poll_started.unwrap_or_else(Instant::now);
        let since = *self.since.get_or_insert(started);
        if since.elapsed() >= SUSTAINED_OUTAGE {
            return Err(RolloutFailed(format!("giving up: a sustained outage, {}", self.summary())).into());
        }
        Ok(())
    }

    /// A poll answered: the outage (if any) is over.
    pub fn recovered(&mut self, reporter: &dyn Progress) {
        if self.failures > 0 {
            reporter.info(&format!("polls answer again after {} failed", self.failures));
        }
        *self = Outage::default();
    }

    /// 2 s, doubling with each failure, at most 16 s.
    pub fn backoff(&self) -> Duration {
        Duration::from_secs(2u64 << self.failures.saturating_sub(1).min(3))
    }

    /// `AWS has not answered for 28 s (12 polls in a row): <last error>`
    pub fn summary(&self) -> String {
        let secs = self.since.map(|s| s.elapsed().as_secs()).unwrap_or(0);
        format!("AWS has not answered for {secs} s ({} polls in a row failed): {}", self.failures, self.last)
    }
}

/// What of the deployments is worth showing again when it changes (not `updatedAt` alone).
fn deployments_key(deployments: &[Value]) -> String {
    let keys = ["id", "status", "taskDefinition", "desiredCount", "pendingCount", "runningCount", "failedTasks", "rolloutState", "rolloutStateReason"];
    deployments
        .iter()
        .map(|d| keys.iter().map(|k| d.get(*k).map(Value::to_string).unwrap_or_default()).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join(";")
}

/// Sleeps, unless Ctrl-C comes first: then the wait stops and says what goes on in ECS.
pub async fn pause(d: Duration, in_flight: &str) -> Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = crate::interrupt::interrupted() => Err(Interrupted(format!(
            "interrupted; ECS goes on with {in_flight}. Resume watching with `cortado wait`, or roll back with `cortado rollback`."
        )).into()),
    }
}

/// The last events and the reasons of stopped tasks of a failed deployment.
async fn failure_details(client: &aws_sdk_ecs::Client, cluster: &str, sv: &Value, deployment: &str) -> String {
    let mut out = String::new();
    if let Some(events) = sv.get("events").and_then(Value::as_array) {
        let recent: Vec<&str> = events.iter().take(3).filter_map(|e| e.get("message").and_then(Value::as_str)).collect();
        if !recent.is_empty() {
            out.push_str("\n  recent events:");
            for m in recent.iter().rev() {
                out.push_str(&format!("\n    {m}"));
            }
        }
    }
    let tasks = client
        .list_tasks()
        .cluster(cluster)
        .started_by(deployment)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .sdk_context(|| "listing stopped tasks".into());
    if let Ok(list) = tasks {
        let arns: Vec<String> = list.task_arns().iter().take(5).cloned().collect();
        if !arns.is_empty()
            && let Ok(desc) = client.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await
        {
            out.push_str("\n  stopped tasks:");
            for t in desc.tasks() {
                let id = t.task_arn().and_then(|a| a.rsplit('/').next()).unwrap_or("");
                let containers: Vec<String> = t
                    .containers()
                    .iter()
                    .filter(|c| c.exit_code().is_some_and(|e| e != 0) || c.reason().is_some())
                    .map(|c| {
                        format!(
                            "{} exit {} {}",
                            c.name().unwrap_or(""),
                            c.exit_code().map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                            c.reason().unwrap_or("")
                        )
                        .trim_end()
                        .to_owned()
                    })
                    .collect();
                out.push_str(format!("\n    {id}: {} {}", t.stopped_reason().unwrap_or(""), containers.join(", ")).trim_end());
            }
        }
    }
    out
}

/// A JSON summary of a finished wait (for `--output json`).
pub fn stats_json(stats: &WaitStats) -> Value {
    json!({"describe_services_calls": stats.describe_calls, "wait_seconds": stats.elapsed.as_secs_f64()})
}

/// The ids of a service's events: those already shown (or older than the command) are not
/// repeated while waiting.
pub fn event_ids(sv: &Value) -> HashSet<String> {
    sv.get("events").and_then(Value::as_array).into_iter().flatten().filter_map(|e| e.get("id").and_then(Value::as_str)).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::{AwsError, Fault};

    fn aws(fault: Fault) -> anyhow::Error {
        anyhow::Error::new(AwsError { code: Some("X".into()), status: Some(400), fault, message: "m".into() }).context("describing service s")
    }

    #[test]
    fn transient_polls_are_retried_and_refusals_end_the_wait() {
        let mut o = Outage::default();
        for f in [Fault::Throttling, Fault::Server, Fault::NoAnswer] {
            assert!(o.failed(aws(f), &crate::progress::Silent).is_ok(), "{f:?} is retried");
        }
        assert_eq!(o.backoff(), Duration::from_secs(8));
        assert!(o.summary().contains("3 polls in a row failed"), "{}", o.summary());
        assert!(o.failed(aws(Fault::Refused), &crate::progress::Silent).is_err());
        o.recovered(&crate::progress::Silent);
        assert_eq!(o.backoff(), Duration::from_secs(2));
    }
}
