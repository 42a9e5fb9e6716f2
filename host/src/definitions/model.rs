//! Request bodies walked with the ECS API model (botocore's, see `scripts/gen-ecs-model.py`).
//!
//! Definitions go to ECS as raw JSON (`aws/raw.rs`) so that fields newer than the SDK survive. That
//! also means nothing removes what the Go SDK under ecspresso never sends: empty-string enum values
//! and nulls that `ecspresso init` writes, and the read-only fields that `init`/`describe` emit. This
//! module does, and refuses values AWS would refuse (wrong type, enum value outside the model) before
//! anything is sent. A member the model does not know at all is kept: it may be newer than the model.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::InputError;

/// The compact model, generated from botocore by `scripts/gen-ecs-model.py`.
const MODEL_JSON: &str = include_str!("ecs-model.json");

#[derive(Debug, Deserialize)]
struct Model {
    botocore: String,
    operations: BTreeMap<String, String>,
    shapes: BTreeMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(default)]
    members: BTreeMap<String, String>,
    #[serde(default, rename = "enum")]
    enumeration: Vec<String>,
    member: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Double,
    Float,
    Boolean,
    Timestamp,
    Blob,
    Document,
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    // The file is part of the binary and a unit test parses it, so this cannot fail at run time.
    MODEL.get_or_init(|| serde_json::from_str(MODEL_JSON).expect("the embedded ECS model parses"))
}

/// The botocore version the model was generated from (for messages).
pub fn botocore_version() -> &'static str {
    &model().botocore
}

/// The operations whose bodies come from definition files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    RegisterTaskDefinition,
    CreateService,
    /// ECS Managed Daemons: a daemon task definition file.
    RegisterDaemonTaskDefinition,
    /// ECS Managed Daemons: a daemon definition file.
    CreateDaemon,
    /// ECS Express mode: an express definition file (CreateExpressGatewayService's input).
    CreateExpressGatewayService,
}

impl Operation {
    fn input_shape(self) -> &'static str {
        let name = match self {
            Operation::RegisterTaskDefinition => "RegisterTaskDefinition",
            Operation::CreateService => "CreateService",
            Operation::RegisterDaemonTaskDefinition => "RegisterDaemonTaskDefinition",
            Operation::CreateDaemon => "CreateDaemon",
            Operation::CreateExpressGatewayService => "CreateExpressGatewayService",
        };
        model().operations.get(name).map(String::as_str).unwrap_or("")
    }

    /// The resource as ECS describes it: its members the input lacks are read-only.
    fn output_shape(self) -> &'static str {
        match self {
            Operation::RegisterTaskDefinition => "TaskDefinition",
            Operation::CreateService => "Service",
            Operation::RegisterDaemonTaskDefinition => "DaemonTaskDefinition",
            // A daemon's describe output shares no member with its input: nothing is read-only.
            Operation::CreateDaemon => "",
            // DescribeExpressGatewayService answers another shape (active configurations): `init
            // --express` writes CreateExpressGatewayService's input, so nothing is read-only.
            Operation::CreateExpressGatewayService => "",
        }
    }
}

/// Where a body came from: the file (for messages) and its text (to find lines).
pub struct Origin<'a> {
    pub path: &'a Path,
    pub source: Option<&'a str>,
}

/// A cleaned body, and the members the model does not know (kept, as `file:line: key` messages).
#[derive(Debug)]
pub struct Cleaned {
    pub body: Value,
    pub unknown: Vec<String>,
}

/// Walks `body` with the input of `operation`: drops nulls, empty-string enum values, read-only
/// members and an all-off alarms block; keeps unknown members (listed in [`Cleaned::unknown`]).
/// A value of the wrong type or an enum value outside the model is bad input naming file, line
/// and key path.
pub fn clean(operation: Operation, body: Value, origin: &Origin) -> Result<Cleaned, InputError> {
    let mut w = Walker::default();
    let body = w.walk(operation.input_shape(), Some(operation.output_shape()), body, "").unwrap_or(Value::Object(Map::new()));
    let at = |key: &str, value: Option<&Value>| locate(origin, key, value);
    if !w.problems.is_empty() {
        let lines: Vec<String> = w.problems.iter().map(|p| format!("{} key {:?}: {}", at(&p.key, Some(&p.value)), p.key, p.message)).collect();
        return Err(InputError::new(lines.join("\n")));
    }
    let unknown = w.unknown.iter().map(|k| format!("{} key {k:?} is not in the ECS API model (botocore {})", at(k, None), botocore_version())).collect();
    Ok(Cleaned { body, unknown })
}

/// Logs `message` as a warning once per process: a file rendered twice warns once.
pub fn warn_once(message: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN.get_or_init(Mutex::default).lock().map(|mut s| s.insert(message.to_owned())).unwrap_or(true);
    if first {
        tracing::warn!("{message}; sent as is");
    }
}

struct Problem {
    key: String,
    value: Value,
    message: String,
}

#[derive(Default)]
struct Walker {
    problems: Vec<Problem>,
    unknown: Vec<String>,
}

impl Walker {
    /// The cleaned value, or None when it is to be dropped. `out` is the same position in the
    /// resource's output shape, if it has one there.
    fn walk(&mut self, shape: &str, out: Option<&str>, v: Value, key: &str) -> Option<Value> {
        if v.is_null() {
            return None;
        }
        let Some(s) = model().shapes.get(shape) else { return Some(v) };
        match s.kind {
            Kind::Structure => self.structure(shape, s, out, v, key),
            Kind::List => self.list(s, out, v, key),
            Kind::Map => self.map(s, out, v, key),
            Kind::Document => Some(v),
            scalar => self.scalar(s, scalar, v, key),
        }
    }

    fn structure(&mut self, name: &str, s: &Shape, out: Option<&str>, v: Value, key: &str) -> Option<Value> {
        let Value::Object(obj) = v else { return self.wrong(v, key, "an object") };
        let out_members = out.and_then(|o| model().shapes.get(o)).map(|o| &o.members);
        let mut kept = Map::new();
        for (k, child) in obj {
            let child_key = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
            let child_out = out_members.and_then(|m| m.get(&k)).map(String::as_str);
            if let Some(member) = s.members.get(&k) {
                if let Some(c) = self.walk(member, child_out, child, &child_key) {
                    kept.insert(k, c);
                }
            } else if child_out.is_some() {
                // Read-only: what describe returns and no input takes (platformFamily, revision, ...).
            } else if !child.is_null() {
                self.unknown.push(child_key);
                kept.insert(k, child);
            }
        }
        if name == "DeploymentAlarms" && alarms_off(&kept) {
            return None;
        }
        Some(Value::Object(kept))
    }

    fn list(&mut self, s: &Shape, out: Option<&str>, v: Value, key: &str) -> Option<Value> {
        let Value::Array(items) = v else { return self.wrong(v, key, "a list") };
        let was_empty = items.is_empty();
        let member = s.member.as_deref().unwrap_or("");
        let out_member = out.and_then(|o| model().shapes.get(o)).and_then(|o| o.member.as_deref());
        let kept: Vec<Value> = items.into_iter().enumerate().filter_map(|(i, item)| self.walk(member, out_member, item, &format!("{key}[{i}]"))).collect();
        (was_empty || !kept.is_empty()).then_some(Value::Array(kept))
    }

    fn map(&mut self, s: &Shape, out: Option<&str>, v: Value, key: &str) -> Option<Value> {
        let Value::Object(obj) = v else { return self.wrong(v, key, "an object") };
        let value_shape = s.value.as_deref().unwrap_or("");
        let out_value = out.and_then(|o| model().shapes.get(o)).and_then(|o| o.value.as_deref());
        let kept = obj.into_iter().filter_map(|(k, item)| self.walk(value_shape, out_value, item, &format!("{key}.{k}")).map(|c| (k, c))).collect();
        Some(Value::Object(kept))
    }

    fn scalar(&mut self, s: &Shape, kind: Kind, v: Value, key: &str) -> Option<Value> {
        match (kind, &v) {
            (Kind::String, Value::String(text)) if !s.enumeration.is_empty() => {
                if text.is_empty() {
                    // What aws-sdk-go-v2 does for ecspresso: an empty enum is not sent.
                    return None;
                }
                if !s.enumeration.contains(text) {
                    let message = format!("{text:?} is not one of {}", s.enumeration.join(", "));
                    self.problems.push(Problem { key: key.to_owned(), value: v.clone(), message });
                }
                Some(v)
            }
            (Kind::String | Kind::Blob, Value::String(_)) | (Kind::Boolean, Value::Bool(_)) | (Kind::Double | Kind::Float, Value::Number(_)) => Some(v),
            (Kind::Timestamp, Value::String(_) | Value::Number(_)) => Some(v),
            (Kind::Integer | Kind::Long, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(v),
            // Jsonnet numbers are doubles: 256.0 is the integer 256.
            (Kind::Integer | Kind::Long, Value::Number(n)) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15) => {
                Some(Value::from(n.as_f64().unwrap_or_default() as i64))
            }
            (Kind::String | Kind::Blob, _) => self.wrong(v, key, "a string"),
            (Kind::Boolean, _) => self.wrong(v, key, "true or false"),
            (Kind::Integer | Kind::Long, _) => self.wrong(v, key, "an integer"),
            (Kind::Double | Kind::Float, _) => self.wrong(v, key, "a number"),
            _ => self.wrong(v, key, "a timestamp"),
        }
    }

    /// Records a value of the wrong type; it is kept so the walk can go on and report the rest.
    fn wrong(&mut self, v: Value, key: &str, expected: &str) -> Option<Value> {
        let message = format!("expected {expected}, found {}", crate::config::kind(&v));
        self.problems.push(Problem { key: key.to_owned(), value: v.clone(), message });
        Some(v)
    }
}

/// An alarms block that does nothing: not enabled, no rollback, no alarm names (a required member,
/// so AWS refuses the block as written by `ecspresso init`).
fn alarms_off(alarms: &Map<String, Value>) -> bool {
    let off = |k: &str| alarms.get(k).and_then(Value::as_bool) != Some(true);
    off("enable") && off("rollback") && alarms.get("alarmNames").and_then(Value::as_array).is_none_or(Vec::is_empty)
}

/// `file:line:` for a key path (and the value found there), `file:` when no line is found.
fn locate(origin: &Origin, key: &str, value: Option<&Value>) -> String {
    let line = origin.source.and_then(|src| line_of(src, key, value));
    match line {
        Some(l) => format!("{}:{l}:", origin.path.display()),
        None => format!("{}:", origin.path.display()),
    }
}

/// The 1-based line writing the last member of `key` (`"name":` in JSON, `name:` in Jsonnet),
/// preferring one that also shows `value`.
fn line_of(source: &str, key: &str, value: Option<&Value>) -> Option<usize> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let name = last.split('[').next().unwrap_or(last);
    let wanted = value.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let candidates: Vec<usize> = source.lines().enumerate().filter(|(_, l)| writes_key(l, name)).map(|(i, _)| i + 1).collect();
    let with_value = wanted.and_then(|w| candidates.iter().copied().find(|&n| source.lines().nth(n - 1).is_some_and(|l| l.contains(&w))));
    with_value.or_else(|| candidates.first().copied())
}

fn writes_key(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(i, _)| {
        let before = &line[..i];
        let after = &line[i + name.len()..];
        let quoted = before.ends_with(['"', '\'']) && after.starts_with(['"', '\'']);
        let rest = if quoted { &after[1..] } else { after };
        let bare_start = before.trim_end_matches(['"', '\'']).chars().last().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        bare_start && rest.trim_start().starts_with(':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin(source: &str) -> (std::path::PathBuf, String) {
        (std::path::PathBuf::from("td.json"), source.to_owned())
    }

    fn run(op: Operation, body: Value) -> Result<Cleaned, InputError> {
        let (path, source) = origin(&serde_json::to_string_pretty(&body).unwrap());
        clean(op, body, &Origin { path: &path, source: Some(&source) })
    }

    #[test]
    fn the_embedded_model_parses_and_names_its_botocore() {
        assert!(!botocore_version().is_empty());
        assert!(model().shapes.contains_key("RegisterTaskDefinitionRequest"));
        assert!(model().shapes.contains_key("Service"));
    }

    #[test]
    fn empty_string_enums_and_nulls_are_dropped() {
        let td = json!({"family": "f", "ipcMode": "", "pidMode": "", "taskRoleArn": null,
            "containerDefinitions": [{"name": "a", "image": "x", "versionConsistency": "", "hostname": "",
                "portMappings": [{"containerPort": 80, "appProtocol": ""}]}]});
        let c = run(Operation::RegisterTaskDefinition, td).unwrap();
        assert_eq!(
            c.body,
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "hostname": "", "portMappings": [{"containerPort": 80}]}]})
        );
        assert!(c.unknown.is_empty(), "{:?}", c.unknown);
    }

    #[test]
    fn read_only_members_are_dropped_nested_too() {
        let sv = json!({"serviceName": "s", "platformFamily": "Linux", "status": "ACTIVE", "runningCount": 1,
            "events": [{"message": "m"}], "deployments": [{"id": "d"}], "launchType": "", "createdAt": 1.5,
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]});
        let c = run(Operation::CreateService, sv).unwrap();
        assert_eq!(c.body, json!({"serviceName": "s", "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}));
        let td = json!({"family": "f", "revision": 3, "compatibilities": ["EC2"], "registeredAt": "2024-01-01",
            "requiresAttributes": [{"name": "x"}], "containerDefinitions": [{"name": "a"}]});
        let c = run(Operation::RegisterTaskDefinition, td).unwrap();
        assert_eq!(c.body, json!({"family": "f", "containerDefinitions": [{"name": "a"}]}));
    }

    #[test]
    fn an_all_off_alarms_block_is_dropped_and_a_live_one_kept() {
        let off = json!({"deploymentConfiguration": {"maximumPercent": 200, "alarms": {"enable": false, "rollback": false}}});
        let c = run(Operation::CreateService, off).unwrap();
        assert_eq!(c.body, json!({"deploymentConfiguration": {"maximumPercent": 200}}));
        let on = json!({"deploymentConfiguration": {"alarms": {"enable": true, "rollback": false, "alarmNames": ["a"]}}});
        assert_eq!(run(Operation::CreateService, on.clone()).unwrap().body, on);
    }

    #[test]
    fn unknown_members_are_kept_and_named_with_their_line() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "a", "brandNewField": {"x": 1}}]});
        let c = run(Operation::RegisterTaskDefinition, td.clone()).unwrap();
        assert_eq!(c.body, td);
        assert_eq!(c.unknown.len(), 1, "{:?}", c.unknown);
        assert!(c.unknown[0].starts_with("td.json:4: key \"containerDefinitions[0].brandNewField\""), "{}", c.unknown[0]);
    }

    #[test]
    fn free_form_maps_keep_their_keys() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "a", "dockerLabels": {"Any.Key": "v"},
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}}]});
        let c = run(Operation::RegisterTaskDefinition, td.clone()).unwrap();
        assert_eq!(c.body, td);
        assert!(c.unknown.is_empty());
    }

    #[test]
    fn a_bad_enum_value_names_file_line_and_key() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "a", "portMappings": [{"containerPort": 80, "appProtocol": "htp"}]}]});
        let e = run(Operation::RegisterTaskDefinition, td).unwrap_err().to_string();
        assert!(e.starts_with("td.json:7: key \"containerDefinitions[0].portMappings[0].appProtocol\": \"htp\" is not one of http, http2, grpc"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_file_line_and_key() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "a", "essential": "yes", "memory": "512"}]});
        let e = run(Operation::RegisterTaskDefinition, td).unwrap_err().to_string();
        assert!(e.contains("td.json:4: key \"containerDefinitions[0].essential\": expected true or false, found a string"), "{e}");
        assert!(e.contains("td.json:5: key \"containerDefinitions[0].memory\": expected an integer"), "{e}");
    }

    #[test]
    fn integral_doubles_become_integers() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "a", "memory": 512.0}]});
        let c = run(Operation::RegisterTaskDefinition, td).unwrap();
        assert_eq!(c.body["containerDefinitions"][0]["memory"].as_i64(), Some(512));
        assert!(c.body["containerDefinitions"][0]["memory"].is_i64());
    }

    #[test]
    fn jsonnet_keys_are_found_unquoted() {
        assert!(writes_key("    appProtocol: 'htp',", "appProtocol"));
        assert!(writes_key("\"appProtocol\": \"htp\"", "appProtocol"));
        assert!(!writes_key("\"xappProtocol\": 1", "appProtocol"));
        assert!(!writes_key("\"name\": \"appProtocol\"", "appProtocol"));
    }
}
