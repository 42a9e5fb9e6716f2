//! Example cortado verifier: every container image of the rendered task definition must be
//! immutable. `cortado verify` shows one check per container, named `image[CONTAINER]`:
//!
//! - OK when the image is pinned by a `@sha256:` digest;
//! - otherwise, unless `require_digest` is set, OK when the tag matches `immutable_tags_pattern`;
//! - NG for `latest`, a missing tag (which means latest), a non-matching tag, or no image.
//!
//! It is also a gate, asked only when the operator sets `enforcement:` on it (so a config that uses
//! it as a verifier keeps its behaviour): it denies a plan that would run an image failing the same
//! rule. The images judged are those of every RegisterTaskDefinition step (what a RunTask or
//! service step's `$ref` to it runs) and of the plan's task definition (the revision a step names by
//! ARN; all a plan without steps carries), so an image reaches AWS only if the gate saw it.
//!
//! Config (all optional): `{"require_digest": false, "immutable_tags_pattern": "^v\\d+\\.\\d+\\.\\d+$"}`
//! (the pattern shown is the default; `""` accepts any tag but `latest`). A bad config makes a
//! single NG check named `config`. No capabilities.
mod policy;

use cortado_plugin_sdk::{Check, CheckStatus, Decision, Manifest, Plan, Plugin, host, register_plugin, taskdef};

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
        Manifest::new("image-policy", env!("CARGO_PKG_VERSION"))
            .description("container images must be pinned by digest or carry an immutable tag")
            .verifier()
            .gate()
    }

    fn evaluate(&mut self, plan: &Plan) -> Decision {
        let policy = match &self.policy {
            Ok(p) => p,
            Err(e) => return Decision::Deny(vec![format!("image-policy config: {e}")]),
        };
        match plan.containers() {
            Err(e) => Decision::Deny(vec![format!("cannot check images: {e}")]),
            Ok(cs) => {
                let ng = cs.iter().map(|c| policy.check(&c.name, &c.image)).filter(|c| c.status == CheckStatus::Ng);
                Decision::from_findings(ng.map(|c| format!("{}: {}", c.name, c.message)).collect(), Vec::new())
            }
        }
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
    use cortado_plugin_sdk::{Hook, Step};
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
        assert_eq!(h.manifest().hooks, vec![Hook::Verifier, Hook::Gate]);
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

    /// A `run` whose images are only in its steps: the revision it registers, and a RunTask of it.
    fn run_plan(images: &[&str]) -> Plan {
        let defs: Vec<_> = images.iter().enumerate().map(|(i, img)| json!({"name": format!("c{i}"), "image": img})).collect();
        Plan::new("run").with_step(Step::new("ecs", "RegisterTaskDefinition", json!({"family": "app", "containerDefinitions": defs}))).with_step(Step::new(
            "ecs",
            "RunTask",
            json!({"cluster": "c", "taskDefinition": {"$ref": "steps[0].taskDefinition.taskDefinitionArn"}}),
        ))
    }

    #[test]
    fn gate_judges_the_images_of_the_steps() {
        MockHost::new().install();
        let mut h = Harness::<ImagePolicy>::new();
        assert_eq!(h.evaluate(&run_plan(&["app:v1.2.3", "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])), Decision::Allow);
        assert_eq!(h.evaluate(&run_plan(&["app:v1.2.3", "nginx:latest"])), Decision::Deny(vec!["image[c1]: nginx:latest uses the mutable latest tag".into()]));
        // Without steps, the task definition field is judged.
        let mut p = Plan::new("deploy");
        p.task_definition = Some(TD.into());
        let Decision::Deny(r) = h.evaluate(&p) else { panic!() };
        assert_eq!(r.len(), 2, "{r:?}");
        // With steps, the task definition field (a revision named by ARN) is judged too.
        let mut p = run_plan(&["app:v1.2.3"]);
        p.task_definition = Some(json!({"containerDefinitions": [{"name": "old", "image": "old"}]}).to_string());
        assert!(h.evaluate(&p).is_deny());
        // A step that is not a task definition, or a bad config, fails closed.
        let mut p = run_plan(&["app:v1.2.3"]);
        p.steps[0].input = "{\"containerDefinitions\": 1}".into();
        assert!(h.evaluate(&p).is_deny());
        MockHost::new().with_config(json!({"immutable_tags_pattern": "("})).install();
        assert!(Harness::<ImagePolicy>::new().evaluate(&run_plan(&["app:v1.2.3"])).is_deny());
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
