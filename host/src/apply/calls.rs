//! The mutating AWS calls, one function each. Nothing outside `apply/` may call these operations
//! (tests/tests/layering.rs fails the build otherwise). Definitions and tasks are sent as JSON,
//! untouched (see `aws::raw`), so fields newer than the SDK pass through.

use anyhow::{Context as _, Result};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use aws_sdk_codedeploy::types::{AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, RevisionLocation, RevisionLocationType};
use serde_json::{Value, json};

use crate::aws::raw::RawJson;
use crate::aws::{Aws, SdkContext, describe_error};

/// One attempt, no SDK retry: for the calls that ECS would apply twice when sent twice
/// (`recover` retries them, after looking whether a failed attempt took effect).
fn once() -> aws_sdk_ecs::config::Builder {
    aws_sdk_ecs::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// RegisterTaskDefinition with the definition sent as JSON, untouched, in one attempt (see
/// `recover::register`). Returns the registered `taskDefinition` object.
pub async fn register_task_definition(ecs: &aws_sdk_ecs::Client, td: &Value) -> Result<Value> {
    let family = crate::definitions::family(td).unwrap_or_default().to_owned();
    let raw = RawJson::with_body(td);
    ecs.register_task_definition()
        .family(&family)
        .set_container_definitions(Some(vec![]))
        .customize()
        .config_override(once())
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("registering task definition family {family}"))?;
    raw.response_json()?.get("taskDefinition").cloned().context("RegisterTaskDefinition returned no taskDefinition")
}

/// CreateService with a JSON body. Returns the `service` object.
pub async fn create_service(ecs: &aws_sdk_ecs::Client, body: &Value) -> Result<Value> {
    let name = body.get("serviceName").and_then(Value::as_str).unwrap_or_default().to_owned();
    let raw = RawJson::with_body(body);
    ecs.create_service().service_name(&name).customize().interceptor(raw.clone()).send().await.sdk_context(|| format!("creating service {name}"))?;
    raw.response_json()?.get("service").cloned().context("CreateService returned no service")
}

/// UpdateService with a JSON body (one call carries attributes, task definition, count and force),
/// in one attempt (see `recover::update`).
pub async fn update_service(ecs: &aws_sdk_ecs::Client, body: &Value) -> Result<Value> {
    let name = body.get("service").and_then(Value::as_str).unwrap_or_default().to_owned();
    let raw = RawJson::with_body(body);
    ecs.update_service()
        .service(&name)
        .customize()
        .config_override(once())
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("updating service {name}"))?;
    raw.response_json()?.get("service").cloned().context("UpdateService returned no service")
}

/// RunTask with `body` as the request; returns the response (`tasks`, `failures`).
pub async fn run_task(ecs: &aws_sdk_ecs::Client, body: &Value) -> Result<Value> {
    let td = body.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned();
    let raw = RawJson::with_body(body);
    ecs.run_task().task_definition(&td).customize().interceptor(raw.clone()).send().await.sdk_context(|| format!("running a task of {td}"))?;
    raw.response_json()
}

/// StopTask; returns the task as ECS reports it afterwards.
pub async fn stop_task(ecs: &aws_sdk_ecs::Client, cluster: &str, task: &str, reason: &str) -> Result<Value> {
    let raw = RawJson::capture();
    ecs.stop_task()
        .cluster(cluster)
        .task(task)
        .reason(reason)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("stopping task {task}"))?;
    let body = raw.response_json()?;
    Ok(body.get("task").cloned().unwrap_or(Value::Null))
}

pub async fn deregister_task_definition(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<()> {
    ecs.deregister_task_definition().task_definition(arn).send().await.sdk_context(|| format!("deregistering {arn}"))?;
    Ok(())
}

pub async fn delete_task_definitions(ecs: &aws_sdk_ecs::Client, arns: &[String]) -> Result<()> {
    ecs.delete_task_definitions().set_task_definitions(Some(arns.to_vec())).send().await.sdk_context(|| "deleting task definitions".into())?;
    Ok(())
}

pub async fn delete_service(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str, force: bool) -> Result<()> {
    ecs.delete_service().cluster(cluster).service(service).force(force).send().await.sdk_context(|| format!("deleting service {service}"))?;
    Ok(())
}

pub async fn tag_resource(ecs: &aws_sdk_ecs::Client, arn: &str, tags: &[(String, String)]) -> Result<()> {
    let tags: Vec<aws_sdk_ecs::types::Tag> = tags.iter().map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build()).collect();
    ecs.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.sdk_context(|| format!("tagging {arn}"))?;
    Ok(())
}

pub async fn untag_resource(ecs: &aws_sdk_ecs::Client, arn: &str, keys: &[String]) -> Result<()> {
    ecs.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec())).send().await.sdk_context(|| format!("untagging {arn}"))?;
    Ok(())
}

/// ExecuteCommand (interactive); returns the session for session-manager-plugin.
pub async fn execute_command(ecs: &aws_sdk_ecs::Client, cluster: &str, task: &str, container: &str, command: &str) -> Result<Value> {
    let out = ecs
        .execute_command()
        .cluster(cluster)
        .task(task)
        .container(container)
        .command(command)
        .interactive(true)
        .send()
        .await
        .sdk_context(|| format!("ECS Exec into container {container} of task {task}"))?;
    let s = out.session().context("ExecuteCommand returned no session")?;
    Ok(json!({"sessionId": s.session_id(), "streamUrl": s.stream_url(), "tokenValue": s.token_value()}))
}

/// SSM StartSession (port forwarding); returns the session for session-manager-plugin.
pub async fn start_session(aws: &Aws, target: &str, document: &str, parameters: &Value) -> Result<Value> {
    let ssm = aws_sdk_ssm::Client::new(&aws.sdk);
    let mut req = ssm.start_session().target(target).document_name(document);
    for (k, v) in parameters.as_object().into_iter().flatten() {
        let vals: Vec<String> = v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        req = req.parameters(k, vals);
    }
    let out = req.send().await.sdk_context(|| format!("starting a port forwarding session to {target}"))?;
    Ok(json!({"SessionId": out.session_id(), "StreamUrl": out.stream_url(), "TokenValue": out.token_value()}))
}

pub async fn register_scalable_target(aws: &Aws, resource: &str, min: Option<i32>, max: Option<i32>, suspend: Option<bool>) -> Result<()> {
    let mut req = aws
        .autoscaling()
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .set_min_capacity(min)
        .set_max_capacity(max);
    if let Some(s) = suspend {
        req = req
            .suspended_state(SuspendedState::builder().dynamic_scaling_in_suspended(s).dynamic_scaling_out_suspended(s).scheduled_scaling_suspended(s).build());
    }
    req.send().await.sdk_context(|| format!("updating scalable target {resource}"))?;
    Ok(())
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

/// CreateDeployment with an AppSpec; returns the deployment id.
pub async fn create_deployment(aws: &Aws, application: &str, group: &str, config: Option<String>, spec: String, rollback_events: &[String]) -> Result<String> {
    let out = aws
        .codedeploy()
        .create_deployment()
        .application_name(application)
        .deployment_group_name(group)
        .set_deployment_config_name(config)
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(spec).build())
                .build(),
        )
        .set_auto_rollback_configuration(rollback_config(rollback_events)?)
        .send()
        .await
        .sdk_context(|| format!("creating a CodeDeploy deployment in {application}/{group}"))?;
    Ok(out.deployment_id().unwrap_or_default().to_owned())
}

pub async fn stop_deployment(aws: &Aws, id: &str, auto_rollback: bool) -> Result<()> {
    aws.codedeploy()
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(auto_rollback)
        .send()
        .await
        .sdk_context(|| format!("stopping CodeDeploy deployment {id}"))?;
    Ok(())
}

/// StopServiceDeployment (`ROLLBACK` or `ABORT`). A finished deployment answers ConflictException.
pub async fn stop_service_deployment(ecs: &aws_sdk_ecs::Client, arn: &str, stop_type: &str) -> Result<()> {
    ecs.stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::from(stop_type))
        .send()
        .await
        .sdk_context(|| format!("stopping service deployment {arn} ({stop_type})"))?;
    Ok(())
}

/// ContinueServiceDeployment at a PAUSE hook (`CONTINUE` or `ROLLBACK`).
pub async fn continue_service_deployment(ecs: &aws_sdk_ecs::Client, arn: &str, hook_id: &str, action: &str) -> Result<()> {
    ecs.continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(hook_id)
        .action(aws_sdk_ecs::types::DeploymentLifecycleHookAction::from(action))
        .send()
        .await
        .sdk_context(|| format!("answering hook {hook_id} of service deployment {arn} with {action}"))?;
    Ok(())
}

/// `verify --put-logs`: a stream in `group` (the group too when asked) and one event, with the
/// credentials the ECS agent would use.
pub async fn put_test_log_event(sdk: &aws_config::SdkConfig, group: &str, container: &str, prefix: Option<&str>, create_group: bool) -> Result<(), String> {
    let writer = aws_sdk_cloudwatchlogs::Client::new(sdk);
    if create_group && let Err(e) = writer.create_log_group().log_group_name(group).send().await {
        let msg = describe_error(&e);
        if !msg.contains("ResourceAlreadyExists") {
            return Err(format!("cannot create log group {group}: {msg}"));
        }
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let stream = match prefix.filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/{container}/cortado-verify-{nanos}"),
        None => format!("{container}/cortado-verify-{nanos}"),
    };
    writer
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(&stream)
        .send()
        .await
        .map_err(|e| format!("cannot create log stream {stream} in {group}: {}", describe_error(&e)))?;
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp((nanos / 1_000_000) as i64)
        .message("This is a verify message by cortado")
        .build()
        .map_err(|e| e.to_string())?;
    writer
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(&stream)
        .log_events(event)
        .send()
        .await
        .map_err(|e| format!("cannot put log events to {group}: {}", describe_error(&e)))?;
    Ok(())
}
