//! Native (non-wasm) stand-ins for the host, so a plugin's logic can be unit-tested with
//! a plain `cargo test` (any non-wasm target).
//!
//! Each test thread has its own [`MockHost`]; install one with [`MockHost::install`] (a default,
//! empty one is used otherwise). Every brokered AWS call is recorded in [`calls`] (e.g.
//! `ssm:GetParameter /app/db`), every log line in [`logs`].
//!
//! ```
//! use cortado_plugin_sdk::testing::{calls, Harness, MockHost};
//! use cortado_plugin_sdk::{aws, Manifest, Plugin};
//!
//! struct Ssm;
//! impl Plugin for Ssm {
//!     fn new() -> Self { Ssm }
//!     fn manifest(&self) -> Manifest { Manifest::new("ssm", "1").function("param", 1, 1, "") }
//!     fn call(&mut self, _: &str, args: &[String]) -> Result<String, String> {
//!         aws::ssm_get_parameter(&args[0], true).map(|p| p.value).map_err(|e| e.message().to_owned())
//!     }
//! }
//!
//! MockHost::new().with_parameter("/app/db", "String", "db.internal").install();
//! let mut h = Harness::<Ssm>::new();
//! assert_eq!(h.call("param", &["/app/db"]), Ok("db.internal".to_owned()));
//! assert!(h.call("param", &[]).unwrap_err().contains("requires at least 1"));
//! assert_eq!(calls(), vec!["ssm:GetParameter /app/db"]);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

use crate::aws::{AwsError, Parameter, SecretDescription, SecretValue, StackExport, StackOutput};
use crate::metrics::{MetricQuery, MetricResult, TargetHealth};
use crate::runtime::Runtime;
use crate::{Check, Decision, Level, Manifest, Plan, Plugin, Step};

/// What the mock host answers. Fields are public so a test can also build one by hand.
#[derive(Debug, Clone)]
pub struct MockHost {
    /// The config JSON handed to the plugin (`null` by default).
    pub config: String,
    pub parameters: BTreeMap<String, Parameter>,
    /// Secrets, reachable by name or by ARN.
    pub secrets: Vec<SecretValue>,
    pub objects: BTreeMap<(String, String), Vec<u8>>,
    pub stacks: BTreeMap<String, Vec<StackOutput>>,
    pub exports: Vec<StackExport>,
    /// Datapoints by `NAMESPACE/METRIC`, newest first: `(epoch seconds, value)`. A query gets the
    /// datapoints of its metric within its time window (dimensions and stat are not modelled).
    pub metrics: BTreeMap<String, Vec<(i64, f64)>>,
    /// Target health by target group ARN.
    pub target_health: BTreeMap<String, Vec<TargetHealth>>,
    /// Registry manifests by reference as the plugin asks for them (`REGISTRY/REPO:TAG` or `…@DIGEST`).
    pub manifests: BTreeMap<String, crate::registry::ImageManifest>,
    /// Registry blobs by `(REGISTRY/REPO, DIGEST)`.
    pub blobs: BTreeMap<(String, String), Vec<u8>>,
    /// Actions the "operator" did not grant (e.g. `ssm:GetParameter`, or `*` for all).
    pub denied_actions: BTreeSet<String>,
    /// Actions that fail as AWS would on throttling or a network error.
    pub failing_actions: BTreeSet<String>,
    /// Every brokered call made, as `action argument`.
    pub calls: Vec<String>,
    pub logs: Vec<(Level, String)>,
}

impl Default for MockHost {
    fn default() -> Self {
        MockHost {
            config: "null".into(),
            parameters: BTreeMap::new(),
            secrets: Vec::new(),
            objects: BTreeMap::new(),
            stacks: BTreeMap::new(),
            exports: Vec::new(),
            metrics: BTreeMap::new(),
            target_health: BTreeMap::new(),
            manifests: BTreeMap::new(),
            blobs: BTreeMap::new(),
            denied_actions: BTreeSet::new(),
            failing_actions: BTreeSet::new(),
            calls: Vec::new(),
            logs: Vec::new(),
        }
    }
}

thread_local! {
    static MOCK: RefCell<MockHost> = RefCell::new(MockHost::default());
}

/// Runs `f` on this thread's mock host.
pub fn with_mock<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    MOCK.with(|m| f(&mut m.borrow_mut()))
}

/// The brokered calls made so far on this thread.
pub fn calls() -> Vec<String> {
    with_mock(|m| m.calls.clone())
}

/// The log lines written so far on this thread.
pub fn logs() -> Vec<(Level, String)> {
    with_mock(|m| m.logs.clone())
}

impl MockHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this the host of the current thread (replacing any previous one, and its records).
    pub fn install(self) {
        MOCK.with(|m| *m.borrow_mut() = self);
    }

    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.config = config.to_string();
        self
    }

    /// A parameter of type `String`, `StringList` or `SecureString`.
    pub fn with_parameter(mut self, name: &str, kind: &str, value: &str) -> Self {
        self.parameters.insert(
            name.to_owned(),
            Parameter {
                name: name.to_owned(),
                type_: kind.to_owned(),
                value: value.to_owned(),
                arn: format!("arn:aws:ssm:us-east-1:123456789012:parameter/{}", name.trim_start_matches('/')),
                version: 1,
            },
        );
        self
    }

    pub fn with_secret(mut self, name: &str, arn: &str, secret_string: Option<&str>) -> Self {
        self.secrets.push(SecretValue { arn: arn.to_owned(), name: name.to_owned(), secret_string: secret_string.map(str::to_owned), version_id: "v1".into() });
        self
    }

    pub fn with_object(mut self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> Self {
        self.objects.insert((bucket.to_owned(), key.to_owned()), body.into());
        self
    }

    /// A stack with these `(key, value)` outputs.
    pub fn with_stack(mut self, stack: &str, outputs: &[(&str, &str)]) -> Self {
        self.stacks
            .insert(stack.to_owned(), outputs.iter().map(|(k, v)| StackOutput { key: (*k).to_owned(), value: (*v).to_owned(), export_name: None }).collect());
        self
    }

    pub fn with_export(mut self, name: &str, value: &str) -> Self {
        self.exports.push(StackExport {
            name: name.to_owned(),
            value: value.to_owned(),
            exporting_stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/exporter/1".into(),
        });
        self
    }

    /// Datapoints `(epoch seconds, value)` of `namespace`/`metric`.
    pub fn with_metric(mut self, namespace: &str, metric: &str, points: &[(i64, f64)]) -> Self {
        let mut points = points.to_vec();
        points.sort_by_key(|p| std::cmp::Reverse(p.0));
        self.metrics.insert(format!("{namespace}/{metric}"), points);
        self
    }

    /// Targets of a target group, as `(id, state)`.
    pub fn with_targets(mut self, target_group_arn: &str, targets: &[(&str, &str)]) -> Self {
        let health = targets
            .iter()
            .map(|(id, state)| TargetHealth {
                id: (*id).to_owned(),
                port: Some(80),
                availability_zone: None,
                state: (*state).to_owned(),
                reason: None,
                description: None,
            })
            .collect();
        self.target_health.insert(target_group_arn.to_owned(), health);
        self
    }

    /// Refuses `action` as ungranted (`*` refuses everything).
    pub fn denying(mut self, action: &str) -> Self {
        self.denied_actions.insert(action.to_owned());
        self
    }

    /// Makes `action` fail as on a service error.
    pub fn failing(mut self, action: &str) -> Self {
        self.failing_actions.insert(action.to_owned());
        self
    }

    fn broker(&mut self, action: &str, arg: &str) -> Result<(), AwsError> {
        self.calls.push(if arg.is_empty() { action.to_owned() } else { format!("{action} {arg}") });
        if self.denied_actions.contains(action) || self.denied_actions.contains("*") {
            return Err(AwsError::Denied(format!("{action} on {arg} is not granted to this plugin")));
        }
        if self.failing_actions.contains(action) || self.failing_actions.contains("*") {
            return Err(AwsError::Failed(format!("{action}: simulated service error")));
        }
        Ok(())
    }

    pub(crate) fn ssm_get_parameter(&mut self, name: &str, _with_decryption: bool) -> Result<Parameter, AwsError> {
        self.broker("ssm:GetParameter", name)?;
        self.parameters.get(name).cloned().ok_or_else(|| AwsError::NotFound(format!("ParameterNotFound: parameter {name} not found")))
    }

    pub(crate) fn ssm_get_parameters(&mut self, names: &[String], _with_decryption: bool) -> Result<(Vec<Parameter>, Vec<String>), AwsError> {
        self.broker("ssm:GetParameters", &names.join(","))?;
        let (found, missing): (Vec<_>, Vec<_>) = names.iter().partition(|n| self.parameters.contains_key(*n));
        Ok((found.into_iter().map(|n| self.parameters[n].clone()).collect(), missing.into_iter().cloned().collect()))
    }

    fn find_secret(&self, id: &str) -> Result<SecretValue, AwsError> {
        self.secrets
            .iter()
            .find(|s| s.name == id || s.arn == id)
            .cloned()
            .ok_or_else(|| AwsError::NotFound(format!("ResourceNotFoundException: Secrets Manager can't find the specified secret {id}")))
    }

    pub(crate) fn secretsmanager_describe_secret(&mut self, id: &str) -> Result<SecretDescription, AwsError> {
        self.broker("secretsmanager:DescribeSecret", id)?;
        self.find_secret(id).map(|s| SecretDescription { arn: s.arn, name: s.name })
    }

    pub(crate) fn secretsmanager_get_secret_value(&mut self, id: &str) -> Result<SecretValue, AwsError> {
        self.broker("secretsmanager:GetSecretValue", id)?;
        self.find_secret(id)
    }

    pub(crate) fn s3_get_object(&mut self, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        self.broker("s3:GetObject", &format!("s3://{bucket}/{key}"))?;
        self.objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| AwsError::NotFound(format!("NoSuchKey: s3://{bucket}/{key} does not exist")))
    }

    pub(crate) fn cloudformation_describe_stack_outputs(&mut self, stack: &str) -> Result<Vec<StackOutput>, AwsError> {
        self.broker("cloudformation:DescribeStacks", stack)?;
        self.stacks.get(stack).cloned().ok_or_else(|| AwsError::NotFound(format!("ValidationError: Stack with id {stack} does not exist")))
    }

    pub(crate) fn cloudformation_list_exports(&mut self) -> Result<Vec<StackExport>, AwsError> {
        self.broker("cloudformation:ListExports", "")?;
        Ok(self.exports.clone())
    }

    pub(crate) fn cloudwatch_get_metric_data(&mut self, queries: &[MetricQuery], start: i64, end: i64) -> Result<Vec<MetricResult>, AwsError> {
        let names: Vec<String> = queries.iter().map(|q| format!("{}/{}", q.namespace, q.metric_name)).collect();
        self.broker("cloudwatch:GetMetricData", &names.join(","))?;
        // As the host: 1 to 50 queries a call.
        if queries.is_empty() || queries.len() > crate::metrics::MAX_QUERIES {
            return Err(AwsError::Failed(format!("cloudwatch GetMetricData: {} queries (1 to {} allowed)", queries.len(), crate::metrics::MAX_QUERIES)));
        }
        Ok(queries
            .iter()
            .zip(&names)
            .map(|(q, name)| {
                let points: Vec<&(i64, f64)> = self.metrics.get(name).map(|p| p.iter().filter(|(t, _)| *t >= start && *t < end).collect()).unwrap_or_default();
                MetricResult {
                    id: q.id.clone(),
                    label: q.metric_name.clone(),
                    timestamps: points.iter().map(|p| p.0).collect(),
                    values: points.iter().map(|p| p.1).collect(),
                    status_code: "Complete".into(),
                }
            })
            .collect())
    }

    pub(crate) fn elbv2_describe_target_health(&mut self, target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        self.broker("elasticloadbalancing:DescribeTargetHealth", target_group_arn)?;
        self.target_health.get(target_group_arn).cloned().ok_or_else(|| AwsError::NotFound(format!("TargetGroupNotFound: {target_group_arn}")))
    }

    pub(crate) fn registry_manifest(&mut self, reference: &str) -> Result<crate::registry::ImageManifest, AwsError> {
        self.broker("registry:Read", reference)?;
        self.manifests.get(reference).cloned().ok_or_else(|| AwsError::NotFound(format!("manifest {reference} not found (HTTP 404)")))
    }

    pub(crate) fn registry_blob(&mut self, repository: &str, digest: &str) -> Result<Vec<u8>, AwsError> {
        self.broker("registry:Read", &format!("{repository}@{digest}"))?;
        self.blobs.get(&(repository.to_owned(), digest.to_owned())).cloned().ok_or_else(|| AwsError::NotFound(format!("blob {digest} not found (HTTP 404)")))
    }
}

/// Steps in the JSON form the host prints and records (`--dry-run --output json`, the audit
/// record's `plan.steps`): `[{service, operation, resource, phase, input}]`, `input` a JSON value.
/// Missing fields are empty, a missing phase is `apply`; anything but a list is no steps.
///
/// ```
/// use cortado_plugin_sdk::{Plan, testing};
/// use serde_json::json;
///
/// let mut plan = Plan::new("run");
/// plan.steps = testing::steps(&json!([{"service": "ecs", "operation": "RunTask", "input": {"count": 2}}]));
/// assert_eq!(plan.steps_for("ecs", "RunTask")[0].input()["count"], 2);
/// ```
pub fn steps(json: &serde_json::Value) -> Vec<Step> {
    let text = |s: &serde_json::Value, k: &str| s.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let list = json.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter()
        .map(|s| Step {
            service: text(s, "service"),
            operation: text(s, "operation"),
            resource: text(s, "resource"),
            phase: s.get("phase").and_then(serde_json::Value::as_str).unwrap_or("apply").to_owned(),
            input: s.get("input").unwrap_or(&serde_json::Value::Null).to_string(),
        })
        .collect()
}

/// Drives a plugin the way the component glue does: the manifest is taken once, and calls are
/// checked against it (declared function, argument count) before they reach the plugin.
pub struct Harness<P: Plugin> {
    rt: Runtime,
    _p: PhantomData<P>,
}

impl<P: Plugin> Default for Harness<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Plugin> Harness<P> {
    /// Creates the plugin (`P::new()`, which may read the mock's config).
    pub fn new() -> Self {
        Harness { rt: Runtime::new::<P>(), _p: PhantomData }
    }

    pub fn manifest(&self) -> &Manifest {
        self.rt.manifest()
    }

    pub fn call(&mut self, function: &str, args: &[&str]) -> Result<String, String> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        self.rt.call(function, &args)
    }

    pub fn verify(&mut self, task_definition: &str, service_definition: Option<&str>) -> Vec<Check> {
        self.rt.verify(task_definition, service_definition)
    }

    pub fn evaluate(&mut self, plan: &Plan) -> Decision {
        self.rt.evaluate(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CheckStatus, Hook, aws, host};

    struct Echo {
        n: u32,
    }
    impl Plugin for Echo {
        fn new() -> Self {
            Echo { n: 0 }
        }
        fn manifest(&self) -> Manifest {
            Manifest::new("echo", "1").function("echo", 1, 3, "echoes").function("count", 0, 0, "").capability("s3:GetObject", "*")
        }
        fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
            self.n += 1;
            match function {
                "echo" => Ok(args.join(" ")),
                _ => Ok(self.n.to_string()),
            }
        }
    }

    #[test]
    fn manifest_builder_sets_hooks_once() {
        let m = Manifest::new("x", "1").function("a", 1, 1, "").function("b", 0, 2, "").verifier().gate().gate();
        assert_eq!(m.hooks, vec![Hook::Resolver, Hook::Verifier, Hook::Gate]);
        assert_eq!(m.functions.len(), 2);
        let m = Manifest::new("x", "1").capability("a", "*").capability("a", "*").capability("a", "b");
        assert_eq!(m.capabilities.len(), 2);
        assert!(m.hooks.is_empty());
    }

    #[test]
    fn harness_checks_arity_and_keeps_state() {
        let mut h = Harness::<Echo>::new();
        assert_eq!(h.call("echo", &["a", "b"]).unwrap(), "a b");
        assert_eq!(h.call("echo", &[]).unwrap_err(), "echo template function requires at least 1 parameters, but got 0");
        assert_eq!(h.call("echo", &["1", "2", "3", "4"]).unwrap_err(), "echo template function accepts at most 3 parameters, but got 4");
        assert_eq!(h.call("nope", &[]).unwrap_err(), "function nope is not provided by this plugin");
        assert_eq!(h.call("count", &[]).unwrap(), "2");
    }

    #[test]
    fn defaults_for_undeclared_hooks() {
        let mut h = Harness::<Echo>::new();
        assert!(h.verify("{}", None).is_empty());
        assert_eq!(h.evaluate(&Plan::new("deploy")), Decision::Allow);
    }

    #[test]
    fn mock_records_and_denies() {
        MockHost::new().with_object("b", "k", "body").denying("ssm:GetParameter").install();
        assert_eq!(aws::s3_get_object("b", "k").unwrap(), b"body");
        assert!(aws::s3_get_object("b", "missing").unwrap_err().is_not_found());
        assert!(aws::ssm_get_parameter("/x", true).unwrap_err().is_denied());
        host::info("hello");
        crate::warn!("n={}", 2);
        assert_eq!(calls(), vec!["s3:GetObject s3://b/k", "s3:GetObject s3://b/missing", "ssm:GetParameter /x"]);
        assert_eq!(logs(), vec![(Level::Info, "hello".to_owned()), (Level::Warn, "n=2".to_owned())]);
    }

    #[test]
    fn check_and_decision_helpers() {
        assert_eq!(Check::ng("a", "b").status, CheckStatus::Ng);
        assert_eq!(Decision::from_findings(vec![], vec![]), Decision::Allow);
        assert_eq!(Decision::from_findings(vec![], vec!["w".into()]), Decision::Warn(vec!["w".into()]));
        assert_eq!(Decision::from_findings(vec!["d".into()], vec!["w".into()]), Decision::Deny(vec!["d".into()]));
    }
}
