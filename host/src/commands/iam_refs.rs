//! What the rendered definitions and their templates reference, for `iam-policy` to scope its
//! statements to: secrets, environment files, log groups, roles, ECR repositories, and the literal
//! arguments of the `ssm` / `secretsmanager_arn` template calls.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::aws::arn::Arn;
use crate::verify::image::ImageRef;
use crate::verify::secrets::SecretRef;

/// Resources a task definition names.
#[derive(Debug, Default)]
pub struct Refs {
    pub ssm_parameters: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
    pub env_files: BTreeSet<String>,
    pub log_groups: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    pub repositories: BTreeSet<String>,
    /// Roles ECS itself assumes (lifecycle hooks, VPC Lattice): verify reads their trust only.
    pub service_roles: BTreeSet<String>,
    /// The Lambda functions of lifecycle hooks: verify reads each (GetFunction).
    pub lambda_functions: BTreeSet<String>,
}

/// Adds what `verify` reads for the rendered service definition `sv`: the roles of its VPC
/// Lattice entries and lifecycle hooks, and its hooks' Lambda functions.
pub fn add_service_definition_refs(r: &mut Refs, sv: &Value) {
    for cfg in sv.get("vpcLatticeConfigurations").and_then(Value::as_array).into_iter().flatten() {
        if let Some(a) = cfg.get("roleArn").and_then(Value::as_str) {
            r.service_roles.insert(a.to_owned());
        }
    }
    for hook in sv.pointer("/deploymentConfiguration/lifecycleHooks").and_then(Value::as_array).into_iter().flatten() {
        if hook.get("targetType").and_then(Value::as_str) == Some("PAUSE") {
            continue;
        }
        if let Some(a) = hook.get("roleArn").and_then(Value::as_str) {
            r.service_roles.insert(a.to_owned());
        }
        if let Some(a) = hook.get("hookTargetArn").and_then(Value::as_str) {
            r.lambda_functions.insert(a.to_owned());
        }
    }
}

/// The resources of the rendered task definition `td`, as IAM ARNs (`region` for those named bare).
pub fn task_definition_refs(td: &Value, region: &str) -> Refs {
    let mut r = Refs::default();
    for k in ["taskRoleArn", "executionRoleArn"] {
        if let Some(a) = td.get(k).and_then(Value::as_str) {
            r.roles.insert(a.to_owned());
        }
    }
    for c in td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
        for s in c.get("secrets").and_then(Value::as_array).into_iter().flatten() {
            if let Some(from) = s.get("valueFrom").and_then(Value::as_str) {
                value_from(&mut r, from, region);
            }
        }
        if let Some(p) = c.pointer("/repositoryCredentials/credentialsParameter").and_then(Value::as_str) {
            value_from(&mut r, p, region);
        }
        for f in c.get("environmentFiles").and_then(Value::as_array).into_iter().flatten() {
            if let Some(v) = f.get("value").and_then(Value::as_str) {
                r.env_files.insert(v.to_owned());
            }
        }
        if c.pointer("/logConfiguration/logDriver").and_then(Value::as_str) == Some("awslogs")
            && let Some(group) = c.pointer("/logConfiguration/options/awslogs-group").and_then(Value::as_str)
        {
            let reg = c.pointer("/logConfiguration/options/awslogs-region").and_then(Value::as_str).unwrap_or(region);
            r.log_groups.insert(Arn::log_group(reg, "*", group).to_string());
        }
        if let Some(image) = c.get("image").and_then(Value::as_str)
            && let Some(repo) = ecr_repository(image)
        {
            r.repositories.insert(repo);
        }
    }
    r
}

/// A secret's `valueFrom`, read as `verify` reads it ([`SecretRef`]): a Secrets Manager ARN (its
/// `:json-key:stage:id` dropped), an SSM ARN, or an SSM parameter name in the task's own region.
/// What `verify` would refuse is left out.
fn value_from(r: &mut Refs, from: &str, region: &str) {
    match SecretRef::parse(from) {
        Ok(SecretRef::SecretsManager { secret_id, .. }) => {
            r.secrets.insert(secret_id);
        }
        Ok(SecretRef::Ssm { value_from, .. }) if value_from.starts_with("arn:") => {
            r.ssm_parameters.insert(value_from);
        }
        Ok(SecretRef::Ssm { name, .. }) => {
            r.ssm_parameters.insert(Arn::ssm_parameter(region, "*", &name).to_string());
        }
        Err(_) => {}
    }
}

/// An ECR private image (`ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPO[:tag|@digest]`, parsed
/// as `verify` parses it) → the repository ARN, in the registry region's partition.
fn ecr_repository(image: &str) -> Option<String> {
    let parsed = ImageRef::parse(image).ok()?;
    let (account, region) = parsed.ecr()?;
    Some(Arn::ecr_repository(&region, &account, &parsed.repository).to_string())
}

/// The arguments of every call of `function` in Go-template text: `Some(literals)` when each call's
/// first argument is a string literal, `None` when one is computed (or the text is Jsonnet
/// calling it, which this scanner does not read).
pub fn literal_arguments(texts: &[String], function: &str) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for text in texts {
        if text.contains(&format!("native('{function}')")) || text.contains(&format!("native(\"{function}\")")) {
            return None;
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let end = after.find("}}").unwrap_or(after.len());
            let action = &after[..end];
            rest = &after[end.min(after.len())..];
            // Inside a JSON string a template's double quotes are written `\"`.
            let tokens = tokenize(&action.replace("\\\"", "\""));
            for (i, t) in tokens.iter().enumerate() {
                if t == function {
                    match tokens.get(i + 1).and_then(|a| literal(a)) {
                        Some(v) => {
                            out.insert(v);
                        }
                        None => return None,
                    }
                }
            }
        }
    }
    Some(out)
}

fn tokenize(action: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for ch in action.chars() {
        match quote {
            Some(q) => {
                cur.push(ch);
                if ch == q {
                    tokens.push(std::mem::take(&mut cur));
                    quote = None;
                }
            }
            None if ch == '`' || ch == '"' => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
                cur.push(ch);
                quote = Some(ch);
            }
            None if ch.is_whitespace() || "()|-".contains(ch) => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    tokens
}

fn literal(token: &str) -> Option<String> {
    let q = token.chars().next()?;
    (matches!(q, '`' | '"') && token.len() >= 2 && token.ends_with(q) && !token[1..token.len() - 1].contains('\\'))
        .then(|| token[1..token.len() - 1].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_calls_are_collected_and_a_computed_one_gives_up() {
        let t = |s: &str| vec![s.to_owned()];
        assert_eq!(literal_arguments(&t("{\"a\": \"{{ ssm `/app/db` }}\", \"b\": \"{{ ssm \\\"/app/x\\\" 1 }}\"}"), "ssm").map(|s| s.len()), Some(2));
        assert_eq!(
            literal_arguments(&t("{{ ssm `/app/db` }} {{ ssm `/app/x` 1 }}"), "ssm").unwrap().into_iter().collect::<Vec<_>>(),
            vec!["/app/db", "/app/x"]
        );
        assert_eq!(literal_arguments(&t("{{ ssm (printf `/app/%s` (must_env `E`)) }}"), "ssm"), None);
        assert_eq!(literal_arguments(&t("{{ tfstate `x` }}"), "ssm"), Some(BTreeSet::new()));
        assert_eq!(
            ecr_repository("123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app:v1").unwrap(),
            "arn:aws:ecr:us-east-1:123456789012:repository/demo/app"
        );
        assert_eq!(ecr_repository("nginx:latest"), None);
        assert_eq!(
            ecr_repository("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/demo/app@sha256:ab").unwrap(),
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/demo/app"
        );
    }

    #[test]
    fn bare_names_are_arns_in_the_region_partition() {
        let td = serde_json::json!({"containerDefinitions": [{
            "secrets": [{"valueFrom": "/app/db"}, {"valueFrom": "arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:db-AbCdEf:password::"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app"}}
        }]});
        let r = task_definition_refs(&td, "us-gov-west-1");
        assert_eq!(r.ssm_parameters.iter().collect::<Vec<_>>(), ["arn:aws-us-gov:ssm:us-gov-west-1:*:parameter/app/db"]);
        assert_eq!(r.secrets.iter().collect::<Vec<_>>(), ["arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:db-AbCdEf"]);
        assert_eq!(r.log_groups.iter().collect::<Vec<_>>(), ["arn:aws-us-gov:logs:us-gov-west-1:*:log-group:/ecs/app"]);
    }
}
