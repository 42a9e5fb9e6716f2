//! The plan of `verify --put-logs`: one test event written to each awslogs group the task
//! definition logs to (with the stream prefix ECS would use), a mutation like any other.

use serde_json::Value;

use super::{Plan, Step};
use crate::context::Context;
use crate::definitions::awslogs_options;

pub fn put_logs(ctx: &Context, td: &Value) -> Plan {
    let mut plan = Plan::new("verify", &ctx.config.cluster, ctx.config.service.as_deref());
    for c in td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
        let Some(o) = awslogs_options(c) else { continue };
        let (Some(group), Some(region)) = (o.get("awslogs-group").filter(|g| !g.is_empty()), o.get("awslogs-region").filter(|r| !r.is_empty())) else {
            continue;
        };
        let step = Step::PutTestLogEvent {
            group: group.clone(),
            region: region.clone(),
            container: c.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
            stream_prefix: o.get("awslogs-stream-prefix").cloned(),
            create_group: o.get("awslogs-create-group").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        };
        // One test event per group and region is enough.
        if !plan.steps.iter().any(|s| matches!(s, Step::PutTestLogEvent { group: g, region: r, .. } if g == group && r == region)) {
            plan.diff.push_str(&format!("+test event in log group {group} ({region})\n"));
            plan.steps.push(step);
        }
    }
    plan
}
