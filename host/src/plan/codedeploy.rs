//! CodeDeploy for the plan: which deployment group deploys the service, what is in progress, and
//! the AppSpec a deployment of a task definition sends.

use anyhow::{Context as _, Result};
use serde_json::Value;
use serde_yaml_ng::{Mapping, Value as Y};

use crate::aws::codedeploy::{self as discovery, DeploymentTarget};
use crate::aws::{Aws, SdkContext};
use crate::context::Context;

fn y(s: &str) -> Y {
    Y::String(s.to_owned())
}

/// The AppSpec for deploying `td_arn` to a service defined by `sv` (the local definition, or the
/// running service), with the config's lifecycle hooks, as YAML (what `cortado appspec` prints).
pub fn appspec(td_arn: &str, sv: &Value, hooks: Option<&Value>) -> Result<String> {
    let text = serde_yaml_ng::to_string(&Y::Mapping(spec(td_arn, sv, hooks)?))?;
    Ok(text.replacen("version: 0\n", "version: 0.0\n", 1))
}

/// The same AppSpec as JSON (CodeDeploy reads either), with `td` as the task definition: an ARN or
/// a reference to the one the plan registers. This is what a CreateDeployment step sends, as JSON
/// text, so that gates see the service's network and capacity exactly as the AppSpec has them.
pub fn appspec_json(td: Value, sv: &Value, hooks: Option<&Value>) -> Result<Value> {
    let mut v = serde_json::to_value(Y::Mapping(spec("", sv, hooks)?))?;
    v["version"] = serde_json::json!(0.0);
    let props = v.pointer_mut("/Resources/0/TargetService/Properties").context("the AppSpec has no target service")?;
    props["TaskDefinition"] = td;
    Ok(v)
}

/// A CreateDeployment input deploying `td` (an ARN or a reference) with this group's settings.
pub fn create_deployment_input(t: &DeploymentTarget, sv: &Value, hooks: Option<&Value>, td: Value, rollback_events: &[String]) -> Result<Value> {
    let mut input = serde_json::json!({
        "applicationName": t.application,
        "deploymentGroupName": t.deployment_group,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": crate::plan::step::json_text(&appspec_json(td, sv, hooks)?)?}},
    });
    if let Some(c) = &t.deployment_config {
        input["deploymentConfigName"] = serde_json::json!(c);
    }
    if !rollback_events.is_empty() {
        input["autoRollbackConfiguration"] = serde_json::json!({"enabled": true, "events": rollback_events});
    }
    Ok(input)
}

fn spec(td_arn: &str, sv: &Value, hooks: Option<&Value>) -> Result<Mapping> {
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
    Ok(spec)
}

/// Whether a deploy of a CODE_DEPLOY service creates a CodeDeploy deployment: only when what the
/// deployment carries changes (the task definition, or the service the AppSpec describes), or when
/// asked (`--force-new-deployment`, `refresh`). An unchanged deploy, and `scale` (current task
/// definition, service not updated), create none: a deployment replaces every task.
pub fn needs_deployment(td_changes: bool, service_differs: bool, force_new_deployment: bool) -> bool {
    td_changes || service_differs || force_new_deployment
}

/// The deployment group that deploys the config's service.
pub async fn target(ctx: &Context, aws: &Aws) -> Result<DeploymentTarget> {
    let service = ctx.config.service.as_deref().unwrap_or("");
    discovery::find(&aws.codedeploy(), ctx.config.codedeploy.as_ref(), &ctx.config.cluster, service)
        .await?
        .with_context(|| format!("no CodeDeploy deployment group deploys {service} in cluster {}", ctx.config.cluster))
}

/// The newest deployment of the service's group that is still running, if any.
pub async fn in_progress(ctx: &Context, aws: &Aws) -> Result<Option<String>> {
    use aws_sdk_codedeploy::types::DeploymentStatus as S;
    let t = target(ctx, aws).await?;
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

/// `--rollback-events` checked before anything is sent (bad input otherwise).
pub fn check_rollback_events(events: &[String]) -> Result<(), crate::error::InputError> {
    for e in events {
        if !["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"].contains(&e.as_str()) {
            return Err(crate::error::InputError::new(format!("--rollback-events: unknown event {e:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::needs_deployment;

    #[test]
    fn only_a_change_or_force_needs_a_codedeploy_deployment() {
        assert!(!needs_deployment(false, false, false), "unchanged");
        assert!(needs_deployment(true, false, false), "new task definition");
        assert!(needs_deployment(false, true, false), "service changed");
        assert!(needs_deployment(false, false, true), "--force-new-deployment / refresh");
    }
}
