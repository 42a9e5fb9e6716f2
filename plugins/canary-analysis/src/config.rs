//! The plugin's `config:` block, read by hand from JSON so that every error names its key
//! (`metrics[0].success_condition: ...`) and an unknown key is refused: a typo must not silently
//! loosen a gate that decides whether a canary reaches production.

use cortado_plugin_sdk::metrics::MAX_QUERIES;
use serde_json::{Map, Value};

use crate::condition::Condition;
use crate::measure::{Outcome, Reduce};

/// A span of time as configured (`30s`), kept with its text for reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub ms: i64,
    pub text: String,
}

#[derive(Debug)]
pub struct Config {
    pub interval: Span,
    pub count: u32,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub consecutive_success_limit: u32,
    pub window: Span,
    pub metrics: Vec<Metric>,
}

#[derive(Debug)]
pub struct Metric {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
    pub period: u32,
    pub reduce: Reduce,
    pub success: Option<Condition>,
    pub failure: Option<Condition>,
    pub no_data: Outcome,
}

type Object = Map<String, Value>;

const KEYS: [&str; 7] = ["interval", "count", "failure_limit", "inconclusive_limit", "consecutive_success_limit", "window", "metrics"];
const METRIC_KEYS: [&str; 10] = ["name", "namespace", "metric", "dimensions", "stat", "period", "reduce", "success_condition", "failure_condition", "no_data"];
/// CloudWatch's own limit of dimensions per metric.
const MAX_DIMENSIONS: usize = 30;

impl Config {
    /// The config from the `config:` block's JSON (`null` when absent, which lacks `metrics`).
    pub fn from_value(value: &Value) -> Result<Config, String> {
        let empty = Object::new();
        let o = match value {
            Value::Null => &empty,
            Value::Object(o) => o,
            other => return Err(format!("expected a map of settings, got {}", kind(other))),
        };
        known_keys(o, "", &KEYS)?;
        let c = Config {
            interval: span(o, "", "interval", "60s")?,
            count: uint(o, "", "count", 1)?,
            failure_limit: uint(o, "", "failure_limit", 0)?,
            inconclusive_limit: uint(o, "", "inconclusive_limit", 0)?,
            consecutive_success_limit: uint(o, "", "consecutive_success_limit", 0)?,
            window: span(o, "", "window", "5m")?,
            metrics: metrics(o.get("metrics"))?,
        };
        c.check()
    }

    /// Checks that need more than one key.
    fn check(self) -> Result<Config, String> {
        if self.count == 0 {
            return Err("count: must be at least 1".into());
        }
        if self.consecutive_success_limit > self.count {
            return Err(format!(
                "consecutive_success_limit: {} is more than count {}, so it could never be reached",
                self.consecutive_success_limit, self.count
            ));
        }
        if self.window.ms < 1000 {
            return Err(format!("window: {} is shorter than 1s", self.window.text));
        }
        Ok(self)
    }
}

fn metrics(value: Option<&Value>) -> Result<Vec<Metric>, String> {
    let items = match value {
        None | Some(Value::Null) => return Err("metrics: at least one metric is required".into()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("metrics: expected a list of metrics, got {}", kind(other))),
    };
    if items.is_empty() || items.len() > MAX_QUERIES {
        return Err(format!("metrics: 1 to {MAX_QUERIES} metrics are needed, got {}", items.len()));
    }
    let metrics = items.iter().enumerate().map(|(i, v)| metric(v, &format!("metrics[{i}]."))).collect::<Result<Vec<_>, _>>()?;
    for (i, m) in metrics.iter().enumerate() {
        if metrics[..i].iter().any(|other| other.name == m.name) {
            return Err(format!("metrics[{i}].name: {:?} names an earlier metric too", m.name));
        }
    }
    Ok(metrics)
}

fn metric(value: &Value, path: &str) -> Result<Metric, String> {
    let o = value.as_object().ok_or_else(|| format!("{}: expected a map, got {}", path.trim_end_matches('.'), kind(value)))?;
    known_keys(o, path, &METRIC_KEYS)?;
    let m = Metric {
        name: required_text(o, path, "name")?,
        namespace: required_text(o, path, "namespace")?,
        metric: required_text(o, path, "metric")?,
        dimensions: dimensions(o, path)?,
        stat: stat(o, path)?,
        period: period(o, path)?,
        reduce: choice(o, path, "reduce", Reduce::Sum, Reduce::parse)?,
        success: condition(o, path, "success_condition")?,
        failure: condition(o, path, "failure_condition")?,
        no_data: choice(o, path, "no_data", Outcome::Inconclusive, Outcome::parse)?,
    };
    if m.success.is_none() && m.failure.is_none() {
        return Err(format!("{path}success_condition: a metric needs success_condition, failure_condition or both"));
    }
    Ok(m)
}

fn known_keys(o: &Object, path: &str, known: &[&str]) -> Result<(), String> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("{path}{k}: unknown key (known: {})", known.join(", "))),
        None => Ok(()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn text<'a>(o: &'a Object, path: &str, key: &str) -> Result<Option<&'a str>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim())),
        Some(Value::String(_)) => Err(format!("{path}{key}: must not be empty")),
        Some(other) => Err(format!("{path}{key}: expected a string, got {}", kind(other))),
    }
}

fn required_text(o: &Object, path: &str, key: &str) -> Result<String, String> {
    text(o, path, key)?.map(str::to_owned).ok_or_else(|| format!("{path}{key}: required"))
}

fn uint(o: &Object, path: &str, key: &str, default: u32) -> Result<u32, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| format!("{path}{key}: expected a whole number >= 0, got {v}")),
    }
}

fn span(o: &Object, path: &str, key: &str, default: &str) -> Result<Span, String> {
    let t = text(o, path, key)?.unwrap_or(default);
    let ms = parse_span(t).ok_or_else(|| format!("{path}{key}: {t:?} is not a duration (like 500ms, 30s, 5m, 1h or 1m30s)"))?;
    Ok(Span { ms, text: t.to_owned() })
}

/// `NUMBER UNIT` pairs (`1m30s`), units ms, s, m, h; whole numbers only.
fn parse_span(t: &str) -> Option<i64> {
    let mut rest = t;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, ms) = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)].into_iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(n.checked_mul(ms)?)?;
    }
    (!t.is_empty()).then_some(total)
}

fn dimensions(o: &Object, path: &str) -> Result<Vec<(String, String)>, String> {
    let map = match o.get("dimensions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("{path}dimensions: expected a map of name: value, got {}", kind(other))),
    };
    if map.len() > MAX_DIMENSIONS {
        return Err(format!("{path}dimensions: at most {MAX_DIMENSIONS} dimensions, got {}", map.len()));
    }
    let inner = format!("{path}dimensions.");
    map.keys().map(|k| Ok((k.clone(), required_text(map, &inner, k)?))).collect()
}

const BASIC_STATS: [&str; 5] = ["Sum", "Average", "Minimum", "Maximum", "SampleCount"];
/// Prefixes of CloudWatch's extended statistics (trimmed mean, winsorized mean, ...), besides `pNN`.
const EXTENDED_STATS: [&str; 11] = ["tm", "wm", "tc", "ts", "TM", "WM", "TC", "TS", "PR", "IQM", "iqm"];

/// The statistic, checked now because a misspelling would otherwise fail every measurement.
fn stat(o: &Object, path: &str) -> Result<String, String> {
    let s = text(o, path, "stat")?.unwrap_or("Sum");
    if BASIC_STATS.contains(&s) || EXTENDED_STATS.iter().any(|p| s.starts_with(p)) || percentile(s) {
        return Ok(s.to_owned());
    }
    match BASIC_STATS.iter().find(|b| b.eq_ignore_ascii_case(s)) {
        Some(b) => Err(format!("{path}stat: {s:?} is spelled {b}")),
        None => Err(format!("{path}stat: {s:?} is not a CloudWatch statistic ({}, or an extended one like p99)", BASIC_STATS.join(", "))),
    }
}

fn percentile(s: &str) -> bool {
    s.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()).is_some_and(|n| (0.0..=100.0).contains(&n))
}

/// CloudWatch accepts 1, 5, 10, 30 (high-resolution metrics) or a multiple of 60.
fn period(o: &Object, path: &str) -> Result<u32, String> {
    let p = uint(o, path, "period", 60)?;
    match p {
        1 | 5 | 10 | 30 => Ok(p),
        _ if p > 0 && p % 60 == 0 => Ok(p),
        _ => Err(format!("{path}period: {p} is not a CloudWatch period (1, 5, 10, 30 or a multiple of 60 seconds)")),
    }
}

fn choice<T>(o: &Object, path: &str, key: &str, default: T, parse: fn(&str) -> Result<T, String>) -> Result<T, String> {
    match text(o, path, key)? {
        None => Ok(default),
        Some(t) => parse(t).map_err(|e| format!("{path}{key}: {e}")),
    }
}

fn condition(o: &Object, path: &str, key: &str) -> Result<Option<Condition>, String> {
    text(o, path, key)?.map(Condition::parse).transpose().map_err(|e| format!("{path}{key}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one_metric(extra: Value) -> Value {
        let mut m = json!({"name": "errors", "namespace": "AWS/ApplicationELB", "metric": "HTTPCode_Target_5XX_Count", "failure_condition": "result > 5"});
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        json!({"metrics": [m]})
    }

    fn err(v: Value) -> String {
        Config::from_value(&v).err().unwrap_or_else(|| panic!("accepted {v}"))
    }

    #[test]
    fn defaults() {
        let c = Config::from_value(&one_metric(json!({}))).unwrap();
        assert_eq!((c.interval.ms, c.count, c.failure_limit, c.inconclusive_limit, c.consecutive_success_limit), (60_000, 1, 0, 0, 0));
        assert_eq!(c.window, Span { ms: 300_000, text: "5m".into() });
        let m = &c.metrics[0];
        assert_eq!((m.stat.as_str(), m.period, m.reduce, m.no_data), ("Sum", 60, Reduce::Sum, Outcome::Inconclusive));
        assert!(m.success.is_none() && m.dimensions.is_empty());
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("500ms"), Some(500));
        assert_eq!(parse_span("30s"), Some(30_000));
        assert_eq!(parse_span("1m30s"), Some(90_000));
        assert_eq!(parse_span("2h"), Some(7_200_000));
        assert_eq!(parse_span("0s"), Some(0));
        for bad in ["", "30", "s", "1.5m", "30 s", "-1s", "5d", "1m30", "99999999999999999999h"] {
            assert_eq!(parse_span(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err(json!(null)).starts_with("metrics: at least one metric is required"));
        assert!(err(json!({"metrics": []})).starts_with("metrics: 1 to 50 metrics"));
        assert!(err(json!([1])).contains("expected a map"));
        assert!(err(json!({"intervall": "30s", "metrics": []})).starts_with("intervall: unknown key"));
        assert!(err(one_metric(json!({"treshold": 5}))).starts_with("metrics[0].treshold: unknown key"));
        assert!(err(one_metric(json!({"success_condition": "result >> 5"}))).starts_with("metrics[0].success_condition: "));
        assert!(err(one_metric(json!({"failure_condition": null}))).starts_with("metrics[0].success_condition: a metric needs"));
        assert!(err(one_metric(json!({"stat": "sum"}))).contains("metrics[0].stat: \"sum\" is spelled Sum"));
        assert!(err(one_metric(json!({"stat": "median"}))).starts_with("metrics[0].stat: "));
        assert!(err(one_metric(json!({"period": 45}))).starts_with("metrics[0].period: 45"));
        assert!(err(one_metric(json!({"period": "60"}))).starts_with("metrics[0].period: expected a whole number"));
        assert!(err(one_metric(json!({"reduce": "median"}))).starts_with("metrics[0].reduce: "));
        assert!(err(one_metric(json!({"no_data": "ignore"}))).starts_with("metrics[0].no_data: "));
        assert!(err(one_metric(json!({"dimensions": {"TargetGroup": 1}}))).starts_with("metrics[0].dimensions.TargetGroup: expected a string"));
        assert!(err(one_metric(json!({"namespace": ""}))).starts_with("metrics[0].namespace: must not be empty"));
        let mut two = one_metric(json!({}));
        let first = two["metrics"][0].clone();
        if let Some(a) = two["metrics"].as_array_mut() {
            a.push(first);
        }
        assert!(err(two).starts_with("metrics[1].name: \"errors\" names an earlier metric"));
        let mut c = one_metric(json!({}));
        c["interval"] = json!(30);
        assert!(err(c.clone()).starts_with("interval: expected a string"));
        c["interval"] = json!("30 seconds");
        assert!(err(c.clone()).starts_with("interval: \"30 seconds\" is not a duration"));
        c["interval"] = json!("30s");
        c["count"] = json!(0);
        assert!(err(c.clone()).starts_with("count: must be at least 1"));
        c["count"] = json!(-1);
        assert!(err(c.clone()).starts_with("count: expected a whole number"));
        c["count"] = json!(2);
        c["consecutive_success_limit"] = json!(3);
        assert!(err(c.clone()).starts_with("consecutive_success_limit: 3 is more than count 2"));
        c["consecutive_success_limit"] = json!(2);
        c["window"] = json!("500ms");
        assert!(err(c).starts_with("window: 500ms is shorter than 1s"));
    }

    #[test]
    fn extended_statistics_pass() {
        for s in ["p99", "p99.9", "tm90", "TM(10%:90%)", "IQM", "SampleCount"] {
            assert!(Config::from_value(&one_metric(json!({"stat": s}))).is_ok(), "{s}");
        }
        assert!(Config::from_value(&one_metric(json!({"stat": "p101"}))).is_err());
    }
}
