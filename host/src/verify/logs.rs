//! awslogs log configurations: the group exists (or ECS may create it), and with `--put-logs` a
//! stream can be created and written with the execution role's credentials, in the group's own
//! `awslogs-region` (ecspresso used the config's region).

use std::collections::BTreeMap;

use serde_json::Value;

use super::tree::Outcome;
use crate::aws::describe_error;

/// The awslogs options of a container, if it logs through awslogs.
pub fn awslogs_options(container: &Value) -> Option<BTreeMap<String, String>> {
    let lc = container.get("logConfiguration")?;
    if lc.get("logDriver").and_then(Value::as_str) != Some("awslogs") {
        return None;
    }
    let opts = lc
        .get("options")
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect())
        .unwrap_or_default();
    Some(opts)
}

/// `LogConfiguration[k=v,…]` with the options sorted, as ecspresso names the node.
pub fn node_name(opts: &BTreeMap<String, String>) -> String {
    let kv: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("LogConfiguration[{}]", kv.join(","))
}

/// `caller` for the existence read, `agent` for creating and writing (both already in the
/// group's region).
pub async fn check(caller: &aws_config::SdkConfig, agent: &aws_config::SdkConfig, container: &str, opts: &BTreeMap<String, String>, put_logs: bool) -> Outcome {
    let Some(group) = opts.get("awslogs-group").filter(|g| !g.is_empty()) else {
        return Outcome::ng("awslogs-group is required");
    };
    if opts.get("awslogs-region").is_none_or(|r| r.is_empty()) {
        return Outcome::ng("awslogs-region is required");
    }
    let create_group = opts.get("awslogs-create-group").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let logs = aws_sdk_cloudwatchlogs::Client::new(caller);
    let exists = match logs.describe_log_groups().log_group_name_prefix(group).send().await {
        Ok(o) => o.log_groups().iter().any(|g| g.log_group_name() == Some(group.as_str())),
        Err(e) => return Outcome::ng(format!("cannot look log group {group} up: {}", describe_error(&e))),
    };
    if !exists && !create_group {
        return Outcome::ng(format!("log group {group} does not exist (set awslogs-create-group to \"true\" to let ECS create it)"));
    }
    if !put_logs {
        return if exists {
            Outcome::ok_with("exists; not written (--no-put-logs)")
        } else {
            Outcome::ok_with(format!("log group {group} does not exist yet; ECS creates it (awslogs-create-group)"))
        };
    }
    let writer = aws_sdk_cloudwatchlogs::Client::new(agent);
    if !exists && let Err(e) = writer.create_log_group().log_group_name(group).send().await {
        let msg = describe_error(&e);
        if !msg.contains("ResourceAlreadyExists") {
            return Outcome::ng(format!("cannot create log group {group}: {msg}"));
        }
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let stream = match opts.get("awslogs-stream-prefix").filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/{container}/cortado-verify-{nanos}"),
        None => format!("{container}/cortado-verify-{nanos}"),
    };
    if let Err(e) = writer.create_log_stream().log_group_name(group).log_stream_name(&stream).send().await {
        return Outcome::ng(format!("cannot create log stream {stream} in {group}: {}", describe_error(&e)));
    }
    let event = match aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp((nanos / 1_000_000) as i64)
        .message("This is a verify message by cortado")
        .build()
    {
        Ok(e) => e,
        Err(e) => return Outcome::ng(e.to_string()),
    };
    match writer.put_log_events().log_group_name(group).log_stream_name(&stream).log_events(event).send().await {
        Ok(_) => Outcome::ok(),
        Err(e) => Outcome::ng(format!("cannot put log events to {group}: {}", describe_error(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_sort_options() {
        let c = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-stream-prefix": "app", "awslogs-group": "/ecs/x", "awslogs-region": "r"}}});
        let opts = awslogs_options(&c).unwrap();
        assert_eq!(node_name(&opts), "LogConfiguration[awslogs-group=/ecs/x,awslogs-region=r,awslogs-stream-prefix=app]");
        assert!(awslogs_options(&json!({"logConfiguration": {"logDriver": "json-file"}})).is_none());
        assert!(awslogs_options(&json!({})).is_none());
    }
}
