//! The live view of a rollout on a terminal: a block that stays at the bottom of the screen — one
//! line per deployment (status, revision, a running/desired bar, pending, rollout state, age), the
//! native strategy's stage and traffic weights when ECS reports a service deployment, and a ticking
//! status line — while service events and cortado's messages scroll above it (indicatif's
//! MultiProgress). When the wait ends the block is left as it last was, so the final screen shows
//! the outcome beside the result line.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::Style;
use crate::aws::ecs;

pub struct Live {
    multi: MultiProgress,
    rows: Vec<ProgressBar>,
    stage: Option<ProgressBar>,
    status: ProgressBar,
    style: Style,
}

fn template(t: &str) -> ProgressStyle {
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

impl Live {
    pub fn new(style: Style) -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let status = multi.add(ProgressBar::new_spinner().with_style(template("{spinner} {elapsed:>4} {wide_msg}")));
        status.enable_steady_tick(Duration::from_millis(120));
        Live { multi, rows: Vec::new(), stage: None, status, style }
    }

    /// A line above the block (it scrolls; the block stays below it).
    pub fn println(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    pub fn status(&self, msg: &str) {
        self.status.set_message(msg.to_owned());
    }

    /// One line per deployment, in DescribeServices order (PRIMARY first).
    pub fn deployments(&mut self, deployments: &[Value], now: f64) {
        while self.rows.len() > deployments.len() {
            if let Some(bar) = self.rows.pop() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        }
        while self.rows.len() < deployments.len() {
            let bar = self.multi.insert_before(&self.status, ProgressBar::new(1));
            bar.set_style(template("{prefix} [{bar:20}] {pos}/{len} running {msg}"));
            self.rows.push(bar);
        }
        for (bar, d) in self.rows.iter().zip(deployments) {
            let row = DeploymentRow::of(d, now);
            bar.set_prefix(row.prefix());
            bar.set_length(row.desired.max(0) as u64);
            bar.set_position(row.running.clamp(0, row.desired.max(0)) as u64);
            bar.set_message(row.message(self.style));
        }
    }

    /// The native strategy's service deployment (DescribeServiceDeployments): stage and weights.
    pub fn service_deployment(&mut self, sd: &Value) {
        let text = service_deployment_line(sd);
        let bar = self.stage.get_or_insert_with(|| {
            let b = self.multi.insert_before(&self.status, ProgressBar::new_spinner());
            b.set_style(template("  {msg}"));
            b
        });
        bar.set_message(text);
    }

    /// Leaves the block on the screen as it last was, the status line replaced by `last`.
    pub fn finish(&self, last: &str) {
        for bar in self.rows.iter().chain(&self.stage) {
            bar.abandon();
        }
        self.status.set_style(template("  {elapsed:>4} {wide_msg}"));
        self.status.abandon_with_message(last.to_owned());
    }
}

/// What one deployment line shows.
struct DeploymentRow {
    status: String,
    revision: String,
    desired: i64,
    running: i64,
    pending: i64,
    failed: i64,
    rollout: String,
    reason: String,
    age: Option<f64>,
}

impl DeploymentRow {
    fn of(d: &Value, now: f64) -> DeploymentRow {
        let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let n = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
        DeploymentRow {
            status: s("status"),
            revision: ecs::short_task_definition(&s("taskDefinition")).to_owned(),
            desired: n("desiredCount"),
            running: n("runningCount"),
            pending: n("pendingCount"),
            failed: n("failedTasks"),
            rollout: s("rolloutState"),
            reason: s("rolloutStateReason"),
            age: d.get("createdAt").and_then(Value::as_f64).map(|c| (now - c).max(0.0)),
        }
    }

    fn prefix(&self) -> String {
        format!("{:>8} {}", self.status, self.revision)
    }

    fn message(&self, style: Style) -> String {
        let rollout = match self.rollout.as_str() {
            "COMPLETED" => style.green(&self.rollout),
            "FAILED" => style.red(&self.rollout),
            "" => String::new(),
            other => style.yellow(other),
        };
        let mut out = format!("pending:{}", self.pending);
        if self.failed > 0 {
            out.push_str(&style.red(&format!(" failed:{}", self.failed)));
        }
        if !rollout.is_empty() {
            out.push(' ');
            out.push_str(&rollout);
        }
        if let Some(age) = self.age {
            out.push_str(&style.dim(&format!(" {}", short_duration(age))));
        }
        if !self.reason.is_empty() {
            out.push_str(&format!(" ({})", self.reason));
        }
        out
    }
}

/// `1m05s`, `42s`.
fn short_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{s}s") }
}

/// `BLUE_GREEN TEST_TRAFFIC_SHIFT IN_PROGRESS · app:7 prod 0% test 100% · app:6 prod 100% test 0%`
pub fn service_deployment_line(sd: &Value) -> String {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let strategy = sd.pointer("/deploymentConfiguration/strategy").and_then(Value::as_str).unwrap_or("");
    let mut parts =
        vec![[strategy.to_owned(), s(sd, "lifecycleStage"), s(sd, "status")].iter().filter(|p| !p.is_empty()).cloned().collect::<Vec<_>>().join(" ")];
    let revisions = sd.get("targetServiceRevision").into_iter().chain(sd.get("sourceServiceRevisions").and_then(Value::as_array).into_iter().flatten());
    for r in revisions {
        let name = r.get("arn").and_then(Value::as_str).map(|a| a.rsplit('/').next().unwrap_or(a)).unwrap_or("?");
        let weight = |k: &str| r.get(k).and_then(Value::as_f64).map(|w| format!("{w}%"));
        let mut text = name.to_owned();
        if let Some(w) = weight("requestedProductionTrafficWeight") {
            text.push_str(&format!(" prod {w}"));
        }
        if let Some(w) = weight("requestedTestTrafficWeight") {
            text.push_str(&format!(" test {w}"));
        }
        parts.push(text);
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_deployment_line_has_revision_counts_state_and_age() {
        let d = json!({"status": "PRIMARY", "taskDefinition": "arn:aws:ecs:r:1:task-definition/app:7", "desiredCount": 3, "runningCount": 1,
            "pendingCount": 2, "rolloutState": "IN_PROGRESS", "createdAt": 100.0});
        let row = DeploymentRow::of(&d, 165.0);
        assert_eq!(row.prefix(), " PRIMARY app:7");
        assert_eq!((row.desired, row.running), (3, 1));
        assert_eq!(row.message(Style { color: false }), "pending:2 IN_PROGRESS 1m05s");
    }

    #[test]
    fn a_service_deployment_shows_stage_and_weights() {
        let sd = json!({"status": "IN_PROGRESS", "lifecycleStage": "TEST_TRAFFIC_SHIFT", "deploymentConfiguration": {"strategy": "BLUE_GREEN"},
            "targetServiceRevision": {"arn": "arn:aws:ecs:r:1:service-revision/c/s/222", "requestedProductionTrafficWeight": 0.0, "requestedTestTrafficWeight": 100.0},
            "sourceServiceRevisions": [{"arn": "arn:aws:ecs:r:1:service-revision/c/s/111", "requestedProductionTrafficWeight": 100.0, "requestedTestTrafficWeight": 0.0}]});
        assert_eq!(service_deployment_line(&sd), "BLUE_GREEN TEST_TRAFFIC_SHIFT IN_PROGRESS · 222 prod 0% test 100% · 111 prod 100% test 0%");
    }
}
