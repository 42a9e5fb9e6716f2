//! cortado's first-party `canary-analysis` stage gate: Argo Rollouts' AnalysisTemplate semantics
//! (measurements, success/failure conditions, failure/inconclusive/consecutive-success limits,
//! count, interval) over CloudWatch metrics, judging an ECS deployment paused at a lifecycle hook.
//!
//! Bound with `stages: [POST_TEST_TRAFFIC_SHIFT]` beside a PAUSE hook at that stage, the gate is
//! asked at each poll while it answers inconclusive. Each answer either measures (none yet, or
//! `interval` passed since the last one, by the plan's `time`) or repeats the last verdict
//! word for word, so the host's audit log gets a record per measurement, not per poll.
//!
//! - Plans without a `stage` are allowed: the gate only judges stages.
//! - A config that cannot be read denies every plan, with the error (it fails closed).
//! - Capabilities: `cloudwatch:GetMetricData` on `arn:aws:cloudwatch:*:*:metric/NAMESPACE/METRIC`
//!   for each configured metric.
//!
//! See README.md for the config and the decision table.
mod analysis;
mod condition;
mod config;
mod measure;

use std::collections::HashMap;

use cortado_plugin_sdk::{Decision, Manifest, Plan, Plugin, debug, host, register_plugin, time};

use crate::analysis::Analysis;
use crate::config::Config;

struct CanaryAnalysis {
    config: Result<Config, String>,
    /// One analysis per (service deployment ARN, hook id): a new hook starts from zero.
    analyses: HashMap<(String, String), Analysis>,
}

impl Plugin for CanaryAnalysis {
    fn new() -> Self {
        let config = host::config_value().and_then(|v| Config::from_value(&v));
        if let Err(e) = &config {
            host::error(format!("canary-analysis: {e}; every plan will be denied"));
        }
        CanaryAnalysis { config, analyses: HashMap::new() }
    }

    fn manifest(&self) -> Manifest {
        let m = Manifest::new("canary-analysis", env!("CARGO_PKG_VERSION"))
            .description("canary analysis at an ECS lifecycle stage: CloudWatch metrics judged like Argo Rollouts' AnalysisTemplate")
            .gate();
        let metrics = self.config.as_ref().map(|c| c.metrics.as_slice()).unwrap_or_default();
        metrics.iter().fold(m, |m, x| m.capability("cloudwatch:GetMetricData", format!("arn:aws:cloudwatch:*:*:metric/{}/{}", x.namespace, x.metric)))
    }

    fn evaluate(&mut self, plan: &Plan) -> Decision {
        let config = match &self.config {
            Ok(c) => c,
            Err(e) => return Decision::Deny(vec![format!("canary-analysis config: {e}")]),
        };
        let Some(stage) = &plan.stage else {
            return Decision::Allow;
        };
        let key = (stage.service_deployment_arn.clone(), stage.hook_id.clone());
        let hook = format!("{} hook {}", stage.name, stage.hook_id);
        self.analyses.entry(key).or_default().ask(config, now_ms(plan), &hook)
    }
}

/// The plan's time, or the WASI clock when the host sent none it could read.
fn now_ms(plan: &Plan) -> i64 {
    time::parse_rfc3339(&plan.time).map(time::millis).unwrap_or_else(|e| {
        debug!("{e}; using the system clock");
        time::now_millis()
    })
}

register_plugin!(CanaryAnalysis);

#[cfg(test)]
mod tests;
