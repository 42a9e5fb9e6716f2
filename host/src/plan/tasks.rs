//! Plans of the commands that act on one running task: `tasks stop` and `exec` (a command, a file
//! copy, or a port forwarding session through SSM).

use serde_json::{Value, json};

use super::Plan;
use super::step::{Service, Step};
use crate::context::Context;

/// What ecspresso's `--stop` sends as the reason.
pub const STOP_REASON: &str = "Request stop task by user action.";

pub fn stop(ctx: &Context, task_arn: &str) -> Plan {
    let mut plan = Plan::new("tasks-stop", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = format!("-task {task_arn}\n");
    let cluster = &ctx.config.cluster;
    let input = json!({"cluster": cluster, "task": task_arn, "reason": STOP_REASON});
    plan.push(Step::ecs("StopTask", input, format!("task {task_arn} in cluster {cluster}")));
    plan
}

pub fn exec(ctx: &Context, task_arn: &str, container: &str, command: &str) -> Plan {
    let mut plan = Plan::new("exec", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = format!("exec {command:?} in {container} of {task_arn}\n");
    let cluster = &ctx.config.cluster;
    let input = json!({"cluster": cluster, "task": task_arn, "container": container, "command": command, "interactive": true});
    plan.push(Step::ecs("ExecuteCommand", input, format!("ECS Exec into container {container} of task {task_arn} in cluster {cluster}: {command:?}")));
    plan
}

/// `exec cp`: one ExecuteCommand per command, gated and audited as one plan; `summary` (the
/// file, its size and digest) is the diff, so that a reviewer need not decode the commands.
pub fn copy(ctx: &Context, task_arn: &str, container: &str, commands: &[String], summary: &str) -> Plan {
    let mut plan = Plan::new("exec", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = summary.to_owned();
    let cluster = &ctx.config.cluster;
    for (i, command) in commands.iter().enumerate() {
        let input = json!({"cluster": cluster, "task": task_arn, "container": container, "command": command, "interactive": true});
        let part = if commands.len() > 1 { format!(" (part {} of {})", i + 1, commands.len()) } else { String::new() };
        plan.push(Step::ecs("ExecuteCommand", input, format!("ECS Exec into container {container} of task {task_arn} in cluster {cluster}: exec cp{part}")));
    }
    plan
}

pub fn port_forward(ctx: &Context, target: &str, document: &str, parameters: Value) -> Plan {
    let mut plan = Plan::new("exec", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = format!("port forwarding session {document} to {target}\n");
    let input = json!({"Target": target, "DocumentName": document, "Parameters": parameters});
    plan.push(Step::new(Service::Ssm, "StartSession", input, format!("{document} to {target}")));
    plan
}
