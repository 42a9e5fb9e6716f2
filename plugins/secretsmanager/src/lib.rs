//! cortado's first-party `secretsmanager` plugin: `{{ secretsmanager_arn "name" }}`, with
//! ecspresso's semantics.
//!
//! - `secretsmanager_arn ID`: `DescribeSecret(ID)` through the host broker → the secret's full ARN
//!   (with its random suffix), cached per ID for the whole run.
//! - Capability: `secretsmanager:DescribeSecret` on `*`.
//! - No config.
use std::collections::HashMap;

use cortado_plugin_sdk::{Manifest, Plugin, aws, register_plugin};

struct SecretsManager {
    arns: HashMap<String, String>,
}

impl Plugin for SecretsManager {
    fn new() -> Self {
        SecretsManager { arns: HashMap::new() }
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("secretsmanager", env!("CARGO_PKG_VERSION"))
            .description("Secrets Manager ARNs (ecspresso's secretsmanager plugin)")
            .function("secretsmanager_arn", 1, 1, "secretsmanager_arn ID: the full ARN of a secret given by name or ARN")
            .capability("secretsmanager:DescribeSecret", "*")
    }

    fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
        if function != "secretsmanager_arn" {
            return Err(format!("function {function} is not provided by this plugin"));
        }
        let id = &args[0];
        if let Some(arn) = self.arns.get(id) {
            return Ok(arn.clone());
        }
        let secret = aws::secretsmanager_describe_secret(id).map_err(|e| format!("failed to describe secret: {}", e.message()))?;
        self.arns.insert(id.clone(), secret.arn.clone());
        Ok(secret.arn)
    }
}

register_plugin!(SecretsManager);

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::testing::{Harness, MockHost, calls};

    const ARN: &str = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:app/db-AbCdEf";

    #[test]
    fn resolves_and_caches() {
        MockHost::new().with_secret("app/db", ARN, Some("pw")).install();
        let mut h = Harness::<SecretsManager>::new();
        assert_eq!(h.call("secretsmanager_arn", &["app/db"]).unwrap(), ARN);
        assert_eq!(h.call("secretsmanager_arn", &["app/db"]).unwrap(), ARN);
        assert_eq!(h.call("secretsmanager_arn", &[ARN]).unwrap(), ARN);
        assert_eq!(calls(), vec![format!("secretsmanager:DescribeSecret app/db"), format!("secretsmanager:DescribeSecret {ARN}")]);
    }

    #[test]
    fn errors() {
        MockHost::new().install();
        let mut h = Harness::<SecretsManager>::new();
        let err = h.call("secretsmanager_arn", &["nope"]).unwrap_err();
        assert!(err.starts_with("failed to describe secret: ResourceNotFoundException"), "{err}");
        assert_eq!(h.call("secretsmanager_arn", &["a", "b"]).unwrap_err(), "secretsmanager_arn template function accepts at most 1 parameters, but got 2");
        MockHost::new().denying("secretsmanager:DescribeSecret").install();
        let err = h.call("secretsmanager_arn", &["x"]).unwrap_err();
        assert!(err.contains("not granted"), "{err}");
    }
}
