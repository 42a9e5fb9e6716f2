//! ecspresso's `external` plugin (v2.5+): a command run as a template / Jsonnet function, once per
//! call (`mode: exec`) or as one long-lived JSON-RPC 2.0 process (`mode: jsonrpc`).
//!
//! It is **outside the sandbox**: a real process on the host. So that an `ecspresso.yml` using it
//! still works, cortado runs it, but
//! - with a minimal environment (`PATH`, `HOME`, `LANG`, `LC_ALL`, `TZ`, `TMPDIR`), not cortado's:
//!   no AWS credentials unless the operator passes them by name in `config.env: [NAME, …]`;
//! - with a warning naming it, a mark on every audit record of the run, and a note from `iam-policy`
//!   that the policy cannot bound it;
//! - never under `strict: true` in the config or `--sandboxed-only`.
//!
//! Config (ecspresso's keys): `name` (the function), `command` (argv), `num_args` (Jsonnet
//! arity), `parser: json|string`, `timeout` (Go duration), `mode: exec|jsonrpc`; cortado adds `env`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::broker::block_on;
use crate::config::PluginConfig;
use crate::error::InputError;

/// The plugin name that selects this runner (as in ecspresso).
pub const NAME: &str = super::catalog::EXTERNAL;

/// Variables an external command always gets (when cortado has them).
const BASE_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// What the run's unsandboxed plugins are, for the audit log (set once, when the registry is built).
static UNSANDBOXED: OnceLock<Vec<String>> = OnceLock::new();

/// Records the run's unsandboxed plugins (first call wins: one run per process).
pub fn mark_unsandboxed(names: Vec<String>) {
    let _ = UNSANDBOXED.set(names);
}

/// The run's unsandboxed plugins, if any (every audit record carries them).
pub fn unsandboxed() -> &'static [String] {
    UNSANDBOXED.get().map(Vec::as_slice).unwrap_or(&[])
}

pub fn is_external(p: &PluginConfig) -> bool {
    !p.is_custom() && p.name.eq_ignore_ascii_case(NAME)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exec,
    JsonRpc,
}

#[derive(Debug, Clone)]
pub struct ExternalConfig {
    pub name: String,
    pub command: Vec<String>,
    pub num_args: usize,
    json: bool,
    timeout: Option<Duration>,
    mode: Mode,
    /// Extra variables passed from cortado's environment, by name.
    pub env: Vec<String>,
}

impl ExternalConfig {
    /// Reads the plugin's `config:` block; a mistake names the key (exit 2, nothing run).
    pub fn parse(p: &PluginConfig) -> Result<ExternalConfig, InputError> {
        let bad = |key: &str, msg: &str| InputError::new(format!("plugin {:?}: config.{key}: {msg}", p.name));
        let c = p.config.as_object().ok_or_else(|| bad("", "expected an object with name and command"))?;
        let s = |k: &str| c.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let name = s("name").ok_or_else(|| bad("name", "name is required"))?.to_owned();
        let strings = |k: &str| -> Result<Vec<String>, InputError> {
            match c.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(|| bad(k, "expected a list of strings"))).collect(),
                Some(_) => Err(bad(k, "expected a list of strings")),
            }
        };
        let command = strings("command")?;
        if command.is_empty() {
            return Err(bad("command", "command is required (a list: [program, args…])"));
        }
        let num_args = match c.get("num_args") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| bad("num_args", "expected a non-negative integer"))?,
        };
        let json = match s("parser").unwrap_or("json") {
            "json" => true,
            "string" => false,
            other => return Err(bad("parser", &format!("unsupported parser: {other} (json or string)"))),
        };
        let mode = match s("mode").unwrap_or("exec") {
            "exec" => Mode::Exec,
            "jsonrpc" => Mode::JsonRpc,
            other => return Err(bad("mode", &format!("unsupported mode: {other} (exec or jsonrpc)"))),
        };
        let timeout = match c.get("timeout") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(crate::config::duration::parse_go_duration(t).map_err(|e| bad("timeout", &e.to_string()))?),
            Some(_) => return Err(bad("timeout", "expected a duration such as \"5s\"")),
        };
        Ok(ExternalConfig { name, command, num_args, json, timeout, mode, env: strings("env")? })
    }

    /// `program args…` for messages.
    pub fn command_line(&self) -> String {
        self.command.join(" ")
    }
}

/// A running external plugin: its config, the environment it gets, and (jsonrpc) its process.
pub struct External {
    pub config: ExternalConfig,
    env: BTreeMap<String, String>,
    rpc: Mutex<Option<RpcProcess>>,
    next_id: AtomicI64,
}

struct RpcProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl External {
    /// `lookup` is cortado's environment (process plus envfiles); only the base variables and the
    /// ones named in `config.env` reach the command.
    pub fn new(config: ExternalConfig, lookup: &crate::template::EnvLookup) -> External {
        let env = BASE_ENV.iter().copied().chain(config.env.iter().map(String::as_str)).filter_map(|k| lookup(k).map(|v| (k.to_owned(), v))).collect();
        External { config, env, rpc: Mutex::new(None), next_id: AtomicI64::new(0) }
    }

    /// Calls the function with string arguments; the result as JSON (`parser: string` gives a string).
    pub fn call(&self, args: &[String]) -> Result<Value, String> {
        match self.config.mode {
            Mode::Exec => block_on(self.exec_once(args)),
            Mode::JsonRpc => self.call_rpc(args),
        }
    }

    fn command(&self, extra: &[String]) -> Command {
        let mut cmd = Command::new(&self.config.command[0]);
        cmd.args(&self.config.command[1..]).args(extra).env_clear().envs(&self.env).kill_on_drop(true);
        cmd
    }

    async fn exec_once(&self, args: &[String]) -> Result<Value, String> {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| format!("failed to run command {}: {e}", self.config.command[0]))?;
        let out = match self.config.timeout {
            Some(t) => tokio::time::timeout(t, child.wait_with_output()).await.map_err(|_| format!("command timed out: {}", self.config.command_line()))?,
            None => child.wait_with_output().await,
        }
        .map_err(|e| format!("failed to run command: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("failed to run command: {} stdout:{stdout} stderr:{}", out.status, String::from_utf8_lossy(&out.stderr)));
        }
        self.parse_output(&stdout)
    }

    fn parse_output(&self, stdout: &str) -> Result<Value, String> {
        if !self.config.json {
            return Ok(Value::String(stdout.to_owned()));
        }
        let mut values = serde_json::Deserializer::from_str(stdout).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(format!("failed to decode json: {e}")),
            None => Err("failed to decode json: EOF".into()),
        }
    }

    fn call_rpc(&self, args: &[String]) -> Result<Value, String> {
        let mut slot = self.rpc.lock().map_err(|_| "the jsonrpc process lock is poisoned".to_owned())?;
        if slot.is_none() {
            *slot = Some(self.start_rpc()?);
        }
        let proc = slot.as_mut().ok_or("no jsonrpc process")?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let request = json!({"jsonrpc": "2.0", "method": self.config.name, "params": args, "id": id});
        let result = block_on(async {
            let round = rpc_roundtrip(proc, &request, id);
            match self.config.timeout {
                Some(t) => tokio::time::timeout(t, round).await.unwrap_or_else(|_| Err(format!("jsonrpc call timed out: {}", self.config.name))),
                None => round.await,
            }
        });
        match result {
            Ok(RpcAnswer::Value(v)) => Ok(v),
            Ok(RpcAnswer::Error(msg)) => Err(msg),
            Err(msg) => {
                // The stream can no longer be trusted: drop (and kill) the process.
                if let Some(mut p) = slot.take() {
                    let _ = p.child.start_kill();
                }
                Err(msg)
            }
        }
    }

    fn start_rpc(&self) -> Result<RpcProcess, String> {
        let mut cmd = self.command(&[]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = block_on(async { cmd.spawn() }).map_err(|e| format!("failed to start jsonrpc process {}: {e}", self.config.command[0]))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout pipe")?);
        Ok(RpcProcess { child, stdin, stdout })
    }
}

enum RpcAnswer {
    Value(Value),
    /// A JSON-RPC error object: the call failed, the process is fine.
    Error(String),
}

/// One request and its response line. `Err` means the process must be reset.
async fn rpc_roundtrip(proc: &mut RpcProcess, request: &Value, id: i64) -> Result<RpcAnswer, String> {
    let line = format!("{request}\n");
    proc.stdin.write_all(line.as_bytes()).await.map_err(|e| format!("failed to send jsonrpc request: {e}"))?;
    proc.stdin.flush().await.map_err(|e| format!("failed to send jsonrpc request: {e}"))?;
    let mut answer = String::new();
    let n = proc.stdout.read_line(&mut answer).await.map_err(|e| format!("failed to read jsonrpc response: {e}"))?;
    if n == 0 {
        return Err("failed to read jsonrpc response: EOF".into());
    }
    let resp: Value = serde_json::from_str(&answer).map_err(|e| format!("failed to read jsonrpc response: {e}"))?;
    let got = resp.get("id").and_then(Value::as_i64).unwrap_or(0);
    if got != id {
        return Err(format!("jsonrpc response id mismatch: got {got}, want {id}"));
    }
    if let Some(err) = resp.get("error").filter(|e| !e.is_null()) {
        let msg = err.get("message").and_then(Value::as_str).unwrap_or("");
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        return Ok(RpcAnswer::Error(format!("jsonrpc error: {msg} (code: {code})")));
    }
    Ok(RpcAnswer::Value(resp.get("result").cloned().unwrap_or(Value::Null)))
}

/// A JSON result as a template value (objects and lists keep their shape, as Go's `any`).
pub fn to_template_value(v: &Value) -> crate::template::Value {
    use crate::template::Value as T;
    match v {
        Value::Null => T::Nil,
        Value::Bool(b) => T::Bool(*b),
        Value::Number(n) => n.as_i64().map(T::Int).unwrap_or_else(|| T::Float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => T::String(s.clone()),
        Value::Array(a) => T::List(a.iter().map(to_template_value).collect()),
        Value::Object(o) => T::Map(o.iter().map(|(k, v)| (k.clone(), to_template_value(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn plugin(config: Value) -> PluginConfig {
        PluginConfig::named("external", config)
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = ExternalConfig::parse(&plugin(json!({"command": ["echo"]}))).unwrap_err().to_string();
        assert!(err.contains("config.name"), "{err}");
        let err = ExternalConfig::parse(&plugin(json!({"name": "f", "command": ["echo"], "mode": "grpc"}))).unwrap_err().to_string();
        assert!(err.contains("unsupported mode: grpc"), "{err}");
        let c = ExternalConfig::parse(&plugin(json!({"name": "f", "command": ["echo", "-n"], "num_args": 2, "timeout": "2s"}))).unwrap();
        assert_eq!((c.num_args, c.timeout, c.json), (2, Some(Duration::from_secs(2)), true));
    }

    #[test]
    fn exec_mode_runs_with_a_minimal_environment() {
        let c = ExternalConfig::parse(&plugin(
            json!({"name": "f", "command": ["sh", "-c", "printf '{\"a\":\"%s\",\"s\":\"%s\"}' \"$1\" \"$AWS_SECRET_ACCESS_KEY\"", "sh"]}),
        ))
        .unwrap();
        let vars: BTreeMap<&str, &str> = [("PATH", "/usr/bin:/bin"), ("AWS_SECRET_ACCESS_KEY", "s3cr3t")].into_iter().collect();
        let lookup: crate::template::EnvLookup = Arc::new(move |k: &str| vars.get(k).map(|v| (*v).to_owned()));
        let ext = External::new(c, &lookup);
        assert_eq!(ext.call(&["x".into()]).unwrap(), json!({"a": "x", "s": ""}));
    }
}
