//! Tasks as JSON (see [`super::raw`]): describe, list.

use anyhow::Result;
use aws_sdk_ecs::types::{DesiredStatus, TaskField};
use serde_json::Value;

use super::SdkContext;
use super::raw::RawJson;

/// DescribeTasks (with tags), 100 at a time: `(tasks, failures)`.
pub async fn describe_tasks(ecs: &aws_sdk_ecs::Client, cluster: &str, arns: &[String]) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for chunk in arns.chunks(100) {
        let raw = RawJson::capture();
        ecs.describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .include(TaskField::Tags)
            .customize()
            .interceptor(raw.clone())
            .send()
            .await
            .sdk_context(|| format!("describing tasks in cluster {cluster}"))?;
        let body = raw.response_json()?;
        tasks.extend(body.get("tasks").and_then(Value::as_array).cloned().unwrap_or_default());
        failures.extend(body.get("failures").and_then(Value::as_array).cloned().unwrap_or_default());
    }
    Ok((tasks, failures))
}

/// ListTasks for a family or a service, one desired status, every page.
pub async fn list_tasks(ecs: &aws_sdk_ecs::Client, cluster: &str, family: Option<&str>, service: Option<&str>, status: DesiredStatus) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_tasks()
            .cluster(cluster)
            .set_family(family.map(str::to_owned))
            .set_service_name(service.map(str::to_owned))
            .desired_status(status.clone())
            .set_next_token(token.take())
            .send()
            .await
            .sdk_context(|| format!("listing tasks in cluster {cluster}"))?;
        out.extend(page.task_arns().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// The task ID: the last segment of its ARN (`…:task/cluster/ID`).
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_ids() {
        assert_eq!(super::task_id("arn:aws:ecs:us-east-1:123456789012:task/c/0123abcd"), "0123abcd");
        assert_eq!(super::task_id("0123abcd"), "0123abcd");
    }
}
