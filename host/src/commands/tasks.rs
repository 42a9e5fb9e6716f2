//! `cortado tasks`: the tasks of the service and of its task definition family (or of the local
//! family when there is no service), as a table, TSV or JSON; `find` prints one task's JSON,
//! `stop` stops one, `trace` shows its timeline, `logs` its containers' log events. Selecting one task (also for `exec`) takes the only candidate, else asks
//! the `--filter-command` (peco, fzf: candidates on stdin, the chosen line on stdout), else asks
//! on the terminal.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use aws_sdk_ecs::types::DesiredStatus;
use serde_json::{Value, json};

use super::App;
use super::args::{GateArgs, simple_change};
use crate::aws::{ecs, task};
use crate::context::Globals;
use crate::env::Env;
use crate::error::InputError;
use crate::output::prompt::{self, Mismatch};
use crate::output::table::Table;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TasksOutput {
    /// Aligned columns
    #[default]
    Table,
    /// One JSON array
    Json,
    /// Tab-separated, no header
    Tsv,
}

/// `cortado tasks [list|find|stop|trace|logs]`; without a subcommand it lists. The flag forms of
/// ecspresso before v2.8 (`tasks --find`, `--stop`, `--trace`) still work but are hidden from
/// `--help`: ecspresso v2.8 hid them too, and v3 removes them.
#[derive(clap::Args, Debug)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub command: Option<TasksCommand>,
    /// Only this task (ID or ARN)
    #[arg(long)]
    pub id: Option<String>,
    /// How to print the list
    #[arg(long, value_enum, default_value_t = TasksOutput::Table)]
    pub output: TasksOutput,
    /// Hidden alias of `tasks find`
    #[arg(long, hide = true)]
    pub find: bool,
    /// Hidden alias of `tasks stop`
    #[arg(long, hide = true)]
    pub stop: bool,
    /// Hidden alias of `tasks stop --force`
    #[arg(long, hide = true)]
    pub force: bool,
    /// Hidden alias of `tasks stop --dry-run`
    #[arg(long = "dry-run", hide = true)]
    pub dry_run: bool,
    /// Hidden alias of `tasks stop --override`
    #[arg(long = "override", value_name = "GATE", hide = true)]
    pub overrides: Vec<String>,
    /// Hidden alias of `tasks stop --reason`
    #[arg(long, hide = true)]
    pub reason: Option<String>,
    /// Hidden alias of `tasks trace`
    #[arg(long, hide = true)]
    pub trace: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum TasksCommand {
    /// List the tasks of the service and of its task definition family (the default)
    List(ListArgs),
    /// Select one task and print it as JSON
    Find(IdArgs),
    /// Select one running task and stop it (asks to type its ID unless --force)
    Stop(StopArgs),
    /// Select one task and print its timeline: lifecycle times, container exits and the service events naming it (no log lines: see `tasks logs`)
    Trace(IdArgs),
    /// Select one task and print its containers' log events (awslogs), or follow them until it stops
    Logs(LogsArgs),
}

#[derive(clap::Args, Debug, Default)]
pub struct ListArgs {
    /// Only this task (ID or ARN)
    #[arg(long)]
    pub id: Option<String>,
    /// How to print the list
    #[arg(long, value_enum)]
    pub output: Option<TasksOutput>,
}

#[derive(clap::Args, Debug, Default)]
pub struct IdArgs {
    /// The task (ID or ARN) [default: the only one, else select]
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(clap::Args, Debug, Default)]
pub struct StopArgs {
    /// The task (ID or ARN) [default: the only running one, else select]
    #[arg(long)]
    pub id: Option<String>,
    /// Stop without asking
    #[arg(long)]
    pub force: bool,
    /// Evaluate gates and show what would be stopped; stop nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(clap::Args, Debug, Default)]
pub struct LogsArgs {
    /// The task (ID or ARN) [default: the only one, else select]
    #[arg(long)]
    pub id: Option<String>,
    /// Keep printing new events until the task has stopped (or Ctrl-C)
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// How much to print: the last DURATION, or DURATION from --start-time (Go duration)
    #[arg(short = 'd', long, default_value = "1m", value_name = "DURATION")]
    pub duration: String,
    /// Print from this time (RFC 3339, 2026-12-07T03:00:00Z) instead of DURATION ago
    #[arg(short = 's', long = "start-time", value_name = "TIME")]
    pub start_time: Option<String>,
    /// Only this container's events [default: every container that logs with awslogs]
    #[arg(long)]
    pub container: Option<String>,
}

/// What one `tasks` invocation does, subcommand or legacy flag alike.
#[derive(Debug)]
enum Action {
    List(TasksOutput),
    Find,
    Stop { force: bool },
    Trace,
    Logs(LogsArgs),
}

impl TasksArgs {
    /// `cortado tasks`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        if let Some((flag, replacement)) = self.legacy_flag() {
            crate::config::refuse_removed_in_v3(&app.config, flag, "#1025", replacement)?;
        }
        let (id, action, change) = self.into_action();
        run(&app, id, action, change).await
    }

    /// The flag form used instead of a subcommand, with its replacement (ecspresso v3 removed them).
    fn legacy_flag(&self) -> Option<(&'static str, &'static str)> {
        if self.command.is_some() {
            return None;
        }
        [(self.find, "tasks --find", "use `tasks find`"), (self.stop, "tasks --stop", "use `tasks stop`"), (self.trace, "tasks --trace", "use `tasks trace`")]
            .into_iter()
            .find(|(used, _, _)| *used)
            .map(|(_, flag, replacement)| (flag, replacement))
    }

    /// The subcommand, else the legacy flags in ecspresso's precedence (find, stop, trace, list);
    /// a subcommand's `--id` wins over one given before it.
    fn into_action(self) -> (Option<String>, Action, super::deploy::Change) {
        let legacy_gates = GateArgs { overrides: self.overrides.clone(), reason: self.reason.clone() };
        let (id, action, change) = match self.command {
            Some(TasksCommand::List(a)) => (a.id, Action::List(a.output.unwrap_or(self.output)), None),
            Some(TasksCommand::Find(a)) => (a.id, Action::Find, None),
            Some(TasksCommand::Stop(a)) => (a.id, Action::Stop { force: a.force }, Some(simple_change(a.dry_run, &a.gates))),
            Some(TasksCommand::Trace(a)) => (a.id, Action::Trace, None),
            Some(TasksCommand::Logs(a)) => (a.id.clone(), Action::Logs(a), None),
            None if self.find => (None, Action::Find, None),
            None if self.stop => (None, Action::Stop { force: self.force }, None),
            None if self.trace => (None, Action::Trace, None),
            None => (None, Action::List(self.output), None),
        };
        let change = change.unwrap_or_else(|| simple_change(self.dry_run, &legacy_gates));
        (id.or(self.id), action, change)
    }
}

/// One task as listed.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub arn: String,
    pub task_definition: String,
    pub instance: String,
    pub last_status: String,
    pub desired_status: String,
    pub created_at: String,
    pub group: String,
    pub launch_type: String,
    pub task: Value,
}

impl Row {
    fn from_task(t: &Value) -> Row {
        let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let arn = s("taskArn");
        Row {
            id: task::task_id(&arn).to_owned(),
            task_definition: ecs::short_task_definition(&s("taskDefinitionArn")).to_owned(),
            instance: task::task_id(&s("containerInstanceArn")).to_owned(),
            last_status: s("lastStatus"),
            desired_status: s("desiredStatus"),
            created_at: t.get("createdAt").map(rfc3339).unwrap_or_default(),
            group: s("group"),
            launch_type: s("launchType"),
            arn,
            task: t.clone(),
        }
    }

    fn fields(&self) -> [&str; 8] {
        [&self.id, &self.task_definition, &self.instance, &self.last_status, &self.desired_status, &self.created_at, &self.group, &self.launch_type]
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id, "arn": self.arn, "taskDefinition": self.task_definition, "instance": self.instance,
            "lastStatus": self.last_status, "desiredStatus": self.desired_status, "createdAt": self.created_at,
            "group": self.group, "type": self.launch_type,
        })
    }

    pub fn tsv(&self) -> String {
        self.fields().join("\t")
    }
}

const HEADER: [&str; 8] = ["ID", "TASKDEFINITION", "INSTANCE", "LASTSTATUS", "DESIREDSTATUS", "CREATEDAT", "GROUP", "TYPE"];

/// AWS JSON epoch seconds as local RFC 3339.
fn rfc3339(v: &Value) -> String {
    match v.as_f64().and_then(|s| jiff::Timestamp::from_second(s as i64).ok()) {
        Some(ts) => ts.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        None => v.as_str().unwrap_or("").to_owned(),
    }
}

async fn run(app: &App, id: Option<String>, action: Action, change: super::deploy::Change) -> Result<()> {
    let local_family = local_family(app)?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let mut rows = list(app, &client, local_family.as_deref()).await?;
    if let Some(id) = &id {
        rows.retain(|r| &r.id == id || &r.arn == id);
        if rows.is_empty() {
            bail!("task {id} is not a task of {}", scope_name(app, local_family.as_deref()));
        }
    }
    match action {
        Action::List(output) => print_rows(&rows, output),
        Action::Find => {
            let row = select(app, &rows, "task")?;
            println!("{}", serde_json::to_string_pretty(&row.task)?);
            Ok(())
        }
        Action::Stop { force } => stop(app, &aws, rows, force, change).await,
        Action::Trace => {
            let row = select(app, &rows, "task")?;
            super::trace::print(&client, &app.config.cluster, app.config.service.as_deref(), &row.arn).await
        }
        Action::Logs(args) => {
            let row = select(app, &rows, "task")?;
            super::task_logs::print(app, &aws, row, &args).await
        }
    }
}

/// `tasks stop`: one running task, confirmed by typing its ID unless `force`, stopped through the
/// gate and apply like every change.
async fn stop(app: &App, aws: &crate::aws::Aws, mut rows: Vec<Row>, force: bool, change: super::deploy::Change) -> Result<()> {
    rows.retain(|r| r.last_status != "STOPPED");
    let row = select(app, &rows, "running task")?;
    if !force {
        confirm_stop(row)?;
    }
    let plan = crate::plan::tasks::stop(app, &row.arn);
    let opts = change.options(&crate::progress::Silent);
    let ran = crate::ops::execute(app, aws, &plan, opts, || Ok(()), async |_: &crate::apply::Apply<'_>| Ok(())).await?;
    let crate::ops::Ran::Done(done) = ran else {
        tracing::info!("{}\nDRY RUN OK", crate::output::plan::text(&plan));
        return Ok(());
    };
    done.result?;
    let applied = done.applied;
    let stopped = applied.stopped.unwrap_or(Value::Null);
    let status = stopped.get("lastStatus").and_then(Value::as_str).unwrap_or("?");
    tracing::info!("task {} is stopping ({status})", row.id);
    println!("{}", row.arn);
    Ok(())
}

/// The local task definition's family, needed (and read before any AWS call) without a service.
fn local_family(app: &App) -> Result<Option<String>> {
    if app.config.service.is_some() {
        return Ok(None);
    }
    let td = app.renderer().task_definition(app.task_definition_path()?)?;
    let family = crate::definitions::family(&td)
        .ok_or_else(|| InputError::in_file(app.task_definition_path().map(|p| p.as_path()).unwrap_or(&app.config.path), "the task definition has no family"))?;
    Ok(Some(family.to_owned()))
}

fn scope_name(app: &App, family: Option<&str>) -> String {
    match (&app.config.service, family) {
        (Some(s), _) => format!("service {s} in cluster {}", app.config.cluster),
        (None, Some(f)) => format!("family {f} in cluster {}", app.config.cluster),
        _ => format!("cluster {}", app.config.cluster),
    }
}

/// The service's and its family's tasks (RUNNING and STOPPED), oldest first.
pub async fn list(app: &App, client: &aws_sdk_ecs::Client, local_family: Option<&str>) -> Result<Vec<Row>> {
    let cluster = &app.config.cluster;
    let mut family = local_family.map(str::to_owned);
    if let Some(svc) = &app.config.service {
        let sv = ecs::describe_service(client, cluster, svc).await?.with_context(|| format!("service {svc} is not found in cluster {cluster}"))?;
        family = sv.get("taskDefinition").and_then(Value::as_str).and_then(ecs::family_of_arn).map(str::to_owned);
    }
    let mut arns = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        if let Some(f) = &family {
            arns.extend(task::list_tasks(client, cluster, Some(f), None, status.clone()).await?);
        }
        if let Some(svc) = &app.config.service {
            arns.extend(task::list_tasks(client, cluster, None, Some(svc), status.clone()).await?);
        }
    }
    let mut seen = HashSet::new();
    arns.retain(|a| seen.insert(a.clone()));
    if arns.is_empty() {
        return Ok(vec![]);
    }
    let (tasks, _) = task::describe_tasks(client, cluster, &arns).await?;
    let mut rows: Vec<(f64, Row)> = tasks.iter().map(|t| (t.get("createdAt").and_then(Value::as_f64).unwrap_or(0.0), Row::from_task(t))).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.arn.cmp(&b.1.arn)));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

fn print_rows(rows: &[Row], output: TasksOutput) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match output {
        TasksOutput::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows.iter().map(Row::json).collect::<Vec<_>>())?)?,
        TasksOutput::Tsv => {
            for r in rows {
                writeln!(out, "{}", r.tsv())?;
            }
        }
        TasksOutput::Table => {
            let mut table = Table::new(&HEADER);
            for r in rows {
                table.row(&r.fields());
            }
            write!(out, "{}", table.render())?;
        }
    }
    Ok(())
}

/// One task: the only candidate, else the filter command's choice, else the terminal's.
pub fn select<'a>(app: &App, rows: &'a [Row], what: &str) -> Result<&'a Row> {
    match rows.len() {
        0 => bail!("no {what} found"),
        1 => return Ok(&rows[0]),
        _ => {}
    }
    let lines: Vec<String> = rows.iter().map(Row::tsv).collect();
    let i = choose(app, &lines, what, "--id")?;
    Ok(&rows[i])
}

/// Picks one of `lines` (the first field is the key) through the filter command or a prompt;
/// `flag` is the option that names one directly.
pub fn choose(app: &App, lines: &[String], what: &str, flag: &str) -> Result<usize> {
    let key = |l: &str| l.split(['\t', ' ']).next().unwrap_or("").to_owned();
    let keys: Vec<String> = lines.iter().map(|l| key(l)).collect();
    let picked = if let Some(cmd) = app.config.filter_command.as_deref().filter(|c| !c.trim().is_empty()) {
        let chosen = run_filter(cmd, lines)?;
        key(chosen.trim())
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        for l in lines {
            eprintln!("{l}");
        }
        prompt::ask(&format!("Enter the {what} (or a unique prefix of it): "))?.unwrap_or_default()
    } else {
        return Err(InputError::new(format!("{} candidates for the {what}: choose one with {flag}, or set --filter-command (peco, fzf)", lines.len())).into());
    };
    if picked.is_empty() {
        bail!("no {what} selected");
    }
    if let Some(i) = keys.iter().position(|k| *k == picked) {
        return Ok(i);
    }
    let matches: Vec<usize> = keys.iter().enumerate().filter(|(_, k)| k.starts_with(&picked)).map(|(i, _)| i).collect();
    match matches.as_slice() {
        [i] => Ok(*i),
        [] => bail!("{picked:?} matches no {what}"),
        _ => bail!("{picked:?} matches {} candidates; type more of it", matches.len()),
    }
}

/// Runs the filter command (through `sh -c` when it has arguments) with the candidates on stdin.
fn run_filter(cmd: &str, lines: &[String]) -> Result<String> {
    let mut c = if cmd.contains(' ') {
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd);
        c
    } else {
        Command::new(cmd)
    };
    let mut child =
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().with_context(|| format!("starting the filter command {cmd:?}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A filter that exits early closes the pipe: not an error.
        let _ = stdin.write_all(lines.join("\n").as_bytes()).and_then(|_| stdin.write_all(b"\n"));
    }
    let out = child.wait_with_output().with_context(|| format!("running the filter command {cmd:?}"))?;
    if !out.status.success() {
        bail!("the filter command {cmd:?} exited with {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").to_owned())
}

/// Typing the task ID is the confirmation (a stray Enter or `y` stops nothing).
fn confirm_stop(row: &Row) -> Result<()> {
    let question = format!("Stop task {} ({}, {})? Type its ID to confirm: ", row.id, row.task_definition, row.last_status);
    match prompt::type_to_confirm(&question, &row.id)? {
        None => Ok(()),
        Some(Mismatch::NoTerminal) => Err(InputError::new("tasks stop asks to type the task ID on a terminal; pass --force to stop without asking").into()),
        Some(Mismatch::Typed(_)) => bail!("not confirmed: task {} was not stopped", row.id),
    }
}
