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
    out.push_str("\nThe exact requests ({\"$ref\": \"steps[N].path\"} is a member of step N's answer):");
    for (i, (_, s)) in plan.all_steps().enumerate() {
        let input = serde_json::to_string_pretty(&s.input).unwrap_or_default().replace('\n', "\n    ");
        out.push_str(&format!("\n  [{i}] {}{}\n    {input}", s.action(), s.region.as_deref().map(|r| format!(" (region {r})")).unwrap_or_default()));
    }
    out
}
