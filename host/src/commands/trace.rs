//! `cortado tasks --trace`: one task's timeline, as ecspresso's (fujiwara/tracer) shows it: the
//! task's lifecycle times, each container's exit, and the service events that name the task, in
//! time order. Read only: DescribeTasks, and DescribeServices when the config has a service.

use anyhow::{Result, bail};
use serde_json::Value;

use crate::aws::{ecs, task};

/// The task's lifecycle fields (AWS JSON epoch seconds) and how each is labelled.
const STAGES: [(&str, &str); 8] = [
    ("createdAt", "Created"),
    ("pullStartedAt", "Image pull started"),
    ("pullStoppedAt", "Image pull stopped"),
    ("startedAt", "Started"),
    ("connectivityAt", "Connected"),
    ("stoppingAt", "Stopping"),
    ("executionStoppedAt", "Execution stopped"),
    ("stoppedAt", "Stopped"),
];

/// The timeline's lines, sorted by time: `(epoch seconds, source, message)`.
pub fn timeline(task: &Value, service_events: &[Value]) -> Vec<(f64, String, String)> {
    let id = task::task_id(task.get("taskArn").and_then(Value::as_str).unwrap_or_default()).to_owned();
    let mut out = Vec::new();
    for (field, label) in STAGES {
        if let Some(t) = task.get(field).and_then(Value::as_f64) {
            let mut msg = label.to_owned();
            if field == "stoppedAt"
                && let Some(reason) = task.get("stoppedReason").and_then(Value::as_str)
            {
                msg = format!("{msg}: {reason}");
            }
            out.push((t, "TASK".to_owned(), msg));
        }
    }
    let stopped = task.get("stoppedAt").and_then(Value::as_f64);
    for c in task.get("containers").and_then(Value::as_array).into_iter().flatten() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let status = c.get("lastStatus").and_then(Value::as_str).unwrap_or("?");
        let mut msg = status.to_owned();
        if let Some(code) = c.get("exitCode").and_then(Value::as_i64) {
            msg = format!("{msg}, exit code {code}");
        }
        if let Some(reason) = c.get("reason").and_then(Value::as_str) {
            msg = format!("{msg}: {reason}");
        }
        let at = stopped.or_else(|| task.get("startedAt").and_then(Value::as_f64)).unwrap_or(0.0);
        out.push((at, format!("CONTAINER:{name}"), msg));
    }
    for e in service_events.iter().filter(|e| e.get("message").and_then(Value::as_str).is_some_and(|m| !id.is_empty() && m.contains(&id))) {
        let at = e.get("createdAt").and_then(Value::as_f64).unwrap_or(0.0);
        out.push((at, "SERVICE".to_owned(), e.get("message").and_then(Value::as_str).unwrap_or_default().to_owned()));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Prints the timeline of the task `arn` on stdout, one `TIME SOURCE MESSAGE` line each.
pub async fn print(client: &aws_sdk_ecs::Client, cluster: &str, service: Option<&str>, arn: &str) -> Result<()> {
    let (tasks, _) = task::describe_tasks(client, cluster, &[arn.to_owned()]).await?;
    let Some(t) = tasks.first() else { bail!("task {arn} is not found in cluster {cluster}") };
    let events = match service {
        Some(s) => ecs::describe_service(client, cluster, s).await?.and_then(|sv| sv.get("events").and_then(Value::as_array).cloned()).unwrap_or_default(),
        None => Vec::new(),
    };
    for (at, source, msg) in timeline(t, &events) {
        println!("{}\t{source}\t{msg}", format_time(at));
    }
    Ok(())
}

fn format_time(epoch: f64) -> String {
    match jiff::Timestamp::from_millisecond((epoch * 1000.0) as i64) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => epoch.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_stages_containers_and_events() {
        let t = json!({
            "taskArn": "arn:aws:ecs:r:1:task/c/abc123", "createdAt": 10.0, "startedAt": 20.0, "stoppedAt": 30.5,
            "stoppedReason": "Essential container exited",
            "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 3}],
        });
        let events = [json!({"createdAt": 15.0, "message": "(service s) has started 1 tasks: (task abc123)."}), json!({"createdAt": 16.0, "message": "other"})];
        let lines: Vec<String> = timeline(&t, &events).into_iter().map(|(at, s, m)| format!("{at} {s} {m}")).collect();
        assert_eq!(
            lines,
            [
                "10 TASK Created",
                "15 SERVICE (service s) has started 1 tasks: (task abc123).",
                "20 TASK Started",
                "30.5 TASK Stopped: Essential container exited",
                "30.5 CONTAINER:app STOPPED, exit code 3",
            ]
        );
    }
}
