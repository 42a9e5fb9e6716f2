//! One analysis run per lifecycle hook: Argo Rollouts' measurement counters and the decision they
//! lead to. The host re-asks the gate at every poll while it answers inconclusive and records a
//! verdict only when its reasons change, so between measurements the last verdict is returned
//! unchanged, and a final verdict (allow, deny, or inconclusive for good) never measures again.

use cortado_plugin_sdk::{Decision, info};

use crate::config::Config;
use crate::measure::{self, Measurement, Outcome};

#[derive(Debug, Default)]
pub struct Analysis {
    measurements: u32,
    successes: u32,
    failures: u32,
    inconclusives: u32,
    consecutive_successes: u32,
    last_at_ms: Option<i64>,
    verdict: Option<Decision>,
    finished: bool,
}

/// Where the counters lead, with the summary that ends the reasons.
enum Step {
    Deny(String),
    Allow(String),
    /// Inconclusive for good: no further measurement can change it.
    Stuck(String),
    More(String),
}

impl Analysis {
    /// The verdict at `now_ms`: measures first when a measurement is due.
    pub fn ask(&mut self, config: &Config, now_ms: i64, hook: &str) -> Decision {
        if let Some(verdict) = &self.verdict
            && (self.finished || !self.due(config, now_ms))
        {
            return verdict.clone();
        }
        let m = measure::measure(config, now_ms.div_euclid(1000));
        self.record(&m, now_ms);
        let prefix = format!("measurement {} of {}: ", self.measurements, config.count);
        info!("{hook}: {prefix}{} (measurement {})", m.details.join("; "), m.outcome.word());
        let verdict = self.conclude(config, &prefix, &m, hook);
        self.verdict = Some(verdict.clone());
        verdict
    }

    /// None yet, or `interval` passed since the last one (by the plans' clock).
    fn due(&self, config: &Config, now_ms: i64) -> bool {
        self.last_at_ms.is_none_or(|last| now_ms.saturating_sub(last) >= config.interval.ms)
    }

    fn record(&mut self, m: &Measurement, now_ms: i64) {
        self.measurements += 1;
        self.last_at_ms = Some(now_ms);
        match m.outcome {
            Outcome::Successful => self.successes += 1,
            Outcome::Failed => self.failures += 1,
            Outcome::Inconclusive => self.inconclusives += 1,
        }
        self.consecutive_successes = if m.outcome == Outcome::Successful { self.consecutive_successes + 1 } else { 0 };
    }

    /// The decision after a measurement; a final one (anything but "more needed") is kept for good.
    fn conclude(&mut self, config: &Config, prefix: &str, m: &Measurement, hook: &str) -> Decision {
        let step = self.step(config);
        self.finished = !matches!(step, Step::More(_));
        let reasons = |summary: String| -> Vec<String> {
            let mut lines: Vec<String> = m.details.iter().map(|d| format!("{prefix}{d}")).collect();
            if let Some(last) = lines.last_mut() {
                last.push_str(&format!("; {summary}"));
            }
            lines
        };
        match step {
            Step::Deny(s) => Decision::Deny(reasons(s)),
            Step::Allow(s) => {
                info!("{hook}: analysis successful: {s}");
                Decision::Allow
            }
            Step::Stuck(s) | Step::More(s) => Decision::Inconclusive(reasons(s)),
        }
    }

    /// The decision table, in order (Argo's AnalysisRun phases).
    fn step(&self, c: &Config) -> Step {
        let tally = format!("{} successful, {} failed, {} inconclusive", self.successes, self.failures, self.inconclusives);
        if self.failures > c.failure_limit {
            Step::Deny(format!("{} failed measurement(s), failure_limit {}", self.failures, c.failure_limit))
        } else if c.consecutive_success_limit > 0 && self.consecutive_successes >= c.consecutive_success_limit {
            Step::Allow(format!(
                "{} consecutive successful measurement(s), consecutive_success_limit {}",
                self.consecutive_successes, c.consecutive_success_limit
            ))
        } else if self.inconclusives > c.inconclusive_limit {
            Step::Stuck(format!("{} inconclusive measurement(s), inconclusive_limit {}: analysis inconclusive", self.inconclusives, c.inconclusive_limit))
        } else if c.consecutive_success_limit == 0 && self.measurements >= c.count {
            Step::Allow(format!("{} of {} measurements: {tally}", self.measurements, c.count))
        } else if self.measurements >= c.count {
            Step::Stuck(format!(
                "{} consecutive successful measurement(s) after all {} measurements, consecutive_success_limit {} not reached: analysis inconclusive",
                self.consecutive_successes, c.count, c.consecutive_success_limit
            ))
        } else {
            Step::More(format!("{tally}; next measurement after {}", c.interval.text))
        }
    }
}
