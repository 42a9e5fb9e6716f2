//! Metric and target-health reads for canary analysis (WIT `cortado:plugin@0.2.0`), made by the
//! host on the plugin's behalf within the operator's grants, like [`crate::aws`].
//!
//! Neither CloudWatch `GetMetricData` nor ELBv2 `DescribeTargetHealth` has IAM resource-level
//! permissions, so the host narrows them itself: a query is sent only when its pseudo-ARN
//! `arn:aws:cloudwatch:REGION:ACCOUNT:metric/NAMESPACE/METRIC` matches a grant for
//! `cloudwatch:GetMetricData`, and a target group only when its ARN matches one for
//! `elasticloadbalancing:DescribeTargetHealth`.

pub use crate::aws::AwsError;
pub use crate::bindings::cortado::plugin::metrics::{Dimension, MetricQuery, MetricResult, TargetHealth};

/// The most queries one call may carry (CloudWatch's own limit is 500; the host keeps plugins small).
pub const MAX_QUERIES: usize = 50;

/// `cloudwatch:GetMetricData`: each query's datapoints between `start` and `end` (seconds since
/// the Unix epoch), newest first.
pub fn cloudwatch_get_metric_data(queries: &[MetricQuery], start: i64, end: i64) -> Result<Vec<MetricResult>, AwsError> {
    crate::sys::cloudwatch_get_metric_data(queries, start, end)
}

/// `elasticloadbalancing:DescribeTargetHealth` for one target group (by ARN).
pub fn elbv2_describe_target_health(target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
    crate::sys::elbv2_describe_target_health(target_group_arn)
}

impl MetricQuery {
    /// A query for `namespace`/`metric_name` with statistic `stat` over `period_seconds` buckets.
    pub fn new(id: impl Into<String>, namespace: impl Into<String>, metric_name: impl Into<String>, stat: impl Into<String>, period_seconds: u32) -> Self {
        MetricQuery {
            id: id.into(),
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            dimensions: Vec::new(),
            stat: stat.into(),
            period_seconds,
            unit: None,
        }
    }

    /// Adds a dimension (`LoadBalancer`, `TargetGroup`, `ServiceName`, ...).
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push(Dimension { name: name.into(), value: value.into() });
        self
    }
}
