//! Waiting on an ECS service deployment (BLUE_GREEN, LINEAR, CANARY): binding to the deployment a
//! deploy created, then following its lifecycle stage, traffic weights, hooks and bake time until
//! it ends, reaches the `--wait-until ecs:STAGE`, or pauses at a PAUSE hook.
//!
//! Binding: the service deployment whose target revision runs the task definition this deploy
//! chose and that was created after the deploy started — never "the newest IN_PROGRESS", which
//! picks another deployer's rollout (ecspresso's `findActiveECSDeploymentArn`).
//!
//! Ends: SUCCESSFUL is success; ROLLBACK_*, STOPPED and STOP_REQUESTED are failures, reported
//! with the status reason, the stage reached and the hooks' states, once the rollback has finished
//! (a `rollback` wait expects ROLLBACK_SUCCESSFUL instead).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::pace::Pacer;
use super::{RolloutFailed, pause};
use crate::aws::deployments::{self as sd, PausedHook};
use crate::error::InputError;
use crate::progress::Progress;

/// `--wait-until`: deployed (the deployment is SUCCESSFUL), stable (and the service is steady),
/// `ecs:STAGE` (the deployment reached or passed that lifecycle stage), paused (ecspresso v3:
/// the first PAUSE hook awaiting action, which `cortado continue` answers), or
/// `codedeploy:EVENT` (ecspresso v2.6.2: a CodeDeploy deployment's lifecycle event is done).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Until {
    #[default]
    Deployed,
    Stable,
    Stage(String),
    Paused,
    /// The canonical lifecycle event name ([`super::codedeploy::LIFECYCLE_EVENTS`]).
    CodeDeploy(String),
}

impl Until {
    pub fn parse(s: &str) -> Result<Until, InputError> {
        match s {
            "deployed" => Ok(Until::Deployed),
            "stable" => Ok(Until::Stable),
            "paused" => Ok(Until::Paused),
            _ if s.starts_with("codedeploy:") => Until::codedeploy(s),
            _ => match s.strip_prefix("ecs:") {
                Some(stage) if sd::stage_index(stage).is_some() => Ok(Until::Stage(stage.to_owned())),
                _ => Err(InputError::new(format!(
                    "--wait-until {s}: expected deployed, stable, paused, ecs:<STAGE> ({}) or codedeploy:<EVENT> ({})",
                    sd::STAGES.join(", "),
                    super::codedeploy::LIFECYCLE_EVENTS.join(", ")
                ))),
            },
        }
    }

    /// `codedeploy:EVENT`: one of the ECS target's lifecycle events, named in any case.
    fn codedeploy(s: &str) -> Result<Until, InputError> {
        let event = s.strip_prefix("codedeploy:").unwrap_or(s);
        match super::codedeploy::lifecycle_event(event) {
            Some(e) => Ok(Until::CodeDeploy(e.to_owned())),
            None => Err(InputError::new(format!(
                "--wait-until {s}: unknown CodeDeploy lifecycle event {event:?}; expected codedeploy:<EVENT>, one of {}",
                super::codedeploy::LIFECYCLE_EVENTS.join(", ")
            ))),
        }
    }
}

/// What a [`Follow`] stopped for.
#[derive(Debug)]
pub enum Event {
    /// Finished as wanted (SUCCESSFUL; ROLLBACK_SUCCESSFUL for a rollback).
    Done(Value),
    /// `--wait-until ecs:STAGE`: the stage is reached (or passed).
    Reached(Value),
    /// A PAUSE hook started waiting for ContinueServiceDeployment (reported once per hook).
    Paused(Value, PausedHook),
}

/// Binds to the deployment of `task_definition` created at or after `since` (epoch seconds),
/// retrying for up to ten seconds (ListServiceDeployments can lag the UpdateService).
pub async fn bind(client: &aws_sdk_ecs::Client, cluster: &str, service: &str, task_definition: &str, since: f64) -> Result<String> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(arn) = find(client, cluster, service, task_definition, since).await? {
            return Ok(arn);
        }
        if Instant::now() >= until {
            return Err(RolloutFailed(format!(
                "no service deployment of {} created after the deploy started was found for service {service}",
                crate::aws::ecs::short_task_definition(task_definition)
            ))
            .into());
        }
        pause(Duration::from_millis(500), "the deployment").await?;
    }
}

async fn find(client: &aws_sdk_ecs::Client, cluster: &str, service: &str, task_definition: &str, since: f64) -> Result<Option<String>> {
    // One second of slack for clock skew between this host and ECS.
    let list = sd::list(client, cluster, service, &[], Some(since - 1.0)).await?;
    let revisions: Vec<String> = list.iter().filter_map(|d| d.get("targetServiceRevisionArn").and_then(Value::as_str)).map(str::to_owned).collect();
    let tds = sd::revision_task_definitions(client, &revisions).await?;
    Ok(choose(&list, &tds, task_definition))
}

/// The newest deployment (the list is newest first) whose target revision runs `task_definition`:
/// with two deploys of the same revision, the later one is this deploy's.
fn choose(list: &[Value], tds: &[(String, String)], task_definition: &str) -> Option<String> {
    list.iter().find_map(|d| {
        let rev = d.get("targetServiceRevisionArn").and_then(Value::as_str)?;
        let runs = tds.iter().any(|(r, td)| r == rev && td == task_definition);
        runs.then(|| d.get("serviceDeploymentArn").and_then(Value::as_str).map(str::to_owned)).flatten()
    })
}

/// Follows one service deployment. Call [`Follow::next`] until it returns Done or Reached (or an error).
pub struct Follow {
    pub arn: String,
    until: Until,
    expect_rollback: bool,
    start: Instant,
    deadline: Instant,
    pacer: Pacer,
    pub calls: u32,
    /// The lifecycle stages seen, in order.
    pub stages: Vec<String>,
    /// The last stage seen while the deployment went forward (the one a rollback started from).
    reached: Option<String>,
    last: (String, String, String),
    told: HashSet<String>,
    bake_seen: Option<Instant>,
    pub last_seen: Option<Value>,
    /// Wait one poll before the next describe (a hook is to be asked about again).
    hold: bool,
}

impl Follow {
    pub fn new(arn: String, until: Until, timeout: Duration, fixed: Option<Duration>) -> Follow {
        let start = Instant::now();
        Follow {
            arn,
            until,
            expect_rollback: false,
            start,
            deadline: start + timeout,
            pacer: Pacer::new(fixed),
            calls: 0,
            stages: Vec::new(),
            reached: None,
            last: Default::default(),
            told: HashSet::new(),
            bake_seen: None,
            last_seen: None,
            hold: false,
        }
    }

    /// Reports `hook_id` again at the next poll if it is still paused (an inconclusive gate is
    /// asked again); that poll comes after the usual interval.
    pub fn ask_again(&mut self, hook_id: &str) {
        self.told.remove(hook_id);
        self.hold = true;
    }

    /// A hook this run answered itself: never reported as paused (ECS may still show it
    /// AWAITING_ACTION at the next describe).
    pub fn answered(&mut self, hook_id: &str) {
        self.told.insert(hook_id.to_owned());
    }

    /// Time left before `--timeout`.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// A rollback's wait: ROLLBACK_SUCCESSFUL is the success.
    pub fn expecting_rollback(mut self) -> Follow {
        self.expect_rollback = true;
        self
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub async fn next(&mut self, client: &aws_sdk_ecs::Client, reporter: &dyn Progress) -> Result<Event> {
        crate::interrupt::set_hint(format!(
            "interrupted; ECS goes on with service deployment {}. Resume watching with `cortado wait`, or roll back with `cortado rollback`.",
            self.arn
        ));
        if std::mem::take(&mut self.hold) {
            let eta = self.last_seen.as_ref().and_then(|d| self.eta(d));
            pause(self.pacer.next(eta).min(self.remaining()), &format!("service deployment {}", self.arn)).await?;
        }
        loop {
            let found = sd::describe(client, std::slice::from_ref(&self.arn)).await?;
            self.calls += 1;
            let Some(d) = found.into_iter().next() else {
                return Err(RolloutFailed(format!("service deployment {} is not found", self.arn)).into());
            };
            self.report(&d, reporter);
            self.last_seen = Some(d.clone());
            if let Some(event) = self.judge(&d)? {
                return Ok(event);
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(RolloutFailed(format!("timed out waiting; still {}", self.summary(&d))).into());
            }
            let wait = self.pacer.next(self.eta(&d)).min(self.deadline - now);
            pause(wait, &format!("service deployment {}", self.arn)).await?;
        }
    }

    fn judge(&mut self, d: &Value) -> Result<Option<Event>> {
        let status = str_of(d, "status");
        let stage = str_of(d, "lifecycleStage");
        if matches!(status, "PENDING" | "IN_PROGRESS") {
            if !stage.is_empty() {
                self.reached = Some(stage.to_owned());
            }
            if let Until::Stage(want) = &self.until
                && !self.expect_rollback
                && sd::stage_index(stage) >= sd::stage_index(want)
            {
                return Ok(Some(Event::Reached(d.clone())));
            }
            if let Some(h) = sd::paused_hooks(d).into_iter().find(|h| !self.told.contains(&h.hook_id)) {
                self.told.insert(h.hook_id.clone());
                return Ok(Some(Event::Paused(d.clone(), h)));
            }
            return Ok(None);
        }
        match (status, self.expect_rollback) {
            ("SUCCESSFUL", false) => Ok(Some(Event::Done(d.clone()))),
            ("ROLLBACK_SUCCESSFUL", true) => Ok(Some(Event::Done(d.clone()))),
            ("ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" | "STOP_REQUESTED", _) => Ok(None),
            _ => Err(RolloutFailed(self.failure(d)).into()),
        }
    }

    /// `service deployment ARN ROLLBACK_SUCCESSFUL at stage X: reason`, hooks, stages seen.
    pub fn failure(&self, d: &Value) -> String {
        let stage = self.reached.clone().unwrap_or_else(|| str_of(d, "lifecycleStage").to_owned());
        let at = if stage.is_empty() { String::new() } else { format!(" at stage {stage}") };
        let mut msg = format!("service deployment {} {}{at}: {}", self.arn, str_of(d, "status"), str_of(d, "statusReason"));
        let hooks = sd::hooks_summary(d);
        if !hooks.is_empty() {
            msg.push_str(&format!("\n  hooks: {}", hooks.join(", ")));
        }
        for (k, label) in [("deploymentCircuitBreaker", "circuit breaker"), ("alarms", "alarms")] {
            if d.pointer(&format!("/{k}/status")).and_then(Value::as_str) == Some("TRIGGERED") {
                let names = d
                    .pointer(&format!("/{k}/triggeredAlarmNames"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
                msg.push_str(&format!("\n  {label}: TRIGGERED{}", names.filter(|n| !n.is_empty()).map(|n| format!(" ({n})")).unwrap_or_default()));
            }
        }
        if !self.stages.is_empty() {
            msg.push_str(&format!("\n  stages: {}", self.stages.join(" → ")));
        }
        msg
    }

    /// Prints what changed: status, stage, traffic weights, hooks; and a status line.
    fn report(&mut self, d: &Value, reporter: &dyn Progress) {
        let status = format!("{} {}", str_of(d, "status"), str_of(d, "statusReason"));
        if status != self.last.0 {
            let strategy = crate::aws::controller::Strategy::of(d);
            reporter.info(&format!("service deployment {} ({strategy}): {}", sd::short_revision(&self.arn), status.trim_end()));
            self.last.0 = status;
        }
        let stage = str_of(d, "lifecycleStage");
        if !stage.is_empty() && self.stages.last().map(String::as_str) != Some(stage) {
            reporter.info(&format!("  stage {stage}"));
            self.stages.push(stage.to_owned());
            if stage == "BAKE_TIME" {
                self.bake_seen = Some(Instant::now());
            }
        }
        let weights = sd::weights_summary(d);
        if weights != self.last.1 {
            reporter.info(&format!("  traffic: {weights}"));
            self.last.1 = weights;
        }
        let hooks = sd::hooks_summary(d).join(", ");
        if hooks != self.last.2 {
            if !hooks.is_empty() {
                reporter.info(&format!("  hooks: {hooks}"));
            }
            self.last.2 = hooks;
        }
        reporter.status(&self.summary(d));
    }

    fn summary(&self, d: &Value) -> String {
        let mut s = format!("service deployment {} {} stage {}", sd::short_revision(&self.arn), str_of(d, "status"), str_of(d, "lifecycleStage"));
        if let Some(left) = self.bake_left(d) {
            s.push_str(&format!(", bake time left {}s", left.as_secs()));
        }
        s
    }

    /// Bake time left, measured from when this wait first saw BAKE_TIME.
    fn bake_left(&self, d: &Value) -> Option<Duration> {
        if str_of(d, "lifecycleStage") != "BAKE_TIME" {
            return None;
        }
        let minutes = d.pointer("/deploymentConfiguration/bakeTimeInMinutes").and_then(Value::as_f64).unwrap_or(0.0);
        Some(Duration::from_secs_f64(minutes * 60.0).saturating_sub(self.bake_seen?.elapsed()))
    }

    /// When the end looks near: in clean-up, or at the end of the bake time.
    fn eta(&self, d: &Value) -> Option<Duration> {
        match str_of(d, "lifecycleStage") {
            "CLEAN_UP" => Some(Duration::ZERO),
            "BAKE_TIME" => self.bake_left(d),
            _ => None,
        }
    }
}

/// Early success criteria: the deployment completed while source tasks still run.
pub fn draining(d: &Value) -> Option<i64> {
    let n: i64 = d
        .get("sourceServiceRevisions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| r.get("runningTaskCount").and_then(Value::as_i64).unwrap_or(0))
        .sum();
    (n > 0).then_some(n)
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_to_the_deployment_of_its_task_definition_not_the_newest() {
        let list = vec![
            json!({"serviceDeploymentArn": "sd/other", "targetServiceRevisionArn": "rev/3"}),
            json!({"serviceDeploymentArn": "sd/mine", "targetServiceRevisionArn": "rev/2"}),
        ];
        let tds = vec![("rev/3".to_owned(), "td:3".to_owned()), ("rev/2".to_owned(), "td:2".to_owned())];
        assert_eq!(choose(&list, &tds, "td:2").as_deref(), Some("sd/mine"));
        assert_eq!(choose(&list, &tds, "td:9"), None);
    }

    #[test]
    fn wait_until_values() {
        assert_eq!(Until::parse("deployed").unwrap(), Until::Deployed);
        assert_eq!(Until::parse("ecs:POST_TEST_TRAFFIC_SHIFT").unwrap(), Until::Stage("POST_TEST_TRAFFIC_SHIFT".into()));
        assert!(Until::parse("ecs:PRE_PRODUCTION_TRAFFIC_SHIFT").is_err());
        assert_eq!(Until::parse("paused").unwrap(), Until::Paused);
        assert!(Until::parse("pause").is_err());
        assert_eq!(Until::parse("codedeploy:AfterAllowTestTraffic").unwrap(), Until::CodeDeploy("AfterAllowTestTraffic".into()));
        assert_eq!(Until::parse("codedeploy:beforeallowtraffic").unwrap(), Until::CodeDeploy("BeforeAllowTraffic".into()));
        assert!(Until::parse("codedeploy:ApplicationStart").is_err());
        assert!(Until::parse("codedeploy:").is_err());
    }

    #[test]
    fn a_passed_stage_counts_and_a_rollback_before_it_fails() {
        let mut f = Follow::new("arn:sd/1".into(), Until::Stage("POST_SCALE_UP".into()), Duration::from_secs(5), None);
        let d = |status: &str, stage: &str| json!({"status": status, "lifecycleStage": stage, "statusReason": "why"});
        assert!(f.judge(&d("IN_PROGRESS", "SCALE_UP")).unwrap().is_none());
        assert!(matches!(f.judge(&d("IN_PROGRESS", "TEST_TRAFFIC_SHIFT")).unwrap(), Some(Event::Reached(_))));
        let mut f = Follow::new("arn:sd/1".into(), Until::Stage("BAKE_TIME".into()), Duration::from_secs(5), None);
        f.judge(&d("IN_PROGRESS", "POST_SCALE_UP")).unwrap();
        assert!(f.judge(&d("ROLLBACK_IN_PROGRESS", "CLEAN_UP")).unwrap().is_none());
        let e = f.judge(&d("ROLLBACK_SUCCESSFUL", "CLEAN_UP")).unwrap_err().to_string();
        assert!(e.contains("ROLLBACK_SUCCESSFUL at stage POST_SCALE_UP: why"), "{e}");
        let mut f = Follow::new("arn:sd/1".into(), Until::Deployed, Duration::from_secs(5), None).expecting_rollback();
        assert!(matches!(f.judge(&d("ROLLBACK_SUCCESSFUL", "CLEAN_UP")).unwrap(), Some(Event::Done(_))));
    }
}
