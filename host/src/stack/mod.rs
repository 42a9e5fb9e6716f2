//! Stacks: many services released as one (issue 25). A stack file names member configs (any
//! cortado or ecspresso config, unchanged) and the order between them (`needs`); `stack deploy`
//! plans every member, gates them together, takes every member's lock, then applies in `needs`
//! order, independent members concurrently.
//!
//! This module reads and checks the stack file and loads its members; [`deploy`] carries a
//! release out through the same engine as `deploy` (plan → gate → apply → wait). Everything is
//! checked before the first AWS call, so bad input anywhere exits 2 with nothing changed.

pub mod deploy;
mod evidence;
mod schedule;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::config;
use crate::context::{Context, Globals};
use crate::env::Env;
use crate::error::InputError;

/// The names looked for in the current directory when neither `--stack` nor `CORTADO_STACK` is given.
pub const DEFAULT_NAMES: &[&str] = &["cortado-stack.yml", "cortado-stack.yaml"];

/// What `stack deploy` does when a member fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// No further member starts; members in flight finish.
    Stop,
    /// As `Stop`, then every member this run changed goes back, in reverse order.
    Rollback,
}

/// One `services:` entry.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub name: String,
    /// The member's config, resolved from the stack file's directory.
    pub config: PathBuf,
    pub needs: Vec<String>,
}

/// A parsed and checked stack file.
#[derive(Debug, Clone)]
pub struct StackFile {
    pub path: PathBuf,
    /// Sorted by name (the order locks are taken in).
    pub members: Vec<MemberSpec>,
    pub parallelism: usize,
    pub on_failure: OnFailure,
    /// The stack's own config document (`plugins`, `audit_log`, `region`): its gates see every
    /// member's plan at once.
    own: Value,
    source: String,
}

/// The stack file: `explicit` (`--stack`), else `CORTADO_STACK`, else a default name in `cwd`.
pub fn locate(explicit: Option<&Path>, env: &Env, cwd: &Path) -> Result<PathBuf, InputError> {
    if let Some(p) = explicit {
        return Ok(cwd.join(p));
    }
    if let Some(p) = env.get("CORTADO_STACK").filter(|p| !p.is_empty()) {
        return Ok(cwd.join(p));
    }
    DEFAULT_NAMES
        .iter()
        .map(|n| cwd.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| InputError::new(format!("no stack file found in {} (looked for {}); pass --stack FILE", cwd.display(), DEFAULT_NAMES.join(", "))))
}

impl StackFile {
    /// Reads and checks a stack file: its keys, every member's config file, `needs` (unknown
    /// names, cycles). Loads no member config.
    pub fn load(path: &Path) -> Result<StackFile> {
        let source = std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("cannot read stack file: {e}")))?;
        let value = config::yaml_to_json(path, &source)?;
        let Value::Object(obj) = value else {
            return Err(InputError::in_file(path, format!("the stack file must be an object, found {}", config::kind(&value))).into());
        };
        let err = |key: &str, msg: String| match config::find_key_line(&source, key) {
            Some(line) => InputError::at(path, line, format!("{key}: {msg}")),
            None => InputError::in_file(path, format!("{key}: {msg}")),
        };
        const KEYS: &[&str] = &["services", "parallelism", "on_failure", "plugins", "audit_log", "region", "signing"];
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(err(k, format!("unknown key (expected one of {})", KEYS.join(", "))).into());
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let members = members(&obj, &dir, &err)?;
        let parallelism = match obj.get("parallelism") {
            None | Some(Value::Null) => 4,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => n.as_u64().unwrap_or(4) as usize,
            Some(other) => return Err(err("parallelism", format!("expected a number ≥ 1, found {other}")).into()),
        };
        let on_failure = match obj.get("on_failure").and_then(Value::as_str) {
            None if obj.get("on_failure").is_none_or(Value::is_null) => OnFailure::Stop,
            Some("stop") => OnFailure::Stop,
            Some("rollback") => OnFailure::Rollback,
            _ => return Err(err("on_failure", "expected stop or rollback".into()).into()),
        };
        let mut own = Map::new();
        own.insert("cluster".into(), json!("stack"));
        for key in ["plugins", "audit_log", "region", "signing"] {
            if let Some(v) = obj.get(key) {
                own.insert(key.into(), v.clone());
            }
        }
        let stack = StackFile { path: path.to_path_buf(), members, parallelism, on_failure, own: Value::Object(own), source };
        stack.waves(&stack.names())?;
        Ok(stack)
    }

    pub fn names(&self) -> BTreeSet<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }

    pub fn member(&self, name: &str) -> Option<&MemberSpec> {
        self.members.iter().find(|m| m.name == name)
    }

    /// `--only NAME…` with what each needs (unless `with_needs` is false); every member when empty.
    pub fn select(&self, only: &[String], with_needs: bool) -> Result<BTreeSet<String>, InputError> {
        if only.is_empty() {
            return Ok(self.names());
        }
        let mut chosen = BTreeSet::new();
        let mut todo: Vec<String> = only.to_vec();
        while let Some(name) = todo.pop() {
            let m = self.member(&name).ok_or_else(|| InputError::in_file(&self.path, format!("--only {name}: no member of the stack is named {name:?}")))?;
            if chosen.insert(name.clone()) && with_needs {
                todo.extend(m.needs.iter().cloned());
            }
        }
        Ok(chosen)
    }

    /// The members of `selected` in waves: each wave needs only members of earlier waves (needs
    /// outside `selected` are taken as done). A cycle is bad input naming its members.
    pub fn waves(&self, selected: &BTreeSet<String>) -> Result<Vec<Vec<String>>, InputError> {
        let mut level: BTreeMap<String, usize> = BTreeMap::new();
        let mut left: BTreeSet<String> = selected.clone();
        while !left.is_empty() {
            let ready: Vec<String> = left
                .iter()
                .filter(|n| self.member(n).is_some_and(|m| m.needs.iter().all(|d| !selected.contains(d) || level.contains_key(d))))
                .cloned()
                .collect();
            if ready.is_empty() {
                let cycle: Vec<&str> = left.iter().map(String::as_str).collect();
                return Err(InputError::in_file(&self.path, format!("services: a cycle in `needs` among {}", cycle.join(", "))));
            }
            for n in ready {
                let m = self.member(&n).map(|m| m.needs.iter().filter_map(|d| level.get(d)).max().map_or(0, |l| l + 1)).unwrap_or(0);
                level.insert(n.clone(), m);
                left.remove(&n);
            }
        }
        let mut waves: Vec<Vec<String>> = Vec::new();
        for (name, l) in level {
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(name);
        }
        Ok(waves)
    }

    /// The stack's own context: its gates (`plugins`), audit log and `signing:`, with the global
    /// options. Without its own `signing:`, the release is signed when every member signs, and
    /// signs the same way (one statement for the release, not one per member).
    pub fn own_context(&self, globals: &Globals, env: Env, members: &[Member]) -> Result<Context> {
        let mut config = config::from_parsed(&self.path, &self.source, self.own.clone())?;
        if config.signing_key.is_none() {
            config.signing_key = common_signing(members);
        }
        Context::with_config(self.member_globals(globals, None), env, config)
    }

    /// The audit log every member's records go to: `--audit-log`, else the stack's `audit_log`
    /// (relative to the stack file), else None (each member's own).
    fn audit_log(&self, globals: &Globals) -> Option<String> {
        if globals.audit_log.is_some() {
            return globals.audit_log.clone();
        }
        let text = self.own.get("audit_log").and_then(Value::as_str).filter(|s| !s.is_empty())?;
        if text.starts_with("s3://") || Path::new(text).is_absolute() {
            return Some(text.to_owned());
        }
        let dir = self.path.parent().unwrap_or(Path::new(""));
        Some(dir.join(text).display().to_string())
    }

    /// The global options as a member sees them: its own config, the stack's audit log.
    fn member_globals(&self, globals: &Globals, config: Option<&Path>) -> Globals {
        Globals { config: config.map(Path::to_path_buf), audit_log: self.audit_log(globals), ..globals.clone() }
    }
}

/// `services:`: each member's config path (which must exist) and its `needs` (which must name members).
fn members(obj: &Map<String, Value>, dir: &Path, err: &dyn Fn(&str, String) -> InputError) -> Result<Vec<MemberSpec>> {
    let Some(Value::Object(services)) = obj.get("services") else {
        return Err(err("services", "expected a map of member name to {config, needs}".into()).into());
    };
    if services.is_empty() {
        return Err(err("services", "the stack has no member".into()).into());
    }
    let mut out = Vec::new();
    for (name, v) in services {
        let config = v.get("config").and_then(Value::as_str).filter(|s| !s.is_empty());
        let Some(config) = config else {
            return Err(err(name, "expected {config: PATH, needs: [NAME…]} with a config path".into()).into());
        };
        let path = dir.join(config);
        if !path.is_file() {
            return Err(err(name, format!("member {name}: its config {} does not exist", path.display())).into());
        }
        let needs = match v.get("needs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.iter().map(|n| n.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().unwrap_or_default(),
            Some(other) => return Err(err(name, format!("needs: expected a list of member names, found {other}")).into()),
        };
        if let Some(unknown) = needs.iter().find(|n| !services.contains_key(n.as_str())) {
            return Err(err(name, format!("member {name} needs {unknown:?}, which is not a member of the stack")).into());
        }
        if let Some(v) = v.as_object().and_then(|o| o.keys().find(|k| *k != "config" && *k != "needs")) {
            return Err(err(name, format!("member {name}: unknown key {v:?} (expected config, needs)")).into());
        }
        out.push(MemberSpec { name: name.clone(), config: path, needs });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The signing every member configures, when they all configure one and the same (key files
/// compared by their canonical path: members in different directories name one key differently).
fn common_signing(members: &[Member]) -> Option<config::shared::Signing> {
    use config::shared::Signing;
    let same = |s: &Signing| match s {
        Signing::KeyFile(p) => Signing::KeyFile(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
        other => other.clone(),
    };
    let first = same(members.first()?.ctx.config.signing_key.as_ref()?);
    members.iter().all(|m| m.ctx.config.signing_key.as_ref().map(same).as_ref() == Some(&first)).then_some(first)
}

/// A member with its loaded context.
pub struct Member {
    pub name: String,
    pub config: PathBuf,
    pub needs: Vec<String>,
    pub ctx: Context,
}

/// Names the member and its config in an error (bad input stays bad input: exit 2).
pub fn in_member(name: &str, config: &Path) -> impl FnOnce(anyhow::Error) -> anyhow::Error {
    let what = format!("stack member {name} ({})", config.display());
    move |e| e.context(what)
}

/// Loads and renders every selected member (config, task and service definitions) with the
/// global options; no AWS call. The first bad input names its member and file.
pub fn load_members(stack: &StackFile, selected: &BTreeSet<String>, globals: &Globals, env: &Env) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    for spec in stack.members.iter().filter(|m| selected.contains(&m.name)) {
        let ctx = Context::load(stack.member_globals(globals, Some(&spec.config)), env.clone()).map_err(in_member(&spec.name, &spec.config))?;
        render_locally(&ctx).map_err(in_member(&spec.name, &spec.config))?;
        let needs = spec.needs.iter().filter(|n| selected.contains(*n)).cloned().collect();
        out.push(Member { name: spec.name.clone(), config: spec.config.clone(), needs, ctx });
    }
    Ok(out)
}

/// The member's definitions rendered (templates, Jsonnet, plugins' functions): a render error
/// anywhere stops the stack before anything is read from AWS.
fn render_locally(ctx: &Context) -> Result<()> {
    ctx.service_name()?;
    if ctx.config.express_definition.is_some() {
        // A stack's members deploy, wait and roll back through the service path; an Express
        // service has its own (commands/express.rs).
        return Err(InputError::in_file(
            &ctx.config.path,
            "key \"express_definition\": an Express service cannot be a stack member; deploy it with its own config",
        )
        .into());
    }
    if let Some(td) = &ctx.config.task_definition {
        ctx.renderer().task_definition(td)?;
    }
    ctx.local_service_definition()?;
    Ok(())
}
