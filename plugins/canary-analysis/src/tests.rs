//! The gate driven as the host drives it: stage plans at given times, the mock host's metrics.

use cortado_plugin_sdk::testing::{Harness, MockHost, calls, logs, with_mock};
use cortado_plugin_sdk::{Decision, Hook, Level, Plan, Stage};
use serde_json::{Value, json};

use super::CanaryAnalysis;

const NS: &str = "AWS/ApplicationELB";
const ERRORS: &str = "HTTPCode_Target_5XX_Count";
const CALL: &str = "cloudwatch:GetMetricData AWS/ApplicationELB/HTTPCode_Target_5XX_Count";
const DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/app/web/abc";
const LINE: &str = "error-rate HTTPCode_Target_5XX_Count Sum (sum over 5m)";

/// 2026-12-03T11:20:00Z in seconds.
fn t0() -> i64 {
    cortado_plugin_sdk::time::parse_rfc3339("2026-12-03T11:20:00Z").map_or(0, |(secs, _)| secs)
}

/// The README's example (one 5xx metric, `<= 5` passes, `> 5` fails), with `top` and `metric`
/// keys added or replaced.
fn config(top: Value, metric: Value) -> Value {
    let mut m = json!({
        "name": "error-rate", "namespace": NS, "metric": ERRORS,
        "dimensions": {"TargetGroup": "targetgroup/app/123"},
        "success_condition": "result <= 5", "failure_condition": "result > 5",
    });
    merge(&mut m, metric);
    let mut c = json!({"interval": "30s", "count": 1, "window": "5m", "metrics": [m]});
    merge(&mut c, top);
    c
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn gate(top: Value) -> Harness<CanaryAnalysis> {
    gate_on(MockHost::new(), config(top, json!({})))
}

fn gate_on(host: MockHost, config: Value) -> Harness<CanaryAnalysis> {
    host.with_config(config).install();
    Harness::new()
}

/// A plan for the stage's hook `hook`, `secs` seconds after t0.
fn at(hook: &str, secs: i64) -> Plan {
    let mut p = Plan::new("stage:POST_TEST_TRAFFIC_SHIFT");
    p.time = format!("2026-12-03T11:{:02}:{:02}Z", 20 + secs / 60, secs % 60);
    p.stage = Some(stage(DEPLOYMENT, hook));
    p
}

fn stage(deployment: &str, hook: &str) -> Stage {
    Stage {
        name: "POST_TEST_TRAFFIC_SHIFT".into(),
        hook_id: hook.into(),
        service_deployment_arn: deployment.into(),
        strategy: "CANARY".into(),
        target_revision_arn: "arn:aws:ecs:us-east-1:123456789012:service-revision/app/web/2".into(),
        source_revision_arns: vec!["arn:aws:ecs:us-east-1:123456789012:service-revision/app/web/1".into()],
        production_weight: Some(10.0),
        test_weight: Some(100.0),
        elapsed_seconds: 120.0,
        bake_time_in_minutes: Some(2),
        deploy_plan_digest: None,
        parent_run_id: None,
        attempt: 0,
        deployment: "{}".into(),
    }
}

/// The 5xx datapoints the next measurement at `secs` sees: these values, a minute apart before it.
fn errors_at(secs: i64, values: &[f64]) {
    let now = t0() + secs;
    let points: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, v)| (now - 30 - 60 * i as i64, *v)).collect();
    with_mock(|m| m.metrics.insert(format!("{NS}/{ERRORS}"), points));
}

fn reasons(d: &Decision) -> Vec<String> {
    match d {
        Decision::Deny(r) | Decision::Inconclusive(r) | Decision::Warn(r) => r.clone(),
        Decision::Allow => Vec::new(),
    }
}

fn inconclusive(line: &str) -> Decision {
    Decision::Inconclusive(vec![line.to_owned()])
}

#[test]
fn a_canary_over_the_threshold_is_denied() {
    let mut g = gate(json!({}));
    errors_at(0, &[7.0, 5.0]);
    let d = g.evaluate(&at("hook-1", 0));
    assert_eq!(d, Decision::Deny(vec![format!("measurement 1 of 1: {LINE} = 12 > 5: failed; 1 failed measurement(s), failure_limit 0")]));
    assert_eq!(calls(), vec![CALL]);
}

#[test]
fn a_canary_under_the_threshold_passes() {
    let mut g = gate(json!({}));
    errors_at(0, &[2.0, 1.0]);
    assert_eq!(g.evaluate(&at("hook-1", 0)), Decision::Allow);
    let logs = logs();
    assert!(
        logs.contains(&(Level::Info, format!("POST_TEST_TRAFFIC_SHIFT hook hook-1: measurement 1 of 1: {LINE} = 3 <= 5: successful (measurement successful)"))),
        "{logs:?}"
    );
    assert!(
        logs.contains(&(
            Level::Info,
            "POST_TEST_TRAFFIC_SHIFT hook hook-1: analysis successful: 1 of 1 measurements: 1 successful, 0 failed, 0 inconclusive".into()
        )),
        "{logs:?}"
    );
}

#[test]
fn count_three_needs_three_measurements_an_interval_apart() {
    let mut g = gate(json!({"count": 3}));
    errors_at(0, &[2.0]);
    let first = inconclusive(&format!("measurement 1 of 3: {LINE} = 2 <= 5: successful; 1 successful, 0 failed, 0 inconclusive; next measurement after 30s"));
    assert_eq!(g.evaluate(&at("hook-1", 0)), first);
    // Before the interval: no measurement, the very same reasons (the host records no new verdict).
    assert_eq!(g.evaluate(&at("hook-1", 10)), first);
    assert_eq!(g.evaluate(&at("hook-1", 29)), first);
    assert_eq!(calls().len(), 1);
    errors_at(30, &[1.0]);
    let second = inconclusive(&format!("measurement 2 of 3: {LINE} = 1 <= 5: successful; 2 successful, 0 failed, 0 inconclusive; next measurement after 30s"));
    assert_eq!(g.evaluate(&at("hook-1", 30)), second);
    assert_eq!(g.evaluate(&at("hook-1", 59)), second);
    assert_eq!(calls().len(), 2);
    errors_at(60, &[0.0]);
    assert_eq!(g.evaluate(&at("hook-1", 60)), Decision::Allow);
    // Final: asked again, it answers the same without measuring.
    assert_eq!(g.evaluate(&at("hook-1", 600)), Decision::Allow);
    assert_eq!(calls(), vec![CALL, CALL, CALL]);
}

#[test]
fn the_interval_counts_milliseconds_and_offsets() {
    let mut g = gate(json!({"count": 2}));
    errors_at(0, &[1.0]);
    let mut p = at("hook-1", 0);
    p.time = "2026-12-03T11:20:00.500Z".into();
    let first = g.evaluate(&p);
    p.time = "2026-12-03T20:20:30.499+09:00".into();
    assert_eq!(g.evaluate(&p), first);
    assert_eq!(calls().len(), 1);
    p.time = "2026-12-03T20:20:30.500+09:00".into();
    assert_eq!(g.evaluate(&p), Decision::Allow);
    assert_eq!(calls().len(), 2);
}

#[test]
fn failure_limit_tolerates_that_many_failures() {
    let mut g = gate(json!({"count": 3, "failure_limit": 1}));
    errors_at(0, &[12.0]);
    let d = g.evaluate(&at("hook-1", 0));
    assert_eq!(d, inconclusive(&format!("measurement 1 of 3: {LINE} = 12 > 5: failed; 0 successful, 1 failed, 0 inconclusive; next measurement after 30s")));
    errors_at(30, &[1.0]);
    assert!(matches!(g.evaluate(&at("hook-1", 30)), Decision::Inconclusive(_)));
    errors_at(60, &[1.0]);
    assert_eq!(g.evaluate(&at("hook-1", 60)), Decision::Allow);

    // One more failure than tolerated denies at once, before the count is reached.
    let mut g = gate(json!({"count": 3, "failure_limit": 1}));
    errors_at(0, &[12.0]);
    g.evaluate(&at("hook-1", 0));
    errors_at(30, &[6.0]);
    let d = g.evaluate(&at("hook-1", 30));
    assert_eq!(d, Decision::Deny(vec![format!("measurement 2 of 3: {LINE} = 6 > 5: failed; 2 failed measurement(s), failure_limit 1")]));
}

#[test]
fn consecutive_successes_end_the_analysis_early() {
    let mut g = gate(json!({"count": 5, "failure_limit": 1, "consecutive_success_limit": 2}));
    for (secs, value) in [(0, 9.0), (30, 1.0)] {
        errors_at(secs, &[value]);
        assert!(matches!(g.evaluate(&at("hook-1", secs)), Decision::Inconclusive(_)), "at {secs}");
    }
    errors_at(60, &[1.0]);
    assert_eq!(g.evaluate(&at("hook-1", 60)), Decision::Allow);
    assert_eq!(calls().len(), 3);
    assert!(logs().contains(&(
        Level::Info,
        "POST_TEST_TRAFFIC_SHIFT hook hook-1: analysis successful: 2 consecutive successful measurement(s), consecutive_success_limit 2".into()
    )));
}

#[test]
fn consecutive_success_limit_not_reached_by_the_count_stays_inconclusive() {
    let mut g = gate(json!({"count": 3, "failure_limit": 2, "consecutive_success_limit": 2}));
    let mut last = Decision::Allow;
    for (secs, value) in [(0, 1.0), (30, 9.0), (60, 1.0)] {
        errors_at(secs, &[value]);
        last = g.evaluate(&at("hook-1", secs));
    }
    let stuck = inconclusive(&format!(
        "measurement 3 of 3: {LINE} = 1 <= 5: successful; 1 consecutive successful measurement(s) after all 3 measurements, consecutive_success_limit 2 not reached: analysis inconclusive"
    ));
    assert_eq!(last, stuck);
    assert_eq!(g.evaluate(&at("hook-1", 90)), stuck);
    assert_eq!(g.evaluate(&at("hook-1", 300)), stuck);
    assert_eq!(calls().len(), 3);
}

#[test]
fn no_data_is_inconclusive_unless_configured_otherwise() {
    let mut g = gate(json!({}));
    assert_eq!(
        g.evaluate(&at("hook-1", 0)),
        inconclusive(&format!(
            "measurement 1 of 1: {LINE}: no datapoints: inconclusive; 1 inconclusive measurement(s), inconclusive_limit 0: analysis inconclusive"
        ))
    );
    let mut g = gate_on(MockHost::new(), config(json!({}), json!({"no_data": "failure"})));
    assert_eq!(
        g.evaluate(&at("hook-1", 0)),
        Decision::Deny(vec![format!("measurement 1 of 1: {LINE}: no datapoints: failed; 1 failed measurement(s), failure_limit 0")])
    );
    let mut g = gate_on(MockHost::new(), config(json!({}), json!({"no_data": "success"})));
    assert_eq!(g.evaluate(&at("hook-1", 0)), Decision::Allow);
    // Datapoints outside the window are no data either.
    let mut g = gate(json!({}));
    with_mock(|m| m.metrics.insert(format!("{NS}/{ERRORS}"), vec![(t0(), 1.0), (t0() - 301, 1.0)]));
    assert!(matches!(g.evaluate(&at("hook-1", 0)), Decision::Inconclusive(_)));
}

#[test]
fn exceeding_inconclusive_limit_stays_inconclusive() {
    let mut g = gate(json!({"count": 3, "inconclusive_limit": 1}));
    let d = g.evaluate(&at("hook-1", 0));
    assert_eq!(
        d,
        inconclusive(&format!("measurement 1 of 3: {LINE}: no datapoints: inconclusive; 0 successful, 0 failed, 1 inconclusive; next measurement after 30s"))
    );
    let stuck = inconclusive(&format!(
        "measurement 2 of 3: {LINE}: no datapoints: inconclusive; 2 inconclusive measurement(s), inconclusive_limit 1: analysis inconclusive"
    ));
    assert_eq!(g.evaluate(&at("hook-1", 30)), stuck);
    // Good data now changes nothing: the analysis is over, and nothing is measured.
    errors_at(60, &[0.0]);
    assert_eq!(g.evaluate(&at("hook-1", 60)), stuck);
    assert_eq!(g.evaluate(&at("hook-1", 90)), stuck);
    assert_eq!(calls().len(), 2);
}

#[test]
fn a_denied_or_failed_read_fails_closed() {
    let host = MockHost::new().denying("cloudwatch:GetMetricData");
    let mut g = gate_on(host, config(json!({"count": 3}), json!({})));
    let d = g.evaluate(&at("hook-1", 0));
    assert_eq!(
        d,
        Decision::Deny(vec![
            "measurement 1 of 3: GetMetricData error (counted as failed): cloudwatch:GetMetricData on AWS/ApplicationELB/HTTPCode_Target_5XX_Count is not granted to this plugin; 1 failed measurement(s), failure_limit 0".into()
        ])
    );
    let mut g = gate_on(MockHost::new().failing("cloudwatch:GetMetricData"), config(json!({}), json!({})));
    let r = reasons(&g.evaluate(&at("hook-1", 0)));
    assert!(r[0].contains("simulated service error") && r[0].ends_with("1 failed measurement(s), failure_limit 0"), "{r:?}");
    // An error is a failure: within failure_limit it is tolerated like one.
    let mut g = gate_on(MockHost::new().failing("cloudwatch:GetMetricData"), config(json!({"count": 2, "failure_limit": 1}), json!({})));
    assert!(matches!(g.evaluate(&at("hook-1", 0)), Decision::Inconclusive(_)));
}

#[test]
fn a_bad_config_denies_every_plan_naming_the_key() {
    let unknown_metric_key = config(json!({}), json!({"treshold": 5}));
    let bad_condition = config(json!({}), json!({"failure_condition": "error_rate > 5"}));
    let cases = [
        (config(json!({"intervall": "30s"}), json!({})), "canary-analysis config: intervall: unknown key"),
        (unknown_metric_key, "canary-analysis config: metrics[0].treshold: unknown key"),
        (bad_condition, "canary-analysis config: metrics[0].failure_condition: \"error_rate > 5\": expected `result OP NUMBER`"),
        (json!({"count": 3}), "canary-analysis config: metrics: at least one metric is required"),
        (json!(null), "canary-analysis config: metrics: at least one metric is required"),
        (json!({"metrics": []}), "canary-analysis config: metrics: 1 to 50 metrics are needed, got 0"),
        (config(json!({"count": "3"}), json!({})), "canary-analysis config: count: expected a whole number"),
    ];
    for (config, want) in cases {
        let mut g = gate_on(MockHost::new(), config.clone());
        for plan in [at("hook-1", 0), Plan::new("deploy")] {
            let d = g.evaluate(&plan);
            assert!(d.is_deny() && reasons(&d)[0].starts_with(want), "{config}: {d:?}");
        }
        assert!(calls().is_empty());
        assert!(logs().iter().any(|(level, line)| *level == Level::Error && line.contains("every plan will be denied")));
        assert!(g.manifest().capabilities.is_empty());
    }
}

#[test]
fn a_new_hook_starts_a_new_analysis() {
    let mut g = gate(json!({"count": 2}));
    errors_at(0, &[9.0]);
    let d = g.evaluate(&at("hook-1", 0));
    assert!(d.is_deny(), "{d:?}");
    // The next hook (a retried deployment) is measured at once, from zero.
    errors_at(10, &[1.0]);
    let d = g.evaluate(&at("hook-2", 10));
    assert_eq!(
        d,
        inconclusive(&format!("measurement 1 of 2: {LINE} = 1 <= 5: successful; 1 successful, 0 failed, 0 inconclusive; next measurement after 30s"))
    );
    // So is the same hook id of another service deployment.
    let mut other = at("hook-2", 10);
    other.stage = Some(stage("arn:aws:ecs:us-east-1:123456789012:service-deployment/app/web/def", "hook-2"));
    assert_eq!(g.evaluate(&other), d);
    // The first hook keeps its verdict.
    assert!(g.evaluate(&at("hook-1", 20)).is_deny());
    assert_eq!(calls().len(), 3);
}

#[test]
fn plans_without_a_stage_are_allowed() {
    let mut g = gate(json!({}));
    errors_at(0, &[100.0]);
    assert_eq!(g.evaluate(&Plan::new("deploy")), Decision::Allow);
    assert_eq!(g.evaluate(&Plan::new("stage:POST_TEST_TRAFFIC_SHIFT")), Decision::Allow);
    assert!(calls().is_empty());
}

#[test]
fn every_metric_in_one_call_and_each_judged() {
    let latency =
        json!({"name": "latency", "namespace": NS, "metric": "TargetResponseTime", "stat": "p99", "reduce": "max", "success_condition": "result < 0.5"});
    let mut c = config(json!({}), json!({}));
    c["metrics"].as_array_mut().into_iter().for_each(|a| a.push(latency.clone()));
    let mut g = gate_on(MockHost::new().with_metric(NS, "TargetResponseTime", &[(t0() - 30, 0.2), (t0() - 90, 0.75)]), c);
    errors_at(0, &[1.0]);
    let d = g.evaluate(&at("hook-1", 0));
    assert_eq!(
        d,
        Decision::Deny(vec![
            format!("measurement 1 of 1: {LINE} = 1 <= 5: successful"),
            "measurement 1 of 1: latency TargetResponseTime p99 (max over 5m) = 0.75, not < 0.5: failed; 1 failed measurement(s), failure_limit 0".into(),
        ])
    );
    assert_eq!(calls(), vec![format!("{CALL},AWS/ApplicationELB/TargetResponseTime")]);
}

#[test]
fn the_manifest_asks_for_each_metric() {
    let other = json!({"name": "cpu", "namespace": "AWS/ECS", "metric": "CPUUtilization", "stat": "Average", "failure_condition": "result > 90"});
    let mut c = config(json!({}), json!({}));
    c["metrics"].as_array_mut().into_iter().for_each(|a| a.push(other.clone()));
    let g = gate_on(MockHost::new(), c);
    let m = g.manifest();
    assert_eq!((m.name.as_str(), m.version.as_str(), m.hooks.as_slice()), ("canary-analysis", env!("CARGO_PKG_VERSION"), &[Hook::Gate][..]));
    let caps: Vec<(&str, &str)> = m.capabilities.iter().map(|c| (c.action.as_str(), c.resource.as_str())).collect();
    assert_eq!(
        caps,
        [
            ("cloudwatch:GetMetricData", "arn:aws:cloudwatch:*:*:metric/AWS/ApplicationELB/HTTPCode_Target_5XX_Count"),
            ("cloudwatch:GetMetricData", "arn:aws:cloudwatch:*:*:metric/AWS/ECS/CPUUtilization"),
        ]
    );
}
