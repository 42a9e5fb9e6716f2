//! Waiting on an ECS Express service. Create/UpdateExpressGatewayService answer the Express service
//! (Update: the `targetConfiguration` it rolls out, with its service revision) but not the
//! deployment: ECS starts a service deployment of the managed service and names it in
//! DescribeExpressGatewayService's `currentDeployment`. The wait binds to that deployment — the one
//! whose target revision is the configuration the update asked for, never "the newest" — and
//! follows it on DescribeServiceDeployments until SUCCESSFUL (ROLLING: no lifecycle stages).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::deployments::{Event, Follow, Until};
use super::pace::Pacer;
use super::{RolloutFailed, pause};
use crate::aws::{deployments as sd, express};
use crate::progress::Progress;

/// What a finished wait saw.
pub struct Waited {
    pub deployment_arn: String,
    pub deployment: Value,
    pub calls: u32,
    pub elapsed: Duration,
}

/// Binds to the service deployment rolling out `target_revision` (any current one when None),
/// then follows it to the end.
pub async fn wait(
    ecs: &aws_sdk_ecs::Client,
    service_arn: &str,
    target_revision: Option<&str>,
    timeout: Duration,
    poll: Option<Duration>,
    progress: &dyn Progress,
    bound: &dyn Fn(&str),
) -> Result<Waited> {
    let start = Instant::now();
    let (arn, mut calls) = bind(ecs, service_arn, target_revision, timeout, poll).await?;
    bound(&arn);
    progress.info(&format!("following service deployment {}", sd::short_revision(&arn)));
    let mut follow = Follow::new(arn.clone(), Until::Deployed, timeout.saturating_sub(start.elapsed()), poll);
    loop {
        match follow.next(ecs, progress).await? {
            Event::Done(d) => {
                calls += follow.calls;
                return Ok(Waited { deployment_arn: arn, deployment: d, calls, elapsed: start.elapsed() });
            }
            // An Express service's deployments are ROLLING: no stage to reach, no hook to answer.
            Event::Reached(_) | Event::Paused(..) => continue,
        }
    }
}

/// Polls DescribeExpressGatewayService until `currentDeployment` names a deployment of
/// `target_revision`; returns its ARN and the calls made.
async fn bind(ecs: &aws_sdk_ecs::Client, service_arn: &str, target_revision: Option<&str>, timeout: Duration, poll: Option<Duration>) -> Result<(String, u32)> {
    let start = Instant::now();
    let mut pacer = Pacer::new(poll);
    let mut calls = 0;
    loop {
        calls += 1;
        let svc = express::poll(ecs, service_arn).await?;
        let Some(svc) = svc else { return Err(RolloutFailed(format!("Express service {service_arn} is not found")).into()) };
        if let Some(arn) = svc.get("currentDeployment").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            calls += 1;
            let found = sd::describe(ecs, &[arn.to_owned()]).await?;
            let target = found.first().and_then(|d| d.pointer("/targetServiceRevision/arn")).and_then(Value::as_str);
            if target_revision.is_none_or(|want| target == Some(want)) {
                return Ok((arn.to_owned(), calls));
            }
        }
        if start.elapsed() >= timeout {
            let want = target_revision.unwrap_or("any revision");
            return Err(RolloutFailed(format!("timed out: Express service {service_arn} names no current deployment of {want}")).into());
        }
        pause(pacer.next(None).min(timeout.saturating_sub(start.elapsed())), &format!("Express service {service_arn}")).await?;
    }
}
