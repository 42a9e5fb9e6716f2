//! One measurement: every configured metric read with a single `GetMetricData` call over the
//! window ending now, each reduced to one `result` and judged by its conditions (Argo's rules).

use cortado_plugin_sdk::metrics::{self, MetricQuery, MetricResult};

use crate::config::{Config, Metric};

/// What a metric, or a whole measurement, came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Successful,
    Failed,
    Inconclusive,
}

impl Outcome {
    /// `no_data:` values.
    pub fn parse(t: &str) -> Result<Outcome, String> {
        match t {
            "success" => Ok(Outcome::Successful),
            "failure" => Ok(Outcome::Failed),
            "inconclusive" => Ok(Outcome::Inconclusive),
            _ => Err(format!("{t:?} is not one of inconclusive, success, failure")),
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::Successful => "successful",
            Outcome::Failed => "failed",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// How a window's datapoints become `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Sum,
    Average,
    Max,
    Min,
    Last,
}

impl Reduce {
    pub fn parse(t: &str) -> Result<Reduce, String> {
        match t {
            "sum" => Ok(Reduce::Sum),
            "average" => Ok(Reduce::Average),
            "max" => Ok(Reduce::Max),
            "min" => Ok(Reduce::Min),
            "last" => Ok(Reduce::Last),
            _ => Err(format!("{t:?} is not one of sum, average, max, min, last")),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Reduce::Sum => "sum",
            Reduce::Average => "average",
            Reduce::Max => "max",
            Reduce::Min => "min",
            Reduce::Last => "last",
        }
    }

    /// `None` when the window holds no (finite) datapoint. `last` is the newest by timestamp,
    /// whatever order the pages came in.
    fn apply(self, timestamps: &[i64], values: &[f64]) -> Option<f64> {
        let points: Vec<(i64, f64)> = timestamps.iter().copied().zip(values.iter().copied()).filter(|(_, v)| v.is_finite()).collect();
        if points.is_empty() {
            return None;
        }
        let vs = points.iter().map(|p| p.1);
        Some(match self {
            Reduce::Sum => vs.sum(),
            Reduce::Average => vs.sum::<f64>() / points.len() as f64,
            Reduce::Max => vs.fold(f64::NEG_INFINITY, f64::max),
            Reduce::Min => vs.fold(f64::INFINITY, f64::min),
            Reduce::Last => points.iter().max_by_key(|p| p.0).map_or(0.0, |p| p.1),
        })
    }
}

/// A measurement's outcome and one line per metric (or the one error that stopped it).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub outcome: Outcome,
    pub details: Vec<String>,
}

/// The queries for one `GetMetricData` call: ids `m0`, `m1`, … (CloudWatch wants a lowercase
/// first letter), in config order.
pub fn queries(metrics: &[Metric]) -> Vec<MetricQuery> {
    metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let q = MetricQuery::new(format!("m{i}"), &m.namespace, &m.metric, &m.stat, m.period);
            m.dimensions.iter().fold(q, |q, (k, v)| q.dimension(k, v))
        })
        .collect()
}

/// Measures once over `[now - window, now)`. A brokered error fails the measurement (fail closed).
pub fn measure(config: &Config, now_s: i64) -> Measurement {
    let start = now_s - config.window.ms / 1000;
    match metrics::cloudwatch_get_metric_data(&queries(&config.metrics), start, now_s) {
        Err(e) => Measurement { outcome: Outcome::Failed, details: vec![format!("GetMetricData error (counted as failed): {}", e.message())] },
        Ok(results) => {
            let judged: Vec<(Outcome, String)> =
                config.metrics.iter().enumerate().map(|(i, m)| judge(m, &config.window.text, results.iter().find(|r| r.id == format!("m{i}")))).collect();
            Measurement { outcome: combine(judged.iter().map(|j| j.0)), details: judged.into_iter().map(|j| j.1).collect() }
        }
    }
}

/// Failed if any failed, else inconclusive if any is, else successful.
fn combine(outcomes: impl Iterator<Item = Outcome> + Clone) -> Outcome {
    let mut all = outcomes;
    if all.clone().any(|o| o == Outcome::Failed) {
        Outcome::Failed
    } else if all.any(|o| o == Outcome::Inconclusive) {
        Outcome::Inconclusive
    } else {
        Outcome::Successful
    }
}

/// One metric's outcome and its line, e.g.
/// `error-rate HTTPCode_Target_5XX_Count Sum (sum over 5m) = 12 > 5: failed`.
fn judge(m: &Metric, window: &str, result: Option<&MetricResult>) -> (Outcome, String) {
    let what = format!("{} {} {} ({} over {window})", m.name, m.metric, m.stat, m.reduce.word());
    if let Some(r) = result.filter(|r| !matches!(r.status_code.as_str(), "" | "Complete" | "PartialData")) {
        return (Outcome::Failed, format!("{what}: CloudWatch status {}: failed", r.status_code));
    }
    let Some(value) = result.and_then(|r| m.reduce.apply(&r.timestamps, &r.values)) else {
        return (m.no_data, format!("{what}: no datapoints: {}", m.no_data.word()));
    };
    let (outcome, why) = conditions(m, value);
    (outcome, format!("{what} = {value}{why}: {}", outcome.word()))
}

/// Argo's rules: with both conditions, failure wins, then success, else inconclusive; with only
/// a success condition, not holding is a failure; with only a failure condition, not holding is a
/// success. The text shows the condition that decided (`> 5`, `, not <= 5`).
fn conditions(m: &Metric, value: f64) -> (Outcome, String) {
    let fail = m.failure.as_ref().map(|c| (c.holds(value), c));
    let pass = m.success.as_ref().map(|c| (c.holds(value), c));
    match (pass, fail) {
        (_, Some((true, f))) => (Outcome::Failed, format!(" {f}")),
        (Some((true, s)), _) => (Outcome::Successful, format!(" {s}")),
        (Some((false, s)), Some((false, f))) => (Outcome::Inconclusive, format!(", neither {s} nor {f}")),
        (Some((false, s)), None) => (Outcome::Failed, format!(", not {s}")),
        (None, Some((false, f))) => (Outcome::Successful, format!(", not {f}")),
        (None, None) => (Outcome::Inconclusive, ", no condition".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::Condition;

    fn metric(success: Option<&str>, failure: Option<&str>) -> Metric {
        Metric {
            name: "errors".into(),
            namespace: "AWS/ApplicationELB".into(),
            metric: "HTTPCode_Target_5XX_Count".into(),
            dimensions: vec![("TargetGroup".into(), "targetgroup/app/123".into())],
            stat: "Sum".into(),
            period: 60,
            reduce: Reduce::Sum,
            success: success.map(|s| Condition::parse(s).unwrap()),
            failure: failure.map(|s| Condition::parse(s).unwrap()),
            no_data: Outcome::Inconclusive,
        }
    }

    #[test]
    fn reductions() {
        let (ts, vs) = ([300, 100, 200], [1.0, 4.0, 2.5]);
        assert_eq!(Reduce::Sum.apply(&ts, &vs), Some(7.5));
        assert_eq!(Reduce::Average.apply(&ts, &vs), Some(2.5));
        assert_eq!(Reduce::Max.apply(&ts, &vs), Some(4.0));
        assert_eq!(Reduce::Min.apply(&ts, &vs), Some(1.0));
        assert_eq!(Reduce::Last.apply(&ts, &vs), Some(1.0));
        assert_eq!(Reduce::Last.apply(&[100, 300], &[9.0, 3.0]), Some(3.0));
        assert_eq!(Reduce::Sum.apply(&[], &[]), None);
        assert_eq!(Reduce::Max.apply(&[1], &[f64::NAN]), None);
    }

    #[test]
    fn argo_condition_rules() {
        let both = metric(Some("result <= 5"), Some("result > 10"));
        assert_eq!(conditions(&both, 3.0), (Outcome::Successful, " <= 5".into()));
        assert_eq!(conditions(&both, 12.0), (Outcome::Failed, " > 10".into()));
        assert_eq!(conditions(&both, 7.0), (Outcome::Inconclusive, ", neither <= 5 nor > 10".into()));
        // Failure wins when both hold.
        let overlapping = metric(Some("result >= 0"), Some("result > 10"));
        assert_eq!(conditions(&overlapping, 12.0).0, Outcome::Failed);
        let only_success = metric(Some("result <= 5"), None);
        assert_eq!(conditions(&only_success, 6.0), (Outcome::Failed, ", not <= 5".into()));
        let only_failure = metric(None, Some("result > 5"));
        assert_eq!(conditions(&only_failure, 5.0), (Outcome::Successful, ", not > 5".into()));
    }

    #[test]
    fn query_ids_and_dimensions() {
        let q = queries(&[metric(None, Some("result > 5")), metric(None, Some("result > 5"))]);
        assert_eq!(q.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(), ["m0", "m1"]);
        assert_eq!((q[0].stat.as_str(), q[0].period_seconds, q[0].dimensions[0].name.as_str()), ("Sum", 60, "TargetGroup"));
    }

    #[test]
    fn measurement_combines() {
        use Outcome::*;
        assert_eq!(combine([Successful, Inconclusive, Failed].into_iter()), Failed);
        assert_eq!(combine([Successful, Inconclusive].into_iter()), Inconclusive);
        assert_eq!(combine([Successful, Successful].into_iter()), Successful);
    }

    #[test]
    fn a_result_cloudwatch_could_not_compute_fails() {
        let r = MetricResult { id: "m0".into(), label: String::new(), timestamps: vec![1], values: vec![0.0], status_code: "Forbidden".into() };
        let (o, line) = judge(&metric(None, Some("result > 5")), "5m", Some(&r));
        assert_eq!((o, line.as_str()), (Outcome::Failed, "errors HTTPCode_Target_5XX_Count Sum (sum over 5m): CloudWatch status Forbidden: failed"));
    }
}
