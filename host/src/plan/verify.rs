//! The plan of `verify --put-logs`: one test event written to each awslogs group the task
//! definition logs to (with the stream prefix ECS would use), a mutation like any other. Each
//! group's requests (CreateLogGroup when ECS would create it, CreateLogStream, PutLogEvents) are
//! exact steps sent with the task execution role's credentials; a failure is that group's finding.

use serde_json::{Value, json};

use super::Plan;
use super::step::{OnError, Service, Step};
use crate::context::Context;
use crate::definitions::awslogs_options;

pub fn put_logs(ctx: &Context, td: &Value) -> Plan {
    let mut plan = Plan::new("verify", &ctx.config.cluster, ctx.config.service.as_deref());
    let millis = (crate::util::epoch_now() * 1000.0) as i64;
    let mut seen: Vec<(String, String)> = Vec::new();
    for c in td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
        let Some(o) = awslogs_options(c) else { continue };
        let (Some(group), Some(region)) = (o.get("awslogs-group").filter(|g| !g.is_empty()), o.get("awslogs-region").filter(|r| !r.is_empty())) else {
            continue;
        };
        // One test event per group and region is enough.
        if seen.iter().any(|(g, r)| g == group && r == region) {
            continue;
        }
        seen.push((group.clone(), region.clone()));
        let container = c.get("name").and_then(Value::as_str).unwrap_or("");
        let stream = match o.get("awslogs-stream-prefix").filter(|p| !p.is_empty()) {
            Some(p) => format!("{p}/{container}/cortado-verify-{millis}"),
            None => format!("{container}/cortado-verify-{millis}"),
        };
        let finding = format!("{group}@{region}");
        let mut push = |operation: &'static str, input: Value, resource: String, already: Option<&'static str>| {
            let mut s = Step::new(Service::Logs, operation, input, resource);
            s.region = Some(region.clone());
            s.as_execution_role = true;
            s.already_done = already;
            s.on_error = OnError::Finding(finding.clone());
            plan.push(s);
        };
        if o.get("awslogs-create-group").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            push("CreateLogGroup", json!({"logGroupName": group}), format!("log group {group} in {region}"), Some("ResourceAlreadyExistsException"));
        }
        push("CreateLogStream", json!({"logGroupName": group, "logStreamName": stream}), format!("log stream {stream} in {group} ({region})"), None);
        let event = json!({"timestamp": millis, "message": "This is a verify message by cortado"});
        push(
            "PutLogEvents",
            json!({"logGroupName": group, "logStreamName": stream, "logEvents": [event]}),
            format!("a test event to {group} ({region})"),
            None,
        );
        plan.diff.push_str(&format!("+test event in log group {group} ({region})\n"));
    }
    plan
}
