//! Example cortado verifier: every container image of the rendered task definition must be
//! immutable. `cortado verify` shows one check per container, named `image[CONTAINER]`:
//!
//! - OK when the image is pinned by a `@sha256:` digest;
//! - otherwise, unless `require_digest` is set, OK when the tag matches `immutable_tags_pattern`;
//! - NG for `latest`, a missing tag (which means latest), a non-matching tag, or no image.
//!
//! Config (all optional): `{"require_digest": false, "immutable_tags_pattern": "^v\\d+\\.\\d+\\.\\d+$"}`
//! (the pattern shown is the default; `""` accepts any tag but `latest`). A bad config makes a
//! single NG check named `config`. No capabilities.
mod policy;

use cortado_plugin_sdk::{Check, Manifest, Plugin, host, register_plugin, taskdef};

use policy::{Config, Policy};

struct ImagePolicy {
    policy: Result<Policy, String>,
}

impl Plugin for ImagePolicy {
    fn new() -> Self {
        let policy = host::config::<Config>().and_then(Policy::from_config);
        ImagePolicy { policy }
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("image-policy", env!("CARGO_PKG_VERSION")).description("container images must be pinned by digest or carry an immutable tag").verifier()
    }

    fn verify(&mut self, task_definition: &str, _service_definition: Option<&str>) -> Vec<Check> {
        let policy = match &self.policy {
            Ok(p) => p,
            Err(e) => return vec![Check::ng("config", e.clone())],
        };
        match taskdef::containers(task_definition) {
            Err(e) => vec![Check::ng("TaskDefinition", e)],
            Ok(cs) if cs.is_empty() => vec![Check::skip("TaskDefinition", "no container definitions")],
            Ok(cs) => cs.iter().map(|c| policy.check(&c.name, &c.image)).collect(),
        }
    }
}

register_plugin!(ImagePolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::testing::{Harness, MockHost};
    use cortado_plugin_sdk::{CheckStatus, Hook};
    use serde_json::json;

    const TD: &str = r#"{"family": "app", "containerDefinitions": [
        {"name": "app", "image": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:v1.4.0"},
        {"name": "proxy", "image": "nginx:latest"},
        {"name": "agent", "image": "public.ecr.aws/datadog/agent"},
        {"name": "pinned", "image": "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
    ]}"#;

    fn statuses(checks: &[Check]) -> Vec<(String, CheckStatus)> {
        checks.iter().map(|c| (c.name.clone(), c.status)).collect()
    }

    #[test]
    fn default_config() {
        MockHost::new().install();
        let mut h = Harness::<ImagePolicy>::new();
        assert_eq!(h.manifest().hooks, vec![Hook::Verifier]);
        assert_eq!(
            statuses(&h.verify(TD, None)),
            vec![
                ("image[app]".into(), CheckStatus::Ok),
                ("image[proxy]".into(), CheckStatus::Ng),
                ("image[agent]".into(), CheckStatus::Ng),
                ("image[pinned]".into(), CheckStatus::Ok),
            ]
        );
    }

    #[test]
    fn require_digest_config() {
        MockHost::new().with_config(json!({"require_digest": true})).install();
        let mut h = Harness::<ImagePolicy>::new();
        let s = statuses(&h.verify(TD, None));
        assert_eq!(s[0].1, CheckStatus::Ng);
        assert_eq!(s[3].1, CheckStatus::Ok);
    }

    #[test]
    fn bad_config_and_bad_input() {
        MockHost::new().with_config(json!({"immutable_tags_pattern": "("})).install();
        let mut h = Harness::<ImagePolicy>::new();
        let c = h.verify(TD, None);
        assert_eq!((c.len(), c[0].name.as_str(), c[0].status), (1, "config", CheckStatus::Ng));
        MockHost::new().with_config(json!({"require_digest": "yes"})).install();
        let mut h = Harness::<ImagePolicy>::new();
        assert!(h.verify(TD, None)[0].message.starts_with("invalid plugin config"));
        MockHost::new().install();
        let mut h = Harness::<ImagePolicy>::new();
        assert_eq!(h.verify("not json", None)[0].status, CheckStatus::Ng);
        assert_eq!(h.verify(r#"{"family": "x"}"#, None)[0].status, CheckStatus::Skip);
    }
}
