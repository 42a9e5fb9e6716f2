//! When to poll next. A wait should notice a finished rollout quickly (within half a second) without
//! spending the account's API budget while tasks are still starting. It polls slowly (4 s, backing
//! off to 5 s and 10 s on long waits) unless it can predict the end: then it looks again halfway to
//! a far end (at most 30 s later), sleeps until just before a near one and polls every 250 ms from
//! there. A token bucket (one call per 3 s on
//! average, a burst of 4) keeps any minute of waiting at about 20 calls however the prediction fares.

use std::time::{Duration, Instant};

const FAST: Duration = Duration::from_millis(250);
/// How early before a predicted end the fast polls start.
const LEAD: Duration = Duration::from_millis(200);
/// One call per this much time on average.
const BUDGET: Duration = Duration::from_secs(3);
const BURST: f64 = 4.0;
/// The longest pause while a predicted end is far away.
const FAR: Duration = Duration::from_secs(30);

pub struct Pacer {
    /// `CORTADO_POLL_INTERVAL`: a fixed interval (tests), no budget.
    fixed: Option<Duration>,
    tokens: f64,
    refilled: Instant,
    start: Instant,
}

impl Pacer {
    pub fn new(fixed: Option<Duration>) -> Pacer {
        let now = Instant::now();
        Pacer { fixed, tokens: BURST, refilled: now, start: now }
    }

    /// The slow interval, by how long the wait has lasted.
    pub fn slow(waited: Duration) -> Duration {
        match waited.as_secs() {
            0..300 => Duration::from_secs(4),
            300..900 => Duration::from_secs(5),
            _ => Duration::from_secs(10),
        }
    }

    /// The pause before the next call (which is counted against the budget now). `eta` is the
    /// predicted time to the end, when the caller can tell (zero: it looks imminent).
    pub fn next(&mut self, eta: Option<Duration>) -> Duration {
        if let Some(d) = self.fixed {
            return d;
        }
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() / BUDGET.as_secs_f64()).min(BURST);
        let slow = Self::slow(now.duration_since(self.start));
        let wanted = match eta {
            Some(e) if e.saturating_sub(LEAD) <= slow => e.saturating_sub(LEAD).max(FAST),
            // Far from the end: look again halfway there, so a rollout that speeds up is noticed
            // after at most half the time it had left, in a few calls however long it is.
            Some(e) => (e / 2).clamp(slow, FAR),
            None => slow,
        };
        // The call after the pause costs one token: wait until it is there.
        let short = Duration::from_secs_f64((1.0 - self.tokens).max(0.0) * BUDGET.as_secs_f64());
        let d = wanted.max(short);
        self.tokens = (self.tokens + d.as_secs_f64() / BUDGET.as_secs_f64()).min(BURST) - 1.0;
        self.refilled = now + d;
        d
    }
}

/// The time left at the rate seen so far: `done` units took `busy` (up to the last change, which
/// was `since` ago), `left` remain.
pub fn eta(done: f64, left: f64, busy: Duration, since: Duration) -> Option<Duration> {
    if left <= 0.0 {
        return Some(Duration::ZERO);
    }
    if done <= 0.0 {
        // Nothing has happened yet: look again after as long as it has taken so far (at least 1 s).
        return Some((busy + since).clamp(Duration::from_secs(1), Duration::from_secs(4)));
    }
    let total = (busy.as_secs_f64() / done * left).min(3600.0);
    Some(Duration::from_secs_f64((total - since.as_secs_f64()).max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_follow_the_prediction_within_the_budget() {
        let mut p = Pacer::new(None);
        assert_eq!(p.next(None), Duration::from_secs(4));
        assert_eq!(p.next(Some(Duration::from_secs(2))), Duration::from_millis(1800));
        // Far away: halfway there, never sooner than the slow interval nor later than FAR.
        assert_eq!(p.next(Some(Duration::from_secs(27))), Duration::from_millis(13500));
        assert_eq!(p.next(Some(Duration::from_secs(6))), Duration::from_secs(4));
        assert_eq!(p.next(Some(Duration::from_secs(600))), FAR);
        // At the end: a burst of fast polls, then about one call per budget period.
        let pauses: Vec<Duration> = (0..8).map(|_| p.next(Some(Duration::ZERO))).collect();
        assert_eq!(pauses[0], FAST, "{pauses:?}");
        let total: Duration = pauses.iter().sum();
        assert!(total >= BUDGET.mul_f64(8.0 - BURST - 1.0), "{pauses:?}");
        assert_eq!(Pacer::new(Some(Duration::from_millis(100))).next(None), Duration::from_millis(100));
        let s = Duration::from_secs;
        assert_eq!(eta(2.0, 1.0, s(4), s(0)), Some(s(2)));
        assert_eq!(eta(0.0, 1.0, Duration::from_millis(300), s(0)), Some(s(1)));
    }

    #[test]
    fn the_rate_is_measured_to_the_last_change_not_to_the_read() {
        let s = Duration::from_secs_f64;
        // One task started 1 s in, read 0.9 s later: two more take 2 s from the change, 1.1 s from now
        // (measured to the read it would be 3.8 s).
        let left = eta(1.0, 2.0, s(1.0), s(0.9)).unwrap();
        assert!((left.as_secs_f64() - 1.1).abs() < 1e-9, "{left:?}");
        // Overdue: look now.
        assert_eq!(eta(1.0, 1.0, s(1.0), s(5.0)), Some(Duration::ZERO));
    }
}
