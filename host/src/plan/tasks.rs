//! Plans of the commands that act on one running task: `tasks --stop` and `exec` (a command, or a
//! port forwarding session through SSM).

use serde_json::Value;

use super::{Plan, Step};
use crate::context::Context;

/// What ecspresso's `--stop` sends as the reason.
pub const STOP_REASON: &str = "Request stop task by user action.";

pub fn stop(ctx: &Context, task_arn: &str) -> Plan {
    let mut plan = Plan::new("tasks-stop", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = format!("-task {task_arn}\n");
    plan.steps.push(Step::StopTask { cluster: ctx.config.cluster.clone(), task: task_arn.to_owned(), reason: STOP_REASON.into() });
    plan
}

pub fn exec(ctx: &Context, task_arn: &str, container: &str, command: &str) -> Plan {
    let mut plan = Plan::new("exec", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = format!("exec {command:?} in {container} of {task_arn}\n");
    plan.steps.push(Step::ExecuteCommand {
        cluster: ctx.config.cluster.clone(),
        task: task_arn.to_owned(),
        container: container.to_owned(),
        command: command.to_owned(),
    });
    plan
}

pub fn port_forward(ctx: &Context, target: &str, document: &str, parameters: Value) -> Plan {
    let mut plan = Plan::new("exec", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.diff = format!("port forwarding session {document} to {target}\n");
    plan.steps.push(Step::StartSession { target: target.to_owned(), document: document.to_owned(), parameters });
    plan
}
