//! `cortado exec`: ECS Exec into a task's container, or port forwarding, through the AWS Session
//! Manager plugin, the way the AWS CLI drives it. The plugin is looked for before anything else
//! (no AWS call is made without it), and its absence is explained.

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

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The task (ID or ARN) [default: select one]
    #[arg(long)]
    pub id: Option<String>,
    /// Command to run in the container
    #[arg(long, default_value = "sh")]
    pub command: String,
    /// Container [default: the only one, else select]
    #[arg(long)]
    pub container: Option<String>,
    /// Forward a local port to --port in the task instead of running a command
    #[arg(long = "port-forward")]
    pub port_forward: bool,
    /// Local port (0: any free port)
    #[arg(long = "local-port", default_value_t = 0)]
    pub local_port: u16,
    /// Remote port (required with --port-forward)
    #[arg(long)]
    pub port: Option<u16>,
    /// Remote host reached through the task (AWS-StartPortForwardingSessionToRemoteHost)
    #[arg(long)]
    pub host: Option<String>,
    /// Evaluate gates and show the session that would start; start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

impl ExecArgs {
    /// `cortado exec`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        let change = simple_change(self.dry_run, &self.gates);
        run(&app, self, change).await
    }
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

pub async fn run(app: &App, args: ExecArgs, change: super::deploy::Change) -> Result<()> {
    if args.port_forward && args.port.is_none() {
        return Err(InputError::new("--port-forward needs --port (the port in the task, or on --host)").into());
    }
    if !args.port_forward && (args.port.is_some() || args.host.is_some()) {
        return Err(InputError::new("--port and --host are for --port-forward").into());
    }
    // Without gates, nothing is worth doing without the plugin: look for it first (no AWS call).
    // With gates, the gate decides first, so a denied exec stops before the plugin is looked for.
    if !crate::gate::audited(app)? {
        require_plugin(&app.env)?;
    }
    let family = local_family(app)?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let mut rows = tasks::list(app, &client, family.as_deref()).await?;
    rows.retain(|r| r.last_status != "STOPPED");
    if let Some(id) = &args.id {
        rows.retain(|r| &r.id == id || &r.arn == id);
    }
    let row = tasks::select(app, &rows, "running task")?;
    let containers: Vec<&Value> = row.task.get("containers").and_then(Value::as_array).into_iter().flatten().collect();
    let names: Vec<String> = containers.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).map(str::to_owned).collect();
    let name = match &args.container {
        Some(c) if names.contains(c) => c.clone(),
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
    let cluster_name = row.task.get("clusterArn").and_then(Value::as_str).map(task::task_id).unwrap_or(&app.config.cluster).to_owned();
    let target = format!("ecs:{cluster_name}_{}_{runtime_id}", row.id);
    let region = aws.region().to_owned();

    // Gated before session-manager-plugin is even looked for: a denied exec stops here.
    let (plan, params, service) = if args.port_forward {
        let (document, mut parameters) = match &args.host {
            Some(h) => ("AWS-StartPortForwardingSessionToRemoteHost", json!({"host": [h]})),
            None => ("AWS-StartPortForwardingSession", json!({})),
        };
        parameters["portNumber"] = json!([args.port.unwrap_or_default().to_string()]);
        parameters["localPortNumber"] = json!([args.local_port.to_string()]);
        let params = json!({"Target": target, "DocumentName": document, "Parameters": parameters});
        (crate::plan::tasks::port_forward(app, &target, document, parameters), params, "ssm")
    } else {
        (crate::plan::tasks::exec(app, &row.arn, &name, &args.command), json!({"Target": target}), "ecs")
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
    let session = applied.session.context("no session was started")?;
    let endpoint = endpoint(&app.env, service, &region);
    tracing::info!(
        "{} {} in container {name} of task {}",
        if args.port_forward { "forwarding a port" } else { "running" },
        if args.port_forward { String::new() } else { args.command.clone() },
        row.id
    );
    let argv = plugin_args(&session, &region, &params, &endpoint);
    let mut child = tokio::process::Command::new(&plugin).args(&argv).spawn().with_context(|| format!("starting {}", plugin.display()))?;
    // Ctrl-C belongs to the session (the plugin gets it from the terminal), not to cortado.
    let status = loop {
        tokio::select! {
            s = child.wait() => break s?,
            _ = tokio::signal::ctrl_c() => continue,
        }
    };
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(ExitWith { code, message: format!("{PLUGIN} exited with code {code}") }.into()),
        None => bail!("{PLUGIN} was killed by a signal"),
    }
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
