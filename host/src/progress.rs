//! What the pipeline stages tell the person (or machine) running cortado while they work. The
//! stages only call this trait; `output::progress::Reporter` decides how it looks (a live line on a
//! terminal, timestamped lines in CI, JSON lines with `--output json`), so no stage imports output.

use serde_json::Value;

pub trait Progress: Send + Sync {
    /// A log-like message: what cortado does.
    fn info(&self, msg: &str);
    /// A service event from ECS, with its own time.
    fn event(&self, created_at: &Value, message: &str);
    /// The service's deployments, when they changed (raw DescribeServices objects).
    fn deployments(&self, deployments: &[Value]);
    /// A one-line status of what is being waited for (a terminal shows it in place).
    fn status(&self, msg: &str);
    /// A native strategy's service deployment (a DescribeServiceDeployments object), when it
    /// changed: its stage and traffic weights join the live view. Optional for reporters.
    fn service_deployment(&self, _sd: &Value) {}
}

/// Progress that goes nowhere (benchmarks, tests, nested calls whose caller reports).
pub struct Silent;

impl Progress for Silent {
    fn info(&self, _: &str) {}
    fn event(&self, _: &Value, _: &str) {}
    fn deployments(&self, _: &[Value]) {}
    fn status(&self, _: &str) {}
}
