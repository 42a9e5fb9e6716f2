//! Stage 1: the configuration file (`cortado.yml` or an unchanged `ecspresso.yml`).
//!
//! YAML files are rendered as templates and then parsed; JSON and Jsonnet files are evaluated by
//! Jsonnet first and rendered after, exactly as ecspresso does. Keys match case-insensitively,
//! unknown keys are a warning, and every path is relative to the config file.

pub mod duration;
pub mod shared;
pub mod stages;
pub mod version;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::InputError;
use crate::jsonnet::JsonnetOptions;
pub mod catalog;
use crate::template::{self, FuncMap};

/// File names probed, in order, when `--config` is not given.
pub const DEFAULT_CONFIG_NAMES: &[&str] =
    &["cortado.yml", "cortado.yaml", "cortado.json", "cortado.jsonnet", "ecspresso.yml", "ecspresso.yaml", "ecspresso.json", "ecspresso.jsonnet"];

/// The ecspresso release whose behaviour cortado matches; `required_version` in a config not named
/// `cortado.*` is checked against it, so that an unchanged `ecspresso.yml` keeps working.
pub const ECSPRESSO_COMPAT_VERSION: &str = "2.4.0";

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file as given or found.
    pub path: PathBuf,
    /// Its directory; definition and plugin paths are joined onto it.
    pub dir: PathBuf,
    pub required_version: Option<String>,
    pub region: Option<String>,
    pub cluster: String,
    pub service: Option<String>,
    pub service_definition: Option<PathBuf>,
    pub task_definition: Option<PathBuf>,
    pub plugins: Vec<PluginConfig>,
    pub appspec: Option<Value>,
    pub filter_command: Option<String>,
    pub timeout: Duration,
    pub codedeploy: Option<CodeDeployConfig>,
    pub ignore: IgnoreConfig,
    /// Where gate decisions are appended (default: `cortado-audit.jsonl` beside the config).
    pub audit_log: Option<PathBuf>,
    /// `audit_log: s3://bucket/prefix/`: one object per record (see `gate::s3chain`).
    pub audit_s3: Option<shared::S3Url>,
    /// Object Lock retention for S3 audit records (`audit_retention: 7y`, `audit_retention_mode`).
    pub audit_retention: Option<shared::Retention>,
    /// The deploy lock (`lock: s3://…`; on by default when the audit log is on S3, `lock: false` turns it off).
    pub lock: Option<shared::S3Url>,
    /// How long a lock lives without renewal (`lock_ttl`, default 2m): a killed holder's lock expires.
    pub lock_ttl: Duration,
    /// `--lock-timeout`: how long to wait for another deployer's lock (default: fail at once).
    pub lock_timeout: Duration,
    /// `--wait-for-others`: wait for an IN_PROGRESS deployment this invocation did not start.
    pub wait_for_others: bool,
    /// `signing: {key_file: PATH}` or `{kms_key: ARN}`: what signs each gated command's evidence.
    pub signing_key: Option<shared::Signing>,
    /// `strict: true`: refuse plugins that run outside the sandbox (`external`).
    pub strict: bool,
    /// An ECS Managed Daemon (`daemon_definition` with its `daemon_task_definition`): the config
    /// then manages that daemon instead of a service.
    pub daemon: Option<DaemonConfig>,
    /// `express_definition: FILE` (ECS Express mode, ecspresso v2.6.5+): the config's `service` is
    /// an Express service, deployed with Create/UpdateExpressGatewayService from this file.
    pub express_definition: Option<PathBuf>,
    /// `pin_image_digests: true`: every image given by tag is resolved to its manifest digest at
    /// plan time, so what gates approve and ECS registers is `REPO@sha256:…`, not a movable tag.
    /// Off by default: ecspresso registers images as written.
    pub pin_image_digests: bool,
    /// `retry_max_attempts: N` (ecspresso v2.6): the SDK's max attempts for every AWS client cortado
    /// makes (plugins' brokered reads included), over cortado's default of 8 and over
    /// `AWS_MAX_ATTEMPTS`, since the config is the more specific statement. `None` (or 0, as in
    /// ecspresso) keeps the default.
    pub retry_max_attempts: Option<u32>,
    /// The config declares ecspresso v3 (`required_version: ">= 3"`, `"~> 3.0"`, … in a file not
    /// named `cortado.*`): v3's semantics apply (plain-number durations are seconds, `rollback`
    /// needs an active deployment, plugin functions work in top-level fields, removed flags are
    /// refused). Any other config keeps v2's.
    pub ecspresso_v3: bool,
}

/// Where a v3 feature or refusal comes from, for messages.
pub const V3_NOTE: &str = "this config declares ecspresso v3 in required_version";

/// Refuses `what` (a flag or key ecspresso v3 removed) in a config that declares v3, naming the
/// replacement; does nothing for a v2 config, where the old form still works.
pub fn refuse_removed_in_v3(config: &Config, what: &str, pr: &str, replacement: &str) -> Result<(), InputError> {
    if !config.ecspresso_v3 {
        return Ok(());
    }
    Err(InputError::in_file(&config.path, format!("{what} was removed in ecspresso v3 ({pr}) and {V3_NOTE}: {replacement}")))
}

/// Returns the plugin functions of a preliminary config (its `plugins`, `region` and the like):
/// the second pass of a v3 config's load renders the whole file with them.
pub type PluginFuncs<'a> = &'a dyn Fn(&Config) -> Result<FuncMap>;

/// `daemon_definition: FILE` (CreateDaemon's input without the task definition ARN) and
/// `daemon_task_definition: FILE` (RegisterDaemonTaskDefinition's input); `daemon: NAME` names the
/// daemon when the definition file does not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaemonConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub definition: PathBuf,
    pub task_definition: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginConfig {
    pub name: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub config: Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub func_prefix: String,
    /// A custom plugin's component file (relative paths are joined onto the config directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The pinned sha256 of `path` (or of the wasm layer of `oci`); cortado refuses to run a
    /// component whose digest differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A custom plugin pulled from an OCI registry (`oci:` and `verify:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciSource>,
    /// Brokered AWS reads granted by the operator: `{action: "ssm:GetParameter", resource: "arn:…"}`.
    /// First-party plugins configured ecspresso-style get the grants their config implies.
    /// `None` when the config says nothing (first-party plugins then get their implied grants);
    /// `Some(vec![])` denies every brokered call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<Grant>>,
    /// Directories the plugin may read, as written (relative to the config directory); each is
    /// mounted read-only in the guest under the same path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preopens: Vec<PathBuf>,
    /// Gate enforcement level (`advisory`, `soft-mandatory`, `hard-mandatory`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    /// Resource limits (`memory`, `timeout`, `max_output`) overriding the defaults.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub limits: Map<String, Value>,
    /// A gate bound to ECS lifecycle hook stages (`stages: [POST_TEST_TRAFFIC_SHIFT]`): it judges the
    /// deployment when it pauses there, instead of the command's plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
}

/// `oci: REGISTRY/REPO[:TAG][@sha256:MANIFEST]` with `verify: {keys: [...]}`: where a custom
/// plugin's component is pulled from, and the keys one of which must have signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OciSource {
    pub reference: String,
    /// PEM public keys, joined onto the config directory; empty: no signature is required (then
    /// `sha256` is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<PathBuf>,
}

impl PluginConfig {
    /// Whether this is a custom plugin (a local component file, or one pulled from a registry)
    /// rather than a first-party one.
    pub fn is_custom(&self) -> bool {
        self.path.is_some() || self.oci.is_some()
    }

    /// A first-party plugin configured the ecspresso way: a name and its `config:` block, nothing else.
    pub fn named(name: &str, config: Value) -> PluginConfig {
        PluginConfig {
            name: name.to_owned(),
            config,
            func_prefix: String::new(),
            path: None,
            sha256: None,
            oci: None,
            grants: None,
            preopens: Vec::new(),
            enforcement: None,
            limits: Map::new(),
            stages: Vec::new(),
        }
    }
}

/// One brokered AWS read a plugin may make (or, with `effect: Deny`, may not make): an IAM action
/// and a resource ARN pattern (`*` globs), evaluated as IAM does: a matching Deny wins over any Allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Grant {
    pub action: String,
    pub resource: String,
    /// `Allow` (the default) or `Deny`.
    #[serde(skip_serializing_if = "Effect::is_allow")]
    pub effect: Effect,
    /// `glob: true` on an `http:Get` grant: `?` and `*` in the URL's query are wildcards (by default
    /// they match themselves, since they are ordinary characters of a query).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub glob: bool,
}

/// A grant's `effect`, as IAM writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

impl Effect {
    pub fn is_allow(&self) -> bool {
        *self == Effect::Allow
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CodeDeployConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_group_name: Option<String>,
    /// Overrides the deployment group's deployment config (ecspresso v2.5, #829).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_config_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IgnoreConfig {
    /// Tag keys managed by other tools: never diffed, added or removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// What loading needs from the command line.
#[derive(Clone)]
pub struct LoadOptions {
    pub env: Arc<crate::env::Env>,
    pub jsonnet: JsonnetOptions,
}

/// Finds the config file: `--config` if given, else the first of [`DEFAULT_CONFIG_NAMES`] in `cwd`.
pub fn locate(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf, InputError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    for name in DEFAULT_CONFIG_NAMES {
        if cwd.join(name).is_file() {
            return Ok(PathBuf::from(name));
        }
    }
    Err(InputError::new(format!("no config file found in {} (looked for {}); pass --config", cwd.display(), DEFAULT_CONFIG_NAMES.join(", "))))
}

/// Loads, renders and checks a config file (plugin functions are not available in its fields).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Config> {
    load_with_plugins(path, opts, None)
}

/// [`load`], and for a config that declares ecspresso v3, the two-pass load of v3 (#1023): the
/// file, valid YAML or Jsonnet before any template runs, is read once for `plugins` (which cannot
/// use plugin functions themselves), then rendered whole with the functions `plugin_funcs` returns
/// for them, so that `cluster: '{{ tfstate "…" }}'` works. A v2 config is rendered once, with the
/// built-in functions only, as ecspresso v2 does.
pub fn load_with_plugins(path: &Path, opts: &LoadOptions, plugin_funcs: Option<PluginFuncs>) -> Result<Config> {
    let source = std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("cannot read config file: {e}")))?;
    let funcs = template::env_funcs(opts.env.lookup_fn());
    let value = match (plugin_funcs, v3_source(path, &source, opts)?) {
        (Some(plugin_funcs), Some((raw, text))) => {
            let pre = first_pass(path, &source, &raw, &funcs)?;
            let all = plugin_funcs(&pre)?;
            let rendered = template::render(&path.display().to_string(), &text, &all).map_err(|e| InputError::new(e.to_string()))?;
            if is_yaml(path) { yaml_to_json(path, &rendered)? } else { parse_json(path, &rendered)? }
        }
        _ => parse_config_source(path, &source, &funcs, &opts.env.lookup_fn(), &opts.jsonnet)?,
    };
    let mut config = from_value(path, &source, value)?;
    // ecspresso's Restrict fills an empty region from AWS_REGION, so `render config` shows it.
    if config.region.is_none() {
        config.region = opts.env.get("AWS_REGION").filter(|r| !r.is_empty()).map(str::to_owned);
    }
    config.check_required_version()?;
    Ok(config)
}

fn is_yaml(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

/// A v3 config before templates run: its value (YAML parsed as written, or Jsonnet evaluated) and
/// the text the second pass renders. `None` when the file does not declare ecspresso v3. A YAML
/// file that declares v3 must be valid YAML before templating (v3 parses first, then renders):
/// one that is not is refused ([`not_yaml_before_templating`]), not quietly loaded as v2.
fn v3_source(path: &Path, source: &str, opts: &LoadOptions) -> Result<Option<(Value, String)>> {
    let (raw, text) = if is_yaml(path) {
        match serde_yaml_ng::from_str::<Value>(source) {
            Ok(v) => (v, source.to_owned()),
            Err(e) if declares_v3_in_text(path, source) => return Err(not_yaml_before_templating(path, source, &e).into()),
            Err(_) => return Ok(None),
        }
    } else {
        let natives = crate::functions::Registry::with_env(opts.env.lookup_fn());
        let evaluated = crate::jsonnet::evaluate_file(path, &opts.jsonnet, &natives)?;
        let text = serde_json::to_string(&evaluated)?;
        (evaluated, text)
    };
    let declared = raw.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("required_version"))).and_then(|(_, v)| v.as_str());
    let v3 = declared.is_some_and(version::declares_v3) && !is_cortado_file(path);
    Ok(v3.then_some((raw, text)))
}

/// Whether a YAML file that does not parse declares ecspresso v3 on a `required_version:` line of
/// its own (the only way to tell without a parse), outside `cortado.*` files.
fn declares_v3_in_text(path: &Path, source: &str) -> bool {
    let declared = source.lines().find_map(|l| l.strip_prefix("required_version:")).map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''));
    declared.is_some_and(version::declares_v3) && !is_cortado_file(path)
}

/// The refusal of a v3 YAML config that is not YAML before templating (#1023), naming the file
/// and the line: the first line whose value is an unquoted `{{ … }}`, else where the parser
/// stopped.
fn not_yaml_before_templating(path: &Path, source: &str, err: &serde_yaml_ng::Error) -> InputError {
    let unquoted = source.lines().position(|l| {
        let t = l.trim_start().trim_start_matches("- ");
        t.split_once(':').map_or(t, |(_, v)| v).trim_start().starts_with("{{")
    });
    let line = unquoted.map(|i| i + 1).or_else(|| err.location().map(|l| l.line())).unwrap_or(1);
    InputError(format!(
        "{}:{line}: not valid YAML before templating ({}): ecspresso v3 parses the config as YAML before it renders templates (#1023) and {V3_NOTE}; quote the template scalar, e.g. cluster: '{{{{ must_env `CLUSTER` }}}}'",
        path.display(),
        strip_location(&err.to_string())
    ))
}

/// The keys the first pass of a v3 load reads: what the plugins need to run.
const FIRST_PASS_KEYS: &[&str] = &["required_version", "region", "plugins", "strict", "retry_max_attempts"];

/// The first pass of a v3 load: [`FIRST_PASS_KEYS`] with their strings rendered by the built-in
/// functions. `plugins` must render so; another key that needs a plugin function is left to the
/// second pass (the plugins then run with the SDK's own region, as ecspresso's do).
fn first_pass(path: &Path, source: &str, raw: &Value, funcs: &FuncMap) -> Result<Config> {
    let Value::Object(obj) = raw else { return Err(InputError::in_file(path, format!("the config must be an object, found {}", kind(raw))).into()) };
    let mut pre = Map::new();
    for (k, v) in obj.iter().filter(|(k, _)| FIRST_PASS_KEYS.iter().any(|f| k.eq_ignore_ascii_case(f))) {
        match render_strings(path, v, funcs) {
            Ok(r) => {
                pre.insert(k.clone(), r);
            }
            Err(e) if k.eq_ignore_ascii_case("plugins") => {
                return Err(InputError::in_file(path, format!("key \"plugins\": {e} (the plugins block cannot use plugin functions)")).into());
            }
            Err(_) => {}
        }
    }
    from_value(path, source, Value::Object(pre))
}

/// Every string of `v` rendered as a template.
fn render_strings(path: &Path, v: &Value, funcs: &FuncMap) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(template::render(&path.display().to_string(), s, funcs).map_err(|e| e.to_string())?),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_strings(path, x, funcs)).collect::<Result<_, _>>()?),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| Ok((k.clone(), render_strings(path, x, funcs)?))).collect::<Result<_, String>>()?),
        other => other.clone(),
    })
}

fn is_cortado_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("cortado."))
}

fn parse_config_source(path: &Path, source: &str, funcs: &FuncMap, env_lookup: &crate::template::EnvLookup, jsonnet: &JsonnetOptions) -> Result<Value> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let name = path.display().to_string();
    match ext.as_str() {
        "yml" | "yaml" => {
            let rendered = template::render(&name, source, funcs).map_err(|e| InputError::new(e.to_string()))?;
            yaml_to_json(path, &rendered)
        }
        "json" | "jsonnet" => {
            let natives = crate::functions::Registry::with_env(env_lookup.clone());
            let evaluated = crate::jsonnet::evaluate_file(path, jsonnet, &natives)?;
            let text = serde_json::to_string(&evaluated)?;
            let rendered = template::render(&name, &text, funcs).map_err(|e| InputError::new(e.to_string()))?;
            parse_json(path, &rendered)
        }
        other => Err(InputError::in_file(path, format!("unsupported config file extension {other:?} (use .yml, .yaml, .json or .jsonnet)")).into()),
    }
}

/// Parses YAML into JSON values, with the file and line of any syntax error.
pub fn yaml_to_json(path: &Path, text: &str) -> Result<Value> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| {
        let msg = e.to_string();
        match e.location() {
            Some(loc) => InputError(format!("{}:{}:{}: invalid YAML: {}", path.display(), loc.line(), loc.column(), strip_location(&msg))).into(),
            None => InputError::in_file(path, format!("invalid YAML: {msg}")).into(),
        }
    })
}

/// Parses JSON text, with the file and line of any syntax error.
pub fn parse_json(path: &Path, text: &str) -> Result<Value> {
    serde_json::from_str::<Value>(text)
        .map_err(|e| InputError(format!("{}:{}:{}: invalid JSON: {}", path.display(), e.line(), e.column(), strip_location(&e.to_string()))).into())
}

fn strip_location(msg: &str) -> &str {
    match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// The 1-based line where `key` is first written in `source` (YAML `key:` or JSON `"key":`), for
/// error messages about a key's value. Case-insensitive, like key matching.
pub fn find_key_line(source: &str, key: &str) -> Option<usize> {
    let key = key.to_ascii_lowercase();
    source
        .lines()
        .position(|line| {
            let t = line.trim_start().trim_start_matches("- ").to_ascii_lowercase();
            let t = t.trim_start_matches(['"', '\'']);
            t.starts_with(&key) && t[key.len()..].trim_start_matches(['"', '\'']).trim_start().starts_with(':')
        })
        .map(|i| i + 1)
}

/// A case-insensitive view of a JSON object that remembers which keys were used, so the rest can be
/// reported as unknown.
pub struct Fields<'a> {
    path: &'a Path,
    source: &'a str,
    context: String,
    obj: &'a Map<String, Value>,
    used: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    pub fn new(path: &'a Path, source: &'a str, context: impl Into<String>, obj: &'a Map<String, Value>) -> Self {
        Fields { path, source, context: context.into(), obj, used: Vec::new() }
    }

    pub fn get(&mut self, key: &str) -> Option<&'a Value> {
        let (k, v) = self.obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
        self.used.push(k.as_str());
        if v.is_null() { None } else { Some(v) }
    }

    pub fn error(&self, key: &str, msg: impl std::fmt::Display) -> InputError {
        let full = if self.context.is_empty() { key.to_string() } else { format!("{}.{key}", self.context) };
        match find_key_line(self.source, key) {
            Some(line) => InputError(format!("{}:{line}: key {full:?}: {msg}", self.path.display())),
            None => InputError(format!("{}: key {full:?}: {msg}", self.path.display())),
        }
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, InputError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(self.error(key, format!("expected a string, found {}", kind(other)))),
        }
    }

    /// Warns about every key not read through this view.
    pub fn warn_unknown(&self) {
        for k in self.obj.keys() {
            if !self.used.contains(&k.as_str()) {
                let full = if self.context.is_empty() { k.clone() } else { format!("{}.{k}", self.context) };
                match find_key_line(self.source, k) {
                    Some(line) => tracing::warn!("{}:{line}: unknown key {full:?} (ignored)", self.path.display()),
                    None => tracing::warn!("{}: unknown key {full:?} (ignored)", self.path.display()),
                }
            }
        }
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The daemon keys: both files or neither, and not beside a service (one config manages one thing).
fn daemon_config(f: &mut Fields, has_service: bool, resolve: &dyn Fn(String) -> PathBuf) -> Result<Option<DaemonConfig>, InputError> {
    let name = f.string("daemon")?.filter(|s| !s.is_empty());
    let definition = f.string("daemon_definition")?.filter(|s| !s.is_empty()).map(resolve);
    let task_definition = f.string("daemon_task_definition")?.filter(|s| !s.is_empty()).map(resolve);
    match (definition, task_definition) {
        (None, None) if name.is_some() => Err(f.error("daemon", "needs daemon_definition and daemon_task_definition")),
        (None, None) => Ok(None),
        (Some(_), None) => Err(f.error("daemon_definition", "needs daemon_task_definition (the daemon task definition file)")),
        (None, Some(_)) => Err(f.error("daemon_task_definition", "needs daemon_definition (the daemon definition file)")),
        (Some(_), Some(_)) if has_service => Err(f.error("daemon_definition", "a config manages a service or a daemon, not both (remove `service`)")),
        (Some(definition), Some(task_definition)) => Ok(Some(DaemonConfig { name, definition, task_definition })),
    }
}

/// `express_definition`: needs `service` (the Express service's name, as in ecspresso) and is not
/// beside a daemon.
fn express_config(f: &mut Fields, has_service: bool, has_daemon: bool, resolve: &dyn Fn(String) -> PathBuf) -> Result<Option<PathBuf>, InputError> {
    let Some(path) = f.string("express_definition")?.filter(|s| !s.is_empty()) else { return Ok(None) };
    if !has_service {
        return Err(f.error("express_definition", "needs `service` (the name of the Express service)"));
    }
    if has_daemon {
        return Err(f.error("express_definition", "a config manages an Express service or a daemon, not both"));
    }
    Ok(Some(resolve(path)))
}

/// A config from an already parsed document (a stack file's own `plugins`/`audit_log`): the same
/// checks as [`load`], errors naming `path`.
pub fn from_parsed(path: &Path, source: &str, value: Value) -> Result<Config> {
    from_value(path, source, value)
}

fn from_value(path: &Path, source: &str, value: Value) -> Result<Config> {
    let Value::Object(obj) = value else {
        return Err(InputError::in_file(path, format!("the config must be an object, found {}", kind(&value))).into());
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut f = Fields::new(path, source, "", &obj);
    let resolve = |p: String| -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() || dir.as_os_str().is_empty() { p } else { dir.join(p) }
    };

    let required_version = f.string("required_version")?;
    let ecspresso_v3 = required_version.as_deref().is_some_and(version::declares_v3) && !is_cortado_file(path);
    let region = f.string("region")?.filter(|s| !s.is_empty());
    let cluster = f.string("cluster")?.filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into());
    let service = f.string("service")?.filter(|s| !s.is_empty());
    let service_definition = f.string("service_definition")?.filter(|s| !s.is_empty()).map(resolve);
    let task_definition = f.string("task_definition")?.filter(|s| !s.is_empty()).map(resolve);
    let filter_command = f.string("filter_command")?.filter(|s| !s.is_empty());
    let daemon = daemon_config(&mut f, service.is_some(), &resolve)?;
    let express_definition = express_config(&mut f, service.is_some(), daemon.is_some(), &resolve)?;
    let audit_text = f.string("audit_log")?.filter(|s| !s.is_empty());
    let (audit_log, audit_s3) = match audit_text.as_deref().map(|s| (s, shared::S3Url::parse(s))) {
        None => (None, None),
        Some((_, Some(url))) => (None, Some(url.map_err(|e| f.error("audit_log", e))?)),
        Some((s, None)) => (Some(resolve(s.to_owned())), None),
    };
    let audit_retention = match f.string("audit_retention")? {
        None => None,
        Some(p) => {
            let period = shared::parse_period(&p).map_err(|e| f.error("audit_retention", e))?;
            let mode = shared::parse_mode(&f.string("audit_retention_mode")?.unwrap_or_else(|| "GOVERNANCE".into()))
                .map_err(|e| f.error("audit_retention_mode", e))?;
            Some(shared::Retention { period, mode })
        }
    };
    if audit_retention.is_some() && audit_s3.is_none() {
        return Err(f.error("audit_retention", "needs `audit_log: s3://…` (Object Lock retention applies to S3 records)").into());
    }
    let lock = match f.get("lock") {
        None | Some(Value::Null) => audit_s3.clone(),
        Some(Value::Bool(false)) => None,
        Some(Value::String(s)) => {
            Some(shared::S3Url::parse(s).unwrap_or_else(|| Err(format!("{s:?}: expected s3://BUCKET/PREFIX/ or false"))).map_err(|e| f.error("lock", e))?)
        }
        Some(other) => return Err(f.error("lock", format!("expected s3://BUCKET/PREFIX/ or false, found {}", kind(other))).into()),
    };
    let signing_key = match f.get("signing") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => {
            let mut sf = Fields::new(path, source, "signing", o);
            let key = sf.string("key_file")?.filter(|s| !s.is_empty()).map(resolve);
            let kms = sf.string("kms_key")?.filter(|s| !s.is_empty());
            sf.warn_unknown();
            match (key, kms) {
                (Some(k), None) => Some(shared::Signing::KeyFile(k)),
                (None, Some(arn)) => Some(shared::Signing::Kms(arn)),
                (Some(_), Some(_)) => return Err(f.error("signing", "give `key_file` or `kms_key`, not both").into()),
                (None, None) => return Err(f.error("signing", "expected {key_file: PATH} or {kms_key: ARN}").into()),
            }
        }
        Some(other) => return Err(f.error("signing", format!("expected {{key_file: PATH}} or {{kms_key: ARN}}, found {}", kind(other))).into()),
    };
    let lock_ttl = match f.string("lock_ttl")? {
        None => Duration::from_secs(120),
        Some(t) if ecspresso_v3 => duration::parse_v3(&t, "lock_ttl").map_err(|e| f.error("lock_ttl", e))?,
        Some(t) => duration::parse_go_duration(&t).map_err(|e| f.error("lock_ttl", e))?,
    };
    if ecspresso_v3 && filter_command.is_some() {
        return Err(f.error("filter_command", format!("was removed in ecspresso v3 (#1024) and {V3_NOTE}: remove it, and pass --id to pick a task")).into());
    }
    if filter_command.is_some() {
        tracing::warn!("{}: filter_command in the config is deprecated; use --filter-command or CORTADO_FILTER_COMMAND", path.display());
    }
    let timeout = match f.get("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(Value::String(s)) if ecspresso_v3 => duration::parse_v3(s, "timeout").map_err(|e| f.error("timeout", e))?,
        Some(Value::Number(n)) if ecspresso_v3 => duration::parse_v3(&n.to_string(), "timeout").map_err(|e| f.error("timeout", e))?,
        Some(Value::String(s)) => duration::parse_go_duration(s).map_err(|e| f.error("timeout", e))?,
        Some(Value::Number(n)) => {
            return Err(f.error("timeout", format!("a bare number ({n}) is ambiguous; write a duration such as \"{n}s\" or \"10m\"")).into());
        }
        Some(other) => return Err(f.error("timeout", format!("expected a duration string, found {}", kind(other))).into()),
    };
    let strict = match f.get("strict") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(f.error("strict", format!("expected true or false, found {}", kind(other))).into()),
    };
    let pin_image_digests = match f.get("pin_image_digests") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(f.error("pin_image_digests", format!("expected true or false, found {}", kind(other))).into()),
    };
    let retry_max_attempts = retry_max_attempts(&mut f)?;
    let appspec = f.get("appspec").cloned();
    let codedeploy = match f.get("codedeploy") {
        None => None,
        Some(Value::Object(o)) => {
            let mut cf = Fields::new(path, source, "codedeploy", o);
            let c = CodeDeployConfig {
                application_name: cf.string("application_name")?,
                deployment_group_name: cf.string("deployment_group_name")?,
                deployment_config_name: cf.string("deployment_config_name")?,
            };
            cf.warn_unknown();
            Some(c)
        }
        Some(other) => return Err(f.error("codedeploy", format!("expected an object, found {}", kind(other))).into()),
    };
    let ignore = match f.get("ignore") {
        None => IgnoreConfig::default(),
        Some(Value::Object(o)) => {
            let mut ig = Fields::new(path, source, "ignore", o);
            let tags = match ig.get("tags") {
                None => Vec::new(),
                Some(Value::Array(a)) => {
                    a.iter().map(|t| t.as_str().map(str::to_owned).ok_or_else(|| ig.error("tags", "expected a list of tag keys"))).collect::<Result<_, _>>()?
                }
                Some(other) => return Err(ig.error("tags", format!("expected a list, found {}", kind(other))).into()),
            };
            ig.warn_unknown();
            IgnoreConfig { tags }
        }
        Some(other) => return Err(f.error("ignore", format!("expected an object, found {}", kind(other))).into()),
    };
    let mut plugins = match f.get("plugins") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, item)| parse_plugin(path, source, i, item, &dir)).collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(f.error("plugins", format!("expected a list, found {}", kind(other))).into()),
    };
    if ecspresso_v3 {
        for (i, p) in plugins.iter_mut().enumerate() {
            external_timeout_v3(p).map_err(|e| f.error("plugins", format!("plugins[{i}].config.timeout: {e}")))?;
        }
    }
    f.warn_unknown();

    let config = Config {
        path: path.to_path_buf(),
        dir,
        required_version,
        region,
        cluster,
        service,
        service_definition,
        task_definition,
        plugins,
        appspec,
        filter_command,
        timeout,
        codedeploy,
        ignore,
        audit_log,
        audit_s3,
        audit_retention,
        lock,
        lock_ttl,
        lock_timeout: Duration::ZERO,
        daemon,
        express_definition,
        wait_for_others: false,
        signing_key,
        strict,
        pin_image_digests,
        retry_max_attempts,
        ecspresso_v3,
    };
    config.check_plugin_functions()?;
    Ok(config)
}

/// ecspresso v3 reads the `external` plugin's `timeout` as a v3 duration (a plain number is
/// seconds): written back as a Go duration, which the plugin parses as in v2.
fn external_timeout_v3(p: &mut PluginConfig) -> Result<(), String> {
    if p.path.is_some() || !p.name.eq_ignore_ascii_case("external") {
        return Ok(());
    }
    let Some(t) = p.config.get_mut("timeout") else { return Ok(()) };
    let text = match t {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Ok(()),
    };
    *t = Value::String(duration::format_go_duration(duration::parse_v3(&text, "external timeout")?));
    Ok(())
}

/// `retry_max_attempts`: a whole number; 0 means the default (ecspresso passes only a positive
/// value to the SDK), anything else must be between 1 and 100 (a typo of 1000 would make an outage
/// take hours to surface).
fn retry_max_attempts(f: &mut Fields) -> Result<Option<u32>, InputError> {
    let Some(v) = f.get("retry_max_attempts") else { return Ok(None) };
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(0) => Ok(None),
        Some(n @ 1..=100) => Ok(Some(n as u32)),
        _ => Err(f.error("retry_max_attempts", format!("expected a whole number of attempts between 1 and 100, found {v}"))),
    }
}

fn parse_plugin(path: &Path, source: &str, index: usize, item: &Value, dir: &Path) -> Result<PluginConfig, InputError> {
    let Value::Object(o) = item else {
        return Err(InputError::in_file(path, format!("plugins[{index}]: expected an object, found {}", kind(item))));
    };
    let mut f = Fields::new(path, source, format!("plugins[{index}]"), o);
    let name = f.string("name")?.filter(|s| !s.is_empty()).ok_or_else(|| f.error("name", "a plugin needs a name"))?;
    let config = f.get("config").cloned().unwrap_or(Value::Null);
    let func_prefix = f.string("func_prefix")?.unwrap_or_default();
    let plugin_path = f.string("path")?.map(|p| {
        let p = PathBuf::from(p);
        if p.is_absolute() || dir.as_os_str().is_empty() { p } else { dir.join(p) }
    });
    let sha256 = f.string("sha256")?;
    let oci = parse_oci(&mut f, dir)?;
    let obj_or_empty = |f: &mut Fields, key: &str| -> Result<Map<String, Value>, InputError> {
        match f.get(key) {
            None => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(other) => Err(f.error(key, format!("expected an object, found {}", kind(other)))),
        }
    };
    let grants = match f.get("grants") {
        None => None,
        Some(Value::Array(items)) => Some(items.iter().enumerate().map(|(i, g)| parse_grant(path, source, &f, index, i, g)).collect::<Result<_, _>>()?),
        Some(other) => return Err(f.error("grants", format!("expected a list, found {}", kind(other)))),
    };
    let preopens = match f.get("preopens") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|p| p.as_str().map(PathBuf::from).ok_or_else(|| f.error("preopens", "expected a list of directories")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(f.error("preopens", format!("expected a list, found {}", kind(other)))),
    };
    let limits = obj_or_empty(&mut f, "limits")?;
    let stages = parse_stages(&mut f)?;
    let enforcement = f.string("enforcement")?;
    if let Some(level) = &enforcement
        && !["advisory", "soft-mandatory", "hard-mandatory"].contains(&level.as_str())
    {
        return Err(f.error("enforcement", format!("{level:?} is not one of advisory, soft-mandatory, hard-mandatory")));
    }
    if plugin_path.is_none() && oci.is_none() && catalog::first_party(&name).is_none() {
        return Err(f.error(
            "name",
            format!("plugin {name:?} is not available (first-party plugins: {}; a custom plugin needs `path` or `oci`)", catalog::names().join(", ")),
        ));
    }
    if plugin_path.is_some() && oci.is_some() {
        return Err(f.error("oci", format!("plugin {name:?} has both `path` and `oci`; give one")));
    }
    if plugin_path.is_some() && sha256.is_none() {
        return Err(f.error("sha256", format!("custom plugin {name:?} must pin its component with `sha256`")));
    }
    if oci.as_ref().is_some_and(|o| o.keys.is_empty()) && sha256.is_none() {
        return Err(
            f.error("sha256", format!("plugin {name:?} from `oci` must pin its wasm layer with `sha256`, or list signing keys in `verify: {{keys: [...]}}`"))
        );
    }
    f.warn_unknown();
    Ok(PluginConfig { name, config, func_prefix, path: plugin_path, sha256, oci, grants, preopens, enforcement, limits, stages })
}

/// `oci:` and `verify: {keys: [...]}` (keys relative to the config directory); `verify` without
/// `oci` is an error.
fn parse_oci(f: &mut Fields, dir: &Path) -> Result<Option<OciSource>, InputError> {
    let reference = f.string("oci")?;
    let keys = match f.get("verify") {
        None => None,
        Some(Value::Object(v)) => {
            let mut keys = Vec::new();
            for (k, val) in v {
                match (k.as_str(), val) {
                    ("keys", Value::Array(items)) => {
                        for item in items {
                            let p = item.as_str().ok_or_else(|| f.error("verify", "keys: expected a list of PEM public key files"))?;
                            let p = PathBuf::from(p);
                            keys.push(if p.is_absolute() || dir.as_os_str().is_empty() { p } else { dir.join(p) });
                        }
                    }
                    ("keys", _) => return Err(f.error("verify", "keys: expected a list of PEM public key files")),
                    (other, _) => return Err(f.error("verify", format!("unknown key {other:?} (keys)"))),
                }
            }
            Some(keys)
        }
        Some(other) => return Err(f.error("verify", format!("expected an object {{keys: [...]}}, found {}", kind(other)))),
    };
    match (reference, keys) {
        (Some(reference), keys) => {
            if reference.trim().is_empty() || reference.contains(char::is_whitespace) {
                return Err(f.error("oci", format!("{reference:?} is not an image reference (REGISTRY/REPOSITORY:TAG or @sha256:…)")));
            }
            Ok(Some(OciSource { reference, keys: keys.unwrap_or_default() }))
        }
        (None, Some(_)) => Err(f.error("verify", "`verify` applies to a plugin pulled with `oci:`")),
        (None, None) => Ok(None),
    }
}

/// `filter_command` runs `sh -c` with the whole environment, outside any sandbox: refused under
/// `strict: true` / `--sandboxed-only` like `external` plugins (whichever of config, flag or
/// environment set it).
pub fn refuse_unsandboxed_filter(config: &Config) -> Result<(), InputError> {
    match &config.filter_command {
        Some(cmd) if config.strict && !cmd.trim().is_empty() => Err(InputError::in_file(
            &config.path,
            format!(
                "filter_command {cmd:?} runs outside the sandbox (through `sh -c`, with the whole environment), which `strict: true` / --sandboxed-only refuses; unset it (--filter-command, CORTADO_FILTER_COMMAND, filter_command) and pass --id"
            ),
        )),
        _ => Ok(()),
    }
}

/// One `grants:` item: `action` and `resource`, both required (a grant without a resource would
/// otherwise be read as `*`), keys matched case-insensitively (`Action:`/`Resource:` as IAM writes
/// them), unknown keys warned about.
fn parse_grant(path: &Path, source: &str, plugin: &Fields, plugin_index: usize, i: usize, g: &Value) -> Result<Grant, InputError> {
    let context = format!("plugins[{plugin_index}].grants[{i}]");
    let Value::Object(o) = g else {
        return Err(plugin.error("grants", format!("{context}: expected an object with `action` and `resource`, found {}", kind(g))));
    };
    let mut gf = Fields::new(path, source, context.clone(), o);
    let action = gf.string("action")?;
    let resource = gf.string("resource")?;
    let (Some(action), Some(resource)) = (action, resource) else {
        let missing = if gf.obj.keys().any(|k| k.eq_ignore_ascii_case("action")) { "resource" } else { "action" };
        return Err(grant_error(path, source, &context, o, missing));
    };
    if !action.contains(':') {
        return Err(gf.error("action", format!("{action:?} is not an action like \"ssm:GetParameter\"")));
    }
    if resource.trim().is_empty() {
        return Err(gf.error("resource", "an empty resource; write the ARN pattern the plugin may read (or \"*\")"));
    }
    // IAM keys that would narrow a statement cortado cannot evaluate: ignoring one would grant more.
    for key in ["condition", "notaction", "notresource", "principal", "notprincipal"] {
        if let Some(k) = gf.obj.keys().find(|k| k.eq_ignore_ascii_case(key)) {
            return Err(gf.error(k, "is not supported in a plugin grant (it would be ignored, granting more than written); use `effect: Deny` grants instead"));
        }
    }
    // Read, never ignored: a Deny taken for an Allow would grant what it was written to forbid.
    let effect = match gf.string("effect")?.as_deref() {
        None => Effect::Allow,
        Some(e) if e.eq_ignore_ascii_case("allow") => Effect::Allow,
        Some(e) if e.eq_ignore_ascii_case("deny") => Effect::Deny,
        Some(other) => return Err(gf.error("effect", format!("{other:?} is not Allow or Deny"))),
    };
    let glob = match gf.get("glob") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(gf.error("glob", format!("expected true or false, found {}", kind(other)))),
    };
    gf.warn_unknown();
    Ok(Grant { action, resource, effect, glob })
}

/// A grant missing `key`, with the line of the grant's first key in the file.
fn grant_error(path: &Path, source: &str, context: &str, o: &Map<String, Value>, key: &str) -> InputError {
    let msg = format!(
        "key \"{context}.{key}\": each grant needs an `action` like \"ssm:GetParameter\" and a `resource` ARN pattern (write \"*\" to allow any resource)"
    );
    // The grant's line: where its first key is written with its value (the first such line).
    let line = o.iter().next().and_then(|(k, v)| grant_line(source, k, v));
    match line {
        Some(l) => InputError(format!("{}:{l}: {msg}", path.display())),
        None => InputError(format!("{}: {msg}", path.display())),
    }
}

/// The 1-based line where `key` is written with the value `value` (YAML or JSON).
fn grant_line(source: &str, key: &str, value: &Value) -> Option<usize> {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let key = key.to_ascii_lowercase();
    source
        .lines()
        .position(|line| {
            let t = line.trim_start().trim_start_matches("- ").trim_start_matches(['{', ' ']).to_ascii_lowercase();
            let t = t.trim_start_matches(['"', '\'']);
            t.starts_with(&key) && t[key.len()..].trim_start_matches(['"', '\'']).trim_start().starts_with(':') && line.contains(&text)
        })
        .map(|i| i + 1)
}

/// `stages:` — lifecycle hook stages where a PAUSE hook can stop the deployment for the gate.
fn parse_stages(f: &mut Fields) -> Result<Vec<String>, InputError> {
    use stages::{HOOK_STAGES, NO_PAUSE};
    let items = match f.get("stages") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => return Err(f.error("stages", format!("expected a list of lifecycle stages, found {}", kind(other)))),
    };
    let mut stages = Vec::new();
    for item in &items {
        let stage = item.as_str().unwrap_or_default();
        if NO_PAUSE.contains(&stage) {
            return Err(f.error("stages", format!("{stage}: ECS allows no PAUSE hook there, so no gate can stop the deployment at it")));
        }
        if !HOOK_STAGES.contains(&stage) {
            return Err(f.error("stages", format!("{item}: not a lifecycle hook stage ({})", HOOK_STAGES.join(", "))));
        }
        stages.push(stage.to_owned());
    }
    Ok(stages)
}

impl Config {
    /// Plugins in load order: the default `ssm` and `secretsmanager` first (as ecspresso), then the
    /// configured ones; a re-declared default without a prefix is skipped.
    pub fn effective_plugins(&self) -> Vec<PluginConfig> {
        let mut out: Vec<PluginConfig> = catalog::DEFAULT_PLUGINS.iter().map(|name| PluginConfig::named(name, Value::Null)).collect();
        for p in &self.plugins {
            if !p.is_custom() && p.func_prefix.is_empty() && catalog::DEFAULT_PLUGINS.contains(&p.name.as_str()) {
                // Re-declared default: keep its config (grants) but do not register it twice.
                if let Some(slot) = out.iter_mut().find(|d| d.name == p.name) {
                    *slot = p.clone();
                }
                continue;
            }
            out.push(p.clone());
        }
        out
    }

    /// Every template function a plugin will register must be unique; a collision is a config error
    /// that names both plugins and suggests `func_prefix`.
    fn check_plugin_functions(&self) -> Result<(), InputError> {
        let mut seen: Vec<(String, String)> = ["env", "must_env", "json_escape"].iter().map(|f| (f.to_string(), "built-in".to_string())).collect();
        let mut occurrences: Vec<String> = Vec::new();
        for (i, p) in self.effective_plugins().into_iter().enumerate() {
            // Which `name: X` line in the file this entry is (defaults have none).
            let from_file = i >= catalog::DEFAULT_PLUGINS.len() || self.plugins.contains(&p);
            let occurrence = if from_file { occurrences.iter().filter(|n| **n == p.name).count() } else { usize::MAX };
            if from_file {
                occurrences.push(p.name.clone());
            }
            let Some(fp) = catalog::first_party(&p.name) else { continue };
            for func in fp.functions {
                let full = format!("{}{}", p.func_prefix, func);
                if let Some((_, owner)) = seen.iter().find(|(n, _)| *n == full) {
                    let line = find_plugin_line(&self.path, &p.name, occurrence);
                    let loc = match line {
                        Some(l) => format!("{}:{l}", self.path.display()),
                        None => self.path.display().to_string(),
                    };
                    return Err(InputError(format!(
                        "{loc}: template function {full} of plugin {:?} already exists (from plugin {owner:?}); set func_prefix on the {} plugin",
                        p.name, p.name
                    )));
                }
                seen.push((full, p.name.clone()));
            }
        }
        Ok(())
    }

    /// ecspresso's rule: a config not named `cortado.*` states the ecspresso version it needs.
    fn check_required_version(&self) -> Result<(), InputError> {
        let Some(constraint) = &self.required_version else { return Ok(()) };
        if self.ecspresso_v3 {
            // cortado gives a config that declares v3 v3's semantics, so the constraint is met.
            return Ok(());
        }
        let is_cortado = is_cortado_file(&self.path);
        let (what, version) = if is_cortado { ("cortado", env!("CARGO_PKG_VERSION")) } else { ("ecspresso compatibility", ECSPRESSO_COMPAT_VERSION) };
        let v = semver::Version::parse(version).expect("built-in version parses");
        let line = find_key_line_in_file(&self.path, "required_version");
        let loc = match line {
            Some(l) => format!("{}:{l}", self.path.display()),
            None => self.path.display().to_string(),
        };
        match version::satisfies(constraint, &v) {
            Err(e) => Err(InputError(format!("{loc}: key \"required_version\": {e}"))),
            Ok(false) => Err(InputError(format!("{loc}: key \"required_version\": {constraint:?} is not satisfied by {what} {version}"))),
            Ok(true) => Ok(()),
        }
    }

    /// The YAML `render config` prints: ecspresso's key order, resolved paths, Go duration.
    pub fn to_render_yaml(&self) -> Result<String> {
        serde_yaml_ng::to_string(&self.render_view()).context("serialising the config")
    }

    /// The same document as JSON (for `render config --jsonnet`).
    pub fn to_render_json(&self) -> Value {
        serde_json::to_value(self.render_view()).unwrap_or(Value::Null)
    }

    fn render_view(&self) -> RenderedConfig<'_> {
        RenderedConfig {
            required_version: self.required_version.as_deref(),
            region: self.region.as_deref().unwrap_or(""),
            cluster: &self.cluster,
            service: self.service.as_deref().unwrap_or(""),
            service_definition: self.service_definition.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            task_definition: self.task_definition.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            plugins: &self.plugins,
            appspec: self.appspec.as_ref(),
            filter_command: self.filter_command.as_deref(),
            timeout: duration::format_go_duration(self.timeout),
            retry_max_attempts: self.retry_max_attempts,
            codedeploy: self.codedeploy.as_ref(),
            ignore: if self.ignore.tags.is_empty() { None } else { Some(&self.ignore) },
            daemon: self.daemon.as_ref().and_then(|d| d.name.as_deref()),
            daemon_definition: self.daemon.as_ref().map(|d| d.definition.display().to_string()),
            daemon_task_definition: self.daemon.as_ref().map(|d| d.task_definition.display().to_string()),
            express_definition: self.express_definition.as_ref().map(|p| p.display().to_string()),
        }
    }

    /// `service/cluster`, the prefix of log lines as in ecspresso.
    pub fn label(&self) -> String {
        format!("{}/{}", self.service.as_deref().unwrap_or("-"), self.cluster)
    }
}

fn find_key_line_in_file(path: &Path, key: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok().and_then(|s| find_key_line(&s, key))
}

/// The line of the `occurrence`-th (0-based) `name: <plugin>` entry.
fn find_plugin_line(path: &Path, plugin: &str, occurrence: usize) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ").trim_start_matches(['"', '\'']).to_ascii_lowercase();
            t.starts_with("name") && l.contains(plugin)
        })
        .nth(occurrence)
        .map(|(i, _)| i + 1)
}

#[derive(Serialize)]
struct RenderedConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    required_version: Option<&'a str>,
    region: &'a str,
    cluster: &'a str,
    service: &'a str,
    service_definition: String,
    task_definition: String,
    #[serde(skip_serializing_if = "<[PluginConfig]>::is_empty")]
    plugins: &'a [PluginConfig],
    #[serde(skip_serializing_if = "Option::is_none")]
    appspec: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_command: Option<&'a str>,
    timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codedeploy: Option<&'a CodeDeployConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignore: Option<&'a IgnoreConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    daemon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    daemon_definition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    daemon_task_definition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    express_definition: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_are_found_case_insensitively() {
        let src = "region: x\nTimeout: 5\nplugins:\n  - name: tfstate\n";
        assert_eq!(find_key_line(src, "timeout"), Some(2));
        assert_eq!(find_key_line(src, "name"), Some(4));
        assert_eq!(find_key_line("{\n  \"Cluster\": 1\n}", "cluster"), Some(2));
    }
}
