//! ECS reads that return definitions as JSON (see [`super::raw`]).

use anyhow::{Context, Result};
use aws_sdk_ecs::types::{ServiceField, SortOrder, TaskDefinitionField, TaskDefinitionStatus};
use serde_json::Value;

use super::SdkContext;
use super::raw::RawJson;

/// DescribeServices (with tags) for one service: its JSON, or None when missing or INACTIVE.
pub async fn describe_service(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<Option<Value>> {
    describe_service_with(ecs, cluster, service, None).await
}

/// SDK attempts of one poll of a wait. The wait retries failed polls itself, with its own back-off,
/// and reports the outage with its error: eight SDK attempts inside one poll (~30 s) would hide an
/// outage past a short deadline, with nothing to name but the deadline.
pub const POLL_ATTEMPTS: u32 = 2;

/// [`describe_service`] for a wait's poll: at most [`POLL_ATTEMPTS`] SDK attempts.
pub async fn poll_service(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<Option<Value>> {
    describe_service_with(ecs, cluster, service, Some(POLL_ATTEMPTS)).await
}

async fn describe_service_with(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str, attempts: Option<u32>) -> Result<Option<Value>> {
    let raw = RawJson::capture();
    let mut req = ecs.describe_services().cluster(cluster).services(service).include(ServiceField::Tags).customize();
    if let Some(n) = attempts {
        let configured = ecs.config().retry_config().map(|r| r.max_attempts()).unwrap_or(n);
        let retry = aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(n.min(configured).max(1));
        req = req.config_override(aws_sdk_ecs::config::Builder::default().retry_config(retry));
    }
    req.interceptor(raw.clone()).send().await.sdk_context(|| format!("describing service {service} in cluster {cluster}"))?;
    let body = raw.response_json()?;
    let svc =
        body.get("services").and_then(Value::as_array).and_then(|s| s.iter().find(|s| s.get("status").and_then(Value::as_str) != Some("INACTIVE"))).cloned();
    Ok(svc)
}

/// DescribeTaskDefinition (with tags): `(taskDefinition, tags)`.
pub async fn describe_task_definition(ecs: &aws_sdk_ecs::Client, td: &str) -> Result<(Value, Value)> {
    let raw = RawJson::capture();
    ecs.describe_task_definition()
        .task_definition(td)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("describing task definition {td}"))?;
    let body = raw.response_json()?;
    let def = body.get("taskDefinition").cloned().context("DescribeTaskDefinition returned no taskDefinition")?;
    let tags = body.get("tags").cloned().unwrap_or(Value::Null);
    Ok((def, tags))
}

/// The ARN of the newest ACTIVE revision of `family`, if any.
///
/// Asks for one result sorted descending (one call on AWS) but still takes the highest revision of
/// whatever comes back, so a server that ignores sort and page size answers correctly too.
pub async fn latest_task_definition_arn(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<Option<String>> {
    let out = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .max_results(1)
        .send()
        .await
        .sdk_context(|| format!("listing task definitions of family {family}"))?;
    Ok(out.task_definition_arns().iter().filter(|arn| family_of_arn(arn) == Some(family)).max_by_key(|arn| revision_of_arn(arn).unwrap_or(0)).cloned())
}

/// A cluster's name however the config spells it: `g1` or `arn:PARTITION:ecs:REGION:ACCOUNT:cluster/g1`.
/// Deploy locks and audit chains are keyed by it, so two configs naming one cluster differently
/// take the same lock and extend the same chain.
pub fn cluster_name(cluster: &str) -> &str {
    match cluster.strip_prefix("arn:").and_then(|rest| rest.split_once(":cluster/")) {
        Some((_, name)) => name,
        None => cluster,
    }
}

/// `arn:aws:ecs:r:a:task-definition/family:12` → `family`
pub fn family_of_arn(arn: &str) -> Option<&str> {
    let tail = arn.rsplit_once('/').map(|(_, t)| t).unwrap_or(arn);
    tail.rsplit_once(':').map(|(f, _)| f)
}

/// `…/family:12` → 12
pub fn revision_of_arn(arn: &str) -> Option<i64> {
    arn.rsplit_once(':').and_then(|(_, r)| r.parse().ok())
}

/// `family:rev` from an ARN (or the input when it is not an ARN).
pub fn short_task_definition(arn: &str) -> &str {
    arn.rsplit_once('/').map(|(_, t)| t).unwrap_or(arn)
}

/// The registerable subset of a described task definition, with its tags folded in.
pub fn registerable(def: &Value, tags: &Value) -> Value {
    let wrapped = serde_json::json!({"taskDefinition": def, "tags": tags});
    crate::definitions::task_definition_from_value(wrapped).unwrap_or_else(|_| def.clone())
}

/// Every ACTIVE revision ARN of `family`, ascending by revision (all pages).
pub async fn active_revisions(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut pages = ecs.list_task_definitions().family_prefix(family).status(TaskDefinitionStatus::Active).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.sdk_context(|| format!("listing task definitions of family {family}"))?;
        arns.extend(page.task_definition_arns().iter().filter(|a| family_of_arn(a) == Some(family)).cloned());
    }
    arns.sort_by_key(|a| revision_of_arn(a).unwrap_or(0));
    arns.dedup();
    Ok(arns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_parts() {
        assert_eq!(cluster_name("arn:aws-cn:ecs:cn-north-1:123456789012:cluster/g1"), "g1");
        assert_eq!(cluster_name("g1"), "g1");
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/app-web:12";
        assert_eq!(family_of_arn(arn), Some("app-web"));
        assert_eq!(revision_of_arn(arn), Some(12));
        assert_eq!(short_task_definition(arn), "app-web:12");
    }
}
