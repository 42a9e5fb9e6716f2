//! The two mutating calls that must not simply be sent again when their answer is lost:
//! RegisterTaskDefinition (a second call registers a second revision) and UpdateService (a second
//! forced update starts a second deployment). ECS takes no client token for either.
//!
//! So the SDK does not retry them (one attempt each, see `calls::once`); cortado retries here, with
//! the same attempt count and a similar back-off, and after a failure that may have been applied
//! (a 5xx, a reset, a timeout: [`AwsError::maybe_applied`]) it first looks whether it was:
//! the family's newest revision equal to the body it sent, or a PRIMARY deployment that was not
//! there before. Throttling is retried at once after the back-off: nothing was applied.

use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::calls;
use crate::aws::{AwsError, ecs};
use crate::progress::Progress;
use crate::util::epoch_now;

/// Attempts per call: the SDK's configured count (8 by default, `AWS_MAX_ATTEMPTS` when set).
pub fn max_attempts(sdk: &aws_config::SdkConfig) -> u32 {
    sdk.retry_config().map(|r| r.max_attempts()).unwrap_or(3).max(1)
}

/// 1 s, doubling, at most 5 s: the SDK's back-off without its jitter (one caller, no herd).
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs((1u64 << attempt.saturating_sub(1).min(3)).min(5))
}

/// What a failed attempt means for the next one.
enum Next {
    /// Give up with this error.
    Fail(anyhow::Error),
    /// Try again; `check` says whether to look first for the effect of a lost answer.
    Retry { check: bool, error: anyhow::Error },
}

fn judge(err: anyhow::Error, attempt: u32, max: u32) -> Next {
    let (transient, maybe) = match AwsError::find(&err) {
        Some(a) => (a.is_transient(), a.maybe_applied()),
        None => (false, false),
    };
    if !transient || attempt >= max { Next::Fail(err) } else { Next::Retry { check: maybe, error: err } }
}

/// RegisterTaskDefinition of exactly `bytes` (the serialised `body`), never registering it twice.
/// Returns the response (`taskDefinition`, `tags`).
pub async fn register(client: &aws_sdk_ecs::Client, body: &Value, bytes: &[u8], max: u32, p: &dyn Progress) -> Result<Value> {
    let started = epoch_now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match calls::register_task_definition(client, bytes).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let error = match judge(err, attempt, max) {
            Next::Fail(e) => return Err(e),
            Next::Retry { check, error } => {
                if check && let Some(found) = registered_by_lost_call(client, body, started).await? {
                    let arn = found.get("taskDefinitionArn").and_then(Value::as_str).unwrap_or("");
                    p.info(&format!("the answer to RegisterTaskDefinition was lost; it had registered {}", ecs::short_task_definition(arn)));
                    return Ok(serde_json::json!({ "taskDefinition": found }));
                }
                error
            }
        };
        p.info(&format!("RegisterTaskDefinition failed ({}); retrying", short(&error)));
        tokio::time::sleep(backoff(attempt)).await;
    }
}

/// UpdateService of exactly `bytes` (the serialised `body`), never starting a second deployment for
/// a lost answer. `before` is the PRIMARY deployment id before the update. Returns the response.
pub async fn update(client: &aws_sdk_ecs::Client, body: &Value, bytes: &[u8], before: Option<&str>, max: u32, p: &dyn Progress) -> Result<Value> {
    let cluster = body.get("cluster").and_then(Value::as_str).unwrap_or("default").to_owned();
    let service = body.get("service").and_then(Value::as_str).unwrap_or_default().to_owned();
    let forced = body.get("forceNewDeployment").and_then(Value::as_bool) == Some(true);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match calls::update_service(client, bytes, &service).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let error = match judge(err, attempt, max) {
            Next::Fail(e) => return Err(e),
            Next::Retry { check, error } => {
                if check && let Some(sv) = started_deployment(client, &cluster, &service, before, forced).await? {
                    let primary = super::primary_deployment(&sv).unwrap_or_default();
                    p.info(&format!("the answer to UpdateService was lost; it had started deployment {primary}"));
                    return Ok(serde_json::json!({ "service": sv }));
                }
                error
            }
        };
        p.info(&format!("UpdateService failed ({}); retrying", short(&error)));
        tokio::time::sleep(backoff(attempt)).await;
    }
}

/// The service, when its PRIMARY deployment is not `before` (the lost update started it). A forced
/// update sent again would start a second deployment, so a read that still shows `before` (it may
/// be stale: eventual consistency) is repeated once, a second later, before concluding it was not
/// applied. Without force, sending the same update again starts nothing new.
async fn started_deployment(client: &aws_sdk_ecs::Client, cluster: &str, service: &str, before: Option<&str>, forced: bool) -> Result<Option<Value>> {
    let reads = if forced { 2 } else { 1 };
    for read in 0..reads {
        if read > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let now = ecs::describe_service(client, cluster, service)
            .await
            .context("the answer to UpdateService was lost, and whether it was applied could not be read")?;
        if let Some(sv) = now {
            let primary = super::primary_deployment(&sv);
            if primary.is_some() && primary.as_deref() != before {
                return Ok(Some(sv));
            }
        }
    }
    Ok(None)
}

/// The family's newest ACTIVE revision when it has `body` and was registered since `started`
/// (60 s of clock skew allowed), i.e. the revision a call whose answer was lost registered.
async fn registered_by_lost_call(client: &aws_sdk_ecs::Client, body: &Value, started: f64) -> Result<Option<Value>> {
    let family = crate::definitions::family(body).unwrap_or_default().to_owned();
    let what = || format!("the answer to RegisterTaskDefinition ({family}) was lost, and whether it was applied could not be read");
    let Some(latest) = ecs::latest_task_definition_arn(client, &family).await.with_context(what)? else { return Ok(None) };
    let (def, tags) = ecs::describe_task_definition(client, &latest).await.with_context(what)?;
    let norm = crate::diff::normalize::task_definition;
    let recent = def.get("registeredAt").and_then(Value::as_f64).is_none_or(|t| t >= started - 60.0);
    Ok((recent && norm(&ecs::registerable(&def, &tags)) == norm(body)).then_some(def))
}

fn short(e: &anyhow::Error) -> String {
    AwsError::find(e).map(|a| a.code.clone().unwrap_or_else(|| a.message.clone())).unwrap_or_else(|| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::Fault;

    fn err(fault: Fault) -> anyhow::Error {
        anyhow::Error::new(AwsError { code: None, status: None, fault, message: "m".into() })
    }

    #[test]
    fn what_a_failed_attempt_means() {
        assert!(matches!(judge(err(Fault::Throttling), 1, 8), Next::Retry { check: false, .. }), "throttled: nothing applied");
        assert!(matches!(judge(err(Fault::Server), 1, 8), Next::Retry { check: true, .. }), "5xx: maybe applied, look first");
        assert!(matches!(judge(err(Fault::NoAnswer), 1, 8), Next::Retry { check: true, .. }), "reset: maybe applied");
        assert!(matches!(judge(err(Fault::Refused), 1, 8), Next::Fail(_)), "refused: no retry");
        assert!(matches!(judge(err(Fault::Throttling), 8, 8), Next::Fail(_)), "out of attempts");
        assert!(matches!(judge(anyhow::anyhow!("not AWS"), 1, 8), Next::Fail(_)));
        assert_eq!(
            (backoff(1), backoff(2), backoff(3), backoff(9)),
            (Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4), Duration::from_secs(5))
        );
    }
}
