//! `secrets[].valueFrom`: Secrets Manager ARNs (with an optional JSON key, version stage and id)
//! and SSM parameters (name or ARN). Existence is asked with the caller's credentials (a metadata
//! read); with `--get-secrets` the value is read with the execution role's, as the ECS agent would.
//! A missing SSM parameter is an NG (ecspresso let it pass: GetParameters reports it in
//! InvalidParameters, not as an error).

use aws_sdk_ssm::types::ParameterStringFilter;
use serde_json::Value;

use super::tree::Outcome;
use crate::aws::describe_error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    SecretsManager { secret_id: String, region: String, json_key: Option<String>, version_stage: Option<String>, version_id: Option<String> },
    Ssm { value_from: String, name: String, region: Option<String> },
}

impl SecretRef {
    pub fn parse(value_from: &str) -> Result<SecretRef, String> {
        let v = value_from.trim();
        if v.is_empty() {
            return Err("valueFrom is empty".into());
        }
        let parts: Vec<&str> = v.split(':').collect();
        if parts.len() >= 6 && parts[0] == "arn" && parts[2] == "secretsmanager" {
            if parts.len() < 7 || parts[5] != "secret" || parts[6].is_empty() {
                return Err(format!("{v:?} is not a Secrets Manager secret ARN"));
            }
            let opt = |i: usize| parts.get(i).filter(|s| !s.is_empty()).map(|s| s.to_string());
            return Ok(SecretRef::SecretsManager {
                secret_id: parts[..7].join(":"),
                region: parts[3].to_owned(),
                json_key: opt(7),
                version_stage: opt(8),
                version_id: opt(9),
            });
        }
        if parts.len() >= 6 && parts[0] == "arn" && parts[2] == "ssm" {
            let resource = parts[5..].join(":");
            let tail = resource.strip_prefix("parameter/").ok_or_else(|| format!("{v:?} is not an SSM parameter ARN"))?;
            // Hierarchical names start with '/', which the ARN folds into `parameter/`.
            let name = if tail.contains('/') { format!("/{tail}") } else { tail.to_owned() };
            let region = Some(parts[3].to_owned()).filter(|r| !r.is_empty());
            return Ok(SecretRef::Ssm { value_from: v.to_owned(), name, region });
        }
        if v.starts_with("arn:") {
            return Err(format!("{v:?}: only Secrets Manager and SSM Parameter Store ARNs can be secrets"));
        }
        Ok(SecretRef::Ssm { value_from: v.to_owned(), name: v.to_owned(), region: None })
    }

    /// The region the secret lives in, when its ARN says.
    pub fn region(&self) -> Option<&str> {
        match self {
            SecretRef::SecretsManager { region, .. } => Some(region).filter(|r| !r.is_empty()).map(String::as_str),
            SecretRef::Ssm { region, .. } => region.as_deref(),
        }
    }
}

/// Existence only (caller's credentials).
pub async fn exists(caller: &aws_config::SdkConfig, r: &SecretRef) -> Outcome {
    match r {
        SecretRef::SecretsManager { secret_id, json_key, .. } => {
            let sm = aws_sdk_secretsmanager::Client::new(caller);
            match sm.describe_secret().secret_id(secret_id).send().await {
                Ok(_) if json_key.is_some() => Outcome::ok_with("exists; not read (--no-get-secrets), so its JSON key is not checked"),
                Ok(_) => Outcome::ok_with("exists; not read (--no-get-secrets)"),
                Err(e) => not_found_or(describe_error(&e), || format!("secret {secret_id} does not exist")),
            }
        }
        SecretRef::Ssm { name, .. } => {
            let ssm = aws_sdk_ssm::Client::new(caller);
            let filter = match ParameterStringFilter::builder().key("Name").option("Equals").values(name).build() {
                Ok(f) => f,
                Err(e) => return Outcome::ng(e.to_string()),
            };
            match ssm.describe_parameters().parameter_filters(filter).send().await {
                Ok(o) if o.parameters().iter().any(|p| p.name() == Some(name.as_str())) => Outcome::ok_with("exists; not read (--no-get-secrets)"),
                Ok(_) => Outcome::ng(format!("parameter {name} does not exist")),
                Err(e) => Outcome::ng(format!("cannot look parameter {name} up: {}", describe_error(&e))),
            }
        }
    }
}

/// Reads the value with the agent's (execution role's) credentials.
pub async fn read(agent: &aws_config::SdkConfig, r: &SecretRef) -> Outcome {
    match r {
        SecretRef::SecretsManager { secret_id, json_key, version_stage, version_id, .. } => {
            let sm = aws_sdk_secretsmanager::Client::new(agent);
            let out = sm.get_secret_value().secret_id(secret_id).set_version_stage(version_stage.clone()).set_version_id(version_id.clone()).send().await;
            let out = match out {
                Ok(o) => o,
                Err(e) => return not_found_or(describe_error(&e), || format!("secret {secret_id} does not exist")),
            };
            let Some(key) = json_key else { return Outcome::ok() };
            let parsed: Option<Value> = out.secret_string().and_then(|s| serde_json::from_str(s).ok());
            match parsed {
                Some(Value::Object(m)) if m.contains_key(key) => Outcome::ok(),
                Some(Value::Object(_)) => Outcome::ng(format!("secret {secret_id} has no JSON key {key:?}")),
                _ => Outcome::ng(format!("secret {secret_id} is not a JSON object, so it has no key {key:?}")),
            }
        }
        SecretRef::Ssm { value_from, name, .. } => {
            let ssm = aws_sdk_ssm::Client::new(agent);
            match ssm.get_parameters().names(value_from).with_decryption(true).send().await {
                Ok(o) if !o.invalid_parameters().is_empty() => Outcome::ng(format!("parameter {name} does not exist")),
                Ok(o) if o.parameters().is_empty() => Outcome::ng(format!("parameter {name} was not returned")),
                Ok(_) => Outcome::ok(),
                Err(e) => Outcome::ng(format!("cannot read parameter {name}: {}", describe_error(&e))),
            }
        }
    }
}

fn not_found_or(msg: String, not_found: impl FnOnce() -> String) -> Outcome {
    if msg.contains("ResourceNotFound") || msg.contains("can't find") || msg.contains("not find") { Outcome::ng(not_found()) } else { Outcome::ng(msg) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references() {
        let arn = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:app/db-AbCdEf";
        assert_eq!(
            SecretRef::parse(&format!("{arn}:password::")).unwrap(),
            SecretRef::SecretsManager {
                secret_id: arn.into(),
                region: "ap-northeast-1".into(),
                json_key: Some("password".into()),
                version_stage: None,
                version_id: None
            }
        );
        assert!(matches!(SecretRef::parse(arn).unwrap(), SecretRef::SecretsManager { json_key: None, .. }));
        assert_eq!(
            SecretRef::parse("arn:aws:ssm:us-east-1:123456789012:parameter/app/db/host").unwrap(),
            SecretRef::Ssm {
                value_from: "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/host".into(),
                name: "/app/db/host".into(),
                region: Some("us-east-1".into())
            }
        );
        assert!(matches!(SecretRef::parse("arn:aws:ssm:us-east-1:1:parameter/flat").unwrap(), SecretRef::Ssm { name, .. } if name == "flat"));
        assert!(matches!(SecretRef::parse("/app/db/host").unwrap(), SecretRef::Ssm { region: None, .. }));
        assert!(SecretRef::parse("arn:aws:s3:::bucket/key").is_err());
        assert!(SecretRef::parse("").is_err());
    }
}
