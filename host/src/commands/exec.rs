//! `cortado exec`: ECS Exec into a task's container (`run`), port forwarding (`portforward`) or a
//! file copy (`cp`), through the AWS Session Manager plugin, the way the AWS CLI drives it. The
//! plugin is looked for before anything else (no AWS call is made without it), and its absence is
//! explained.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::App;
use super::args::{GateArgs, simple_change};
use super::tasks;
use crate::aws::task;
use crate::context::Globals;
use crate::env::Env;
use crate::error::{ExitWith, InputError};

/// `cortado exec [run|portforward|cp]`; without a subcommand it runs `--command`. The flag form
/// of port forwarding (`exec --port-forward --port N`) still works but is hidden from `--help`, as
/// in ecspresso v2.8 (v3 removes it).
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    #[command(subcommand)]
    pub subcommand: Option<ExecCommand>,
    /// The task (ID or ARN) [default: select one]
    #[arg(long)]
    pub id: Option<String>,
    /// Command to run in the container
    #[arg(long, default_value = "sh")]
    pub command: String,
    /// Container [default: the only one, else select]
    #[arg(long)]
    pub container: Option<String>,
    /// Hidden alias of `exec portforward`
    #[arg(long = "port-forward", hide = true)]
    pub port_forward: bool,
    /// Hidden alias of `exec portforward --local-port`
    #[arg(long = "local-port", default_value_t = 0, hide = true)]
    pub local_port: u16,
    /// Hidden alias of `exec portforward --port`
    #[arg(long, hide = true)]
    pub port: Option<u16>,
    /// Hidden alias of `exec portforward --host`
    #[arg(long, hide = true)]
    pub host: Option<String>,
    /// Evaluate gates and show the session that would start; start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum ExecCommand {
    /// Run a command in a task's container through ECS Exec (the default)
    Run(RunArgs),
    /// Forward a local port to a port in the task, or to a host reached through it
    Portforward(PortForwardArgs),
    /// Copy a file between here and a task's container: `cp LOCAL TASK:/PATH` or `cp TASK:/PATH LOCAL` (`_` as TASK: select one)
    Cp(CpArgs),
}

/// What every subcommand shares: which task and container, `--dry-run` and the gates.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Target {
    /// Container [default: the only one, else select]
    #[arg(long)]
    pub container: Option<String>,
    /// Evaluate gates and show the session that would start; start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The task (ID or ARN) [default: select one]
    #[arg(long)]
    pub id: Option<String>,
    /// Command to run in the container
    #[arg(long, default_value = "sh")]
    pub command: String,
    #[command(flatten)]
    pub target: Target,
}

#[derive(clap::Args, Debug)]
pub struct PortForwardArgs {
    /// The task (ID or ARN) [default: select one]
    #[arg(long)]
    pub id: Option<String>,
    /// Local port (0: any free port)
    #[arg(long = "local-port", default_value_t = 0)]
    pub local_port: u16,
    /// Remote port: in the task, or on --host
    #[arg(long)]
    pub port: Option<u16>,
    /// Remote host reached through the task (AWS-StartPortForwardingSessionToRemoteHost)
    #[arg(long)]
    pub host: Option<String>,
    /// LOCAL_PORT:HOST:PORT in one (ssh's -L): sets --local-port, --host and --port
    #[arg(short = 'L', value_name = "LOCAL_PORT:HOST:PORT")]
    pub forward: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

#[derive(clap::Args, Debug)]
pub struct CpArgs {
    /// LOCAL_PATH, or TASK:PATH in the container (TASK: a task ID, or `_` to select one)
    pub source: String,
    /// LOCAL_PATH, or TASK:PATH in the container; exactly one of the two is in a task
    pub destination: String,
    #[command(flatten)]
    pub target: Target,
}

/// What one exec does once its task and container are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Run(String),
    PortForward { port: u16, local_port: u16, host: Option<String> },
    Cp(super::exec_cp::Copy),
}

impl ExecArgs {
    /// `cortado exec`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let legacy_forward = self.subcommand.is_none() && self.port_forward;
        let (id, mode, target) = self.into_mode()?;
        let app = App::load(globals, env)?;
        if legacy_forward {
            crate::config::refuse_removed_in_v3(&app.config, "exec --port-forward", "#1025", "use `exec portforward`")?;
        }
        let change = simple_change(target.dry_run, &target.gates);
        run(&app, id, mode, target.container, change).await
    }

    /// The subcommand, else the flag form; checked before the config is read.
    fn into_mode(self) -> Result<(Option<String>, Mode, Target)> {
        let legacy = Target { container: self.container.clone(), dry_run: self.dry_run, gates: self.gates.clone() };
        match self.subcommand {
            Some(ExecCommand::Run(a)) => Ok((a.id.or(self.id), Mode::Run(a.command), a.target)),
            Some(ExecCommand::Portforward(a)) => {
                let (local_port, host, port) = match &a.forward {
                    Some(l) => parse_forward(l)?,
                    None => (a.local_port, a.host.clone(), a.port),
                };
                let port =
                    port.ok_or_else(|| InputError::new("exec portforward needs --port (the port in the task, or on --host), or -L LOCAL_PORT:HOST:PORT"))?;
                Ok((a.id.or(self.id), Mode::PortForward { port, local_port, host }, a.target))
            }
            Some(ExecCommand::Cp(a)) => {
                let copy = super::exec_cp::Copy::parse(&a.source, &a.destination)?;
                Ok((copy.task_id().or(self.id), Mode::Cp(copy), a.target))
            }
            None if self.port_forward => {
                let port = self.port.ok_or_else(|| InputError::new("--port-forward needs --port (the port in the task, or on --host)"))?;
                Ok((self.id, Mode::PortForward { port, local_port: self.local_port, host: self.host }, legacy))
            }
            None if self.port.is_some() || self.host.is_some() => Err(InputError::new("--port and --host are for --port-forward").into()),
            None => Ok((self.id, Mode::Run(self.command), legacy)),
        }
    }
}

/// `-L 8080:db.internal:5432`: `(local port, host, port)`; `localhost` as HOST means the task itself.
fn parse_forward(spec: &str) -> Result<(u16, Option<String>, Option<u16>)> {
    let bad = || InputError::new(format!("-L {spec}: expected LOCAL_PORT:HOST:PORT (8080:localhost:80)"));
    let mut parts = spec.splitn(3, ':');
    let (Some(l), Some(h), Some(p)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad().into()) };
    let local: u16 = l.parse().map_err(|_| bad())?;
    let port: u16 = p.parse().map_err(|_| bad())?;
    let host = (!h.is_empty() && h != "localhost" && h != "127.0.0.1").then(|| h.to_owned());
    Ok((local, host, Some(port)))
}

pub const PLUGIN: &str = "session-manager-plugin";
const INSTALL_URL: &str = "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";

/// The plugin's path on `PATH`, or an error saying what is missing and where to get it.
pub fn require_plugin(env: &Env) -> Result<PathBuf> {
    let path = env.get("PATH").unwrap_or("");
    find_executable(PLUGIN, path).ok_or_else(|| {
        anyhow::anyhow!("cortado exec needs {PLUGIN} (the AWS Session Manager plugin) on PATH, and it is not there (PATH={path}); install it: {INSTALL_URL}")
    })
}

fn find_executable(name: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

async fn run(app: &App, id: Option<String>, mode: Mode, container: Option<String>, change: super::deploy::Change) -> Result<()> {
    // Without gates, nothing is worth doing without the plugin: look for it first (no AWS call).
    // With gates, the gate decides first, so a denied exec stops before the plugin is looked for.
    if !crate::gate::audited(app)? {
        require_plugin(&app.env)?;
    }
    // cp reads its local source before any AWS call: a missing file costs nothing.
    let upload = match &mode {
        Mode::Cp(c) => c.read_local()?,
        _ => None,
    };
    let family = local_family(app)?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let mut rows = tasks::list(app, &client, family.as_deref()).await?;
    rows.retain(|r| r.last_status != "STOPPED");
    if let Some(id) = &id {
        rows.retain(|r| &r.id == id || &r.arn == id);
    }
    let row = tasks::select(app, &rows, "running task")?;
    let (name, runtime_id) = container_of(app, row, container.as_deref())?;
    let cluster_name = row.task.get("clusterArn").and_then(Value::as_str).map(task::task_id).unwrap_or(&app.config.cluster).to_owned();
    let target = format!("ecs:{cluster_name}_{}_{runtime_id}", row.id);
    let region = aws.region().to_owned();

    let (plan, params, service) = match &mode {
        Mode::PortForward { port, local_port, host } => {
            let (document, mut parameters) = match host {
                Some(h) => ("AWS-StartPortForwardingSessionToRemoteHost", json!({"host": [h]})),
                None => ("AWS-StartPortForwardingSession", json!({})),
            };
            parameters["portNumber"] = json!([port.to_string()]);
            parameters["localPortNumber"] = json!([local_port.to_string()]);
            let params = json!({"Target": target, "DocumentName": document, "Parameters": parameters});
            (crate::plan::tasks::port_forward(app, &target, document, parameters), params, "ssm")
        }
        Mode::Run(command) => (crate::plan::tasks::exec(app, &row.arn, &name, command), json!({"Target": target}), "ecs"),
        Mode::Cp(copy) => {
            let commands = copy.commands(upload.as_deref());
            (crate::plan::tasks::copy(app, &row.arn, &name, &commands, &copy.describe(&row.id, upload.as_deref())), json!({"Target": target}), "ecs")
        }
    };
    // The session-manager-plugin is looked for after the gate (a denied exec stops there) and
    // before the session starts (an ExecuteCommand without the plugin would leave it unused).
    let mut plugin = None;
    let ready = || {
        plugin = Some(require_plugin(&app.env)?);
        Ok(())
    };
    let opts = change.options(&crate::progress::Silent);
    let ran = crate::ops::execute(app, &aws, &plan, opts, ready, async |_: &crate::apply::Apply<'_>| Ok(())).await?;
    let crate::ops::Ran::Done(done) = ran else {
        tracing::info!("{}\nDRY RUN OK", crate::output::plan::text(&plan));
        return Ok(());
    };
    done.result?;
    let applied = done.applied;
    let plugin = plugin.context("internal error: the session-manager-plugin was not looked for")?;
    let endpoint = endpoint(&app.env, service, &region);
    if let Mode::Cp(copy) = &mode {
        let sessions: Vec<Vec<String>> = applied.sessions.iter().map(|s| plugin_args(s, &region, &params, &endpoint)).collect();
        return copy.transfer(&plugin, &sessions, upload.as_deref(), &name, &row.id).await;
    }
    let session = applied.session.context("no session was started")?;
    match &mode {
        Mode::Run(command) => tracing::info!("running {command} in container {name} of task {}", row.id),
        _ => tracing::info!("forwarding a port through container {name} of task {}", row.id),
    }
    let argv = plugin_args(&session, &region, &params, &endpoint);
    let mut child = tokio::process::Command::new(&plugin).args(&argv).spawn().with_context(|| format!("starting {}", plugin.display()))?;
    // Ctrl-C belongs to the session (the plugin gets it from the terminal), not to cortado.
    let status = loop {
        tokio::select! {
            s = child.wait() => break s?,
            _ = tokio::signal::ctrl_c() => continue,
        }
    };
    plugin_status(status)
}

/// The plugin's exit as cortado's: 0, its code, or an error when a signal killed it.
pub fn plugin_status(status: std::process::ExitStatus) -> Result<()> {
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(ExitWith { code, message: format!("{PLUGIN} exited with code {code}") }.into()),
        None => bail!("{PLUGIN} was killed by a signal"),
    }
}

/// The container to exec into (`--container`, the only one, else selected) and its runtime ID.
fn container_of(app: &App, row: &tasks::Row, wanted: Option<&str>) -> Result<(String, String)> {
    let containers: Vec<&Value> = row.task.get("containers").and_then(Value::as_array).into_iter().flatten().collect();
    let names: Vec<String> = containers.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).map(str::to_owned).collect();
    let name = match wanted {
        Some(c) if names.iter().any(|n| n == c) => c.to_owned(),
        Some(c) => return Err(InputError::new(format!("--container {c}: task {} has no such container (it has {})", row.id, names.join(", "))).into()),
        None if names.len() == 1 => names[0].clone(),
        None => names.get(tasks::choose(app, &names, "container", "--container")?).cloned().context("no container selected")?,
    };
    let runtime_id = containers
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .and_then(|c| c.get("runtimeId"))
        .and_then(Value::as_str)
        .with_context(|| format!("container {name} of task {} has no runtime ID yet (is it running?)", row.id))?;
    Ok((name, runtime_id.to_owned()))
}

/// session-manager-plugin's arguments, as the AWS CLI passes them.
pub fn plugin_args(session: &Value, region: &str, params: &Value, endpoint: &str) -> Vec<String> {
    vec![session.to_string(), region.to_owned(), "StartSession".into(), String::new(), params.to_string(), endpoint.to_owned()]
}

/// The service endpoint the plugin talks to: `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, else
/// AWS's in the region's partition (`https://ssm.cn-north-1.amazonaws.com.cn` in aws-cn).
fn endpoint(env: &Env, service: &str, region: &str) -> String {
    env.get(&format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase()))
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| crate::aws::arn::endpoint(service, region))
}

fn local_family(app: &App) -> Result<Option<String>> {
    if app.config.service.is_some() {
        return Ok(None);
    }
    let td = app.renderer().task_definition(app.task_definition_path()?)?;
    Ok(crate::definitions::family(&td).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_lookup() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_executable(PLUGIN, dir.path().to_str().unwrap()).is_none());
        let p = dir.path().join(PLUGIN);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        assert!(find_executable(PLUGIN, dir.path().to_str().unwrap()).is_none(), "not executable yet");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_executable(PLUGIN, &format!("/nonexistent:{}", dir.path().display())), Some(p));
    }

    #[test]
    fn plugin_argv_matches_the_aws_cli() {
        let argv = plugin_args(&json!({"sessionId": "s"}), "ap-northeast-1", &json!({"Target": "ecs:c_t_r"}), "https://ecs.ap-northeast-1.amazonaws.com");
        assert_eq!(
            argv,
            vec![r#"{"sessionId":"s"}"#, "ap-northeast-1", "StartSession", "", r#"{"Target":"ecs:c_t_r"}"#, "https://ecs.ap-northeast-1.amazonaws.com"]
        );
        let env = Env::from_pairs([("AWS_ENDPOINT_URL".to_owned(), "http://127.0.0.1:1".to_owned())]);
        assert_eq!(endpoint(&env, "ssm", "r"), "http://127.0.0.1:1");
        assert_eq!(endpoint(&Env::default(), "ssm", "r"), "https://ssm.r.amazonaws.com");
        assert_eq!(endpoint(&Env::default(), "ssm", "cn-north-1"), "https://ssm.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint(&Env::default(), "ssm", "us-gov-west-1"), "https://ssm.us-gov-west-1.amazonaws.com");
    }
}
