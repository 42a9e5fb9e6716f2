//! Stage: apply. The only module that calls AWS operations that change anything (a test fails the
//! build when a mutating SDK call appears elsewhere). It performs exactly the steps of a plan, in
//! order, and only with an [`Approval`] that `gate::evaluate` made for that very plan; then it
//! chains the outcome record (what changed, the result, the error) to the gate's decision.

mod calls;
pub mod lock;
mod recover;

use std::time::Duration;

use anyhow::{Result, bail};
use aws_config::SdkConfig;
use serde_json::{Map, Value, json};

use crate::aws::{Aws, AwsError, ecs};
use crate::gate::Approval;
use crate::plan::{OnError, Plan, Service, Step, step};
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
    /// The daemon deployment CreateDaemon/UpdateDaemon started (ECS Managed Daemons).
    pub daemon_deployment: Option<String>,
    /// What Create/Update/DeleteExpressGatewayService answered (`service`): the Express service,
    /// with the configuration an update rolls out (`targetConfiguration`).
    pub express: Option<Value>,
    /// RunTask's response (`tasks`, `failures`).
    pub run: Option<Value>,
    pub stopped: Option<Value>,
    /// Set by the rolling wait when the service has early success criteria: whether ECS completed
    /// the deployment early (before it was steady). Set once, through a shared reference.
    pub completed_early: std::sync::OnceLock<bool>,
    /// Set by an Express service's wait: the service deployment it followed (ECS starts it; the
    /// Create/Update answer does not name it). Set once, through a shared reference.
    pub express_deployment: std::sync::OnceLock<String>,
    /// ExecuteCommand's or StartSession's session.
    pub session: Option<Value>,
    /// Every ExecuteCommand session, in order (`exec cp` starts one per part).
    pub sessions: Vec<Value>,
    /// `verify --put-logs`: per finding key (`group@region`), Ok or the first error.
    pub log_writes: Vec<(String, Result<(), String>)>,
    /// `{operation, resource, ok}` for every step performed (and every compensation).
    pub done: Vec<Value>,
    /// Tag changes that failed: reported after the wait, which they do not stop.
    pub tag_failures: Vec<String>,
    /// Every reference resolved, with its value: with the approved steps, the exact requests sent.
    pub resolved: Map<String, Value>,
    /// The hash of the outcome record [`Apply::finish`] appended (a release statement names it).
    pub outcome_record: Option<String>,
}

/// One apply of one plan: [`Apply::run`] the steps, wait (outside), [`Apply::run_after_wait`],
/// then [`Apply::finish`] with the command's result. Dropped unfinished, it still records an outcome.
pub struct Apply<'a> {
    plan: &'a Plan,
    approval: Option<Approval>,
    aws: &'a Aws,
    progress: &'a dyn Progress,
    /// Credentials of the ECS agent (the execution role), for steps sent as it (`verify --put-logs`).
    agent: Option<SdkConfig>,
    /// The deploy lock, held from before the first step until [`Apply::finish`] (or drop).
    lock: Option<lock::Held>,
    /// Each step's response, indexed like [`Plan::all_steps`]: what references resolve against.
    responses: Vec<Option<Value>>,
    pub applied: Applied,
}

impl<'a> Apply<'a> {
    /// Refuses an approval that was made for another plan or for a dry run.
    pub fn new(plan: &'a Plan, approval: Approval, aws: &'a Aws, progress: &'a dyn Progress) -> Result<Apply<'a>> {
        if !approval.permits(plan) {
            bail!("internal error: the approval was not made for this plan (or was a dry run); nothing was changed");
        }
        let responses = vec![None; plan.all_steps().count()];
        Ok(Apply { plan, approval: Some(approval), aws, progress, agent: None, lock: None, responses, applied: Applied::default() })
    }

    /// The run id of the decision this apply acts on (when it was recorded): what later records chain to.
    pub fn run_id(&self) -> Option<String> {
        self.approval.as_ref().and_then(Approval::run_id)
    }

    pub fn with_agent(mut self, agent: SdkConfig) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Performs the plan's steps in order, stopping at the first failure (a step whose failure is
    /// only reported, or a finding, lets the others go on). A failure before the rollout started
    /// sends the plan's approved compensations.
    pub async fn run(&mut self) -> Result<()> {
        self.take_lock().await?;
        pause_for_tests().await;
        crate::interrupt::set_hint(format!(
            "interrupted while applying the plan ({} step(s)); what was done is in the audit log's outcome record, and `cortado status` shows the service",
            self.plan.steps.len()
        ));
        let plan = self.plan;
        let mut failed_findings: Vec<String> = Vec::new();
        for (index, step) in plan.steps.iter().enumerate() {
            if let OnError::Finding(key) = &step.on_error
                && failed_findings.contains(key)
            {
                continue;
            }
            let r = self.step(index, step).await;
            match (r, &step.on_error) {
                (Ok(()), _) => {}
                (Err(e), OnError::Report) => {
                    let msg = format!("{e:#}");
                    self.progress.info(&format!("tags were not changed: {msg}"));
                    self.applied.tag_failures.push(msg);
                }
                (Err(e), OnError::Finding(key)) => {
                    failed_findings.push(key.clone());
                    self.applied.log_writes.push((key.clone(), Err(format!("{e:#}"))));
                }
                (Err(e), OnError::Stop) => {
                    let rollout_started = self.applied.deployment_id.is_some()
                        || self.applied.codedeploy_deployment.is_some()
                        || self.applied.daemon_deployment.is_some()
                        || self.applied.express.is_some();
                    if !rollout_started {
                        self.compensate().await;
                    }
                    return Err(e);
                }
            }
        }
        for step in &plan.steps {
            if let OnError::Finding(key) = &step.on_error
                && !self.applied.log_writes.iter().any(|(k, _)| k == key)
            {
                self.applied.log_writes.push((key.clone(), Ok(())));
            }
        }
        Ok(())
    }

    /// Sends the plan's compensations (resuming the auto scaling it suspended), and says so.
    async fn compensate(&mut self) {
        let plan = self.plan;
        let offset = plan.steps.len() + plan.after_wait.len();
        for (i, step) in plan.on_failure.iter().enumerate() {
            let what = match step.str("ResourceId") {
                Some(r) => format!("auto scaling of {r}"),
                None => step.resource.clone(),
            };
            match self.step(offset + i, step).await {
                Ok(()) => self.progress.info(&format!("{what} resumed: the deploy failed before its rollout started")),
                Err(e) => {
                    self.progress.info(&format!("{what} stays SUSPENDED (resuming it failed: {e:#}); resume it with `cortado scale --resume-auto-scaling`"))
                }
            }
        }
    }

    /// The steps that wait for the rollout (rollback deregisters what it left only then).
    pub async fn run_after_wait(&mut self) -> Result<()> {
        let plan = self.plan;
        let offset = plan.steps.len();
        for (i, step) in plan.after_wait.iter().enumerate() {
            self.step(offset + i, step).await?;
        }
        Ok(())
    }

    /// Takes the deploy lock now (before [`Apply::run`], which then keeps it): a stack takes every
    /// member's lock in sorted order before its first change.
    pub async fn lock(&mut self) -> Result<()> {
        self.take_lock().await
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
        let mut applied = std::mem::take(&mut self.applied);
        if let Some(approval) = self.approval.take() {
            applied.outcome_record = approval.record_outcome(outcome(&applied, result))?;
        }
        drop(self.lock.take());
        Ok(applied)
    }

    /// Step `index` of the plan: resolved, checked, sent, its response kept.
    async fn step(&mut self, index: usize, step: &Step) -> Result<()> {
        let r = self.perform(index, step).await;
        self.applied.done.push(json!({"operation": step.action(), "resource": step.resource, "ok": r.is_ok()}));
        let response = r?;
        self.take_response(step, &response);
        self.responses[index] = Some(response);
        Ok(())
    }

    /// The one place a request leaves: the approved input with its references resolved, refused
    /// unless it is exactly that step (see `plan::step::matches_approved`), sent as those bytes.
    async fn perform(&mut self, index: usize, step: &Step) -> Result<Value> {
        let body = step::resolve(&step.input, &self.responses)?;
        if !step::matches_approved(&step.input, &body, &self.responses) {
            bail!("internal error: the request for step {index} ({}) is not the approved one; nothing more was sent", step.action());
        }
        step::resolutions(&step.input, &self.responses, &mut self.applied.resolved);
        let bytes = serde_json::to_vec(&body)?;
        let r = match (step.service, step.operation) {
            (Service::Ecs, "RegisterTaskDefinition") => {
                recover::register(&self.aws.ecs(), &body, &bytes, recover::max_attempts(&self.aws.sdk), self.progress).await
            }
            (Service::Ecs, "UpdateService") => {
                let before = self.deployment_before(&body).await?;
                recover::update(&self.aws.ecs(), &body, &bytes, before.as_deref(), recover::max_attempts(&self.aws.sdk), self.progress).await
            }
            _ => calls::send(&self.sdk_for(step), step, &bytes).await,
        };
        match (r, step.already_done) {
            (Err(e), Some(code)) if AwsError::find(&e).and_then(|a| a.code.as_deref()) == Some(code) => Ok(json!({})),
            (r, _) => r,
        }
    }

    /// The credentials and region a step is sent with.
    fn sdk_for(&self, step: &Step) -> SdkConfig {
        let sdk = if step.as_execution_role { self.agent.clone().unwrap_or_else(|| self.aws.sdk.clone()) } else { self.aws.sdk.clone() };
        match &step.region {
            Some(region) if sdk.region().map(|r| r.as_ref()) != Some(region.as_str()) => {
                sdk.into_builder().region(aws_config::Region::new(region.clone())).build()
            }
            _ => sdk,
        }
    }

    /// Keeps what the wait and the report need from a step's response, and says what was done.
    fn take_response(&mut self, step: &Step, response: &Value) {
        let p = self.progress;
        let a = &mut self.applied;
        let short = ecs::short_task_definition;
        match (step.service, step.operation) {
            (Service::Ecs, "RegisterTaskDefinition") => {
                let def = response.get("taskDefinition").cloned();
                a.registered = def.as_ref().and_then(|d| d.get("taskDefinitionArn")).and_then(Value::as_str).map(str::to_owned);
                p.info(&format!("registered task definition {}", short(a.registered.as_deref().unwrap_or(""))));
                a.registered_definition = def;
            }
            (Service::Ecs, "CreateService" | "UpdateService") => {
                let sv = response.get("service").cloned();
                a.deployment_id = sv.as_ref().and_then(primary_deployment);
                let name = step.str("serviceName").or(step.str("service")).unwrap_or("");
                let td = sv.as_ref().and_then(|s| s.get("taskDefinition")).and_then(Value::as_str).map(str::to_owned);
                match step.operation {
                    "CreateService" => p.info(&format!("created service {name} with {}", short(td.as_deref().unwrap_or("")))),
                    _ => p.info(&update_message(&step.input, step.input.get("taskDefinition").and(td.as_deref()))),
                }
                a.service = sv;
            }
            (Service::Ecs, "RegisterDaemonTaskDefinition") => {
                a.registered = response.get("daemonTaskDefinitionArn").and_then(Value::as_str).map(str::to_owned);
                p.info(&format!("registered daemon task definition {}", short(a.registered.as_deref().unwrap_or(""))));
            }
            (Service::Ecs, "CreateDaemon" | "UpdateDaemon" | "DeleteDaemon") => {
                a.daemon_deployment = response.get("deploymentArn").and_then(Value::as_str).map(str::to_owned);
                let verb = match step.operation {
                    "CreateDaemon" => "created",
                    "UpdateDaemon" => "updated",
                    _ => "deleting",
                };
                let td = step.input.get("daemonTaskDefinitionArn").map(|_| response_td(&self.responses, step)).unwrap_or_default();
                p.info(&format!("{verb} {}{td}", step.resource));
            }
            (Service::Ecs, op @ ("CreateExpressGatewayService" | "UpdateExpressGatewayService" | "DeleteExpressGatewayService")) => {
                a.express = response.get("service").cloned();
                let verb = match op {
                    "CreateExpressGatewayService" => "created",
                    "UpdateExpressGatewayService" => "updated",
                    _ => "deleting",
                };
                p.info(&format!("{verb} {}", step.resource));
            }
            (Service::Ecs, "RunTask") => a.run = Some(response.clone()),
            (Service::Ecs, "StopTask") => a.stopped = Some(response.get("task").cloned().unwrap_or(Value::Null)),
            (Service::Ecs, "ExecuteCommand") => {
                a.session = response.get("session").cloned();
                a.sessions.extend(a.session.clone());
            }
            (Service::Ssm, "StartSession") => a.session = Some(response.clone()),
            (Service::CodeDeploy, "CreateDeployment") => {
                let id = response.get("deploymentId").and_then(Value::as_str).unwrap_or_default().to_owned();
                p.info(&format!(
                    "CodeDeploy deployment {id} created: https://{0}.console.aws.amazon.com/codesuite/codedeploy/deployments/{id}?region={0}",
                    self.aws.region()
                ));
                a.codedeploy_deployment = Some(id);
            }
            (Service::Ecs, "ContinueServiceDeployment") => p.info(&format!(
                "service deployment {}: hook {} answered {}",
                step.str("serviceDeploymentArn").unwrap_or(""),
                step.str("hookId").unwrap_or(""),
                step.str("action").unwrap_or("")
            )),
            (Service::Ecs, "StopServiceDeployment") => p.info(&format!(
                "service deployment {}: stop requested ({})",
                step.str("serviceDeploymentArn").unwrap_or(""),
                step.str("stopType").unwrap_or("")
            )),
            (Service::Ecs, "DeregisterTaskDefinition") => p.info(&format!("deregistered {}", short(step.str("taskDefinition").unwrap_or("")))),
            (Service::Ecs, "DeleteTaskDefinitions") => {
                p.info(&format!("deleted {} revision(s)", step.input["taskDefinitions"].as_array().map(Vec::len).unwrap_or(0)))
            }
            (Service::Ecs, "DeleteService") => p.info(&format!("service {} is deleted", step.str("service").unwrap_or(""))),
            (Service::Ecs, "TagResource" | "UntagResource") => p.info(&format!("tags: {}", step.resource)),
            (Service::CodeDeploy, "StopDeployment") => p.info(&format!(
                "CodeDeploy deployment {} stopped{}",
                step.str("deploymentId").unwrap_or(""),
                if step.input["autoRollbackEnabled"] == json!(true) { " with auto rollback" } else { "" }
            )),
            (Service::S3, "DeleteObject") => {
                p.info(&format!("deploy lock s3://{}/{} removed", step.str("Bucket").unwrap_or(""), step.str("Key").unwrap_or("")))
            }
            (Service::AutoScaling, "RegisterScalableTarget") => p.info(&format!("auto scaling: {}", step.resource)),
            (_, "PutLogEvents" | "CreateLogStream" | "CreateLogGroup") => {}
            _ => p.info(&format!("{}: {}", step.action(), step.resource)),
        }
    }
}

impl Apply<'_> {
    /// The service's PRIMARY deployment before an UpdateService: from the plan's view, or read.
    async fn deployment_before(&self, body: &Value) -> Result<Option<String>> {
        if let Some(sv) = self.plan.service_before.as_ref().filter(|sv| sv.get("deployments").is_some()) {
            return Ok(primary_deployment(sv));
        }
        let cluster = body.get("cluster").and_then(Value::as_str).unwrap_or("default");
        let service = body.get("service").and_then(Value::as_str).unwrap_or_default();
        Ok(ecs::describe_service(&self.aws.ecs(), cluster, service).await?.as_ref().and_then(primary_deployment))
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
    if !applied.resolved.is_empty() {
        m.insert("resolved".into(), Value::Object(applied.resolved.clone()));
    }
    m.insert("deployment_id".into(), json!(applied.deployment_id.clone().or_else(|| applied.codedeploy_deployment.clone())));
    if let Some(d) = &applied.daemon_deployment {
        m.insert("daemon_deployment_arn".into(), json!(d));
    }
    if let Some(e) = &applied.express {
        m.insert("express_service_arn".into(), json!(e.get("serviceArn")));
    }
    if let Some(d) = applied.express_deployment.get() {
        m.insert("service_deployment_arn".into(), json!(d));
    }
    if let Some(early) = applied.completed_early.get() {
        m.insert("completed_early".into(), json!(early));
    }
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

/// ` with family:rev`: the daemon task definition a daemon step names, its reference resolved.
fn response_td(responses: &[Option<Value>], step: &Step) -> String {
    let member = step.input.get("daemonTaskDefinitionArn").cloned().unwrap_or(Value::Null);
    let arn = step::resolve(&member, responses).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    format!(" with {}", crate::aws::daemon::short(&arn))
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

/// `CORTADO_PAUSE_BEFORE_APPLY=2s`: sleep between the recorded decision and the first mutation, so
/// that a test can kill cortado exactly there. It delays; it cannot skip or change anything.
async fn pause_for_tests() {
    if let Some(d) = std::env::var("CORTADO_PAUSE_BEFORE_APPLY").ok().and_then(|v| crate::config::duration::parse_go_duration(&v).ok()) {
        tokio::time::sleep(d.min(Duration::from_secs(60))).await;
    }
}
