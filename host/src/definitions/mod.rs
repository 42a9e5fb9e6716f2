//! Stage 2: task and service definition files.
//!
//! Files are templates: `.jsonnet` files are evaluated by Jsonnet and the resulting JSON rendered as a
//! template; any other file is rendered as a template and then parsed as JSON (ecspresso's order).
//! Definitions stay JSON values all the way to the API call, so ECS fields newer than the SDK survive
//! (ecspresso issue #757).

pub mod keys;
pub mod model;

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::config::parse_json;
use crate::error::InputError;
use crate::functions::Registry;
use crate::jsonnet::{self, JsonnetOptions};
use crate::template;

/// What rendering a definition file needs.
pub struct Renderer<'a> {
    pub registry: &'a Registry,
    pub jsonnet: &'a JsonnetOptions,
    /// `strict: true` in the config: a member unknown to the ECS API model is refused, not sent.
    pub strict: bool,
}

impl Renderer<'_> {
    /// Renders one definition file to a JSON value. `role` names the config key that points at it
    /// (`task_definition`, `service_definition`, `--overrides-file`) for the error message.
    pub fn render_file(&self, path: &Path, role: &str) -> Result<Value> {
        if !path.is_file() {
            return Err(InputError::in_file(path, format!("{role} file not found")).into());
        }
        let name = path.display().to_string();
        let is_jsonnet = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("jsonnet"));
        if is_jsonnet {
            let evaluated = jsonnet::evaluate_file(path, self.jsonnet, self.registry)?;
            let text = serde_json::to_string(&evaluated)?;
            if !text.contains("{{") {
                return Ok(evaluated);
            }
            let rendered = template::render(&name, &text, self.registry.funcs()).map_err(|e| InputError(e.to_string()))?;
            parse_json(path, &rendered)
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("cannot read {role} file: {e}")))?;
            let rendered = template::render(&name, &text, self.registry.funcs()).map_err(|e| InputError(e.to_string()))?;
            parse_json(path, &rendered)
        }
    }

    /// A task definition file: wrapped (`{"taskDefinition": {...}, "tags": [...]}`, the output of
    /// `aws ecs describe-task-definition --include TAGS`) or plain, tags inside or beside.
    pub fn task_definition(&self, path: &Path) -> Result<Value> {
        let raw = self.render_file(path, "task_definition")?;
        let td = task_definition_from_value(raw).map_err(|msg| InputError::in_file(path, msg))?;
        self.checked(model::Operation::RegisterTaskDefinition, td, path)
    }

    /// A service definition file (the shape of `aws ecs describe-services` output).
    pub fn service_definition(&self, path: &Path, service_name: Option<&str>) -> Result<Value> {
        let raw = self.render_file(path, "service_definition")?;
        let Value::Object(_) = raw else {
            return Err(InputError::in_file(path, format!("a service definition must be an object, found {}", crate::config::kind(&raw))).into());
        };
        let mut v = keys::normalise(raw);
        if let (Some(name), Value::Object(o)) = (service_name, &mut v) {
            o.insert("serviceName".into(), Value::String(name.into()));
        }
        self.checked(model::Operation::CreateService, v, path)
    }

    /// A daemon task definition file: RegisterDaemonTaskDefinition's input, or the output of
    /// `aws ecs describe-daemon-task-definition` (`{"daemonTaskDefinition": {...}}`; its read-only
    /// members are dropped).
    pub fn daemon_task_definition(&self, path: &Path) -> Result<Value> {
        let raw = self.render_file(path, "daemon_task_definition")?;
        let Value::Object(mut top) = raw else {
            return Err(InputError::in_file(path, format!("a daemon task definition must be an object, found {}", crate::config::kind(&raw))).into());
        };
        let body = match top.remove("daemonTaskDefinition") {
            Some(Value::Object(inner)) => Value::Object(inner),
            Some(other) => {
                return Err(InputError::in_file(path, format!("\"daemonTaskDefinition\" must be an object, found {}", crate::config::kind(&other))).into());
            }
            None => Value::Object(top),
        };
        let body = self.checked(model::Operation::RegisterDaemonTaskDefinition, keys::normalise(body), path)?;
        if body.get("family").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(InputError::in_file(path, "key \"family\": a daemon task definition needs a family").into());
        }
        Ok(body)
    }

    /// A daemon definition file: CreateDaemon's input without `daemonTaskDefinitionArn` (the
    /// registered daemon task definition's ARN goes there). `name` (the config's `daemon`) wins
    /// over the file's `daemonName`; one of them is required.
    pub fn daemon_definition(&self, path: &Path, name: Option<&str>) -> Result<Value> {
        let raw = self.render_file(path, "daemon_definition")?;
        let Value::Object(_) = raw else {
            return Err(InputError::in_file(path, format!("a daemon definition must be an object, found {}", crate::config::kind(&raw))).into());
        };
        let mut v = self.checked(model::Operation::CreateDaemon, keys::normalise(raw), path)?;
        if let (Some(name), Value::Object(o)) = (name, &mut v) {
            o.insert("daemonName".into(), Value::String(name.into()));
        }
        if v.get("daemonName").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(InputError::in_file(path, "key \"daemonName\": name the daemon here or with `daemon:` in the config").into());
        }
        Ok(v)
    }

    /// An express definition file (ECS Express mode): CreateExpressGatewayService's input. The
    /// config's `service` and `cluster` win over the file's `serviceName`/`cluster`, as ecspresso
    /// sets them (`init --express` leaves both out of the file).
    pub fn express_definition(&self, path: &Path, service: &str, cluster: &str) -> Result<Value> {
        let raw = self.render_file(path, "express_definition")?;
        let Value::Object(_) = raw else {
            return Err(InputError::in_file(path, format!("an express definition must be an object, found {}", crate::config::kind(&raw))).into());
        };
        let mut v = self.checked(model::Operation::CreateExpressGatewayService, keys::normalise(raw), path)?;
        if let Value::Object(o) = &mut v {
            o.insert("serviceName".into(), Value::String(service.into()));
            o.insert("cluster".into(), Value::String(cluster.into()));
        }
        if v.get("infrastructureRoleArn").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(InputError::in_file(path, "key \"infrastructureRoleArn\": an express service needs its infrastructure role").into());
        }
        Ok(v)
    }

    /// The body as the ECS API model allows it (see [`model::clean`]), so that `render`, `diff`,
    /// the plan and the gates all see what is sent. Unknown members warn once, or are refused
    /// under `strict: true`.
    fn checked(&self, op: model::Operation, body: Value, path: &Path) -> Result<Value> {
        let source = std::fs::read_to_string(path).ok();
        let cleaned = model::clean(op, body, &model::Origin { path, source: source.as_deref() })?;
        if self.strict && !cleaned.unknown.is_empty() {
            let refused: Vec<String> = cleaned.unknown.iter().map(|u| format!("{u}; strict: true refuses it")).collect();
            return Err(InputError::new(refused.join("\n")).into());
        }
        for u in &cleaned.unknown {
            model::warn_once(u);
        }
        Ok(cleaned.body)
    }
}

/// Unwraps and normalises a task definition value (see [`Renderer::task_definition`]).
pub fn task_definition_from_value(raw: Value) -> Result<Value, String> {
    let Value::Object(mut top) = raw else {
        return Err(format!("a task definition must be an object, found {}", crate::config::kind(&raw)));
    };
    let wrapped_key = top.keys().find(|k| k.eq_ignore_ascii_case("taskDefinition")).cloned();
    let mut td = match wrapped_key {
        Some(k) if !top[&k].is_null() => {
            let inner = top.remove(&k).unwrap_or(Value::Null);
            let Value::Object(mut inner) = inner else {
                return Err("\"taskDefinition\" must be an object".into());
            };
            // Tags beside the definition (describe-task-definition --include TAGS) join it.
            let has_inner_tags = inner.keys().any(|k| k.eq_ignore_ascii_case("tags"));
            if !has_inner_tags
                && let Some(tk) = top.keys().find(|k| k.eq_ignore_ascii_case("tags")).cloned()
                && let Some(tags) = top.remove(&tk)
            {
                inner.insert("tags".into(), tags);
            }
            inner
        }
        _ => top,
    };
    // Fields ECS adds on describe; they cannot be registered.
    for k in keys::TASK_DEFINITION_OUTPUT_ONLY {
        if let Some(found) = td.keys().find(|x| x.eq_ignore_ascii_case(k)).cloned() {
            td.remove(&found);
        }
    }
    let v = keys::normalise(Value::Object(td));
    if v.get("containerDefinitions").and_then(Value::as_array).is_none_or(|c| c.is_empty()) {
        return Err("a task definition needs containerDefinitions".into());
    }
    Ok(v)
}

/// Pretty JSON as cortado prints definitions: keys sorted, two-space indent, trailing newline.
pub fn to_pretty_json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The family named by a task definition value.
pub fn family(td: &Value) -> Option<&str> {
    td.get("family").and_then(Value::as_str)
}

/// `{"key": k, "value": v}` tag lists as a map (absent ⇒ empty).
pub fn tags_map(v: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Array(tags)) = v {
        for t in tags {
            if let (Some(k), Some(val)) = (t.get("key").and_then(Value::as_str), t.get("value")) {
                out.insert(k.to_owned(), val.clone());
            }
        }
    }
    out
}

/// The awslogs options of a container, if it logs through awslogs.
pub fn awslogs_options(container: &Value) -> Option<std::collections::BTreeMap<String, String>> {
    let lc = container.get("logConfiguration")?;
    if lc.get("logDriver").and_then(Value::as_str) != Some("awslogs") {
        return None;
    }
    let opts = lc
        .get("options")
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect())
        .unwrap_or_default();
    Some(opts)
}

/// Fields UpdateService takes from a service definition (ECS rolling controller).
pub const UPDATABLE: &[&str] = &[
    "availabilityZoneRebalancing",
    "capacityProviderStrategy",
    "deploymentConfiguration",
    "enableECSManagedTags",
    "enableExecuteCommand",
    "healthCheckGracePeriodSeconds",
    "loadBalancers",
    "networkConfiguration",
    "placementConstraints",
    "placementStrategy",
    "platformVersion",
    "propagateTags",
    "serviceConnectConfiguration",
    "serviceRegistries",
    "volumeConfigurations",
    "vpcLatticeConfigurations",
];

/// Whether tasks of this definition use the awsvpc network mode (Fargate implies it).
pub fn is_awsvpc(td: &Value) -> bool {
    match td.get("networkMode").and_then(Value::as_str) {
        Some(m) => m == "awsvpc",
        None => td.get("requiresCompatibilities").and_then(Value::as_array).is_some_and(|c| c.iter().any(|x| x == "FARGATE")),
    }
}
