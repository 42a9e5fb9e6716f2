//! How a service looks to people: the status block, deployments, event times.

use std::fmt::Write as _;

use serde_json::Value;

use crate::aws::ecs;

/// The status block (ecspresso §6.5), events last and ascending.
pub fn format_service(sv: &Value, cluster: &str, events: usize) -> String {
    let s = |k: &str| sv.get(k).and_then(Value::as_str).unwrap_or("");
    let mut out = String::new();
    let _ = writeln!(out, "Service: {}", s("serviceName"));
    let _ = writeln!(out, "Cluster: {cluster}");
    let _ = writeln!(out, "TaskDefinition: {}", ecs::short_task_definition(s("taskDefinition")));
    if let Some(deps) = sv.get("deployments").and_then(Value::as_array).filter(|d| !d.is_empty()) {
        out.push_str("Deployments:\n");
        for d in deps {
            out.push_str(&format_deployment(d));
            out.push('\n');
        }
    }
    if let Some(sets) = sv.get("taskSets").and_then(Value::as_array).filter(|d| !d.is_empty()) {
        out.push_str("TaskSets:\n");
        for t in sets {
            let g = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
            let n = |k: &str| t.get(k).and_then(Value::as_i64).unwrap_or(0);
            let _ = writeln!(
                out,
                "  {:>8} {} desired:{} pending:{} running:{} {}",
                g("status"),
                ecs::short_task_definition(g("taskDefinition")),
                n("computedDesiredCount"),
                n("pendingCount"),
                n("runningCount"),
                g("stabilityStatus")
            );
        }
    }
    out.push_str(&format_events(sv, events));
    out
}

/// `Events:` and the service's newest `events` events, oldest first (DescribeServices lists them
/// newest first). Shared by the service and Express `status`.
pub fn format_events(sv: &Value, events: usize) -> String {
    let mut out = String::from("Events:\n");
    for e in newest_events(sv, events).into_iter().rev() {
        let when = e.get("createdAt").map(format_time).unwrap_or_default();
        let _ = writeln!(out, "{when} {}", e.get("message").and_then(Value::as_str).unwrap_or(""));
    }
    out
}

/// The service's newest `events` events, newest first, as DescribeServices returns them.
pub fn newest_events(sv: &Value, events: usize) -> Vec<&Value> {
    sv.get("events").and_then(Value::as_array).map(|evs| evs.iter().take(events).collect()).unwrap_or_default()
}

/// `  PRIMARY family:rev desired:1 pending:0 running:1 COMPLETED(reason)`
pub fn format_deployment(d: &Value) -> String {
    let g = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
    let n = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut line = format!(
        "  {:>8} {} desired:{} pending:{} running:{} {}",
        g("status"),
        ecs::short_task_definition(g("taskDefinition")),
        n("desiredCount"),
        n("pendingCount"),
        n("runningCount"),
        g("rolloutState")
    );
    if !g("rolloutStateReason").is_empty() {
        let _ = write!(line, "({})", g("rolloutStateReason"));
    }
    line
}

/// AWS JSON timestamps (epoch seconds) as local `YYYY/MM/DD HH:MM:SS`.
pub fn format_time(v: &Value) -> String {
    let secs = match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => return s.clone(),
        _ => return String::new(),
    };
    match jiff::Timestamp::from_second(secs as i64) {
        Ok(ts) => ts.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y/%m/%d %H:%M:%S").to_string(),
        Err(_) => String::new(),
    }
}

/// The current service deployment: strategy, status, stage, traffic weights, hooks.
pub fn format_service_deployment(d: &Value) -> String {
    use crate::aws::deployments as sd;
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
    let strategy = crate::aws::controller::Strategy::of(d);
    let mut out = String::from(
        "ServiceDeployment:
",
    );
    let _ = writeln!(
        out,
        "  {} {strategy} {}{}",
        s("serviceDeploymentArn"),
        s("status"),
        if s("lifecycleStage").is_empty() { String::new() } else { format!(" stage {}", s("lifecycleStage")) }
    );
    if !s("statusReason").is_empty() {
        let _ = writeln!(out, "  Reason: {}", s("statusReason"));
    }
    if strategy.is_native() {
        let _ = writeln!(out, "  Traffic: {}", sd::weights_summary(d));
    }
    for h in sd::hooks_summary(d) {
        let _ = writeln!(out, "  Hook: {h}");
    }
    out
}
