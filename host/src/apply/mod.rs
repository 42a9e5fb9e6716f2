//! Stage: apply. The only module that calls AWS operations that change anything (a test fails the
//! build when a mutating SDK call appears elsewhere). It performs exactly the steps of a plan, in
//! order, and only with an [`Approval`] that `gate::evaluate` made for that very plan; then it
//! chains the outcome record (what changed, the result, the error) to the gate's decision.

mod calls;
pub mod lock;
mod recover;

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_config::SdkConfig;
use serde_json::{Map, Value, json};

use crate::aws::{Aws, ecs};
use crate::gate::Approval;
use crate::plan::{Plan, Step, TdRef};
use crate::progress::Progress;

/// What the apply did and what the steps returned, for the wait and the report.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    /// The ARN RegisterTaskDefinition returned, and the definition it returned.
    pub registered: Option<String>,
    pub registered_definition: Option<Value>,
    /// The service as the last CreateService/UpdateService returned it.
    pub service: Option<Value>,
    /// That service's PRIMARY deployment (the one a wait follows).
    pub deployment_id: Option<String>,
    pub codedeploy_deployment: Option<String>,
    /// RunTask's response (`tasks`, `failures`).
    pub run: Option<Value>,
    pub stopped: Option<Value>,
    /// ExecuteCommand's or StartSession's session.
    pub session: Option<Value>,
    /// `verify --put-logs`: per log group (`group@region`), Ok or the error.
    pub log_writes: Vec<(String, Result<(), String>)>,
    /// `{operation, resource, ok}` for every step performed (and every compensation).
    pub done: Vec<Value>,
    /// Tag changes that failed: reported after the wait, which they do not stop.
    pub tag_failures: Vec<String>,
    /// The scalable target this apply suspended (it was not suspended before): resumed when the
    /// deploy fails before its rollout starts.
    pub suspended: Option<String>,
}

/// One apply of one plan: [`Apply::run`] the steps, wait (outside), [`Apply::run_after_wait`],
/// then [`Apply::finish`] with the command's result. Dropped unfinished, it still records an outcome.
pub struct Apply<'a> {
    plan: &'a Plan,
    approval: Option<Approval>,
    aws: &'a Aws,
    progress: &'a dyn Progress,
    /// Credentials of the ECS agent (the execution role), for `verify --put-logs`.
    agent: Option<SdkConfig>,
    /// The deploy lock, held from before the first step until [`Apply::finish`] (or drop).
    lock: Option<lock::Held>,
    pub applied: Applied,
}

impl<'a> Apply<'a> {
    /// Refuses an approval that was made for another plan or for a dry run.
    pub fn new(plan: &'a Plan, approval: Approval, aws: &'a Aws, progress: &'a dyn Progress) -> Result<Apply<'a>> {
        if !approval.permits(plan) {
            bail!("internal error: the approval was not made for this plan (or was a dry run); nothing was changed");
        }
        Ok(Apply { plan, approval: Some(approval), aws, progress, agent: None, lock: None, applied: Applied::default() })
    }

    /// The run id of the decision this apply acts on (when it was recorded): what later records chain to.
    pub fn run_id(&self) -> Option<String> {
        self.approval.as_ref().and_then(Approval::run_id)
    }

    pub fn with_agent(mut self, agent: SdkConfig) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Performs the plan's steps in order, stopping at the first failure. A failure before the
    /// rollout started resumes the auto scaling this apply suspended; a failed tag change does not
    /// stop the steps (it is in [`Applied::tag_failures`]).
    pub async fn run(&mut self) -> Result<()> {
        self.take_lock().await?;
        pause_for_tests().await;
        crate::interrupt::set_hint(format!(
            "interrupted while applying the plan ({} step(s)); what was done is in the audit log's outcome record, and `cortado status` shows the service",
            self.plan.steps.len()
        ));
        for step in &self.plan.steps {
            let r = self.step(step).await;
            match (r, step) {
                (Ok(()), _) => {}
                (Err(e), Step::TagResource { .. } | Step::UntagResource { .. }) => {
                    let msg = format!("{e:#}");
                    self.progress.info(&format!("tags were not changed: {msg}"));
                    self.applied.tag_failures.push(msg);
                }
                (Err(e), _) => {
                    let rollout_started = self.applied.deployment_id.is_some() || self.applied.codedeploy_deployment.is_some();
                    if !rollout_started {
                        self.resume_auto_scaling().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Resumes the scalable target this apply suspended, and says so (in the outcome record too).
    async fn resume_auto_scaling(&mut self) {
        let Some(resource) = self.applied.suspended.take() else { return };
        let r = calls::register_scalable_target(self.aws, &resource, None, None, Some(false)).await;
        match &r {
            Ok(()) => self.progress.info(&format!("auto scaling of {resource} resumed: the deploy failed before its rollout started")),
            Err(e) => self
                .progress
                .info(&format!("auto scaling of {resource} stays SUSPENDED (resuming it failed: {e:#}); resume it with `cortado scale --resume-auto-scaling`")),
        }
        self.applied.done.push(json!({
            "operation": "application-autoscaling:RegisterScalableTarget",
            "resource": format!("{resource} resume (compensation: the deploy failed before its rollout)"),
            "ok": r.is_ok(),
        }));
    }

    /// The steps that wait for the rollout (rollback deregisters what it left only then).
    pub async fn run_after_wait(&mut self) -> Result<()> {
        for step in &self.plan.after_wait {
            self.step(step).await?;
        }
        Ok(())
    }

    /// Before the first mutation: the deploy lock (when configured), then no deployment of the
    /// service that this invocation did not start may be in progress.
    async fn take_lock(&mut self) -> Result<()> {
        let Some(spec) = self.approval.as_ref().and_then(Approval::lock).cloned() else { return Ok(()) };
        // Commands that start or end a service's deployment; one-off tasks, exec and verify's log
        // writes do not contend with a deploy.
        const LOCKED: &[&str] = &["deploy", "scale", "refresh", "rollback", "delete"];
        if self.lock.is_some() || self.plan.steps.is_empty() || !LOCKED.contains(&self.plan.command.as_str()) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.lock = Some(lock::acquire(self.aws, &spec, self.progress).await?);
        lock::check_others(self.aws, &spec, self.progress).await?;
        tracing::debug!("deploy lock taken in {} ms", started.elapsed().as_millis());
        Ok(())
    }

    /// Records the outcome, releases the lock and hands back what was done.
    pub fn finish(mut self, result: &Result<()>) -> Result<Applied> {
        let applied = std::mem::take(&mut self.applied);
        if let Some(approval) = self.approval.take() {
            approval.record_outcome(outcome(&applied, result))?;
        }
        drop(self.lock.take());
        Ok(applied)
    }

    async fn step(&mut self, step: &Step) -> Result<()> {
        let r = self.perform(step).await;
        self.applied.done.push(json!({"operation": step.operation(), "resource": step.resource(), "ok": r.is_ok()}));
        r
    }

    fn td(&self, td: &TdRef) -> Result<String> {
        match td {
            TdRef::Arn(a) => Ok(a.clone()),
            TdRef::Registered => self.applied.registered.clone().context("internal error: no task definition was registered before it was used"),
        }
    }

    async fn perform(&mut self, step: &Step) -> Result<()> {
        let client = self.aws.ecs();
        let p = self.progress;
        match step {
            Step::RegisterTaskDefinition { body } => {
                let registered = recover::register(&client, body, recover::max_attempts(&self.aws.sdk), p).await?;
                let arn = registered.get("taskDefinitionArn").and_then(Value::as_str).context("RegisterTaskDefinition returned no ARN")?.to_owned();
                p.info(&format!("registered task definition {}", ecs::short_task_definition(&arn)));
                self.applied.registered = Some(arn);
                self.applied.registered_definition = Some(registered);
            }
            Step::DeregisterTaskDefinition { arn } => {
                calls::deregister_task_definition(&client, arn).await?;
                p.info(&format!("deregistered {}", ecs::short_task_definition(arn)));
            }
            Step::DeleteTaskDefinitions { arns } => {
                calls::delete_task_definitions(&client, arns).await?;
                p.info(&format!("deleted {} revision(s)", arns.len()));
            }
            Step::CreateService { body, td } => {
                let arn = self.td(td)?;
                let mut body = body.clone();
                body["taskDefinition"] = json!(arn);
                with_client_token(&mut body, "CreateService");
                let created = calls::create_service(&client, &body).await?;
                p.info(&format!("created service {} with {}", body["serviceName"].as_str().unwrap_or(""), ecs::short_task_definition(&arn)));
                self.applied.deployment_id = primary_deployment(&created);
                self.applied.service = Some(created);
            }
            Step::UpdateService { body, td } => {
                let mut body = body.clone();
                let arn = match td {
                    Some(td) => Some(self.td(td)?),
                    None => None,
                };
                if let Some(a) = &arn {
                    body["taskDefinition"] = json!(a);
                }
                let before = self.deployment_before(&client, &body).await?;
                let updated = recover::update(&client, &body, before.as_deref(), recover::max_attempts(&self.aws.sdk), p).await?;
                p.info(&update_message(&body, arn.as_deref()));
                self.applied.deployment_id = primary_deployment(&updated);
                self.applied.service = Some(updated);
            }
            Step::DeleteService { cluster, service, force } => {
                calls::delete_service(&client, cluster, service, *force).await?;
                p.info(&format!("service {service} is deleted"));
            }
            Step::TagResource { arn, tags } => {
                calls::tag_resource(&client, arn, tags).await?;
                p.info(&format!("tags set: {}", tags.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")));
            }
            Step::UntagResource { arn, keys } => {
                calls::untag_resource(&client, arn, keys).await?;
                p.info(&format!("tags removed: {}", keys.join(", ")));
            }
            Step::RunTask { body, td } => {
                let arn = self.td(td)?;
                let mut body = body.clone();
                body["taskDefinition"] = json!(arn);
                with_client_token(&mut body, "RunTask");
                self.applied.run = Some(calls::run_task(&client, &body).await?);
            }
            Step::StopTask { cluster, task, reason } => {
                self.applied.stopped = Some(calls::stop_task(&client, cluster, task, reason).await?);
            }
            Step::ExecuteCommand { cluster, task, container, command } => {
                self.applied.session = Some(calls::execute_command(&client, cluster, task, container, command).await?);
            }
            Step::StartSession { target, document, parameters } => {
                self.applied.session = Some(calls::start_session(self.aws, target, document, parameters).await?);
            }
            Step::RegisterScalableTarget { resource, min, max, suspend } => {
                // Suspending what was running: remember it, to undo when the deploy fails early.
                let was_running = if *suspend == Some(true) { self.scaling_was_running(resource).await } else { false };
                calls::register_scalable_target(self.aws, resource, *min, *max, *suspend).await?;
                if was_running {
                    self.applied.suspended = Some(resource.clone());
                }
                p.info(&format!("auto scaling: {}", step.resource()));
            }
            Step::CreateDeployment { application, group, config, service, hooks, td, rollback_events } => {
                let arn = self.td(td)?;
                let spec = crate::plan::codedeploy::appspec(&arn, service, hooks.as_ref())?;
                let id = calls::create_deployment(self.aws, application, group, config.clone(), spec, rollback_events).await?;
                p.info(&format!(
                    "CodeDeploy deployment {id} created: https://{0}.console.aws.amazon.com/codesuite/codedeploy/deployments/{id}?region={0}",
                    self.aws.region()
                ));
                self.applied.codedeploy_deployment = Some(id);
            }
            Step::StopDeployment { id, auto_rollback } => {
                calls::stop_deployment(self.aws, id, *auto_rollback).await?;
                p.info(&format!("CodeDeploy deployment {id} stopped{}", if *auto_rollback { " with auto rollback" } else { "" }));
            }
            Step::StopServiceDeployment { arn, stop_type } => {
                calls::stop_service_deployment(&client, arn, stop_type).await?;
                p.info(&format!("service deployment {arn}: stop requested ({stop_type})"));
            }
            Step::ContinueServiceDeployment { arn, hook_id, action } => {
                calls::continue_service_deployment(&client, arn, hook_id, action).await?;
                p.info(&format!("service deployment {arn}: hook {hook_id} answered {action}"));
            }
            Step::DeleteLock { bucket, key, etag } => {
                lock::delete(&self.aws.s3(), bucket, key, etag).await?;
                p.info(&format!("deploy lock s3://{bucket}/{key} removed"));
            }
            Step::PutTestLogEvent { group, region, container, stream_prefix, create_group } => {
                let sdk = self.agent.clone().unwrap_or_else(|| self.aws.sdk.clone());
                let sdk = if sdk.region().map(|r| r.as_ref()) == Some(region.as_str()) {
                    sdk
                } else {
                    sdk.into_builder().region(aws_config::Region::new(region.clone())).build()
                };
                // A failed write is a verify finding (NG), not a reason to stop the other checks.
                let r = calls::put_test_log_event(&sdk, group, container, stream_prefix.as_deref(), *create_group).await;
                self.applied.log_writes.push((format!("{group}@{region}"), r));
            }
        }
        Ok(())
    }
}

impl Apply<'_> {
    /// Whether the scalable target scales now (not suspended); false when that cannot be read.
    async fn scaling_was_running(&self, resource: &str) -> bool {
        let Some((cluster, service)) = resource.strip_prefix("service/").and_then(|r| r.split_once('/')) else { return false };
        match crate::plan::autoscaling::scalable_targets(self.aws, cluster, service).await {
            Ok((_, targets)) => targets.iter().any(|t| t.suspended_state().is_none_or(|s| s.dynamic_scaling_in_suspended() != Some(true))),
            Err(_) => false,
        }
    }

    /// The service's PRIMARY deployment before an UpdateService: from the plan's view, or read.
    async fn deployment_before(&self, client: &aws_sdk_ecs::Client, body: &Value) -> Result<Option<String>> {
        if let Some(sv) = self.plan.service_before.as_ref().filter(|sv| sv.get("deployments").is_some()) {
            return Ok(primary_deployment(sv));
        }
        let cluster = body.get("cluster").and_then(Value::as_str).unwrap_or("default");
        let service = body.get("service").and_then(Value::as_str).unwrap_or_default();
        Ok(ecs::describe_service(client, cluster, service).await?.as_ref().and_then(primary_deployment))
    }
}

impl Drop for Apply<'_> {
    /// A command that returned early (an error after some steps) still chains an outcome.
    fn drop(&mut self) {
        if let Some(approval) = self.approval.take() {
            let r: Result<()> = Err(anyhow::anyhow!("the command ended before reporting its outcome"));
            if let Err(e) = approval.record_outcome(outcome(&self.applied, &r)) {
                tracing::error!("the outcome could not be recorded: {e:#}");
            }
        }
    }
}

/// The outcome record's content.
fn outcome(applied: &Applied, result: &Result<()>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("result".into(), json!(if result.is_ok() { "ok" } else { "failed" }));
    m.insert("error".into(), result.as_ref().err().map(|e| json!(format!("{e:#}"))).unwrap_or(Value::Null));
    m.insert("changed".into(), json!(applied.done));
    if !applied.tag_failures.is_empty() {
        m.insert("tag_failures".into(), json!(applied.tag_failures));
    }
    m.insert("registered".into(), json!(applied.registered));
    m.insert("deployment_id".into(), json!(applied.deployment_id.clone().or_else(|| applied.codedeploy_deployment.clone())));
    let tasks: Vec<&str> = applied
        .run
        .iter()
        .flat_map(|r| r.get("tasks").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|t| t.get("taskArn").and_then(Value::as_str))
        .collect();
    if !tasks.is_empty() {
        m.insert("tasks".into(), json!(tasks));
    }
    m
}

/// `updated service NAME: family:rev, desired N, attributes, forced new deployment`
fn update_message(body: &Value, td: Option<&str>) -> String {
    let plain = ["cluster", "service", "taskDefinition", "desiredCount", "forceNewDeployment"];
    let attributes = body.as_object().is_some_and(|o| o.keys().any(|k| !plain.contains(&k.as_str())));
    format!(
        "updated service {}: {}{}{}{}",
        body["service"].as_str().unwrap_or(""),
        td.map(ecs::short_task_definition).unwrap_or("task definition unchanged"),
        body.get("desiredCount").map(|d| format!(", desired {d}")).unwrap_or_default(),
        if attributes { ", attributes" } else { "" },
        if body.get("forceNewDeployment").is_some() { ", forced new deployment" } else { "" }
    )
}

/// The id of the PRIMARY deployment in a service object.
pub fn primary_deployment(sv: &Value) -> Option<String> {
    sv.get("deployments")?
        .as_array()?
        .iter()
        .find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"))
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Sets a `clientToken` unless the plan has one (`run --client-token`): the raw-JSON interceptor
/// sends this very body on every SDK retry, so a retry after a lost response is recognised by ECS
/// as the same request instead of starting a second task or failing on an existing service.
fn with_client_token(body: &mut Value, operation: &str) {
    if body.get("clientToken").and_then(Value::as_str).is_some_and(|t| !t.is_empty()) {
        return;
    }
    body["clientToken"] = json!(client_token(operation));
}

/// 32 hex characters, unique per call (time, process, a counter), within ECS's 36-character limit.
fn client_token(operation: &str) -> String {
    use sha2::Digest as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let seed = format!("{operation}:{nanos}:{}:{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    hex::encode(&sha2::Sha256::digest(seed.as_bytes())[..16])
}

/// `CORTADO_PAUSE_BEFORE_APPLY=2s`: sleep between the recorded decision and the first mutation, so
/// that a test can kill cortado exactly there. It delays; it cannot skip or change anything.
async fn pause_for_tests() {
    if let Some(d) = std::env::var("CORTADO_PAUSE_BEFORE_APPLY").ok().and_then(|v| crate::config::duration::parse_go_duration(&v).ok()) {
        tokio::time::sleep(d.min(Duration::from_secs(60))).await;
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn a_client_token_is_set_once_and_a_given_one_kept() {
        let mut body = json!({"cluster": "c"});
        with_client_token(&mut body, "RunTask");
        let t = body["clientToken"].as_str().unwrap().to_owned();
        assert_eq!(t.len(), 32);
        with_client_token(&mut body, "RunTask");
        assert_eq!(body["clientToken"], json!(t), "kept, not replaced");
        let mut given = json!({"clientToken": "mine"});
        with_client_token(&mut given, "RunTask");
        assert_eq!(given["clientToken"], json!("mine"));
        assert_ne!(client_token("RunTask"), client_token("RunTask"));
    }
}
