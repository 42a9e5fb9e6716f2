//! The service's deployment-side references, as ecspresso v2.4.4-v2.8.5 checks them:
//! `monitoring.metricConfigurations` (shape and values per the ECS model), `vpcLatticeConfigurations`
//! (target group, port name, a role ECS can assume) and `deploymentConfiguration.lifecycleHooks`
//! (a Lambda hook's function exists and its role is trusted by `ecs.amazonaws.com`; PAUSE hooks
//! have neither and are skipped).

use serde_json::Value;

use super::tree::Outcome;
use crate::aws::describe_error;

/// The metrics ECS can collect at a chosen resolution (ECS model, `MetricConfiguration`).
const METRIC_NAMES: &[&str] = &["CPUUtilization", "MemoryUtilization"];
/// The resolutions ECS accepts, in seconds.
const RESOLUTIONS: &[i64] = &[20, 60];

/// `monitoring.metricConfigurations`: each entry has 1-5 `metricNames` from [`METRIC_NAMES`] and a
/// `resolutionSeconds` of 20 or 60, and no metric is configured twice. `None` when there is none.
pub fn metric_configurations(sv: &Value) -> Option<Outcome> {
    let configs = sv.pointer("/monitoring/metricConfigurations")?;
    let Some(items) = configs.as_array() else { return Some(Outcome::ng("monitoring.metricConfigurations must be a list")) };
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("monitoring.metricConfigurations[{i}]");
        match item.get("resolutionSeconds").and_then(Value::as_i64) {
            Some(r) if RESOLUTIONS.contains(&r) => {}
            Some(r) => return Some(Outcome::ng(format!("{at}.resolutionSeconds {r} must be 20 or 60"))),
            None => return Some(Outcome::ng(format!("{at}.resolutionSeconds (20 or 60) is required"))),
        }
        let names = match item.get("metricNames").and_then(Value::as_array) {
            Some(n) if (1..=5).contains(&n.len()) => n,
            Some(n) => return Some(Outcome::ng(format!("{at}.metricNames has {} names; ECS takes 1 to 5", n.len()))),
            None => return Some(Outcome::ng(format!("{at}.metricNames (a list of {}) is required", METRIC_NAMES.join(", ")))),
        };
        for name in names {
            let Some(name) = name.as_str().filter(|n| METRIC_NAMES.contains(n)) else {
                return Some(Outcome::ng(format!("{at}.metricNames: {name} is not one of {}", METRIC_NAMES.join(", "))));
            };
            if seen.contains(&name) {
                return Some(Outcome::ng(format!("{at}.metricNames: {name} is configured twice")));
            }
            seen.push(name);
        }
    }
    Some(Outcome::ok())
}

/// The display name of a VPC Lattice entry.
pub fn lattice_name(cfg: &Value) -> String {
    format!("VpcLattice[{}]", cfg.get("targetGroupArn").and_then(Value::as_str).unwrap_or("?"))
}

/// The local part of a VPC Lattice entry: `portName` names a port mapping of the task definition.
pub fn lattice_port(cfg: &Value, td: &Value) -> Outcome {
    let Some(port) = cfg.get("portName").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
        return Outcome::ng("portName is required");
    };
    let names: Vec<&str> = td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| c.get("portMappings").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|m| m.get("name").and_then(Value::as_str))
        .collect();
    if names.contains(&port) {
        return Outcome::ok();
    }
    let have = if names.is_empty() { "no named port mappings".to_owned() } else { names.join(", ") };
    Outcome::ng(format!("portName {port:?} is not the name of a container port mapping (the task definition has {have})"))
}

/// The target group of a VPC Lattice entry exists. An Elastic Load Balancing target group ARN is
/// read with DescribeTargetGroups; a `vpc-lattice` one is checked for its shape only (cortado has
/// no VPC Lattice client: a read-only tool keeps its IAM surface to the services it deploys with).
pub async fn lattice_target_group(elb: &aws_sdk_elasticloadbalancingv2::Client, arn: &str) -> Outcome {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (service, resource) = match parts.as_slice() {
        ["arn", _, service, _, _, resource] => (*service, *resource),
        _ => return Outcome::ng(format!("targetGroupArn {arn:?} is not an ARN")),
    };
    match service {
        "vpc-lattice" if resource.starts_with("targetgroup/") => Outcome::ok_with("a VPC Lattice target group ARN (its existence is not read)"),
        "elasticloadbalancing" if resource.starts_with("targetgroup/") => match elb.describe_target_groups().target_group_arns(arn).send().await {
            Ok(o) if !o.target_groups().is_empty() => Outcome::ok(),
            Ok(_) => Outcome::ng(format!("target group {arn} does not exist")),
            Err(e) => {
                let msg = describe_error(&e);
                if msg.contains("TargetGroupNotFound") || msg.contains("not found") {
                    Outcome::ng(format!("target group {arn} does not exist"))
                } else {
                    Outcome::ng(format!("cannot describe target group {arn}: {msg}"))
                }
            }
        },
        _ => Outcome::ng(format!("targetGroupArn {arn:?} is not a target group ARN")),
    }
}

/// The display name of a lifecycle hook.
pub fn hook_name(i: usize, hook: &Value) -> String {
    match hook.get("hookTargetArn").and_then(Value::as_str) {
        Some(arn) => format!("LifecycleHook[{arn}]"),
        None => format!("LifecycleHook[{i}]"),
    }
}

/// What to do for one lifecycle hook before any AWS call: `Err` is its final outcome (a PAUSE hook
/// is skipped; a Lambda hook without a well-formed target or role is NG), `Ok((function, role))`
/// what is still to be read.
pub fn hook_local(hook: &Value) -> Result<(String, String), Outcome> {
    let target_type = hook.get("targetType").and_then(Value::as_str).unwrap_or("AWS_LAMBDA");
    match target_type {
        "PAUSE" => return Err(Outcome::skip("a PAUSE hook has no target or role to check")),
        "AWS_LAMBDA" => {}
        other => return Err(Outcome::ng(format!("targetType {other:?} is not AWS_LAMBDA or PAUSE"))),
    }
    let Some(target) = hook.get("hookTargetArn").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return Err(Outcome::ng("a Lambda hook needs hookTargetArn"));
    };
    lambda_arn(target).map_err(Outcome::ng)?;
    match hook.get("roleArn").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(role) => Ok((target.to_owned(), role.to_owned())),
        None => Err(Outcome::ng("a Lambda hook needs roleArn (a role trusted by ecs.amazonaws.com that may invoke the function)")),
    }
}

/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`: the function a hook invokes,
/// checked for its shape before [`lambda_function`] reads it. Returns the region.
pub fn lambda_arn(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = matches!(parts.as_slice(),
        ["arn", p, "lambda", region, account, "function", name] | ["arn", p, "lambda", region, account, "function", name, _]
            if p.starts_with("aws") && !region.is_empty() && account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) && !name.is_empty());
    if ok { Ok(parts[3]) } else { Err(format!("hookTargetArn {arn:?} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)")) }
}

/// GetFunction (the caller's credentials, in the function's region): the hook's target exists.
pub async fn lambda_function(lambda: &aws_sdk_lambda::Client, arn: &str) -> Outcome {
    match lambda.get_function().function_name(arn).send().await {
        Ok(_) => Outcome::ok(),
        Err(e) => {
            let msg = describe_error(&e);
            if msg.contains("ResourceNotFound") || msg.contains("not found") {
                Outcome::ng(format!("Lambda function {arn} does not exist"))
            } else {
                Outcome::ng(format!("cannot read Lambda function {arn}: {msg}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::Status;
    use super::*;
    use serde_json::json;

    fn ok(o: &Outcome) -> bool {
        o.status == Status::Ok
    }

    #[test]
    fn metric_configurations_follow_the_ecs_model() {
        let sv = |m: Value| json!({"monitoring": {"metricConfigurations": m}});
        assert!(metric_configurations(&json!({})).is_none());
        assert!(metric_configurations(&sv(json!([{"metricNames": ["CPUUtilization", "MemoryUtilization"], "resolutionSeconds": 20}]))).is_some_and(|o| ok(&o)));
        for bad in [
            json!([{"metricNames": ["CPUUtilization"], "resolutionSeconds": 30}]),
            json!([{"metricNames": ["DiskUtilization"], "resolutionSeconds": 60}]),
            json!([{"metricNames": [], "resolutionSeconds": 60}]),
            json!([{"resolutionSeconds": 60}]),
            json!([{"metricNames": ["CPUUtilization"], "resolutionSeconds": 20}, {"metricNames": ["CPUUtilization"], "resolutionSeconds": 60}]),
        ] {
            assert!(metric_configurations(&sv(bad.clone())).is_some_and(|o| !ok(&o)), "{bad}");
        }
    }

    #[test]
    fn hooks_and_lambda_arns() {
        assert!(lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:hook").is_ok());
        assert!(lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:hook:live").is_ok());
        assert!(lambda_arn("arn:aws:lambda:us-east-1:123456789012:layer:hook").is_err());
        assert!(lambda_arn("hook").is_err());
        assert!(hook_local(&json!({"targetType": "PAUSE"})).is_err_and(|o| o.status.as_str() == "SKIP"));
        let role = "arn:aws:iam::123456789012:role/hooks";
        let lambda = json!({"hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:hook", "roleArn": role});
        assert_eq!(hook_local(&lambda).ok().map(|(_, r)| r).as_deref(), Some(role));
        assert_eq!(lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:hook"), Ok("us-east-1"));
        assert!(hook_local(&json!({"hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:hook"})).is_err());
        assert!(hook_local(&json!({"roleArn": role})).is_err());
    }

    #[test]
    fn lattice_port_names() {
        let td = json!({"containerDefinitions": [{"name": "app", "portMappings": [{"containerPort": 80, "name": "http"}]}]});
        assert!(ok(&lattice_port(&json!({"portName": "http"}), &td)));
        assert!(!ok(&lattice_port(&json!({"portName": "grpc"}), &td)));
        assert!(!ok(&lattice_port(&json!({}), &td)));
    }
}
