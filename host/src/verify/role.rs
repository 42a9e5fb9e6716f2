//! Roles: the role exists and its trust policy lets the right service principal assume it
//! (`ecs-tasks.amazonaws.com` for task and execution roles, `ecs.amazonaws.com` for the roles of
//! lifecycle hooks and VPC Lattice). Principals and actions may be strings or arrays (ecspresso read
//! only strings until v2.7.1: its issue #931).

use serde_json::Value;

use super::tree::Outcome;
use crate::aws::describe_error;

pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";
/// The principal of the roles ECS itself assumes (an Express service's infrastructure role,
/// lifecycle hooks, VPC Lattice).
pub const ECS: &str = "ecs.amazonaws.com";

/// The role name of `arn:aws:iam::123456789012:role/path/name` (the last path segment).
pub fn role_name(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" {
        return Err(format!("{arn:?} is not an IAM role ARN"));
    }
    let resource = parts[5];
    let path = resource.strip_prefix("role/").ok_or_else(|| format!("{arn:?} is not an IAM role ARN (resource {resource:?})"))?;
    match path.rsplit('/').next() {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(format!("{arn:?} has no role name")),
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// Does an `Allow` statement let `ecs-tasks.amazonaws.com` call `sts:AssumeRole`?
pub fn trusts_ecs_tasks(policy: &Value) -> bool {
    trusts(policy, ECS_TASKS)
}

/// Does an `Allow` statement let the service `principal` call `sts:AssumeRole`?
pub fn trusts(policy: &Value, principal: &str) -> bool {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => vec![],
    };
    statements.into_iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case("Allow"));
        let service = strings(s.get("Principal").and_then(|p| p.get("Service"))).contains(&principal);
        let action = strings(s.get("Action")).iter().any(|a| a.eq_ignore_ascii_case("sts:AssumeRole") || *a == "sts:*" || *a == "*");
        allow && service && action
    })
}

/// IAM returns the trust policy URL-encoded (RFC 3986); some servers send it plain.
pub fn decode_policy(doc: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str(doc) {
        return Ok(v);
    }
    let decoded = percent_decode(doc);
    serde_json::from_str(&decoded).map_err(|e| format!("the trust policy is not JSON: {e}"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// GetRole with the caller's credentials, then the trust policy (trusted by ECS tasks).
pub async fn check(iam: &aws_sdk_iam::Client, arn: &str) -> Outcome {
    check_trusted(iam, arn, ECS_TASKS).await
}

/// GetRole with the caller's credentials, then the trust policy (trusted by `principal`).
pub async fn check_trusted(iam: &aws_sdk_iam::Client, arn: &str, principal: &str) -> Outcome {
    let name = match role_name(arn) {
        Ok(n) => n,
        Err(e) => return Outcome::ng(e),
    };
    let out = match iam.get_role().role_name(name).send().await {
        Ok(o) => o,
        Err(e) => {
            let msg = describe_error(&e);
            if msg.contains("NoSuchEntity") || msg.contains("cannot be found") {
                return Outcome::ng(format!("role {name} does not exist"));
            }
            return Outcome::ng(format!("cannot read role {name}: {msg}"));
        }
    };
    let Some(doc) = out.role().and_then(|r| r.assume_role_policy_document()) else {
        return Outcome::ng(format!("role {name} has no trust policy"));
    };
    match decode_policy(doc) {
        Ok(policy) if trusts(&policy, principal) => Outcome::ok(),
        Ok(_) => Outcome::ng(format!("role {name} does not trust {principal}: no Allow statement for sts:AssumeRole with that service principal")),
        Err(e) => Outcome::ng(format!("role {name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_arns() {
        assert_eq!(role_name("arn:aws:iam::123456789012:role/app"), Ok("app"));
        assert_eq!(role_name("arn:aws:iam::123456789012:role/service-role/team/app"), Ok("app"));
        assert!(role_name("arn:aws:iam::123456789012:user/app").is_err());
        assert!(role_name("arn:aws:s3:::bucket").is_err());
        assert!(role_name("app").is_err());
    }

    #[test]
    fn trust_policies() {
        let string = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        let array = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}});
        let ec2 = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        let deny = json!({"Statement": [{"Effect": "Deny", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert!(trusts_ecs_tasks(&string));
        assert!(trusts_ecs_tasks(&array));
        assert!(!trusts_ecs_tasks(&ec2));
        assert!(!trusts_ecs_tasks(&deny));
        let ecs = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": ["ecs.amazonaws.com"]}, "Action": "sts:AssumeRole"}]});
        assert!(trusts(&ecs, ECS));
        assert!(!trusts(&ecs, ECS_TASKS), "ecs.amazonaws.com is not ecs-tasks.amazonaws.com");
        assert!(!trusts(&string, ECS));
    }

    #[test]
    fn url_encoded_policy() {
        let enc = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert!(trusts_ecs_tasks(&decode_policy(enc).unwrap()));
    }
}
