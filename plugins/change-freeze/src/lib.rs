//! Example cortado gate: change freezes, allowed registries, and empty deploys.
//!
//! For each plan of a command it applies to:
//! - **deny** when the plan's time is inside a freeze window (`start <= time < end`), with the
//!   window's reason;
//! - **deny** each container image the plan would run whose registry is not in
//!   `allowed_registries` (when that list is given): the images of every RegisterTaskDefinition
//!   step (what a RunTask or service step's `$ref` runs) and of the plan's task definition (the
//!   revision a step names by ARN; all a plan without steps, or a 0.2.0 host, carries);
//! - **warn** when a `deploy` has an empty diff (nothing to deploy);
//! - **allow** otherwise.
//!
//! Config:
//! ```json
//! {
//!   "freezes": [{"start": "2026-12-24T00:00:00Z", "end": "2027-01-04T00:00:00+09:00", "reason": "year-end freeze"}],
//!   "allowed_registries": ["123456789012.dkr.ecr.*.amazonaws.com", "public.ecr.aws/myorg"],
//!   "commands": ["deploy", "scale", "rollback", "delete", "run", "refresh"]
//! }
//! ```
//! Every key is optional; without `commands` the gate applies to every command. A config that
//! cannot be read makes the gate deny everything (it fails closed). No capabilities.
mod registry;

use cortado_plugin_sdk::taskdef::ImageRef;
use cortado_plugin_sdk::time;
use cortado_plugin_sdk::{Decision, Manifest, Plan, Plugin, host, register_plugin};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    freezes: Vec<FreezeConfig>,
    #[serde(default)]
    allowed_registries: Vec<String>,
    #[serde(default)]
    commands: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreezeConfig {
    start: String,
    end: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug)]
struct Freeze {
    start: time::Instant,
    end: time::Instant,
    end_text: String,
    reason: String,
}

#[derive(Debug)]
struct Rules {
    freezes: Vec<Freeze>,
    allowed_registries: Vec<String>,
    commands: Vec<String>,
}

impl Rules {
    fn from_config(c: Config) -> Result<Rules, String> {
        let mut freezes = Vec::new();
        for (i, f) in c.freezes.into_iter().enumerate() {
            let start = time::parse_rfc3339(&f.start).map_err(|e| format!("freezes[{i}].start: {e}"))?;
            let end = time::parse_rfc3339(&f.end).map_err(|e| format!("freezes[{i}].end: {e}"))?;
            if end <= start {
                return Err(format!("freezes[{i}]: end {} is not after start {}", f.end, f.start));
            }
            freezes.push(Freeze { start, end, end_text: f.end, reason: f.reason });
        }
        Ok(Rules { freezes, allowed_registries: c.allowed_registries, commands: c.commands })
    }

    fn evaluate(&self, plan: &Plan) -> Decision {
        if !self.commands.is_empty() && !self.commands.iter().any(|c| c == &plan.command) {
            return Decision::Allow;
        }
        let mut denials = Vec::new();
        let mut warnings = Vec::new();

        if !self.freezes.is_empty() {
            match time::parse_rfc3339(&plan.time) {
                Err(e) => denials.push(format!("cannot check change freezes: the plan's time: {e}")),
                Ok(now) => {
                    for f in self.freezes.iter().filter(|f| f.start <= now && now < f.end) {
                        let reason = if f.reason.is_empty() { "change freeze" } else { f.reason.as_str() };
                        denials.push(format!("{reason} (frozen until {})", f.end_text));
                    }
                }
            }
        }

        if !self.allowed_registries.is_empty() {
            match plan.containers() {
                Err(e) => denials.push(format!("cannot check image registries: {e}")),
                Ok(containers) => {
                    for c in containers {
                        let image = ImageRef::parse(&c.image);
                        if !self.allowed_registries.iter().any(|p| registry::allowed(p, &image)) {
                            denials.push(format!(
                                "image {} of container {} comes from {}, which is not an allowed registry ({})",
                                c.image,
                                c.name,
                                image.registry,
                                self.allowed_registries.join(", ")
                            ));
                        }
                    }
                }
            }
        }

        if plan.command == "deploy" && plan.diff.trim().is_empty() {
            warnings.push("nothing to deploy: the plan's diff is empty".to_owned());
        }
        Decision::from_findings(denials, warnings)
    }
}

struct ChangeFreeze {
    rules: Result<Rules, String>,
}

impl Plugin for ChangeFreeze {
    fn new() -> Self {
        let rules = host::config::<Config>().and_then(Rules::from_config);
        if let Err(e) = &rules {
            host::error(format!("change-freeze: {e}; every plan will be denied"));
        }
        ChangeFreeze { rules }
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("change-freeze", env!("CARGO_PKG_VERSION"))
            .description("denies changes during freeze windows and images from registries not allowed")
            .gate()
    }

    fn evaluate(&mut self, plan: &Plan) -> Decision {
        match &self.rules {
            Ok(rules) => rules.evaluate(plan),
            Err(e) => Decision::Deny(vec![format!("change-freeze config: {e}")]),
        }
    }
}

register_plugin!(ChangeFreeze);

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::testing::{Harness, MockHost};
    use cortado_plugin_sdk::{Hook, Step};
    use serde_json::json;

    fn config() -> serde_json::Value {
        json!({
            "freezes": [
                {"start": "2026-12-24T00:00:00Z", "end": "2027-01-04T00:00:00+09:00", "reason": "year-end freeze"},
                {"start": "2026-11-27T09:00:00+09:00", "end": "2026-11-27T10:00:00+09:00"}
            ],
            "allowed_registries": ["123456789012.dkr.ecr.*.amazonaws.com", "public.ecr.aws/myorg"],
            "commands": ["deploy", "run", "scale"]
        })
    }

    fn plan(command: &str, time: &str, images: &[&str], diff: &str) -> Plan {
        let mut p = Plan::new(command);
        p.time = time.to_owned();
        p.diff = diff.to_owned();
        let defs: Vec<_> = images.iter().enumerate().map(|(i, img)| json!({"name": format!("c{i}"), "image": img})).collect();
        p.task_definition = Some(json!({"family": "app", "containerDefinitions": defs}).to_string());
        p
    }

    const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1";
    const DIFF: &str = "--- old\n+++ new\n-a\n+b\n";

    fn gate() -> Harness<ChangeFreeze> {
        MockHost::new().with_config(config()).install();
        Harness::new()
    }

    #[test]
    fn declares_the_gate() {
        assert_eq!(gate().manifest().hooks, vec![Hook::Gate]);
    }

    #[test]
    fn allows_outside_freezes() {
        let mut g = gate();
        assert_eq!(g.evaluate(&plan("deploy", "2026-11-26T14:30:00Z", &[ECR, "public.ecr.aws/myorg/side:1"], DIFF)), Decision::Allow);
    }

    #[test]
    fn denies_inside_a_freeze() {
        let mut g = gate();
        let d = g.evaluate(&plan("deploy", "2026-12-31T12:00:00Z", &[ECR], DIFF));
        assert_eq!(d, Decision::Deny(vec!["year-end freeze (frozen until 2027-01-04T00:00:00+09:00)".into()]));
        // The end is exclusive, and offsets count: 2027-01-04T00:00+09:00 is 2027-01-03T15:00Z.
        assert!(g.evaluate(&plan("deploy", "2027-01-03T14:59:59Z", &[ECR], DIFF)).is_deny());
        assert!(g.evaluate(&plan("deploy", "2027-01-03T15:00:00Z", &[ECR], DIFF)).is_allow());
        // A window without a reason.
        let d = g.evaluate(&plan("run", "2026-11-27T00:30:00Z", &[ECR], DIFF));
        assert_eq!(d, Decision::Deny(vec!["change freeze (frozen until 2026-11-27T10:00:00+09:00)".into()]));
    }

    #[test]
    fn other_commands_pass() {
        let mut g = gate();
        assert_eq!(g.evaluate(&plan("delete", "2026-12-31T12:00:00Z", &["docker.io/evil:latest"], "")), Decision::Allow);
    }

    #[test]
    fn denies_registries_not_allowed() {
        let mut g = gate();
        let d = g.evaluate(&plan("deploy", "2026-11-26T14:30:00Z", &[ECR, "nginx:latest", "public.ecr.aws/other/x:1"], DIFF));
        let Decision::Deny(reasons) = d else { panic!("{d:?}") };
        assert_eq!(reasons.len(), 2);
        assert!(reasons[0].starts_with("image nginx:latest of container c1 comes from docker.io, which is not an allowed registry"), "{}", reasons[0]);
        assert!(reasons[1].contains("public.ecr.aws/other/x:1"));
    }

    /// A plan whose images are only in its steps: a RunTask of the revision a step registers.
    fn run_plan(images: &[&str]) -> Plan {
        let defs: Vec<_> = images.iter().enumerate().map(|(i, img)| json!({"name": format!("s{i}"), "image": img})).collect();
        let mut p = Plan::new("run")
            .with_step(Step::new("ecs", "RegisterTaskDefinition", json!({"family": "app", "containerDefinitions": defs})))
            .with_step(Step::new("ecs", "RunTask", json!({"cluster": "c", "taskDefinition": {"$ref": "steps[0].taskDefinition.taskDefinitionArn"}})));
        p.time = "2026-11-26T14:30:00Z".into();
        p
    }

    #[test]
    fn judges_the_images_of_registration_steps() {
        let mut g = gate();
        assert_eq!(g.evaluate(&run_plan(&[ECR])), Decision::Allow);
        let Decision::Deny(reasons) = g.evaluate(&run_plan(&[ECR, "evil.example.com/x:1"])) else { panic!() };
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].starts_with("image evil.example.com/x:1 of container s1 comes from evil.example.com"), "{}", reasons[0]);
        // The task definition field counts too (a step naming a registered revision by ARN).
        let mut p = run_plan(&[ECR]);
        p.task_definition = Some(json!({"containerDefinitions": [{"name": "old", "image": "nginx:1"}]}).to_string());
        assert!(g.evaluate(&p).is_deny());
        // A step that is not a task definition fails closed.
        let mut p = run_plan(&[ECR]);
        p.steps[0].input = "[]".into();
        let Decision::Deny(reasons) = g.evaluate(&p) else { panic!() };
        assert!(reasons[0].starts_with("cannot check image registries: steps[0] (RegisterTaskDefinition): "), "{}", reasons[0]);
    }

    #[test]
    fn warns_on_empty_deploy() {
        let mut g = gate();
        assert_eq!(
            g.evaluate(&plan("deploy", "2026-11-26T14:30:00Z", &[ECR], " \n")),
            Decision::Warn(vec!["nothing to deploy: the plan's diff is empty".into()])
        );
        // Not for other commands: a scale has no definition diff.
        assert_eq!(g.evaluate(&plan("scale", "2026-11-26T14:30:00Z", &[ECR], "")), Decision::Allow);
    }

    #[test]
    fn fails_closed() {
        MockHost::new().with_config(json!({"freezes": [{"start": "soon", "end": "later"}]})).install();
        let mut g = Harness::<ChangeFreeze>::new();
        let Decision::Deny(r) = g.evaluate(&Plan::new("deploy")) else { panic!() };
        assert!(r[0].starts_with("change-freeze config: freezes[0].start: "), "{}", r[0]);
        MockHost::new().with_config(json!({"freezes": [], "typo_key": 1})).install();
        let mut g = Harness::<ChangeFreeze>::new();
        assert!(g.evaluate(&Plan::new("deploy")).is_deny());
        MockHost::new().with_config(json!({"freezes": [{"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}]})).install();
        let mut g = Harness::<ChangeFreeze>::new();
        assert!(g.evaluate(&Plan::new("deploy")).is_deny());
        // A plan whose time cannot be read is denied while freezes exist.
        let mut g = gate();
        assert!(g.evaluate(&plan("deploy", "", &[ECR], DIFF)).is_deny());
    }

    #[test]
    fn no_config_allows() {
        MockHost::new().install();
        let mut g = Harness::<ChangeFreeze>::new();
        assert_eq!(g.evaluate(&plan("deploy", "2026-12-31T12:00:00Z", &["nginx"], DIFF)), Decision::Allow);
    }
}
