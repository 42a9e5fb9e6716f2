//! The exact requests a gate's plan will send (WIT `cortado:plugin@0.3.0` `steps`), and what gates
//! usually look for in them: the steps of one API operation, a step's input as JSON, and every
//! container image the plan would run.
//!
//! A step's input is the complete request body with the API's own field names. A value known only
//! once an earlier step has run is `{"$ref": "steps[I].PATH"}` (the response of step I), and
//! `{"$text": "...${steps[I].PATH}..."}` stands for that text with each `${REF}` replaced by the
//! string it names (a CodeDeploy AppSpec's content, JSON text).

use serde_json::Value;

use crate::taskdef;
use crate::{Plan, Step};

impl Step {
    /// A step in the `apply` phase (what [`Plan::steps`] holds most of); handy in tests.
    pub fn new(service: impl Into<String>, operation: impl Into<String>, input: Value) -> Self {
        Step { service: service.into(), operation: operation.into(), resource: String::new(), phase: "apply".into(), input: input.to_string() }
    }

    /// The request input as JSON (`Value::Null` if the host sent something that is not JSON,
    /// which it never does).
    pub fn input(&self) -> Value {
        serde_json::from_str(&self.input).unwrap_or(Value::Null)
    }

    /// Whether this step calls `operation` of `service` (`("ecs", "RunTask")`); the service is
    /// matched without regard to letter case, the operation exactly.
    pub fn is(&self, service: &str, operation: &str) -> bool {
        self.service.eq_ignore_ascii_case(service) && self.operation == operation
    }

    /// A `{"$ref": "steps[I].PATH"}` reference: the index I and the PATH into that step's response.
    pub fn reference(value: &Value) -> Option<(usize, &str)> {
        let r = value.get("$ref")?.as_str()?;
        let rest = r.strip_prefix("steps[").or_else(|| r.strip_prefix("step["))?;
        let (index, path) = rest.split_once(']')?;
        Some((index.parse().ok()?, path.trim_start_matches('.')))
    }
}

impl Plan {
    /// The steps calling `operation` of `service`, in order: `plan.steps_for("ecs", "RunTask")`.
    pub fn steps_for(&self, service: &str, operation: &str) -> Vec<&Step> {
        self.steps.iter().filter(|s| s.is(service, operation)).collect()
    }

    /// Every container the plan would run, each (name, image) once, in order: those of every
    /// RegisterTaskDefinition step (what a RunTask or service step's `$ref` to it runs), then those
    /// of the plan's `task_definition` (the revision that runs when a step names one already
    /// registered by ARN, and all a plan without steps carries). An input or task definition that
    /// is not a task definition is an error naming it, so a gate can fail closed.
    pub fn containers(&self) -> Result<Vec<taskdef::Container>, String> {
        let mut out: Vec<taskdef::Container> = Vec::new();
        let registered = self.steps.iter().enumerate().filter(|(_, s)| s.is("ecs", "RegisterTaskDefinition"));
        let mut sources: Vec<(String, &str)> = registered.map(|(i, s)| (format!("steps[{i}] (RegisterTaskDefinition)"), s.input.as_str())).collect();
        if let Some(td) = &self.task_definition {
            sources.push(("the plan's task definition".into(), td));
        }
        for (what, td) in sources {
            for c in taskdef::containers(td).map_err(|e| format!("{what}: {e}"))? {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Every container image the plan would run (see [`Plan::containers`]), each once; documents
    /// that cannot be read are skipped (use `containers` to fail closed on them).
    pub fn images(&self) -> Vec<String> {
        let mut images: Vec<String> = Vec::new();
        let registered = self.steps_for("ecs", "RegisterTaskDefinition").into_iter().map(|s| s.input.clone());
        for td in registered.chain(self.task_definition.clone()) {
            for c in taskdef::containers(&td).unwrap_or_default() {
                if !c.image.is_empty() && !images.contains(&c.image) {
                    images.push(c.image);
                }
            }
        }
        images
    }

    /// Adds a step (builder style, for tests): `Plan::new("run").with_step(Step::new(...))`.
    pub fn with_step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{Plan, Step};

    fn td(images: &[&str]) -> serde_json::Value {
        json!({"family": "web", "containerDefinitions": images.iter().enumerate().map(|(i, im)| json!({"name": format!("c{i}"), "image": im})).collect::<Vec<_>>()})
    }

    #[test]
    fn steps_for_picks_one_operation_in_order() {
        let plan = Plan::new("run")
            .with_step(Step::new("ecs", "RegisterTaskDefinition", td(&["a:1"])))
            .with_step(Step::new("ecs", "RunTask", json!({"count": 1})))
            .with_step(Step::new("ecs", "RunTask", json!({"count": 2})));
        let runs = plan.steps_for("ecs", "RunTask");
        assert_eq!(runs.iter().map(|s| s.input()["count"].as_i64()).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
        assert!(plan.steps_for("ecs", "UpdateService").is_empty());
        assert!(plan.steps_for("codedeploy", "RunTask").is_empty());
    }

    #[test]
    fn input_parses_and_non_json_is_null() {
        let mut s = Step::new("ecs", "RunTask", json!({"networkConfiguration": {"awsvpcConfiguration": {"assignPublicIp": "ENABLED"}}}));
        assert_eq!(s.input().pointer("/networkConfiguration/awsvpcConfiguration/assignPublicIp"), Some(&json!("ENABLED")));
        s.input = "not json".into();
        assert_eq!(s.input(), serde_json::Value::Null);
    }

    #[test]
    fn images_come_from_every_registration_and_the_task_definition() {
        let mut plan = Plan::new("deploy").with_step(Step::new("ecs", "RegisterTaskDefinition", td(&["a:1", "b:2"]))).with_step(Step::new(
            "ecs",
            "RegisterTaskDefinition",
            td(&["c:3", "a:1"]),
        ));
        plan.task_definition = Some(td(&["d:4", "b:2"]).to_string());
        assert_eq!(plan.images(), vec!["a:1", "b:2", "c:3", "d:4"]);
        assert!(Plan::new("scale").images().is_empty());
    }

    #[test]
    fn containers_name_their_source_and_fail_closed() {
        let mut plan = Plan::new("run").with_step(Step::new("ecs", "RegisterTaskDefinition", td(&["a:1"])));
        plan.task_definition = Some(td(&["a:1", "b:2"]).to_string());
        let names: Vec<_> = plan.containers().unwrap().into_iter().map(|c| (c.name, c.image)).collect();
        assert_eq!(names, vec![("c0".to_owned(), "a:1".to_owned()), ("c1".to_owned(), "b:2".to_owned())]);
        let bad = Plan::new("run").with_step(Step::new("ecs", "RunTask", json!({}))).with_step(Step::new("ecs", "RegisterTaskDefinition", json!([1])));
        assert!(bad.containers().unwrap_err().starts_with("steps[1] (RegisterTaskDefinition): "));
    }

    #[test]
    fn references_name_a_step_and_a_path() {
        let r = json!({"$ref": "steps[0].taskDefinition.taskDefinitionArn"});
        assert_eq!(Step::reference(&r), Some((0, "taskDefinition.taskDefinitionArn")));
        assert_eq!(Step::reference(&json!("arn:aws:ecs:...")), None);
    }
}
