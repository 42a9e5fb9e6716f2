//! awslogs log configurations: the group exists (or ECS may create it), and with `--put-logs` a
//! stream can be created and written with the execution role's credentials, in the group's own
//! `awslogs-region` (ecspresso used the config's region).

use std::collections::BTreeMap;

use super::tree::Outcome;
use crate::aws::describe_error;

pub use crate::definitions::awslogs_options;

/// `LogConfiguration[k=v,…]` with the options sorted, as ecspresso names the node.
pub fn node_name(opts: &BTreeMap<String, String>) -> String {
    let kv: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("LogConfiguration[{}]", kv.join(","))
}

/// `caller` for the existence read; `write` is what `apply` reported for this group when
/// `--put-logs` wrote a test event (apply performs the write: it is a gated mutation).
pub async fn check(caller: &aws_config::SdkConfig, opts: &BTreeMap<String, String>, put_logs: bool, write: Option<Result<(), String>>) -> Outcome {
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
    match (put_logs, write) {
        (true, Some(Ok(()))) => Outcome::ok(),
        (true, Some(Err(e))) => Outcome::ng(e),
        (true, None) => Outcome::ng("the test event was not written"),
        (false, _) if exists => Outcome::ok_with("exists; not written (--no-put-logs)"),
        (false, _) => Outcome::ok_with(format!("log group {group} does not exist yet; ECS creates it (awslogs-create-group)")),
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
