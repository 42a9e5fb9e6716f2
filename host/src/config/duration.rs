//! Go `time.Duration` strings (`5m`, `300s`, `1h10m0s`, `1.5h`), as ecspresso's `timeout` takes them.

use std::time::Duration;

/// Parses a Go duration string. Unlike Go, a bare number is refused rather than read as nanoseconds
/// (ecspresso's `timeout: 600` silently meant 600 ns).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(format!("negative duration {s:?}"));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("invalid duration {s:?}: expected a number at {rest:?}"));
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("invalid duration {s:?}: missing unit (use e.g. \"300s\" or \"5m\")")),
            u => return Err(format!("invalid duration {s:?}: unknown unit {u:?}")),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Ok(Duration::from_secs_f64(total))
}

/// Thirty days: a v3 duration above this is warned about (ecspresso v3, #1028), since a number
/// written for v2 in some other unit would now mean far too long a wait.
pub const V3_WARN_ABOVE: Duration = Duration::from_secs(30 * 24 * 3600);

/// A duration under ecspresso v3's rule: a plain number (`600`, `"600"`, `1.5`) means seconds; any
/// other text is a Go duration. `key` names the value in the warning above thirty days.
pub fn parse_v3(s: &str, key: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = match t.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Duration::from_secs_f64(n),
        Ok(_) => return Err(format!("invalid duration {s:?}: must be a non-negative number of seconds")),
        Err(_) => parse_go_duration(t)?,
    };
    if d > V3_WARN_ABOVE {
        tracing::warn!("{key}: {} is more than 30 days (ecspresso v3 reads a plain number as seconds)", format_go_duration(d));
    }
    Ok(d)
}

/// Formats like Go's `Duration.String()`: `10m0s`, `1h10m0s`, `1.5s`, `300ms`, `0s`.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (div, unit) = if nanos < 1_000 {
            (1u128, "ns")
        } else if nanos < 1_000_000 {
            (1_000, "µs")
        } else {
            (1_000_000, "ms")
        };
        return format!("{}{unit}", frac(nanos, div));
    }
    let hours = nanos / 3_600_000_000_000;
    let mins = (nanos / 60_000_000_000) % 60;
    let secs_nanos = nanos % 60_000_000_000;
    let secs = frac(secs_nanos, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{mins}m{secs}s")
    } else if mins > 0 {
        format!("{mins}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn frac(n: u128, div: u128) -> String {
    let whole = n / div;
    let rem = n % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms_round_trip() {
        for (text, secs) in [("10s", 10), ("10m0s", 600), ("5m10s", 310), ("1h0m0s", 3600), ("1h10m0s", 4200)] {
            let d = parse_go_duration(text).unwrap();
            assert_eq!(d, Duration::from_secs(secs));
            assert_eq!(format_go_duration(d), text);
        }
        assert_eq!(parse_go_duration("300s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_go_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn v3_plain_numbers_are_seconds() {
        assert_eq!(parse_v3("600", "timeout").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_v3("1.5", "timeout").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_v3("10m", "timeout").unwrap(), Duration::from_secs(600));
        assert!(parse_v3("-1", "timeout").is_err());
        assert!(parse_v3("ten", "timeout").is_err());
    }

    #[test]
    fn refuses_unitless_and_garbage() {
        assert!(parse_go_duration("600").is_err());
        assert!(parse_go_duration("ten minutes").is_err());
        assert!(parse_go_duration("5x").is_err());
    }
}
