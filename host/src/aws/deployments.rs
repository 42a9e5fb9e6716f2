//! ECS service deployments (the 2025 deployment API): reads of ListServiceDeployments,
//! DescribeServiceDeployments and DescribeServiceRevisions, as JSON (see [`super::raw`]) so that
//! statuses the SDK enum lacks (ROLLBACK_REQUESTED) and newer fields pass through.

use anyhow::Result;
use serde_json::Value;

use super::SdkContext;
use super::raw::RawJson;

/// The deployment lifecycle stages (`lifecycleStage`), in the order a deployment passes them.
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

pub use crate::config::stages::{HOOK_STAGES, NO_PAUSE};

/// Statuses after which nothing more happens.
pub const FINISHED: [&str; 4] = ["SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"];

/// The position of a deployment stage, for "already passed" comparisons.
pub fn stage_index(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == stage)
}

/// ListServiceDeployments, newest first: `serviceDeploymentArn`, `status`, `createdAt`,
/// `targetServiceRevisionArn` per entry. `after` (epoch seconds) filters on createdAt.
pub async fn list(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str, statuses: &[&str], after: Option<f64>) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let raw = RawJson::capture();
        let mut req = ecs.list_service_deployments().cluster(cluster).service(service).set_next_token(token.clone());
        for s in statuses {
            req = req.status(aws_sdk_ecs::types::ServiceDeploymentStatus::from(*s));
        }
        if let Some(t) = after {
            let at = aws_sdk_ecs::primitives::DateTime::from_millis((t * 1000.0) as i64);
            req = req.created_at(aws_sdk_ecs::types::CreatedAt::builder().after(at).build());
        }
        req.customize().interceptor(raw.clone()).send().await.sdk_context(|| format!("listing the service deployments of {service}"))?;
        let body = raw.response_json()?;
        out.extend(body.get("serviceDeployments").and_then(Value::as_array).cloned().unwrap_or_default());
        token = body.get("nextToken").and_then(Value::as_str).map(str::to_owned);
        if token.is_none() || out.len() >= 100 {
            break;
        }
    }
    out.sort_by(|a, b| num(b, "createdAt").total_cmp(&num(a, "createdAt")));
    Ok(out)
}

fn num(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

/// DescribeServiceDeployments: the deployments found (unknown ARNs are left out).
pub async fn describe(ecs: &aws_sdk_ecs::Client, arns: &[String]) -> Result<Vec<Value>> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let raw = RawJson::capture();
    ecs.describe_service_deployments()
        .set_service_deployment_arns(Some(arns.to_vec()))
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| "describing service deployments".into())?;
    Ok(raw.response_json()?.get("serviceDeployments").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// DescribeServiceRevisions: the revisions found.
pub async fn revisions(ecs: &aws_sdk_ecs::Client, arns: &[String]) -> Result<Vec<Value>> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let raw = RawJson::capture();
    ecs.describe_service_revisions()
        .set_service_revision_arns(Some(arns.to_vec()))
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| "describing service revisions".into())?;
    Ok(raw.response_json()?.get("serviceRevisions").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// The task definition of each revision ARN (`(revision, taskDefinition)`).
pub async fn revision_task_definitions(ecs: &aws_sdk_ecs::Client, arns: &[String]) -> Result<Vec<(String, String)>> {
    let revs = revisions(ecs, arns).await?;
    Ok(revs.iter().map(|r| (s(r, "serviceRevisionArn").to_owned(), s(r, "taskDefinition").to_owned())).collect())
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The newest service deployment of the service (any status), described.
pub async fn newest(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<Option<Value>> {
    let list = list(ecs, cluster, service, &[], None).await?;
    let Some(first) = list.first() else { return Ok(None) };
    Ok(describe(ecs, &[s(first, "serviceDeploymentArn").to_owned()]).await?.into_iter().next())
}

/// The newest deployment still in progress (PENDING or IN_PROGRESS), described.
pub async fn in_progress(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<Option<Value>> {
    let list = list(ecs, cluster, service, &["PENDING", "IN_PROGRESS"], None).await?;
    let Some(first) = list.first() else { return Ok(None) };
    Ok(describe(ecs, &[s(first, "serviceDeploymentArn").to_owned()]).await?.into_iter().next())
}

/// A PAUSE hook of a described deployment that waits for ContinueServiceDeployment.
#[derive(Debug, Clone, PartialEq)]
pub struct PausedHook {
    pub hook_id: String,
    /// The hook stage it pauses at (PRODUCTION_TRAFFIC_SHIFT reported means PRE_PRODUCTION_TRAFFIC_SHIFT:
    /// PAUSE is not allowed at the traffic-shift stages themselves).
    pub stage: String,
    pub expires_at: Option<f64>,
    pub timeout_action: String,
}

/// The PAUSE hooks in AWAITING_ACTION of a described deployment.
pub fn paused_hooks(sd: &Value) -> Vec<PausedHook> {
    let stage = s(sd, "lifecycleStage");
    let stage = if stage == "PRODUCTION_TRAFFIC_SHIFT" { "PRE_PRODUCTION_TRAFFIC_SHIFT" } else { stage };
    sd.get("lifecycleHookDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|h| s(h, "targetType") == "PAUSE" && s(h, "status") == "AWAITING_ACTION")
        .map(|h| PausedHook {
            hook_id: s(h, "hookId").to_owned(),
            stage: stage.to_owned(),
            expires_at: h.get("expiresAt").and_then(Value::as_f64),
            timeout_action: s(h, "timeoutAction").to_owned(),
        })
        .collect()
}

/// `hook-id TYPE STATUS`, for reports.
pub fn hooks_summary(sd: &Value) -> Vec<String> {
    sd.get("lifecycleHookDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|h| {
            let target = s(h, "targetArn");
            let what = if target.is_empty() { s(h, "targetType").to_owned() } else { format!("{} {target}", s(h, "targetType")) };
            format!("{} ({what}) {}", s(h, "hookId"), s(h, "status"))
        })
        .collect()
}

/// `target <rev> test N% production N%; source <rev> …`, or "" when the strategy shifts no traffic.
pub fn weights_summary(sd: &Value) -> String {
    let one = |label: &str, r: &Value| {
        format!(
            "{label} {} running:{} test:{}% production:{}%",
            short_revision(s(r, "arn")),
            r.get("runningTaskCount").and_then(Value::as_i64).unwrap_or(0),
            r.get("requestedTestTrafficWeight").and_then(Value::as_f64).unwrap_or(0.0),
            r.get("requestedProductionTrafficWeight").and_then(Value::as_f64).unwrap_or(0.0)
        )
    };
    let mut parts = Vec::new();
    if let Some(t) = sd.get("targetServiceRevision") {
        parts.push(one("target", t));
    }
    for src in sd.get("sourceServiceRevisions").and_then(Value::as_array).into_iter().flatten() {
        parts.push(one("source", src));
    }
    parts.join("; ")
}

/// The last path element of a revision or deployment ARN.
pub fn short_revision(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pause_reported_in_production_traffic_shift_is_the_pre_production_hook() {
        let sd = json!({"lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT", "lifecycleHookDetails": [
            {"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION"},
            {"hookId": "h0", "targetType": "PAUSE", "status": "SUCCEEDED"},
            {"hookId": "l1", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS"}]});
        let hooks = paused_hooks(&sd);
        assert_eq!(hooks.len(), 1);
        assert_eq!((hooks[0].hook_id.as_str(), hooks[0].stage.as_str()), ("h1", "PRE_PRODUCTION_TRAFFIC_SHIFT"));
        assert!(stage_index("BAKE_TIME") > stage_index("POST_TEST_TRAFFIC_SHIFT"));
    }
}
