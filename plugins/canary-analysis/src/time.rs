//! The plan's `time` (RFC 3339) as milliseconds since the Unix epoch. The host stamps every plan
//! with it, so measurements are spaced by the time the host says it is, which tests can control;
//! the SDK has no time helper and a date crate would weigh more than this file.

/// Parses `2026-12-03T11:20:00Z`, `2026-12-03T11:20:00.123Z`, `2026-12-03T20:20:00+09:00`
/// (also `t`/`z` in lower case or a space instead of `T`). Digits past milliseconds are dropped.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64, String> {
    let err = || format!("{s:?} is not an RFC 3339 timestamp (like 2026-12-03T11:20:00Z)");
    let t = s.trim();
    let b = t.as_bytes();
    if b.len() < 20 || !t.is_ascii() {
        return Err(err());
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        let part = &t[from..to];
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
    let (millis, i) = fraction(t, 19).ok_or_else(err)?;
    let offset = offset_seconds(t, i).ok_or_else(err)?;
    // A leap second counts as the last second of the minute.
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
    Ok(secs * 1000 + millis)
}

/// The milliseconds of an optional `.DIGITS` at `i`, and the index after it.
fn fraction(t: &str, i: usize) -> Option<(i64, usize)> {
    if t.as_bytes()[i] != b'.' {
        return Some((0, i));
    }
    let digits: &str = &t[i + 1..];
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let ms = format!("{:0<3}", &digits[..n.min(3)]).parse().ok()?;
    Some((ms, i + 1 + n))
}

/// The offset `Z` or `±HH:MM` that must end the text at `i`, in seconds east of UTC.
fn offset_seconds(t: &str, i: usize) -> Option<i64> {
    let b = t.as_bytes();
    match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => Some(0),
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let two = |from: usize| t[from..from + 2].bytes().all(|c| c.is_ascii_digit()).then(|| t[from..from + 2].parse::<i64>().ok()).flatten();
            let (h, m) = (two(i + 1)?, two(i + 4)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            Some(if *sign == b'-' { -o } else { o })
        }
        _ => None,
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

/// Now by the WASI wall clock: the fallback when a plan carries no readable time.
pub fn system_now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_fractions_and_offsets() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339_ms("2026-11-26T14:30:00Z").unwrap(), 1_795_703_400_000);
        assert_eq!(parse_rfc3339_ms("2026-11-26T23:30:00+09:00").unwrap(), 1_795_703_400_000);
        assert_eq!(parse_rfc3339_ms("2026-11-26T09:30:00-05:00").unwrap(), 1_795_703_400_000);
        assert_eq!(parse_rfc3339_ms("2026-11-26t14:30:00z").unwrap(), 1_795_703_400_000);
        assert_eq!(parse_rfc3339_ms("2026-11-26T14:30:00.123Z").unwrap(), 1_795_703_400_123);
        assert_eq!(parse_rfc3339_ms("2026-11-26T14:30:00.5Z").unwrap(), 1_795_703_400_500);
        assert_eq!(parse_rfc3339_ms("2026-11-26T14:30:00.123456789+00:00").unwrap(), 1_795_703_400_123);
        assert_eq!(parse_rfc3339_ms("2000-02-29T00:00:00Z").unwrap(), 951_782_400_000);
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
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
            "2026/11/26T14:30:00Z",
            "2026-11-26T14:30:00ÄZ",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad}");
        }
    }
}
