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
pub mod deploy;
pub mod deployments;
pub mod lifecycle;
pub mod rollback;
pub mod run;
pub mod service;
pub mod tasks;
pub mod verify;

use serde_json::{Value, json};

use crate::aws::ecs;

/// Which task definition a step uses: one known by ARN, or the one this plan's
/// RegisterTaskDefinition step creates (its ARN is known only once it is registered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TdRef {
    Arn(String),
    Registered,
}

impl TdRef {
    pub fn display(&self) -> String {
        match self {
            TdRef::Arn(a) => a.clone(),
            TdRef::Registered => "(the revision registered above)".into(),
        }
    }
}

/// One mutating AWS call, with everything it sends. `apply/` performs these and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    RegisterTaskDefinition {
        body: Value,
    },
    DeregisterTaskDefinition {
        arn: String,
    },
    DeleteTaskDefinitions {
        arns: Vec<String>,
    },
    /// `body` lacks `taskDefinition`; apply sets it from `td`.
    CreateService {
        body: Value,
        td: TdRef,
    },
    /// `body` lacks `taskDefinition` when `td` is None (the service keeps its own).
    UpdateService {
        body: Value,
        td: Option<TdRef>,
    },
    DeleteService {
        cluster: String,
        service: String,
        force: bool,
    },
    TagResource {
        arn: String,
        tags: Vec<(String, String)>,
    },
    UntagResource {
        arn: String,
        keys: Vec<String>,
    },
    RunTask {
        body: Value,
        td: TdRef,
    },
    StopTask {
        cluster: String,
        task: String,
        reason: String,
    },
    ExecuteCommand {
        cluster: String,
        task: String,
        container: String,
        command: String,
    },
    StartSession {
        target: String,
        document: String,
        parameters: Value,
    },
    RegisterScalableTarget {
        resource: String,
        min: Option<i32>,
        max: Option<i32>,
        suspend: Option<bool>,
    },
    /// A CodeDeploy deployment of `td` to the service described by `service` (AppSpec built then).
    CreateDeployment {
        application: String,
        group: String,
        config: Option<String>,
        service: Value,
        hooks: Option<Value>,
        td: TdRef,
        rollback_events: Vec<String>,
    },
    StopDeployment {
        id: String,
        auto_rollback: bool,
    },
    /// StopServiceDeployment: `stop_type` ROLLBACK (back to the source revision) or ABORT.
    StopServiceDeployment {
        arn: String,
        stop_type: String,
    },
    /// ContinueServiceDeployment at a PAUSE hook: `action` CONTINUE or ROLLBACK.
    ContinueServiceDeployment {
        arn: String,
        hook_id: String,
        action: String,
    },
    /// `cortado unlock`: delete the deploy lock object, only if it is still the one the plan read (`etag`).
    DeleteLock {
        bucket: String,
        key: String,
        etag: String,
    },
    /// `verify --put-logs`: create a stream in `group` (and the group when ECS would) and write one event.
    PutTestLogEvent {
        group: String,
        region: String,
        container: String,
        stream_prefix: Option<String>,
        create_group: bool,
    },
}

impl Step {
    /// The IAM action this step calls (several for PutTestLogEvent; the first names it).
    pub fn operation(&self) -> &'static str {
        match self {
            Step::RegisterTaskDefinition { .. } => "ecs:RegisterTaskDefinition",
            Step::DeregisterTaskDefinition { .. } => "ecs:DeregisterTaskDefinition",
            Step::DeleteTaskDefinitions { .. } => "ecs:DeleteTaskDefinitions",
            Step::CreateService { .. } => "ecs:CreateService",
            Step::UpdateService { .. } => "ecs:UpdateService",
            Step::DeleteService { .. } => "ecs:DeleteService",
            Step::TagResource { .. } => "ecs:TagResource",
            Step::UntagResource { .. } => "ecs:UntagResource",
            Step::RunTask { .. } => "ecs:RunTask",
            Step::StopTask { .. } => "ecs:StopTask",
            Step::ExecuteCommand { .. } => "ecs:ExecuteCommand",
            Step::StartSession { .. } => "ssm:StartSession",
            Step::RegisterScalableTarget { .. } => "application-autoscaling:RegisterScalableTarget",
            Step::CreateDeployment { .. } => "codedeploy:CreateDeployment",
            Step::StopDeployment { .. } => "codedeploy:StopDeployment",
            Step::StopServiceDeployment { .. } => "ecs:StopServiceDeployment",
            Step::ContinueServiceDeployment { .. } => "ecs:ContinueServiceDeployment",
            Step::PutTestLogEvent { .. } => "logs:PutLogEvents",
            Step::DeleteLock { .. } => "s3:DeleteObject",
        }
    }

    /// What the step acts on, as a person reads it.
    pub fn resource(&self) -> String {
        match self {
            Step::RegisterTaskDefinition { body } => format!("family {}", crate::definitions::family(body).unwrap_or("?")),
            Step::DeregisterTaskDefinition { arn } => arn.clone(),
            Step::DeleteTaskDefinitions { arns } => arns.join(", "),
            Step::CreateService { body, td } => format!("service {} with {}", str_of(body, "serviceName"), td.display()),
            Step::UpdateService { body, td } => {
                let mut what: Vec<String> =
                    body.as_object().into_iter().flatten().map(|(k, _)| k.clone()).filter(|k| k != "cluster" && k != "service").collect();
                if let Some(td) = td {
                    what.insert(0, format!("taskDefinition {}", td.display()));
                }
                format!("service {} ({})", str_of(body, "service"), what.join(", "))
            }
            Step::DeleteService { cluster, service, force } => format!("service {service} in cluster {cluster}{}", if *force { " (force)" } else { "" }),
            Step::TagResource { arn, tags } => format!("{arn} ({})", tags.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")),
            Step::UntagResource { arn, keys } => format!("{arn} ({})", keys.join(", ")),
            Step::RunTask { body, td } => {
                format!("{} task(s) of {} in cluster {}", body.get("count").and_then(Value::as_i64).unwrap_or(1), td.display(), str_of(body, "cluster"))
            }
            Step::StopTask { cluster, task, .. } => format!("task {task} in cluster {cluster}"),
            Step::ExecuteCommand { cluster, task, container, command } => format!("{command:?} in container {container} of task {task} in cluster {cluster}"),
            Step::StartSession { target, document, .. } => format!("{document} to {target}"),
            Step::RegisterScalableTarget { resource, min, max, suspend } => format!(
                "{resource}{}{}{}",
                suspend.map(|s| if s { " suspend" } else { " resume" }).unwrap_or(""),
                min.map(|m| format!(" min {m}")).unwrap_or_default(),
                max.map(|m| format!(" max {m}")).unwrap_or_default()
            ),
            Step::CreateDeployment { application, group, td, .. } => format!("{application}/{group} with {}", td.display()),
            Step::StopDeployment { id, auto_rollback } => format!("deployment {id}{}", if *auto_rollback { " (auto rollback)" } else { "" }),
            Step::StopServiceDeployment { arn, stop_type } => format!("service deployment {arn} ({stop_type})"),
            Step::ContinueServiceDeployment { arn, hook_id, action } => format!("hook {hook_id} of service deployment {arn} ({action})"),
            Step::DeleteLock { bucket, key, etag } => format!("deploy lock s3://{bucket}/{key} (ETag {etag})"),
            Step::PutTestLogEvent { group, region, create_group, .. } => {
                format!("log group {group} in {region} (CreateLogStream{}, PutLogEvents)", if *create_group { ", CreateLogGroup if missing" } else { "" })
            }
        }
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
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
    pub steps: Vec<Step>,
    /// Steps performed only after the wait succeeds (rollback's deregistration of the revision it left).
    pub after_wait: Vec<Step>,
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

    /// TEMPORARY (issue 22 §2, replaced at merge by the request-exact plan of §1): today's steps in
    /// the format gates see, `{service, operation, resource, phase, input}`, the input being the
    /// step's fields as JSON and the registered revision's ARN a `$ref` to its step.
    fn steps_json(&self) -> Vec<Value> {
        let registered = self.steps.iter().position(|s| matches!(s, Step::RegisterTaskDefinition { .. })).unwrap_or(0);
        let td = |t: &TdRef| match t {
            TdRef::Arn(a) => json!(a),
            TdRef::Registered => json!({ "$ref": format!("steps[{registered}].taskDefinition.taskDefinitionArn") }),
        };
        let with_td = |body: &Value, t: Option<&TdRef>| {
            let mut b = body.clone();
            if let (Some(o), Some(t)) = (b.as_object_mut(), t) {
                o.insert("taskDefinition".into(), td(t));
            }
            b
        };
        let input = |s: &Step| match s {
            Step::RegisterTaskDefinition { body } => body.clone(),
            Step::CreateService { body, td: t } | Step::RunTask { body, td: t } => with_td(body, Some(t)),
            Step::UpdateService { body, td: t } => with_td(body, t.as_ref()),
            Step::DeregisterTaskDefinition { arn } => json!({"taskDefinition": arn}),
            Step::DeleteTaskDefinitions { arns } => json!({"taskDefinitions": arns}),
            Step::DeleteService { cluster, service, force } => json!({"cluster": cluster, "service": service, "force": force}),
            Step::TagResource { arn, tags } => json!({"resourceArn": arn, "tags": tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()}),
            Step::UntagResource { arn, keys } => json!({"resourceArn": arn, "tagKeys": keys}),
            Step::StopTask { cluster, task, reason } => json!({"cluster": cluster, "task": task, "reason": reason}),
            Step::ExecuteCommand { cluster, task, container, command } => {
                json!({"cluster": cluster, "task": task, "container": container, "command": command, "interactive": true})
            }
            Step::StartSession { target, document, parameters } => json!({"Target": target, "DocumentName": document, "Parameters": parameters}),
            Step::RegisterScalableTarget { resource, min, max, suspend } => json!({
                "ServiceNamespace": "ecs", "ResourceId": resource, "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": min, "MaxCapacity": max,
                "SuspendedState": suspend.map(|s| json!({"DynamicScalingInSuspended": s, "DynamicScalingOutSuspended": s, "ScheduledScalingSuspended": s})),
            }),
            Step::CreateDeployment { application, group, config, service, hooks, td: t, rollback_events } => json!({
                "applicationName": application, "deploymentGroupName": group, "deploymentConfigName": config,
                "taskDefinition": td(t), "service": service, "hooks": hooks, "autoRollbackEvents": rollback_events,
            }),
            Step::StopDeployment { id, auto_rollback } => json!({"deploymentId": id, "autoRollbackEnabled": auto_rollback}),
            Step::StopServiceDeployment { arn, stop_type } => json!({"serviceDeploymentArn": arn, "stopType": stop_type}),
            Step::ContinueServiceDeployment { arn, hook_id, action } => json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": action}),
            Step::DeleteLock { bucket, key, etag } => json!({"Bucket": bucket, "Key": key, "IfMatch": etag}),
            Step::PutTestLogEvent { group, region, container, stream_prefix, create_group } => {
                json!({"logGroupName": group, "region": region, "container": container, "streamPrefix": stream_prefix, "createGroup": create_group})
            }
        };
        let one = |s: &Step, phase: &str| {
            let (service, operation) = s.operation().split_once(':').unwrap_or(("", s.operation()));
            json!({"service": service, "operation": operation, "resource": s.resource(), "phase": phase, "input": input(s)})
        };
        self.steps.iter().map(|s| one(s, "apply")).chain(self.after_wait.iter().map(|s| one(s, "after-wait"))).collect()
    }

    /// `[{operation, resource}]`, in the order apply performs them.
    pub fn mutations(&self) -> Vec<Value> {
        let now = self.steps.iter().map(|s| json!({"operation": s.operation(), "resource": s.resource()}));
        let later = self.after_wait.iter().map(|s| json!({"operation": s.operation(), "resource": s.resource(), "after": "the wait succeeds"}));
        now.chain(later).collect()
    }
}

/// A task definition described from AWS, registerable fields only (tags folded in), with its ARN.
pub async fn described_td(client: &aws_sdk_ecs::Client, name: &str, role: Role) -> anyhow::Result<PlannedTd> {
    let (def, tags) = ecs::describe_task_definition(client, name).await?;
    let arn = def.get("taskDefinitionArn").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| name.to_owned());
    Ok(PlannedTd { arn: Some(arn), body: ecs::registerable(&def, &tags), role })
}
