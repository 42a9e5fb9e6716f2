//! The cases file of `cortado plugin test`:
//!
//! ```yaml
//! plugin:                       # configured as under `plugins:` in cortado.yml (all optional)
//!   name: ssm
//!   config: {}
//!   grants: [{action: ssm:GetParameter, resource: "arn:aws:ssm:*:*:parameter/app/*"}]
//!   limits: {timeout: 1s}
//! cassette: ssm.cassette.json   # default: CASES.cassette.json
//! keep_secrets: [/app/public]   # parameters / secrets whose values are recorded in clear
//! cases:
//!   - name: a value
//!     resolve: {function: ssm, args: [/app/host]}
//!     expect: {value: db.internal}
//!   - name: verify
//!     verify: {task_definition: td.json}
//!     expect: {checks: [{name: image app, status: ok}]}
//!   - name: a freeze
//!     evaluate: {plan: {command: deploy, time: "2026-12-25T00:00:00Z"}}   # or a file: plan.json
//!     expect: {decision: deny, reasons: [freeze]}
//! ```
//!
//! `error` and `reasons` match by substring; everything else exactly.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Grant;
use crate::error::InputError;
use crate::plugin::bindings::Plan;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    plugin: PluginBlock,
    cassette: Option<PathBuf>,
    #[serde(default)]
    keep_secrets: Vec<String>,
    cases: Vec<RawCase>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginBlock {
    pub name: Option<String>,
    #[serde(default)]
    pub config: Value,
    pub grants: Option<Vec<GrantEntry>>,
    #[serde(default)]
    pub preopens: Vec<PathBuf>,
    #[serde(default)]
    pub limits: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    pub action: String,
    pub resource: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    resolve: Option<ResolveCall>,
    verify: Option<VerifyCall>,
    evaluate: Option<EvaluateCall>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveCall {
    function: String,
    #[serde(default)]
    args: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyCall {
    task_definition: PathBuf,
    service_definition: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateCall {
    plan: PlanSource,
}

// One value per case, read once: boxing the inline plan would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PlanSource {
    File(PathBuf),
    Inline(PlanFile),
}

/// A gate's input; every field but `command` has a default. Definitions may be objects or JSON text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    command: String,
    #[serde(default = "default_cluster")]
    cluster: String,
    service: Option<String>,
    #[serde(default = "default_region")]
    region: String,
    #[serde(default = "default_account")]
    account: String,
    #[serde(default = "default_caller")]
    caller: String,
    /// RFC 3339; default: now.
    time: Option<String>,
    task_definition: Option<Value>,
    task_definition_arn: Option<String>,
    service_definition: Option<Value>,
    #[serde(default)]
    diff: String,
    desired_count: Option<i64>,
    overrides: Option<Value>,
    /// A paused lifecycle stage, as a 0.2.0 gate sees it (`name`, `hook_id`, ..., `deployment`).
    stage: Option<crate::plugin::bindings::Stage>,
    /// The requests the command will send, as a 0.3.0 gate sees them (`plan.to_json()["steps"]`).
    #[serde(default)]
    steps: Vec<StepFile>,
}

/// One step of a case's plan; `input` may be an object or JSON text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    service: String,
    operation: String,
    #[serde(default)]
    resource: String,
    #[serde(default = "default_phase")]
    phase: String,
    #[serde(default)]
    input: Value,
}

fn default_phase() -> String {
    "apply".into()
}

fn default_cluster() -> String {
    "default".into()
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_account() -> String {
    "123456789012".into()
}
fn default_caller() -> String {
    "arn:aws:iam::123456789012:user/plugin-test".into()
}

/// JSON text as written, or an object serialised.
fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

impl PlanFile {
    pub fn to_plan(&self) -> Plan {
        Plan {
            command: self.command.clone(),
            cluster: self.cluster.clone(),
            service: self.service.clone(),
            region: self.region.clone(),
            account: self.account.clone(),
            caller: self.caller.clone(),
            time: self.time.clone().unwrap_or_else(crate::util::rfc3339_now_precise),
            task_definition: json_text(&self.task_definition),
            task_definition_arn: self.task_definition_arn.clone(),
            service_definition: json_text(&self.service_definition),
            diff: self.diff.clone(),
            desired_count: self.desired_count,
            overrides: json_text(&self.overrides),
            stage: self.stage.clone(),
            steps: self
                .steps
                .iter()
                .map(|s| crate::plugin::bindings::Step {
                    service: s.service.clone(),
                    operation: s.operation.clone(),
                    resource: s.resource.clone(),
                    phase: s.phase.clone(),
                    input: json_text(&Some(s.input.clone())).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub value: Option<String>,
    pub error: Option<String>,
    pub checks: Option<Vec<ExpectCheck>>,
    pub decision: Option<String>,
    pub reasons: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectCheck {
    pub name: String,
    pub status: String,
    pub message: Option<String>,
}

/// The hook a case calls.
// One value per case: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Hook {
    Resolve { function: String, args: Vec<String> },
    Verify { task_definition: PathBuf, service_definition: Option<PathBuf> },
    Evaluate { plan: PlanFile },
}

#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub hook: Hook,
    pub expect: Expect,
}

#[derive(Debug)]
pub struct CasesFile {
    pub plugin: PluginBlockGrants,
    pub cassette: Option<PathBuf>,
    pub keep_secrets: Vec<String>,
    pub cases: Vec<Case>,
}

/// The `plugin:` block with grants in the config's own type.
#[derive(Debug)]
pub struct PluginBlockGrants {
    pub name: Option<String>,
    pub config: Value,
    pub grants: Option<Vec<Grant>>,
    pub preopens: Vec<PathBuf>,
    pub limits: Map<String, Value>,
}

impl CasesFile {
    /// Reads and checks a cases file; every problem names the file, line and key.
    pub fn load(path: &Path) -> Result<CasesFile> {
        let text = std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("cannot read the cases: {e}")))?;
        let raw: RawFile = serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
            Some(l) => {
                let msg = e.to_string();
                let msg = msg.find(" at line ").map(|i| msg[..i].to_owned()).unwrap_or(msg);
                InputError::at(path, l.line(), format!("column {}: {msg}", l.column()))
            }
            None => InputError::in_file(path, e),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut cases = Vec::new();
        for (i, c) in raw.cases.into_iter().enumerate() {
            let line = line_of(&text, &c.name);
            let bad = |msg: String| InputError::at(path, line, format!("cases[{i}] ({:?}): {msg}", c.name));
            let hook = match (c.resolve, c.verify, c.evaluate) {
                (Some(r), None, None) => Hook::Resolve { function: r.function, args: r.args.iter().map(scalar).collect() },
                (None, Some(v), None) => Hook::Verify { task_definition: v.task_definition, service_definition: v.service_definition },
                (None, None, Some(e)) => Hook::Evaluate { plan: load_plan(dir, e.plan).map_err(|m| bad(format!("key \"evaluate.plan\": {m}")))? },
                _ => return Err(bad("give exactly one of `resolve`, `verify`, `evaluate`".into()).into()),
            };
            let e = &c.expect;
            if [e.value.is_some(), e.error.is_some(), e.checks.is_some(), e.decision.is_some()].iter().all(|b| !b) {
                return Err(bad("key \"expect\": state `value`, `error`, `checks` or `decision`".into()).into());
            }
            cases.push(Case { name: c.name, hook, expect: c.expect });
        }
        let p = raw.plugin;
        let grants = p.grants.map(|g| g.into_iter().map(|g| Grant { action: g.action, resource: g.resource, ..Grant::default() }).collect());
        let plugin = PluginBlockGrants { name: p.name, config: p.config, grants, preopens: p.preopens, limits: p.limits };
        Ok(CasesFile { plugin, cassette: raw.cassette, keep_secrets: raw.keep_secrets, cases })
    }
}

/// A YAML scalar as a template argument (`1` → "1").
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn load_plan(dir: &Path, source: PlanSource) -> Result<PlanFile, String> {
    match source {
        PlanSource::Inline(p) => Ok(p),
        PlanSource::File(rel) => {
            let p = dir.join(&rel);
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

/// The line of a case's `name: NAME` (1 when not found).
fn line_of(text: &str, name: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().trim_start_matches("- ").strip_prefix("name:").is_some_and(|v| v.trim().trim_matches(['"', '\'']) == name))
        .map(|i| i + 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<CasesFile> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cases.yaml");
        std::fs::write(&p, text).unwrap();
        CasesFile::load(&p)
    }

    #[test]
    fn reads_each_hook() {
        let f = load(
            "plugin: {name: x, grants: []}\ncases:\n  - name: r\n    resolve: {function: f, args: [a, 1]}\n    expect: {value: v}\n  - name: g\n    evaluate: {plan: {command: deploy, task_definition: {family: f}}}\n    expect: {decision: allow}\n",
        )
        .unwrap();
        assert!(matches!(&f.cases[0].hook, Hook::Resolve { args, .. } if args == &["a", "1"]));
        let Hook::Evaluate { plan } = &f.cases[1].hook else { panic!() };
        assert_eq!(plan.to_plan().task_definition.as_deref(), Some("{\"family\":\"f\"}"));
        assert_eq!(f.plugin.grants, Some(vec![]));
    }

    #[test]
    fn bad_cases_name_the_line_and_key() {
        let e = load("cases:\n  - name: a\n    expect: {value: v}\n").unwrap_err().to_string();
        assert!(e.ends_with("cases.yaml:2: cases[0] (\"a\"): give exactly one of `resolve`, `verify`, `evaluate`"), "{e}");
        let e = load("cases:\n  - name: a\n    resolve: {function: f}\n    expect: {vaule: v}\n").unwrap_err().to_string();
        assert!(e.contains("cases.yaml:4: column") && e.contains("unknown field `vaule`"), "{e}");
        let e = load("cases:\n  - name: a\n    resolve: {function: f}\n    expect: {}\n").unwrap_err().to_string();
        assert!(e.contains("cases.yaml:2:") && e.contains("key \"expect\""), "{e}");
    }
}
