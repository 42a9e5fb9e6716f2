//! How a plan is shown: the AWS changes it will make, in order (what `--dry-run` prints).

use serde_json::json;

use super::progress::{Mode, Reporter};
use crate::plan::Plan;
use crate::progress::Progress;

/// `Planned AWS changes (N):` and one line per mutation; JSON mode emits one `plan` object.
pub fn show(plan: &Plan, reporter: &Reporter) {
    if reporter.mode == Mode::Json {
        reporter.emit(json!({"type": "plan", "command": plan.command, "mutations": plan.mutations(), "steps": plan.steps_json()}));
        return;
    }
    reporter.info(&text(plan));
}

pub fn text(plan: &Plan) -> String {
    if plan.is_empty() {
        return "Planned AWS changes: none".into();
    }
    let mut out = format!("Planned AWS changes ({}):", plan.all_steps().count());
    for (phase, s) in plan.all_steps() {
        let when = match phase {
            "after-wait" => " (after the wait succeeds)",
            "on-failure" => " (only if a step above fails before the rollout starts)",
            _ => "",
        };
        out.push_str(&format!("\n  {} {}{when}", s.action(), s.resource));
    }
    out
}
