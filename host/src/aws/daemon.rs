//! ECS Managed Daemons: the reads (as JSON, see [`super::raw`]). A daemon is addressed by ARN only
//! (DescribeDaemon has no cluster/name form), and its ARN is the cluster's with `cluster/C` replaced
//! by `daemon/C/NAME` (the AWS API reference's examples), so the cluster's ARN is looked up once.

use anyhow::{Context, Result, bail};
use aws_sdk_ecs::types::{DaemonTaskDefinitionStatusFilter, SortOrder};
use serde_json::Value;

use super::raw::RawJson;
use super::{AwsError, SdkContext};

/// The cluster's ARN: the config's value when it is one, else DescribeClusters.
pub async fn cluster_arn(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Result<String> {
    if cluster.starts_with("arn:") {
        return Ok(cluster.to_owned());
    }
    let out = ecs.describe_clusters().clusters(cluster).send().await.sdk_context(|| format!("describing cluster {cluster}"))?;
    let found = out.clusters().iter().find(|c| c.status() != Some("INACTIVE")).and_then(|c| c.cluster_arn());
    found.map(str::to_owned).with_context(|| format!("cluster {cluster} is not found"))
}

/// `arn:…:cluster/C` + `NAME` → `arn:…:daemon/C/NAME`.
pub fn daemon_arn(cluster_arn: &str, name: &str) -> Result<String> {
    let Some((prefix, cluster)) = cluster_arn.split_once(":cluster/") else { bail!("{cluster_arn:?} is not a cluster ARN") };
    Ok(format!("{prefix}:daemon/{cluster}/{name}"))
}

/// `…:daemon-task-definition/family:3` → `family:3`.
pub fn short(arn: &str) -> &str {
    arn.rsplit_once('/').map(|(_, t)| t).unwrap_or(arn)
}

/// Whether an error is ECS saying the daemon does not exist.
fn not_found(e: &anyhow::Error) -> bool {
    AwsError::find(e).and_then(|a| a.code.as_deref()) == Some("DaemonNotFoundException")
}

/// DescribeDaemon: the daemon's `DaemonDetail`, or None when there is none (or it is being deleted
/// and `active_only`).
pub async fn describe_daemon(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<Option<Value>> {
    let raw = RawJson::capture();
    let r = ecs.describe_daemon().daemon_arn(arn).customize().interceptor(raw.clone()).send().await.sdk_context(|| format!("describing daemon {arn}"));
    match r {
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(_) => Ok(raw.response_json()?.get("daemon").cloned()),
    }
}

/// DescribeDaemonTaskDefinition (an ARN, `family:rev` or a family's latest ACTIVE revision).
pub async fn describe_task_definition(ecs: &aws_sdk_ecs::Client, reference: &str) -> Result<Value> {
    let raw = RawJson::capture();
    ecs.describe_daemon_task_definition()
        .daemon_task_definition(reference)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("describing daemon task definition {reference}"))?;
    raw.response_json()?.get("daemonTaskDefinition").cloned().context("DescribeDaemonTaskDefinition returned no daemonTaskDefinition")
}

/// The family's ACTIVE revisions, newest first (ARNs).
pub async fn active_revisions(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let out = ecs
            .list_daemon_task_definitions()
            .family(family)
            .status(DaemonTaskDefinitionStatusFilter::Active)
            .sort(SortOrder::Desc)
            .set_next_token(token)
            .send()
            .await
            .sdk_context(|| format!("listing daemon task definitions of family {family}"))?;
        arns.extend(out.daemon_task_definitions().iter().filter_map(|s| s.arn()).map(str::to_owned));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    arns.retain(|a| family_of(a) == Some(family));
    arns.sort_by_key(|a| std::cmp::Reverse(revision_of(a)));
    arns.dedup();
    Ok(arns)
}

/// `…/family:3` → `family`
pub fn family_of(arn: &str) -> Option<&str> {
    short(arn).rsplit_once(':').map(|(f, _)| f)
}

/// `…/family:3` → 3
pub fn revision_of(arn: &str) -> i64 {
    arn.rsplit_once(':').and_then(|(_, r)| r.parse().ok()).unwrap_or(0)
}

/// DescribeDaemonDeployments for one deployment, with at most `attempts` SDK attempts (a wait's
/// poll retries itself). None when ECS lists it as a failure (MISSING).
pub async fn describe_deployment(ecs: &aws_sdk_ecs::Client, arn: &str, attempts: u32) -> Result<Option<Value>> {
    let raw = RawJson::capture();
    // Never more than the client's own max attempts (`retry_max_attempts` may be lower).
    let configured = ecs.config().retry_config().map(|r| r.max_attempts()).unwrap_or(attempts);
    let retry = aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(attempts.min(configured).max(1));
    ecs.describe_daemon_deployments()
        .daemon_deployment_arns(arn)
        .customize()
        .config_override(aws_sdk_ecs::config::Builder::default().retry_config(retry))
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("describing daemon deployment {arn}"))?;
    let body = raw.response_json()?;
    Ok(body.get("daemonDeployments").and_then(Value::as_array).and_then(|d| d.first()).cloned())
}

/// DescribeDaemonRevisions for one revision.
pub async fn describe_revision(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<Option<Value>> {
    let raw = RawJson::capture();
    ecs.describe_daemon_revisions()
        .daemon_revision_arns(arn)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("describing daemon revision {arn}"))?;
    Ok(raw.response_json()?.get("daemonRevisions").and_then(Value::as_array).and_then(|r| r.first()).cloned())
}

/// ListDaemonDeployments: the daemon's deployments, newest first (first page, up to 20).
pub async fn list_deployments(ecs: &aws_sdk_ecs::Client, daemon_arn: &str) -> Result<Vec<Value>> {
    let raw = RawJson::capture();
    ecs.list_daemon_deployments()
        .daemon_arn(daemon_arn)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("listing deployments of daemon {daemon_arn}"))?;
    Ok(raw.response_json()?.get("daemonDeployments").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// The daemon task definition a daemon runs now: its newest deployment's target revision's.
pub async fn current_task_definition(ecs: &aws_sdk_ecs::Client, daemon: &Value) -> Result<Option<String>> {
    let Some(dep_arn) = daemon.get("deploymentArn").and_then(Value::as_str) else { return Ok(None) };
    let Some(dep) = describe_deployment(ecs, dep_arn, 3).await? else { return Ok(None) };
    // A rolled-back deployment runs its source revision again.
    let rolled_back = dep.get("status").and_then(Value::as_str) == Some("ROLLBACK_SUCCESSFUL");
    let revision = if rolled_back {
        dep.pointer("/rollback/rollbackTargetDaemonRevisionArn").or_else(|| dep.pointer("/sourceDaemonRevisions/0/arn"))
    } else {
        dep.pointer("/targetDaemonRevision/arn")
    };
    let Some(rev_arn) = revision.and_then(Value::as_str) else { return Ok(None) };
    let rev = describe_revision(ecs, rev_arn).await?;
    Ok(rev.and_then(|r| r.get("daemonTaskDefinitionArn").and_then(Value::as_str).map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(daemon_arn("arn:aws:ecs:us-east-1:1:cluster/c1", "agent").unwrap(), "arn:aws:ecs:us-east-1:1:daemon/c1/agent");
        assert!(daemon_arn("c1", "agent").is_err());
        let td = "arn:aws:ecs:us-east-1:1:daemon-task-definition/mon:12";
        assert_eq!(short(td), "mon:12");
        assert_eq!(family_of(td), Some("mon"));
        assert_eq!(revision_of(td), 12);
    }
}
