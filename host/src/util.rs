//! The clock and the hash, one of each: records, locks, waits and audit entries must agree on what
//! "now" is and on how a digest is written, so each is computed here and nowhere else.

use sha2::{Digest, Sha256};

/// Now, as epoch seconds with millisecond precision (ECS reports `createdAt` and event times so,
/// and waits compare against them).
pub fn epoch_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// Now, as whole epoch seconds (lock expiries, retention dates).
pub fn epoch_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Now, as RFC 3339 UTC to the second (`2025-06-01T12:00:00Z`), the form audit records use.
pub fn rfc3339_now() -> String {
    rfc3339(epoch_secs())
}

/// Now, as RFC 3339 UTC with the clock's fraction of a second: the `time` of JSON progress lines,
/// which several per second must order.
pub fn rfc3339_now_precise() -> String {
    jiff::Timestamp::now().to_string()
}

/// Epoch seconds as RFC 3339 UTC to the second; empty when out of range.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

/// The SHA-256 of `bytes`, lower-case hex: plan digests, audit chain links, plugin digests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `len` hex characters (at most 64) unique to this call: the time, the process and a counter,
/// hashed. For run ids, lock tokens and client tokens, which must not repeat across processes
/// but need not be secret.
pub fn unique_hex(salt: &str, len: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let seed = format!("{salt}:{nanos}:{}:{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut hex = sha256_hex(seed.as_bytes());
    hex.truncate(len.min(64));
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_forms_agree() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        let (f, s) = (epoch_now(), epoch_secs());
        assert!((f - s as f64).abs() < 2.0);
        assert_eq!(rfc3339_now().len(), "1970-01-01T00:00:00Z".len());
    }

    #[test]
    fn hashes_are_lower_hex_and_ids_do_not_repeat() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let (a, b) = (unique_hex("x", 32), unique_hex("x", 32));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(unique_hex("x", 100).len(), 64);
    }
}
