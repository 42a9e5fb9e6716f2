//! RFC 3339 timestamps (the plan's `time`, a gate's freeze windows) as instants: seconds and
//! nanoseconds since the Unix epoch, UTC. A date crate would weigh more in every component than
//! this file.

/// An instant: (seconds since 1970-01-01T00:00:00Z, nanoseconds).
pub type Instant = (i64, u32);

/// Parses `2026-12-24T00:00:00Z`, `2026-12-24T09:00:00+09:00`, `2026-12-24T00:00:00.5Z`
/// (also with `t`/`z` in lower case or a space instead of `T`).
pub fn parse_rfc3339(s: &str) -> Result<Instant, String> {
    let err = || format!("{s:?} is not an RFC 3339 timestamp (like 2026-12-24T09:00:00+09:00)");
    let b = s.trim().as_bytes();
    if b.len() < 20 {
        return Err(err());
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        let part = std::str::from_utf8(&b[from..to]).map_err(|_| err())?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        part.parse::<i64>().map_err(|_| err())
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(err());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return Err(err());
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err());
        }
        let digits = &s.trim()[start..i.min(start + 9)];
        nanos = format!("{digits:0<9}").parse().map_err(|_| err())?;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
            if h > 23 || m > 59 {
                return Err(err());
            }
            let o = h * 3600 + m * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    // A leap second counts as the last second of the minute.
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
    Ok((secs, nanos))
}

/// An instant in milliseconds since the Unix epoch.
pub fn millis((secs, nanos): Instant) -> i64 {
    secs.saturating_mul(1000).saturating_add(i64::from(nanos / 1_000_000))
}

/// The wall clock WASI gives the component (the host's), in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), (0, 0));
        assert_eq!(parse_rfc3339("2026-11-26T14:30:00Z").unwrap(), (1_795_703_400, 0));
        assert_eq!(parse_rfc3339("2026-11-26T23:30:00+09:00").unwrap(), (1_795_703_400, 0));
        assert_eq!(parse_rfc3339("2026-11-26T09:30:00-05:00").unwrap(), (1_795_703_400, 0));
        assert_eq!(parse_rfc3339("2026-11-26t14:30:00z").unwrap(), (1_795_703_400, 0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z").unwrap(), (951_782_400, 0));
        assert_eq!(parse_rfc3339("2026-11-26T14:30:00.25Z").unwrap(), (1_795_703_400, 250_000_000));
        assert_eq!(parse_rfc3339("2026-11-26T14:30:00.123456789123Z").unwrap(), (1_795_703_400, 123_456_789));
        assert_eq!(millis(parse_rfc3339("2026-11-26T14:30:00.123456789+00:00").unwrap()), 1_795_703_400_123);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T14:30:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T14:30:00+0900",
            "2026-11-26T14:30:00+9:000",
            "2026-11-26T14:30:00.Z",
            "2026-11-26T14:30:00Zjunk",
            "2026-11-26T14:30:00ÄZ",
            "2026/11/26T14:30:00Z",
            "tomorrow at noon please",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
