//! The mutating AWS calls. Nothing outside `apply/` may call these operations
//! (tests/tests/layering.rs fails the build otherwise). Every request of a JSON protocol (ECS,
//! CodeDeploy, Application Auto Scaling, CloudWatch Logs, SSM) is sent as the exact bytes of an
//! approved step through the [`RawJson`] interceptor: the SDK operation provides signing, the
//! endpoint and the `X-Amz-Target` header, the interceptor replaces the body and refuses the
//! request if the operation is not the step's. Fields newer than the SDK pass through.

use anyhow::{Context as _, Result, bail};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use serde_json::Value;

use crate::aws::SdkContext;
use crate::aws::raw::RawJson;
use crate::plan::{Service, Step};

/// One attempt, no SDK retry: for the calls that ECS would apply twice when sent twice
/// (`recover` retries them, after looking whether a failed attempt took effect).
fn once() -> aws_sdk_ecs::config::Builder {
    aws_sdk_ecs::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// RegisterTaskDefinition with exactly `body`, in one attempt (see `recover::register`). Returns
/// the response.
pub async fn register_task_definition(ecs: &aws_sdk_ecs::Client, body: &[u8]) -> Result<Value> {
    let raw = RawJson::exact(body, "RegisterTaskDefinition");
    ecs.register_task_definition()
        .family("-")
        .set_container_definitions(Some(vec![]))
        .customize()
        .config_override(once())
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| "registering the task definition".into())?;
    raw.response_json()
}

/// UpdateService with exactly `body`, in one attempt (see `recover::update`). Returns the response.
pub async fn update_service(ecs: &aws_sdk_ecs::Client, body: &[u8], name: &str) -> Result<Value> {
    let raw = RawJson::exact(body, "UpdateService");
    ecs.update_service()
        .service(name)
        .customize()
        .config_override(once())
        .interceptor(raw.clone())
        .send()
        .await
        .sdk_context(|| format!("updating service {name}"))?;
    raw.response_json()
}

/// Sends `body` (the resolved, checked input of `step`) and returns the response as JSON.
pub async fn send(sdk: &aws_config::SdkConfig, step: &Step, body: &[u8]) -> Result<Value> {
    let what = || format!("{} {}", step.action(), step.resource);
    match step.service {
        Service::Ecs => send_ecs(&aws_sdk_ecs::Client::new(sdk), step.operation, body).await.with_context(what),
        Service::CodeDeploy => send_codedeploy(&aws_sdk_codedeploy::Client::new(sdk), step.operation, body).await.with_context(what),
        Service::AutoScaling => send_autoscaling(&aws_sdk_applicationautoscaling::Client::new(sdk), step.operation, body).await.with_context(what),
        Service::Logs => send_logs(&aws_sdk_cloudwatchlogs::Client::new(sdk), step.operation, body).await.with_context(what),
        Service::Ssm => send_ssm(&aws_sdk_ssm::Client::new(sdk), step.operation, body).await.with_context(what),
        Service::S3 => send_s3(&aws_sdk_s3::Client::new(sdk), step).await,
    }
}

/// Sends one SDK operation whose body the interceptor replaces. The arguments set on the builder
/// only satisfy the SDK's required members; what leaves is `body`.
macro_rules! raw_send {
    ($builder:expr, $op:expr, $body:expr) => {{
        let raw = RawJson::exact($body, $op);
        $builder.customize().interceptor(raw.clone()).send().await.map_err(|e| crate::aws::AwsError::from_sdk(&e))?;
        raw.response_json()
    }};
}

async fn send_ecs(c: &aws_sdk_ecs::Client, op: &'static str, body: &[u8]) -> Result<Value> {
    match op {
        "CreateService" => raw_send!(c.create_service().service_name("-"), op, body),
        "DeleteService" => raw_send!(c.delete_service().service("-"), op, body),
        "DeregisterTaskDefinition" => raw_send!(c.deregister_task_definition().task_definition("-"), op, body),
        "DeleteTaskDefinitions" => raw_send!(c.delete_task_definitions().task_definitions("-"), op, body),
        "TagResource" => raw_send!(c.tag_resource().resource_arn("-"), op, body),
        "UntagResource" => raw_send!(c.untag_resource().resource_arn("-").tag_keys("-"), op, body),
        "RunTask" => raw_send!(c.run_task().task_definition("-"), op, body),
        "StopTask" => raw_send!(c.stop_task().task("-"), op, body),
        "ExecuteCommand" => raw_send!(c.execute_command().task("-").command("-").interactive(true), op, body),
        "StopServiceDeployment" => raw_send!(c.stop_service_deployment().service_deployment_arn("-"), op, body),
        "ContinueServiceDeployment" => {
            raw_send!(c.continue_service_deployment().service_deployment_arn("-").hook_id("-").action("CONTINUE".into()), op, body)
        }
        "RegisterDaemonTaskDefinition" => raw_send!(c.register_daemon_task_definition().family("-"), op, body),
        "CreateDaemon" => raw_send!(c.create_daemon().daemon_name("-").daemon_task_definition_arn("-").capacity_provider_arns("-"), op, body),
        "UpdateDaemon" => raw_send!(c.update_daemon().daemon_arn("-").daemon_task_definition_arn("-").capacity_provider_arns("-"), op, body),
        "DeleteDaemon" => raw_send!(c.delete_daemon().daemon_arn("-"), op, body),
        "DeleteDaemonTaskDefinition" => raw_send!(c.delete_daemon_task_definition().daemon_task_definition("-"), op, body),
        "CreateExpressGatewayService" => raw_send!(c.create_express_gateway_service().infrastructure_role_arn("-"), op, body),
        "UpdateExpressGatewayService" => raw_send!(c.update_express_gateway_service().service_arn("-"), op, body),
        "DeleteExpressGatewayService" => raw_send!(c.delete_express_gateway_service().service_arn("-"), op, body),
        other => bail!("internal error: ecs:{other} is not an operation apply sends"),
    }
}

async fn send_codedeploy(c: &aws_sdk_codedeploy::Client, op: &'static str, body: &[u8]) -> Result<Value> {
    match op {
        "CreateDeployment" => raw_send!(c.create_deployment().application_name("-"), op, body),
        "StopDeployment" => raw_send!(c.stop_deployment().deployment_id("-"), op, body),
        other => bail!("internal error: codedeploy:{other} is not an operation apply sends"),
    }
}

async fn send_autoscaling(c: &aws_sdk_applicationautoscaling::Client, op: &'static str, body: &[u8]) -> Result<Value> {
    match op {
        "RegisterScalableTarget" => raw_send!(
            c.register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id("-")
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount),
            op,
            body
        ),
        other => bail!("internal error: application-autoscaling:{other} is not an operation apply sends"),
    }
}

async fn send_logs(c: &aws_sdk_cloudwatchlogs::Client, op: &'static str, body: &[u8]) -> Result<Value> {
    match op {
        "CreateLogGroup" => raw_send!(c.create_log_group().log_group_name("-"), op, body),
        "CreateLogStream" => raw_send!(c.create_log_stream().log_group_name("-").log_stream_name("-"), op, body),
        "PutLogEvents" => {
            let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(0).message("-").build()?;
            raw_send!(c.put_log_events().log_group_name("-").log_stream_name("-").log_events(event), op, body)
        }
        other => bail!("internal error: logs:{other} is not an operation apply sends"),
    }
}

async fn send_ssm(c: &aws_sdk_ssm::Client, op: &'static str, body: &[u8]) -> Result<Value> {
    match op {
        "StartSession" => raw_send!(c.start_session().target("-"), op, body),
        other => bail!("internal error: ssm:{other} is not an operation apply sends"),
    }
}

/// S3 speaks REST-XML, so its one step (removing a deploy lock, only if it is still the object the
/// plan read) is sent with the SDK's typed call from the step's `Bucket`, `Key` and `IfMatch`.
async fn send_s3(c: &aws_sdk_s3::Client, step: &Step) -> Result<Value> {
    if step.operation != "DeleteObject" {
        bail!("internal error: s3:{} is not an operation apply sends", step.operation);
    }
    let field = |k: &str| step.str(k).with_context(|| format!("internal error: s3:DeleteObject without {k}"));
    super::lock::delete(c, field("Bucket")?, field("Key")?, field("IfMatch")?).await?;
    Ok(Value::Object(Default::default()))
}
