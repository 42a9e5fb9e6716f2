//! Team-shared state on S3: `audit_log: s3://bucket/prefix/`, `lock: s3://bucket/prefix/`,
//! `audit_retention: 7y` (+ `audit_retention_mode`). Parsed here so that a bad URL or period is
//! bad input (exit 2, naming the key) before any AWS call.

use std::time::Duration;

/// `s3://bucket/prefix/`: the prefix is kept with a trailing `/` (or empty for the bucket root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// `None` when `s` is not an `s3://` URL; an error when it is one but malformed.
    pub fn parse(s: &str) -> Option<Result<S3Url, String>> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return Some(Err(format!("{s:?}: expected s3://BUCKET/PREFIX/ with a valid bucket name")));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Some(Ok(S3Url { bucket: bucket.to_owned(), prefix }))
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// What signs each gated command's evidence (`signing:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// `key_file: PATH`: an Ed25519 seed, 64 hex digits.
    KeyFile(std::path::PathBuf),
    /// `kms_key: ARN`: an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY); KMS Sign, ECDSA_SHA_256.
    Kms(String),
}

/// Object Lock retention for each audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub period: Duration,
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
}

/// `7y`, `90d`, `12h` or a Go duration; a year is 365 days (S3 counts retention in days/years).
pub fn parse_period(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let unit = |n: &str, secs: u64| -> Result<Duration, String> {
        n.parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| Duration::from_secs(n * secs))
            .ok_or_else(|| format!("{s:?}: expected a positive period like 7y, 90d or 12h"))
    };
    if let Some(n) = s.strip_suffix('y') {
        unit(n, 365 * 86_400)
    } else if let Some(n) = s.strip_suffix('d') {
        unit(n, 86_400)
    } else {
        super::duration::parse_go_duration(s)
            .map_err(|e| e.to_string())
            .and_then(|d| if d.is_zero() { Err(format!("{s:?}: a retention must be positive")) } else { Ok(d) })
    }
}

pub fn parse_mode(s: &str) -> Result<String, String> {
    match s.to_ascii_uppercase().as_str() {
        m @ ("GOVERNANCE" | "COMPLIANCE") => Ok(m.to_owned()),
        _ => Err(format!("{s:?}: expected GOVERNANCE or COMPLIANCE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_periods() {
        assert_eq!(S3Url::parse("s3://team-audit/prod").unwrap().unwrap(), S3Url { bucket: "team-audit".into(), prefix: "prod/".into() });
        assert_eq!(S3Url::parse("s3://b1x/").unwrap().unwrap().prefix, "");
        assert!(S3Url::parse("s3:///x").unwrap().is_err());
        assert!(S3Url::parse("audit.jsonl").is_none());
        assert_eq!(parse_period("7y").unwrap(), Duration::from_secs(7 * 365 * 86_400));
        assert_eq!(parse_period("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_period("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_period("0d").is_err() && parse_period("x").is_err());
        assert!(parse_mode("governance").is_ok() && parse_mode("strict").is_err());
    }
}
