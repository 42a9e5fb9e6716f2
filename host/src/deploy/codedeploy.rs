//! Blue/green through CodeDeploy: the AppSpec, the deployment, and waiting on it with its
//! traffic shift.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_codedeploy::types::{AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, DeploymentStatus, RevisionLocation, RevisionLocationType};
use serde_json::{Map, Value, json};
use serde_yaml_ng::{Mapping, Value as Y};

use super::progress::Reporter;
use super::wait::{Interrupted, RolloutFailed, poll_interval};
use super::{DeployOptions, primary_deployment};
use crate::aws::codedeploy::{self as discovery, DeploymentTarget};
use crate::aws::{Aws, SdkContext, ecs};
use crate::commands::App;

fn y(s: &str) -> Y {
    Y::String(s.to_owned())
}

/// The AppSpec for deploying `td_arn` to a service defined by `sv` (the local definition, or the
/// running service), with the config's lifecycle hooks.
pub fn appspec(td_arn: &str, sv: &Value, hooks: Option<&Value>) -> Result<String> {
    let lb = sv
        .get("loadBalancers")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .context("a CodeDeploy deployment needs a load balancer in the service definition")?;
    let mut props = Mapping::new();
    props.insert(y("TaskDefinition"), y(td_arn));
    let mut lbi = Mapping::new();
    lbi.insert(y("ContainerName"), y(lb.get("containerName").and_then(Value::as_str).unwrap_or("")));
    lbi.insert(y("ContainerPort"), Y::Number(lb.get("containerPort").and_then(Value::as_i64).unwrap_or(0).into()));
    props.insert(y("LoadBalancerInfo"), Y::Mapping(lbi));
    if let Some(pv) = sv.get("platformVersion").and_then(Value::as_str) {
        props.insert(y("PlatformVersion"), y(pv));
    }
    if let Some(aws) = sv.pointer("/networkConfiguration/awsvpcConfiguration") {
        let mut a = Mapping::new();
        let list = |k: &str| Y::Sequence(aws.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(y).collect());
        a.insert(y("Subnets"), list("subnets"));
        a.insert(y("SecurityGroups"), list("securityGroups"));
        if let Some(ip) = aws.get("assignPublicIp").and_then(Value::as_str) {
            a.insert(y("AssignPublicIp"), y(ip));
        }
        let mut nc = Mapping::new();
        nc.insert(y("AwsvpcConfiguration"), Y::Mapping(a));
        props.insert(y("NetworkConfiguration"), Y::Mapping(nc));
    }
    if let Some(cps) = sv.get("capacityProviderStrategy").and_then(Value::as_array) {
        let items = cps
            .iter()
            .map(|c| {
                let mut m = Mapping::new();
                m.insert(y("CapacityProvider"), y(c.get("capacityProvider").and_then(Value::as_str).unwrap_or("")));
                for (k, yk) in [("base", "Base"), ("weight", "Weight")] {
                    if let Some(n) = c.get(k).and_then(Value::as_i64).filter(|n| *n != 0) {
                        m.insert(y(yk), Y::Number(n.into()));
                    }
                }
                Y::Mapping(m)
            })
            .collect();
        props.insert(y("CapacityProviderStrategy"), Y::Sequence(items));
    }
    let mut target = Mapping::new();
    target.insert(y("Type"), y("AWS::ECS::Service"));
    target.insert(y("Properties"), Y::Mapping(props));
    let mut resource = Mapping::new();
    resource.insert(y("TargetService"), Y::Mapping(target));
    let mut spec = Mapping::new();
    spec.insert(y("version"), Y::Number(0.into()));
    spec.insert(y("Resources"), Y::Sequence(vec![Y::Mapping(resource)]));
    if let Some(h) = hooks.and_then(|a| a.as_object()).and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("hooks")).map(|(_, v)| v)) {
        spec.insert(y("Hooks"), serde_yaml_ng::to_value(h)?);
    }
    let text = serde_yaml_ng::to_string(&Y::Mapping(spec))?;
    Ok(text.replacen("version: 0\n", "version: 0.0\n", 1))
}

fn rollback_config(events: &[String]) -> Result<Option<AutoRollbackConfiguration>> {
    if events.is_empty() {
        return Ok(None);
    }
    let mut parsed = Vec::new();
    for e in events {
        parsed.push(match e.as_str() {
            "DEPLOYMENT_FAILURE" => AutoRollbackEvent::DeploymentFailure,
            "DEPLOYMENT_STOP_ON_ALARM" => AutoRollbackEvent::DeploymentStopOnAlarm,
            "DEPLOYMENT_STOP_ON_REQUEST" => AutoRollbackEvent::DeploymentStopOnRequest,
            other => return Err(crate::error::InputError::new(format!("--rollback-events: unknown event {other:?}")).into()),
        });
    }
    Ok(Some(AutoRollbackConfiguration::builder().enabled(true).set_events(Some(parsed)).build()))
}

pub async fn target(app: &App, aws: &Aws) -> Result<DeploymentTarget> {
    let service = app.config.service.as_deref().unwrap_or("");
    discovery::find(&aws.codedeploy(), app.config.codedeploy.as_ref(), &app.config.cluster, service)
        .await?
        .with_context(|| format!("no CodeDeploy deployment group deploys {service} in cluster {}", app.config.cluster))
}

/// Creates a CodeDeploy deployment of `td_arn`. Returns its id.
pub async fn create_deployment(app: &App, aws: &Aws, sv: &Value, td_arn: &str, rollback_events: &[String], reporter: &Reporter) -> Result<String> {
    let t = target(app, aws).await?;
    let spec = appspec(td_arn, sv, app.config.appspec.as_ref())?;
    let out = aws
        .codedeploy()
        .create_deployment()
        .application_name(&t.application)
        .deployment_group_name(&t.deployment_group)
        .set_deployment_config_name(t.deployment_config.clone())
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(spec).build())
                .build(),
        )
        .set_auto_rollback_configuration(rollback_config(rollback_events)?)
        .send()
        .await
        .sdk_context(|| format!("creating a CodeDeploy deployment in {}/{}", t.application, t.deployment_group))?;
    let id = out.deployment_id().unwrap_or_default().to_owned();
    reporter.info(&format!(
        "CodeDeploy deployment {id} created: https://{0}.console.aws.amazon.com/codesuite/codedeploy/deployments/{id}?region={0}",
        aws.region()
    ));
    Ok(id)
}

/// The CodeDeploy path of `deploy`.
#[allow(clippy::too_many_arguments)]
pub async fn deploy(
    app: &App,
    aws: &Aws,
    remote: &Value,
    local_sv: Option<&Value>,
    td_arn: &str,
    desired: Option<i64>,
    attributes: &Map<String, Value>,
    opts: &DeployOptions,
    reporter: &mut Reporter,
    _started: f64,
) -> Result<()> {
    let client = aws.ecs();
    let service = app.config.service.clone().unwrap_or_default();
    let count_changes = desired.is_some_and(|d| Some(d) != remote.get("desiredCount").and_then(Value::as_i64));
    if count_changes || !attributes.is_empty() {
        let mut body = attributes.clone();
        body.insert("cluster".into(), json!(app.config.cluster));
        body.insert("service".into(), json!(service));
        if let Some(d) = desired {
            body.insert("desiredCount".into(), json!(d));
        }
        ecs::update_service(&client, &Value::Object(body)).await?;
        reporter.info("updated service attributes / desired count");
    }
    let scale_only = opts.skip_task_definition && !opts.update_service && !opts.force_new_deployment;
    if scale_only {
        reporter.result(true, "service scaled (CodeDeploy: no new deployment)", json!({}));
        return Ok(());
    }
    let sv = local_sv.unwrap_or(remote);
    let id = create_deployment(app, aws, sv, td_arn, &opts.rollback_events, reporter).await?;
    if !opts.wait {
        reporter.result(true, "CodeDeploy deployment created (not waiting)", json!({"deployment_id": id}));
        return Ok(());
    }
    wait_deployment(aws, &app.config.cluster, &service, &id, app.config.timeout, reporter).await
}

/// Polls a CodeDeploy deployment to Succeeded (ok) or Failed/Stopped (error), showing status
/// changes and the traffic shifted to the replacement task set.
pub async fn wait_deployment(aws: &Aws, cluster: &str, service: &str, id: &str, timeout: Duration, reporter: &mut Reporter) -> Result<()> {
    let client = aws.codedeploy();
    let start = Instant::now();
    let deadline = start + timeout;
    let mut last_status = String::new();
    let mut last_lifecycle = String::new();
    loop {
        let out = client.get_deployment().deployment_id(id).send().await.sdk_context(|| format!("reading CodeDeploy deployment {id}"))?;
        let info = out.deployment_info().context("GetDeployment returned nothing")?;
        let status = info.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if status != last_status {
            reporter.info(&format!("CodeDeploy deployment {id}: {status}"));
            last_status = status.clone();
        }
        if let Ok(t) = client.get_deployment_target().deployment_id(id).target_id(format!("{cluster}:{service}")).send().await
            && let Some(ecs_target) = t.deployment_target().and_then(|d| d.ecs_target())
        {
            let events: Vec<String> = ecs_target
                .lifecycle_events()
                .iter()
                .filter(|e| e.status().is_some_and(|s| s.as_str() != "Pending"))
                .map(|e| format!("{}:{}", e.lifecycle_event_name().unwrap_or(""), e.status().map(|s| s.as_str()).unwrap_or("")))
                .collect();
            let traffic: Vec<String> = ecs_target
                .task_sets_info()
                .iter()
                .map(|ts| format!("{} {}%", ts.task_set_label().map(|l| l.as_str()).unwrap_or(""), ts.traffic_weight()))
                .collect();
            let summary = format!("{} | traffic {}", events.join(" "), traffic.join(" / "));
            if summary != last_lifecycle {
                reporter.info(&format!("  {summary}"));
                last_lifecycle = summary.clone();
            }
            reporter.status(&format!("CodeDeploy {id} {status}, traffic {}", traffic.join(" / ")));
        }
        match info.status() {
            Some(DeploymentStatus::Succeeded) => {
                reporter.result(true, &format!("CodeDeploy deployment {id} succeeded"), json!({"deployment_id": id}));
                return Ok(());
            }
            Some(DeploymentStatus::Failed) | Some(DeploymentStatus::Stopped) => {
                let why = info
                    .error_information()
                    .map(|e| format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or(""), e.message().unwrap_or("")))
                    .unwrap_or_default();
                let rollback =
                    info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(|r| format!("; rolled back by deployment {r}")).unwrap_or_default();
                let msg = format!("CodeDeploy deployment {id} {status}: {why}{rollback}");
                reporter.fail(&msg, json!({"deployment_id": id}));
                return Err(RolloutFailed(msg).into());
            }
            _ => {}
        }
        let now = Instant::now();
        if now >= deadline {
            let msg = format!("timed out after {} waiting for CodeDeploy deployment {id} ({status})", crate::config::duration::format_go_duration(timeout));
            reporter.fail(&msg, json!({"deployment_id": id}));
            return Err(RolloutFailed(msg).into());
        }
        tokio::select! {
            _ = tokio::time::sleep(poll_interval(start.elapsed()).min(deadline - now)) => {}
            _ = tokio::signal::ctrl_c() => {
                return Err(Interrupted(format!("interrupted; CodeDeploy deployment {id} goes on ({status}). Resume watching with `cortado wait`.")).into());
            }
        }
    }
}

/// The newest deployment of the service's group that is still running, if any.
pub async fn in_progress(app: &App, aws: &Aws) -> Result<Option<String>> {
    use aws_sdk_codedeploy::types::DeploymentStatus as S;
    let t = target(app, aws).await?;
    let out = aws
        .codedeploy()
        .list_deployments()
        .application_name(&t.application)
        .deployment_group_name(&t.deployment_group)
        .set_include_only_statuses(Some(vec![S::Created, S::Queued, S::InProgress, S::Ready]))
        .send()
        .await
        .sdk_context(|| "listing CodeDeploy deployments".into())?;
    Ok(out.deployments().first().cloned())
}

/// `service` JSON's PRIMARY deployment id, for callers that mix controllers.
pub fn primary(sv: &Value) -> Option<String> {
    primary_deployment(sv)
}
