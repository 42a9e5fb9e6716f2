//! How a plan is shown: the AWS changes it will make, in order (what `--dry-run` prints).

use serde_json::json;

use super::progress::{Mode, Reporter};
use crate::plan::Plan;
use crate::progress::Progress;

/// `Planned AWS changes (N):` and one line per mutation; JSON mode emits one `plan` object.
pub fn show(plan: &Plan, reporter: &Reporter) {
    if reporter.mode == Mode::Json {
        reporter.emit(json!({"type": "plan", "command": plan.command, "mutations": plan.mutations()}));
        return;
    }
    reporter.info(&text(plan));
}

pub fn text(plan: &Plan) -> String {
    if plan.is_empty() {
        return "Planned AWS changes: none".into();
    }
    let mut out = format!("Planned AWS changes ({}):", plan.steps.len() + plan.after_wait.len());
    for s in &plan.steps {
        out.push_str(&format!("\n  {} {}", s.operation(), s.resource()));
    }
    for s in &plan.after_wait {
        out.push_str(&format!("\n  {} {} (after the wait succeeds)", s.operation(), s.resource()));
    }
    out
}
