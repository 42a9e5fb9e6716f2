//! CloudWatch Logs reads for `tasks logs`: the events of a task's containers, read with
//! FilterLogEvents on the streams their awslogs configuration names (one call per log group,
//! events of several containers interleaved by time, as the console shows them).

use anyhow::Result;
use serde_json::Value;

use super::SdkContext;

/// Where one container's awslogs driver writes: group, region and `<prefix>/<container>/<task ID>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub container: String,
    pub group: String,
    /// The region of the group when the task definition names one (`awslogs-region`).
    pub region: Option<String>,
    pub stream: String,
}

/// The log source of container `name` of task `task_id`, from its container definition; None
/// when it does not log with awslogs and a stream prefix (ECS names the stream only then).
pub fn source(container: &Value, name: &str, task_id: &str) -> Option<Source> {
    let opts = crate::definitions::awslogs_options(container)?;
    let group = opts.get("awslogs-group").filter(|g| !g.is_empty())?.clone();
    let prefix = opts.get("awslogs-stream-prefix").filter(|p| !p.is_empty())?;
    let region = opts.get("awslogs-region").filter(|r| !r.is_empty()).cloned();
    Some(Source { container: name.to_owned(), group, region, stream: format!("{prefix}/{name}/{task_id}") })
}

/// One log event, with the container it came from.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub container: String,
    pub stream: String,
    pub message: String,
}

/// The events of `sources` (all in one group) between `start` and `end` (epoch milliseconds),
/// every page of FilterLogEvents, oldest first. A stream that does not exist yet (the container
/// has not logged) is no error: it has no events.
pub async fn filter(client: &aws_sdk_cloudwatchlogs::Client, group: &str, sources: &[Source], start: Option<i64>, end: Option<i64>) -> Result<Vec<Event>> {
    let names: Vec<String> = sources.iter().map(|s| s.stream.clone()).collect();
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = client
            .filter_log_events()
            .log_group_name(group)
            .set_log_stream_names(Some(names.clone()))
            .set_start_time(start)
            .set_end_time(end)
            .set_next_token(token.clone());
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) if super::describe_error(&e).contains("ResourceNotFound") => return Ok(events),
            Err(e) => return Err(e).sdk_context(|| format!("reading log group {group} (streams {})", names.join(", "))),
        };
        for e in out.events() {
            let stream = e.log_stream_name().unwrap_or_default().to_owned();
            let container = sources.iter().find(|s| s.stream == stream).map(|s| s.container.clone()).unwrap_or_default();
            events.push(Event {
                id: e.event_id().unwrap_or_default().to_owned(),
                timestamp: e.timestamp().unwrap_or(0),
                container,
                stream,
                message: e.message().unwrap_or_default().to_owned(),
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_source_needs_awslogs_and_a_stream_prefix() {
        let c = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/a", "awslogs-stream-prefix": "p", "awslogs-region": "eu-west-1"}}});
        let s = source(&c, "app", "abc").expect("a source");
        assert_eq!((s.group.as_str(), s.stream.as_str(), s.region.as_deref()), ("/ecs/a", "p/app/abc", Some("eu-west-1")));
        let no_prefix = json!({"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/a"}}});
        assert!(source(&no_prefix, "app", "abc").is_none());
        let other = json!({"logConfiguration": {"logDriver": "fluentd", "options": {}}});
        assert!(source(&other, "app", "abc").is_none());
    }
}
