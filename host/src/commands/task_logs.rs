//! `cortado tasks logs`: one task's log events, read from where each container's awslogs driver
//! writes them (group, `<prefix>/<container>/<task ID>`, region) as its task definition says.
//! Without `--follow` it prints the window (`--duration` ago until now, or `--duration` from
//! `--start-time`) and exits; with it, it keeps reading until the task has stopped and its last
//! events are printed. Text lines are `YYYY/MM/DD HH:MM:SS [container] message` (local time, as
//! `run` prints), JSON lines under `--log-format json`.

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::App;
use super::tasks::{LogsArgs, Row};
use crate::aws::logs::{self, Event, Source};
use crate::aws::{Aws, ecs, task};
use crate::error::InputError;

/// How often `--follow` reads when `CORTADO_POLL_INTERVAL` does not say.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// Prints the log events of `row`'s containers as `args` asks.
pub async fn print(app: &App, aws: &Aws, row: &Row, args: &LogsArgs) -> Result<()> {
    let window = Window::of(args, crate::util::epoch_now())?;
    let sources = sources(aws, row, args.container.as_deref()).await?;
    let json = app.globals.log_format.as_deref() == Some("json");
    let readers = readers(aws, &sources);
    let mut seen = HashSet::new();
    let mut from = window.start;
    if !args.follow {
        print_events(&read(&readers, from, window.end).await?, &row.id, json, &mut seen)?;
        return Ok(());
    }
    let every = crate::wait::tasks::fixed_poll_interval(app)?.unwrap_or(FOLLOW_EVERY);
    loop {
        // Whether the task had stopped before this read: then this read holds its last events.
        let stopped = has_stopped(aws, app, &row.arn).await?;
        let events = read(&readers, from, None).await?;
        if let Some(last) = events.iter().map(|e| e.timestamp).max() {
            // Events at the same millisecond can arrive later: read from it again, skip by ID.
            from = Some(last);
        }
        print_events(&events, &row.id, json, &mut seen)?;
        if stopped {
            tracing::info!("task {} has stopped", row.id);
            return Ok(());
        }
        crate::wait::pause(every, &format!("the logs of task {}", row.id)).await?;
    }
}

/// The time window in epoch milliseconds; `end` is None when following or reading up to now.
#[derive(Debug, PartialEq, Eq)]
struct Window {
    start: Option<i64>,
    end: Option<i64>,
}

impl Window {
    /// `--start-time` plus `--duration`, else `--duration` before `now` (epoch seconds).
    fn of(args: &LogsArgs, now: f64) -> Result<Window> {
        let d = crate::config::duration::parse_go_duration(&args.duration)
            .map_err(|e| InputError::new(format!("--duration {}: {e} (a Go duration: 30s, 5m, 1h)", args.duration)))?;
        let ms = d.as_millis() as i64;
        match &args.start_time {
            Some(s) => {
                let t: jiff::Timestamp =
                    s.parse().map_err(|e| InputError::new(format!("--start-time {s}: {e} (RFC 3339: 2026-12-07T03:00:00Z or with an offset)")))?;
                let start = t.as_millisecond();
                Ok(Window { start: Some(start), end: (!args.follow).then_some(start + ms) })
            }
            None => Ok(Window { start: Some((now * 1000.0) as i64 - ms), end: None }),
        }
    }
}

/// Each container's log source (only `--container` when given), from the task's task definition.
async fn sources(aws: &Aws, row: &Row, only: Option<&str>) -> Result<Vec<Source>> {
    let td_arn = row.task.get("taskDefinitionArn").and_then(Value::as_str).unwrap_or_default();
    let (td, _) = ecs::describe_task_definition(&aws.ecs(), td_arn).await?;
    let defs: Vec<&Value> = td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten().collect();
    let name_of = |c: &Value| c.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(want) = only
        && !defs.iter().any(|c| name_of(c) == want)
    {
        let names: Vec<String> = defs.iter().map(|c| name_of(c)).collect();
        return Err(InputError::new(format!("--container {want}: task {} has no such container (it has {})", row.id, names.join(", "))).into());
    }
    let found: Vec<Source> =
        defs.iter().filter(|c| only.is_none_or(|w| name_of(c) == w)).filter_map(|c| logs::source(c, &name_of(c), task::task_id(&row.arn))).collect();
    if found.is_empty() {
        let td = ecs::short_task_definition(td_arn);
        let msg = match only {
            Some(c) => format!("task {}: container {c} does not log with awslogs and an awslogs-stream-prefix in {td}: no log stream to read", row.id),
            None => format!("task {}: no container logs with awslogs and an awslogs-stream-prefix in {td}: no log stream to read", row.id),
        };
        return Err(InputError::new(msg).into());
    }
    Ok(found)
}

/// One CloudWatch Logs client per (region, group), with the sources it reads.
struct Reader {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
    sources: Vec<Source>,
}

fn readers(aws: &Aws, sources: &[Source]) -> Vec<Reader> {
    let mut by_group: BTreeMap<(Option<String>, String), Vec<Source>> = BTreeMap::new();
    for s in sources {
        by_group.entry((s.region.clone(), s.group.clone())).or_default().push(s.clone());
    }
    by_group
        .into_iter()
        .map(|((region, group), sources)| {
            let mut sdk = aws.sdk.clone();
            if let Some(r) = region.filter(|r| r != aws.region()) {
                sdk = sdk.into_builder().region(aws_config::Region::new(r)).build();
            }
            Reader { client: aws_sdk_cloudwatchlogs::Client::new(&sdk), group, sources }
        })
        .collect()
}

/// Every reader's events in the window, oldest first.
async fn read(readers: &[Reader], start: Option<i64>, end: Option<i64>) -> Result<Vec<Event>> {
    let mut all = Vec::new();
    for r in readers {
        all.extend(logs::filter(&r.client, &r.group, &r.sources, start, end).await?);
    }
    all.sort_by_key(|e| e.timestamp);
    Ok(all)
}

async fn has_stopped(aws: &Aws, app: &App, arn: &str) -> Result<bool> {
    let (tasks, _) = task::describe_tasks(&aws.ecs(), &app.config.cluster, &[arn.to_owned()]).await?;
    Ok(tasks.first().and_then(|t| t.get("lastStatus")).and_then(Value::as_str).is_none_or(|s| s == "STOPPED"))
}

/// Prints the events not printed yet (by event ID).
fn print_events(events: &[Event], task_id: &str, json: bool, seen: &mut HashSet<String>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for e in events.iter().filter(|e| seen.insert(format!("{}/{}", e.stream, e.id))) {
        writeln!(out, "{}", line(e, task_id, json))?;
    }
    out.flush()?;
    Ok(())
}

/// One event as printed: a text line, or a JSON object on one line.
fn line(e: &Event, task_id: &str, json: bool) -> String {
    let at = jiff::Timestamp::from_millisecond(e.timestamp).ok();
    if json {
        let time = at.map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_default();
        let v = json!({"time": time, "timestamp": e.timestamp, "task_id": task_id, "container": e.container, "stream": e.stream, "message": e.message});
        return v.to_string();
    }
    let when = at.map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y/%m/%d %H:%M:%S").to_string()).unwrap_or_default();
    format!("{when} [{}] {}", e.container, e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_duration_ago_or_from_the_start_time() {
        let args = LogsArgs { duration: "5m".into(), ..Default::default() };
        assert_eq!(Window::of(&args, 1000.0).unwrap(), Window { start: Some(1_000_000 - 300_000), end: None });
        let args = LogsArgs { duration: "1m".into(), start_time: Some("2026-12-07T03:00:00Z".into()), ..Default::default() };
        let start = "2026-12-07T03:00:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond();
        assert_eq!(Window::of(&args, 0.0).unwrap(), Window { start: Some(start), end: Some(start + 60_000) });
        let follow = LogsArgs { follow: true, ..args };
        assert_eq!(Window::of(&follow, 0.0).unwrap().end, None);
        let bad = LogsArgs { duration: "5 minutes".into(), ..Default::default() };
        assert!(Window::of(&bad, 0.0).unwrap_err().to_string().contains("--duration 5 minutes"));
    }

    #[test]
    fn json_lines_name_the_container_and_the_time_in_utc() {
        let e = Event { id: "1".into(), timestamp: 1_765_000_000_123, container: "app".into(), stream: "p/app/t".into(), message: "hello".into() };
        let v: Value = serde_json::from_str(&line(&e, "t", true)).unwrap();
        assert_eq!(v["container"], "app");
        assert_eq!(v["message"], "hello");
        assert!(v["time"].as_str().unwrap().ends_with(".123Z"), "{v}");
        assert!(line(&e, "t", false).ends_with(" [app] hello"));
    }
}
