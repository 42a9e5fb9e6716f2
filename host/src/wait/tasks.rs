//! Waiting for the tasks of `run`: their status, the watched container's awslogs, and the verdict
//! (cortado exits with the watched container's exit code).

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use crate::aws::task;
use crate::context::Context;
use crate::error::{ExitWith, InputError};

/// Wait until the tasks are running, or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitUntil {
    Running,
    #[default]
    Stopped,
}

/// A container definition of a task definition, by name.
pub fn container_def<'a>(td: &'a Value, name: &str) -> Option<&'a Value> {
    td.get("containerDefinitions")?.as_array()?.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// A fixed poll interval from `CORTADO_POLL_INTERVAL` (Go duration; the tests use a fraction of a
/// second); None means deploy's schedule (2 s, backing off as the wait goes on).
pub fn fixed_poll_interval(ctx: &Context) -> Result<Option<Duration>> {
    match ctx.env.get("CORTADO_POLL_INTERVAL").filter(|v| !v.is_empty()) {
        Some(v) => crate::config::duration::parse_go_duration(v)
            .ok()
            .filter(|d| *d > Duration::ZERO)
            .map(Some)
            .ok_or_else(|| InputError::new(format!("CORTADO_POLL_INTERVAL={v}: not a positive Go duration (500ms, 5s)")).into()),
        None => Ok(None),
    }
}

/// Follows `<prefix>/<container>/<taskId>` in the container's awslogs group and region.
pub struct LogTail {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
    stream: String,
    token: Option<String>,
    warned: bool,
}

pub fn log_tail(aws: &crate::aws::Aws, container: &Value, name: &str, task_id: &str) -> Option<LogTail> {
    let opts = crate::definitions::awslogs_options(container)?;
    let group = opts.get("awslogs-group")?.clone();
    let prefix = opts.get("awslogs-stream-prefix").filter(|p| !p.is_empty())?;
    let mut sdk = aws.sdk.clone();
    if let Some(region) = opts.get("awslogs-region").filter(|r| !r.is_empty() && Some(r.as_str()) != aws.sdk.region().map(|x| x.as_ref())) {
        sdk = sdk.into_builder().region(aws_config::Region::new(region.clone())).build();
    }
    Some(LogTail { client: aws_sdk_cloudwatchlogs::Client::new(&sdk), group, stream: format!("{prefix}/{name}/{task_id}"), token: None, warned: false })
}

impl LogTail {
    /// Prints every new event (`YYYY/MM/DD HH:MM:SS message`, local time) and returns how many.
    pub async fn poll(&mut self) -> usize {
        let mut printed = 0;
        loop {
            let mut req = self.client.get_log_events().log_group_name(&self.group).log_stream_name(&self.stream).start_from_head(true);
            if let Some(t) = &self.token {
                req = req.next_token(t);
            }
            let out = match req.send().await {
                Ok(o) => o,
                Err(e) => {
                    let msg = crate::aws::describe_error(&e);
                    // The stream appears once the container starts.
                    if !msg.contains("ResourceNotFound") && !self.warned {
                        tracing::warn!("cannot read logs of {}/{}: {msg}", self.group, self.stream);
                        self.warned = true;
                    }
                    return printed;
                }
            };
            let mut stdout = std::io::stdout().lock();
            for e in out.events() {
                let when = e
                    .timestamp()
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y/%m/%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                let _ = writeln!(stdout, "{when} {}", e.message().unwrap_or(""));
                printed += 1;
            }
            let _ = stdout.flush();
            let next = out.next_forward_token().map(str::to_owned);
            let unchanged = next.is_none() || next == self.token;
            self.token = next.or(self.token.take());
            if unchanged || out.events().is_empty() {
                return printed;
            }
        }
    }
}

/// Polls the tasks (and their logs) until they are all running or stopped.
pub async fn wait(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    until: WaitUntil,
    tail: &mut Option<LogTail>,
    timeout: Duration,
    fixed: Option<Duration>,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    let mut last: Vec<String> = vec![String::new(); arns.len()];
    let mut outage = super::Outage::default();
    crate::interrupt::set_hint(format!("interrupted; the task keeps running: {}", arns.join(" ")));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(fixed.unwrap_or_else(|| super::poll_interval(start.elapsed()))) => {}
            _ = crate::interrupt::interrupted() => bail!("interrupted; the task keeps running: {}", arns.join(" ")),
        }
        let (tasks, failures) = match task::describe_tasks(client, cluster, arns).await {
            Ok(r) => {
                outage.recovered(&crate::progress::Silent);
                r
            }
            Err(e) => {
                outage.failed(e, &crate::progress::Silent)?;
                tracing::warn!("{}; retrying", outage.summary());
                if !timeout.is_zero() && start.elapsed() >= timeout {
                    bail!("timed out after {timeout:?}; {}; the task keeps running: {}", outage.summary(), arns.join(" "));
                }
                continue;
            }
        };
        if let Some(f) = failures.first() {
            bail!("describing the task failed: {f}");
        }
        if let Some(t) = tail.as_mut() {
            t.poll().await;
        }
        let status = |arn: &str| {
            tasks
                .iter()
                .find(|t| t.get("taskArn").and_then(Value::as_str) == Some(arn))
                .and_then(|t| t.get("lastStatus"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let now: Vec<String> = arns.iter().map(|a| status(a)).collect();
        for (i, s) in now.iter().enumerate() {
            if *s != last[i] {
                tracing::info!("task {}: {s}", task::task_id(&arns[i]));
            }
        }
        last = now;
        let all = |want: &str| last.iter().all(|s| s == want);
        let done = match until {
            WaitUntil::Stopped => all("STOPPED"),
            WaitUntil::Running => all("RUNNING") || last.iter().any(|s| s == "STOPPED"),
        };
        if done {
            return Ok(tasks);
        }
        if !timeout.is_zero() && start.elapsed() >= timeout {
            let what = if until == WaitUntil::Running { "running" } else { "stopped" };
            bail!("timed out after {timeout:?} waiting for the task to be {what}; it keeps running: {}", arns.join(" "));
        }
    }
}

/// Success, or the first failure in task order: a task that failed to start (exit 1), the watched
/// container's non-zero exit code (cortado exits with it), or a container that ended without one.
pub fn judge(tasks: &[Value], arns: &[String], watch: &str, until: WaitUntil) -> Result<()> {
    let mut first_exit: Option<ExitWith> = None;
    for arn in arns {
        let Some(t) = tasks.iter().find(|t| t.get("taskArn").and_then(Value::as_str) == Some(arn.as_str())) else {
            bail!("task {arn} was not described");
        };
        let id = task::task_id(arn);
        let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
        if s("lastStatus") != "STOPPED" {
            continue; // --wait-until running, and it is
        }
        if s("stopCode") == "TaskFailedToStart" {
            bail!("task {id} failed to start: {}", s("stoppedReason"));
        }
        let c = t.get("containers").and_then(Value::as_array).into_iter().flatten().find(|c| c.get("name").and_then(Value::as_str) == Some(watch));
        let exit = c.and_then(|c| c.get("exitCode")).and_then(Value::as_i64);
        let reason = c.and_then(|c| c.get("reason")).and_then(Value::as_str).filter(|r| !r.is_empty());
        match (exit, reason) {
            (Some(0), _) if until == WaitUntil::Running => bail!("task {id} stopped before it was running (container {watch} exited with code 0)"),
            (Some(0), _) => {}
            (Some(code), r) => {
                let why = r.map(|r| format!(", reason: {r}")).unwrap_or_default();
                first_exit.get_or_insert(ExitWith { code: code as i32, message: format!("task {id}: container {watch} exited with code {code}{why}") });
            }
            (None, Some(r)) => bail!("task {id}: container {watch}: {r}"),
            (None, None) => bail!("task {id} stopped without an exit code for container {watch}: {}", s("stoppedReason")),
        }
    }
    match first_exit {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judging_exit_codes() {
        let task = |arn: &str, code: Option<i64>| {
            json!({"taskArn": arn, "lastStatus": "STOPPED", "stoppedReason": "Essential container in task exited",
                   "containers": [{"name": "app", "exitCode": code}]})
        };
        let arns = vec!["t/1".to_owned(), "t/2".to_owned()];
        assert!(judge(&[task("t/1", Some(0)), task("t/2", Some(0))], &arns, "app", WaitUntil::Stopped).is_ok());
        let e = judge(&[task("t/1", Some(0)), task("t/2", Some(3))], &arns, "app", WaitUntil::Stopped).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 3);
        let e = judge(&[task("t/1", None), task("t/2", Some(0))], &arns, "app", WaitUntil::Stopped).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 1);
        let failed = json!({"taskArn": "t/1", "lastStatus": "STOPPED", "stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError"});
        let e = judge(&[failed], &arns[..1], "app", WaitUntil::Stopped).unwrap_err();
        assert!(e.to_string().contains("CannotPullContainerError"));
    }
}
