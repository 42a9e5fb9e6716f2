//! The service definition against the task definition: awsvpc network settings, load balancer
//! target groups (they exist, fit the network mode, and point at a container port the task
//! exposes), and the cluster.

use serde_json::Value;

use super::tree::Outcome;
use crate::aws::describe_error;

pub use crate::definitions::is_awsvpc;

/// A container's own check in awsvpc mode: every hostPort equals its containerPort.
pub fn port_mappings(container: &Value, awsvpc: bool) -> Option<Outcome> {
    if !awsvpc {
        return None;
    }
    let maps = container.get("portMappings").and_then(Value::as_array)?;
    for m in maps {
        let cp = m.get("containerPort").and_then(Value::as_i64);
        let hp = m.get("hostPort").and_then(Value::as_i64);
        if let (Some(cp), Some(hp)) = (cp, hp)
            && hp != cp
        {
            return Some(Outcome::ng(format!("hostPort {hp} must be the same as containerPort {cp} in awsvpc network mode")));
        }
    }
    Some(Outcome::ok())
}

/// `networkConfiguration` fits the network mode.
pub fn network(td: &Value, sv: &Value) -> Option<Outcome> {
    let awsvpc = is_awsvpc(td);
    let cfg = sv.pointer("/networkConfiguration/awsvpcConfiguration");
    match (awsvpc, cfg) {
        (false, None) => None,
        (false, Some(_)) => Some(Outcome::ng("networkConfiguration is only valid for the awsvpc network mode; the task definition does not use it")),
        (true, None) => Some(Outcome::ng("the task definition uses the awsvpc network mode: networkConfiguration.awsvpcConfiguration is required")),
        (true, Some(c)) => {
            let subnets = c.get("subnets").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            if subnets == 0 {
                return Some(Outcome::ng("awsvpcConfiguration.subnets is empty"));
            }
            if let Some(ip) = c.get("assignPublicIp").and_then(Value::as_str)
                && ip != "ENABLED"
                && ip != "DISABLED"
            {
                return Some(Outcome::ng(format!("assignPublicIp must be ENABLED or DISABLED, not {ip:?}")));
            }
            Some(Outcome::ok())
        }
    }
}

/// The service's own check: a health check grace period needs a load balancer.
pub fn grace_period(sv: &Value) -> Option<Outcome> {
    let has_lbs = sv.get("loadBalancers").and_then(Value::as_array).is_some_and(|l| !l.is_empty());
    (sv.get("healthCheckGracePeriodSeconds").is_some() && !has_lbs)
        .then(|| Outcome::ng("healthCheckGracePeriodSeconds is set but the service has no loadBalancers"))
}

/// The service's own checks: the grace period, then early success criteria.
pub fn own(sv: &Value) -> Option<Outcome> {
    match grace_period(sv) {
        Some(ng) => Some(ng),
        None => early_success(sv),
    }
}

/// Enabled early success criteria: ROLLING only (the ECS controller), with `healthyPercent`
/// between `minimumHealthyPercent` (default 100) and 100, and a `sourceServiceRevisionCleanup`
/// (ECS refuses the update otherwise; AWS "Complete Amazon ECS rolling deployments early").
pub fn early_success(sv: &Value) -> Option<Outcome> {
    let dc = sv.get("deploymentConfiguration")?;
    let esc = dc.get("earlySuccessCriteria").filter(|e| e.get("enable").and_then(Value::as_bool) == Some(true))?;
    let strategy = dc.get("strategy").and_then(Value::as_str).unwrap_or("ROLLING");
    let controller = sv.pointer("/deploymentController/type").and_then(Value::as_str).unwrap_or("ECS");
    if strategy != "ROLLING" || controller != "ECS" {
        let what = if controller != "ECS" { format!("the {controller} deployment controller") } else { format!("the {strategy} strategy") };
        return Some(Outcome::ng(format!("deploymentConfiguration.earlySuccessCriteria is for ROLLING deployments only; this service deploys with {what}")));
    }
    let Some(healthy) = esc.get("healthyPercent").and_then(Value::as_i64) else {
        return Some(Outcome::ng("deploymentConfiguration.earlySuccessCriteria.healthyPercent is required when enable is true"));
    };
    let min = dc.get("minimumHealthyPercent").and_then(Value::as_i64).unwrap_or(100);
    if healthy < min || healthy > 100 {
        return Some(Outcome::ng(format!(
            "deploymentConfiguration.earlySuccessCriteria.healthyPercent {healthy} must be between minimumHealthyPercent ({min}) and 100"
        )));
    }
    match esc.get("sourceServiceRevisionCleanup").and_then(Value::as_str) {
        Some("BLOCKING" | "DEFERRED") => Some(Outcome::ok()),
        Some(other) => {
            Some(Outcome::ng(format!("deploymentConfiguration.earlySuccessCriteria.sourceServiceRevisionCleanup {other:?} must be BLOCKING or DEFERRED")))
        }
        None => Some(Outcome::ng(
            "deploymentConfiguration.earlySuccessCriteria.sourceServiceRevisionCleanup (BLOCKING or DEFERRED) is required when enable is true",
        )),
    }
}

/// The display name of a load balancer entry.
pub fn lb_name(lb: &Value) -> String {
    let target = lb.get("targetGroupArn").or_else(|| lb.get("loadBalancerName")).and_then(Value::as_str).unwrap_or("?");
    format!("LoadBalancer[{target}]")
}

/// The target group exists, suits the network mode, and the task exposes the container port.
pub async fn load_balancer(elb: &aws_sdk_elasticloadbalancingv2::Client, lb: &Value, td: &Value) -> Outcome {
    let Some(arn) = lb.get("targetGroupArn").and_then(Value::as_str) else {
        return Outcome::skip("classic load balancers (loadBalancerName) are not checked");
    };
    let container = lb.get("containerName").and_then(Value::as_str).unwrap_or("");
    let port = lb.get("containerPort").and_then(Value::as_i64);
    // The container and port first: a purely local mistake needs no AWS call to explain.
    let containers = td.get("containerDefinitions").and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(c) = containers.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container)) else {
        return Outcome::ng(format!("containerName {container:?} is not a container of the task definition"));
    };
    let exposed: Vec<i64> = c
        .get("portMappings")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(|p| p.get("containerPort").and_then(Value::as_i64)).collect())
        .unwrap_or_default();
    let Some(port) = port else { return Outcome::ng("containerPort is required") };
    if !exposed.contains(&port) {
        let have = if exposed.is_empty() { "no ports".to_owned() } else { exposed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ") };
        return Outcome::ng(format!("container {container} does not expose containerPort {port} (it maps {have})"));
    }
    let out = match elb.describe_target_groups().target_group_arns(arn).send().await {
        Ok(o) => o,
        Err(e) => {
            let msg = describe_error(&e);
            return if msg.contains("TargetGroupNotFound") || msg.contains("not found") {
                Outcome::ng(format!("target group {arn} does not exist"))
            } else {
                Outcome::ng(format!("cannot describe target group {arn}: {msg}"))
            };
        }
    };
    let Some(tg) = out.target_groups().first() else { return Outcome::ng(format!("target group {arn} does not exist")) };
    if is_awsvpc(td)
        && let Some(t) = tg.target_type()
        && t.as_str() != "ip"
    {
        return Outcome::ng(format!(
            "target group {} has target type {}; awsvpc tasks register by IP (target type ip)",
            tg.target_group_name().unwrap_or(arn),
            t.as_str()
        ));
    }
    Outcome::ok()
}

/// DescribeClusters: the cluster exists and is ACTIVE.
pub async fn cluster(ecs: &aws_sdk_ecs::Client, name: &str) -> Outcome {
    match ecs.describe_clusters().clusters(name).send().await {
        Ok(o) => match o.clusters().first() {
            Some(c) if c.status() == Some("ACTIVE") || c.status().is_none() => Outcome::ok(),
            Some(c) => Outcome::ng(format!("cluster {name} is {}", c.status().unwrap_or("?"))),
            None => Outcome::ng(format!("cluster {name} does not exist")),
        },
        Err(e) => Outcome::ng(format!("cannot describe cluster {name}: {}", describe_error(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_coherence() {
        let fargate = json!({"requiresCompatibilities": ["FARGATE"]});
        let bridge = json!({"networkMode": "bridge"});
        let cfg = json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}});
        assert!(is_awsvpc(&fargate) && !is_awsvpc(&bridge));
        assert_eq!(network(&fargate, &cfg), Some(Outcome::ok()));
        assert_eq!(network(&fargate, &json!({})).unwrap().status, super::super::tree::Status::Ng);
        assert_eq!(network(&bridge, &cfg).unwrap().status, super::super::tree::Status::Ng);
        assert_eq!(network(&bridge, &json!({})), None);
        let empty = json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": []}}});
        assert_eq!(network(&fargate, &empty).unwrap().status, super::super::tree::Status::Ng);
    }

    #[test]
    fn early_success_criteria_bounds() {
        use super::super::tree::Status;
        let sv = |dc: Value| json!({"deploymentConfiguration": dc});
        let esc = |hp: i64| json!({"enable": true, "healthyPercent": hp, "sourceServiceRevisionCleanup": "DEFERRED"});
        assert_eq!(early_success(&sv(json!({"minimumHealthyPercent": 50, "earlySuccessCriteria": esc(75)}))), Some(Outcome::ok()));
        assert_eq!(early_success(&sv(json!({"minimumHealthyPercent": 50, "earlySuccessCriteria": esc(40)}))).unwrap().status, Status::Ng);
        assert_eq!(early_success(&sv(json!({"minimumHealthyPercent": 50, "earlySuccessCriteria": esc(101)}))).unwrap().status, Status::Ng);
        assert_eq!(early_success(&sv(json!({"earlySuccessCriteria": esc(90)}))).unwrap().status, Status::Ng, "the default minimum is 100");
        assert_eq!(early_success(&sv(json!({"strategy": "BLUE_GREEN", "earlySuccessCriteria": esc(100)}))).unwrap().status, Status::Ng);
        assert_eq!(early_success(&sv(json!({"earlySuccessCriteria": {"enable": false, "healthyPercent": 5}}))), None);
    }

    #[test]
    fn ports_and_grace() {
        let c = json!({"portMappings": [{"containerPort": 80, "hostPort": 8080}]});
        assert_eq!(port_mappings(&c, true).unwrap().status, super::super::tree::Status::Ng);
        assert_eq!(port_mappings(&c, false), None);
        assert_eq!(grace_period(&json!({"healthCheckGracePeriodSeconds": 30})).unwrap().status, super::super::tree::Status::Ng);
        assert_eq!(grace_period(&json!({"healthCheckGracePeriodSeconds": 30, "loadBalancers": [{}]})), None);
    }
}
