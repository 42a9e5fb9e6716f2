//! Stage: the plan. Every command that changes anything first builds one [`Plan`] — before any
//! mutating call — holding what gates judge (the command, every task definition that will run with
//! its full body and ARN, the service before and after, the desired count, auto scaling changes,
//! the one normalised diff) and the exact [`Step`]s `apply/` will perform. `--dry-run` prints the
//! steps; gates see the plan; `apply` can only perform the steps of a plan a gate approved.
//!
//! Building a plan may read AWS (describe the service, the task definitions that will run, the
//! scalable targets); it never writes.

pub mod autoscaling;
pub mod codedeploy;
pub mod daemon;
pub mod deploy;
pub mod deployments;
pub mod express;
pub mod lifecycle;
pub mod pin;
pub mod rollback;
pub mod run;
pub mod service;
pub mod step;
pub mod tasks;
pub mod verify;

use serde_json::{Value, json};

use crate::aws::ecs;

pub use step::{OnError, Service, Step};

/// The `taskDefinition` member of a request: a known ARN, or a reference to the ARN that the
/// plan's RegisterTaskDefinition step (at `index`) returns.
pub fn td_member(arn: Option<&str>, register_index: Option<usize>) -> Value {
    match (arn, register_index) {
        (Some(a), _) => json!(a),
        (None, Some(i)) => step::registered_arn(i),
        (None, None) => Value::Null,
    }
}

/// How a `taskDefinition` member reads to a person: the ARN, or "the revision registered above".
pub fn td_display(member: &Value) -> String {
    match member.as_str() {
        Some(a) => a.to_owned(),
        None => "(the revision registered above)".into(),
    }
}

/// What a task definition in the plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It will run (deployed, run, scaled, rolled back to).
    Runs,
    /// It will be deregistered or deleted.
    Removed,
}

/// A task definition the plan touches, with its full body (rendered locally, or described from AWS).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTd {
    /// None until registered (a local file this plan registers).
    pub arn: Option<String>,
    pub body: Value,
    pub role: Role,
}

/// Everything a command will do, decided before it does any of it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// deploy, scale, refresh, rollback, delete, run, register, deregister, tasks-stop, exec, verify
    pub command: String,
    pub cluster: String,
    pub service: Option<String>,
    pub task_definitions: Vec<PlannedTd>,
    pub service_before: Option<Value>,
    pub service_after: Option<Value>,
    pub desired_count: Option<i64>,
    pub autoscaling: Option<autoscaling::Change>,
    /// The normalised unified diff, as `cortado diff` prints it.
    pub diff: String,
    /// `run`'s task overrides.
    pub overrides: Option<Value>,
    /// The requests apply sends, in order.
    pub steps: Vec<Step>,
    /// Steps performed only after the wait succeeds (rollback's deregistration of the revision it left).
    pub after_wait: Vec<Step>,
    /// Compensations sent only when an apply step fails before the rollout started (resuming the
    /// auto scaling that this plan suspended). Approved with the rest, like every request.
    pub on_failure: Vec<Step>,
}

impl Plan {
    pub fn new(command: &str, cluster: &str, service: Option<&str>) -> Plan {
        Plan { command: command.into(), cluster: cluster.into(), service: service.map(str::to_owned), ..Default::default() }
    }

    /// The first task definition that will run: what a gate's `task-definition` field carries.
    pub fn running_td(&self) -> Option<&PlannedTd> {
        self.task_definitions.iter().find(|t| t.role == Role::Runs)
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.after_wait.is_empty()
    }

    /// Appends a step and returns its index (what a later step's reference names).
    pub fn push(&mut self, step: Step) -> usize {
        self.steps.push(step);
        self.steps.len() - 1
    }

    /// Every step with its phase, in the order of their indices: apply, after the wait, on failure.
    pub fn all_steps(&self) -> impl Iterator<Item = (&'static str, &Step)> {
        let apply = self.steps.iter().map(|s| ("apply", s));
        let after = self.after_wait.iter().map(|s| ("after-wait", s));
        let failure = self.on_failure.iter().map(|s| ("on-failure", s));
        apply.chain(after).chain(failure)
    }

    /// The steps as gates, the audit log, `--dry-run` and `--output json` see them.
    pub fn steps_json(&self) -> Vec<Value> {
        self.all_steps().map(|(phase, s)| s.to_json(phase)).collect()
    }

    /// The first step calling `service`'s `operation`, if any.
    pub fn step(&self, service: Service, operation: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.is(service, operation))
    }

    /// The plan as JSON: what gates and the audit log see (its digest binds an approval to it).
    pub fn to_json(&self) -> Value {
        json!({
            "command": self.command,
            "cluster": self.cluster,
            "service": self.service,
            "task_definitions": self.task_definitions.iter().map(|t| json!({
                "arn": t.arn, "role": if t.role == Role::Runs { "runs" } else { "removed" }, "body": t.body,
            })).collect::<Vec<_>>(),
            "service_before": self.service_before,
            "service_after": self.service_after,
            "desired_count": self.desired_count,
            "autoscaling": self.autoscaling.map(|a| json!({"suspend": a.suspend, "min": a.min, "max": a.max})),
            "diff": self.diff,
            "overrides": self.overrides,
            "mutations": self.mutations(),
            "steps": self.steps_json(),
        })
    }

    /// `[{operation, resource}]`, in the order apply performs them.
    pub fn mutations(&self) -> Vec<Value> {
        let now = self.steps.iter().map(|s| json!({"operation": s.action(), "resource": s.resource}));
        let later = self.after_wait.iter().map(|s| json!({"operation": s.action(), "resource": s.resource, "after": "the wait succeeds"}));
        let failure = self.on_failure.iter().map(|s| json!({"operation": s.action(), "resource": s.resource, "after": "an earlier step fails"}));
        now.chain(later).chain(failure).collect()
    }
}

/// A task definition described from AWS, registerable fields only (tags folded in), with its ARN.
pub async fn described_td(client: &aws_sdk_ecs::Client, name: &str, role: Role) -> anyhow::Result<PlannedTd> {
    let (def, tags) = ecs::describe_task_definition(client, name).await?;
    let arn = def.get("taskDefinitionArn").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| name.to_owned());
    Ok(PlannedTd { arn: Some(arn), body: ecs::registerable(&def, &tags), role })
}
