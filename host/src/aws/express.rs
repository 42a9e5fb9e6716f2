//! ECS Express mode: the reads (as JSON, see [`super::raw`]). An Express service is an ECS service
//! that ECS manages itself (`resourceManagementType: ECS`), addressed by the service's ARN;
//! DescribeExpressGatewayService answers its configurations (`activeConfigurations`) and the
//! service deployment that rolls the newest one out (`currentDeployment`).

use anyhow::Result;
use serde_json::Value;

use super::raw::RawJson;
use super::{AwsError, SdkContext};

/// Whether a described ECS service is an Express service (ECS manages its resources).
pub fn is_express(service: &Value) -> bool {
    service.get("resourceManagementType").and_then(Value::as_str) == Some("ECS")
}

/// Whether an error is ECS saying there is no such Express service.
fn not_found(e: &anyhow::Error) -> bool {
    matches!(AwsError::find(e).and_then(|a| a.code.as_deref()), Some("ResourceNotFoundException" | "ServiceNotFoundException"))
}

/// DescribeExpressGatewayService: the `ECSExpressGatewayService`, or None when ECS knows none by
/// that ARN or it is INACTIVE (deleted).
pub async fn describe(ecs: &aws_sdk_ecs::Client, service_arn: &str) -> Result<Option<Value>> {
    describe_with(ecs, service_arn, None).await
}

/// [`describe`] for a wait's poll: at most [`super::ecs::POLL_ATTEMPTS`] SDK attempts.
pub async fn poll(ecs: &aws_sdk_ecs::Client, service_arn: &str) -> Result<Option<Value>> {
    describe_with(ecs, service_arn, Some(super::ecs::POLL_ATTEMPTS)).await
}

async fn describe_with(ecs: &aws_sdk_ecs::Client, service_arn: &str, attempts: Option<u32>) -> Result<Option<Value>> {
    let raw = RawJson::capture();
    let mut req = ecs.describe_express_gateway_service().service_arn(service_arn).customize();
    if let Some(n) = attempts {
        let retry = aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(n.max(1));
        req = req.config_override(aws_sdk_ecs::config::Builder::default().retry_config(retry));
    }
    let r = req.interceptor(raw.clone()).send().await.sdk_context(|| format!("describing Express service {service_arn}"));
    match r {
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(_) => {
            let svc = raw.response_json()?.get("service").cloned();
            Ok(svc.filter(|s| status_code(s) != "INACTIVE"))
        }
    }
}

/// `status.statusCode`: ACTIVE, DRAINING or INACTIVE.
pub fn status_code(svc: &Value) -> &str {
    svc.pointer("/status/statusCode").and_then(Value::as_str).unwrap_or("")
}

/// The newest of the service's active configurations (the one its current deployment rolls out).
pub fn newest_configuration(svc: &Value) -> Option<&Value> {
    let configs = svc.get("activeConfigurations").and_then(Value::as_array)?;
    configs.iter().max_by(|a, b| created(a).total_cmp(&created(b)))
}

/// A configuration's `createdAt` as epoch seconds (the SDK's JSON sends a number; 0 when absent).
fn created(config: &Value) -> f64 {
    config.get("createdAt").and_then(Value::as_f64).unwrap_or(0.0)
}

/// The public or private endpoints of a configuration (`ingressPaths[].endpoint`).
pub fn endpoints(config: &Value) -> Vec<String> {
    config
        .get("ingressPaths")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| format!("{} {}", p.get("accessType").and_then(Value::as_str).unwrap_or("?"), p.get("endpoint").and_then(Value::as_str).unwrap_or("?")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_newest_configuration_wins() {
        let svc = json!({"activeConfigurations": [{"cpu": "256", "createdAt": 10.0}, {"cpu": "512", "createdAt": 20.5}]});
        assert_eq!(newest_configuration(&svc).and_then(|c| c.get("cpu")), Some(&json!("512")));
        assert!(newest_configuration(&json!({})).is_none());
        assert!(is_express(&json!({"resourceManagementType": "ECS"})));
        assert!(!is_express(&json!({"resourceManagementType": "CUSTOMER"})));
    }
}
