//! The task-definition and service lifecycle commands around deploy: register, deregister,
//! revisions, delete, appspec. The changing ones go plan → gate → apply like deploy.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::App;
use super::args::{GateArgs, simple_change};
use super::deploy::Change;
use crate::apply::Apply;
use crate::aws::ecs;
use crate::context::Globals;
use crate::definitions::to_pretty_json;
use crate::env::Env;
use crate::ops::{self, Ran};
use crate::output::prompt::{self, Mismatch};
use crate::plan::lifecycle::{self as lplan, DeregisterOptions};

#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// Print the rendered task definition; register nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Print the registered task definition
    #[arg(long)]
    pub output: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(clap::Args, Debug)]
pub struct DeregisterArgs {
    /// Evaluate gates and show what would be deregistered; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// A revision number, or `latest`
    #[arg(long)]
    pub revision: Option<String>,
    /// Keep the newest N revisions not in use; deregister older ones
    #[arg(long)]
    pub keeps: Option<usize>,
    /// No confirmation
    #[arg(long)]
    pub force: bool,
    /// Also delete the deregistered revisions
    #[arg(long)]
    pub delete: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(clap::Args, Debug)]
pub struct RevisionsArgs {
    /// Show one revision: a number, `current` or `latest`
    #[arg(long)]
    pub revision: Option<String>,
    /// How to print the list
    #[arg(long, value_parser = ["table", "json", "tsv"], default_value = "table")]
    pub output: String,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Evaluate gates and show what would be deleted; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// No typed confirmation
    #[arg(long)]
    pub force: bool,
    /// Delete even with running tasks
    #[arg(long)]
    pub terminate: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

#[derive(clap::Args, Debug)]
pub struct AppspecArgs {
    /// `latest`, `current` or a task definition ARN
    #[arg(long = "task-definition", default_value = "latest")]
    pub task_definition: String,
    /// Build Resources from the running service instead of the local service definition
    #[arg(long = "no-update-service")]
    pub no_update_service: bool,
    /// `yaml` (the default) or `json` (the AppSpec CodeDeploy reads either way; ecspresso v2.5
    /// prints JSON under `--log-format json`, which selects it here too)
    #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
    pub output: String,
}

impl RegisterArgs {
    /// `cortado register`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "register")?;
        register(&app, self.output, simple_change(self.dry_run, &self.gates)).await
    }
}

impl DeregisterArgs {
    /// `cortado deregister`: the flags as the planner's options.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "deregister")?;
        let opts = DeregisterOptions { revision: self.revision.clone(), keeps: self.keeps, delete: self.delete };
        deregister(&app, opts, self.force, simple_change(self.dry_run, &self.gates)).await
    }
}

impl RevisionsArgs {
    /// `cortado revisions`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "revisions")?;
        revisions(&app, self.revision, &self.output).await
    }
}

impl DeleteArgs {
    /// `cortado delete`: a daemon config deletes its daemon, any other its service.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        if super::daemon::is_daemon(&app) {
            return super::daemon::delete(&app, self.force, simple_change(self.dry_run, &self.gates)).await;
        }
        if super::express::is_express(&app) {
            return super::express::delete(&app, self.force, simple_change(self.dry_run, &self.gates)).await;
        }
        delete(&app, self.force, self.terminate, simple_change(self.dry_run, &self.gates)).await
    }
}

impl AppspecArgs {
    /// `cortado appspec`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "appspec")?;
        appspec(&app, &self.task_definition, !self.no_update_service, self.output == "json").await
    }
}

pub async fn register(app: &App, output: bool, change: Change) -> Result<()> {
    let td = lplan::rendered_task_definition(app)?;
    let aws = app.aws().await?;
    let plan = lplan::register(app, &aws, td).await?;
    let td = plan.task_definitions[0].body.clone();
    let Ran::Done(done) = ops::execute(app, &aws, &plan, change.options(&crate::progress::Silent), || Ok(()), no_follow).await? else {
        print!("{}", to_pretty_json(&td));
        tracing::info!("{}", crate::output::plan::text(&plan));
        return Ok(());
    };
    done.result?;
    let applied = done.applied;
    let arn = applied.registered.unwrap_or_default();
    tracing::info!("task definition is registered: {}", ecs::short_task_definition(&arn));
    if output && let Some(def) = applied.registered_definition {
        print!("{}", to_pretty_json(&def));
    }
    Ok(())
}

pub async fn revisions(app: &App, revision: Option<String>, output: &str) -> Result<()> {
    let family = lplan::local_family(app)?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    if let Some(rev) = revision {
        let name = match rev.as_str() {
            "current" => {
                let service = app.config.service.clone().context("--revision current needs a service")?;
                ecs::describe_service(&client, &app.config.cluster, &service)
                    .await?
                    .and_then(|s| s.get("taskDefinition").and_then(Value::as_str).map(str::to_owned))
                    .context("service not found")?
            }
            "latest" => family.clone(),
            n => format!("{family}:{n}"),
        };
        let (mut def, tags) = ecs::describe_task_definition(&client, &name).await?;
        if tags.as_array().is_some_and(|t| !t.is_empty()) {
            def["tags"] = tags;
        }
        print!("{}", to_pretty_json(&def));
        return Ok(());
    }
    let active = ecs::active_revisions(&client, &family).await?;
    let used = lplan::in_use(app, &client, &family).await?;
    let rows: Vec<(String, String)> = active.iter().map(|a| (ecs::short_task_definition(a).to_owned(), used.get(a).cloned().unwrap_or_default())).collect();
    match output {
        "json" => {
            for (name, in_use) in &rows {
                println!("{}", serde_json::to_string_pretty(&json!({"name": name, "in_use": in_use}))?);
            }
        }
        "tsv" => {
            for (name, in_use) in &rows {
                println!("{name}\t{in_use}");
            }
        }
        _ => {
            let mut table = crate::output::table::Table::new(&["NAME", "IN USE"]).framed();
            for (name, in_use) in &rows {
                table.row(&[name, in_use]);
            }
            print!("{}", table.render());
        }
    }
    Ok(())
}

pub async fn deregister(app: &App, opts: DeregisterOptions, force: bool, change: Change) -> Result<()> {
    let aws = app.aws().await?;
    let plan = lplan::deregister(app, &aws, &opts).await?;
    if plan.is_empty() {
        tracing::info!("nothing to deregister");
        return Ok(());
    }
    for t in &plan.task_definitions {
        tracing::info!("{} will be deregistered", ecs::short_task_definition(t.arn.as_deref().unwrap_or("")));
    }
    let count = plan.task_definitions.len();
    let ready = || match force || prompt::confirm(&format!("Deregister {count} revision(s)?"))? {
        true => Ok(()),
        false => anyhow::bail!("aborted"),
    };
    logged(app, &aws, &plan, &change, ready).await
}

/// Carries out a plan whose steps say what they do through the log (no wait follows).
async fn logged(app: &App, aws: &crate::aws::Aws, plan: &crate::plan::Plan, change: &Change, ready: impl FnOnce() -> Result<()>) -> Result<()> {
    match ops::execute(app, aws, plan, change.options(&LogProgress), ready, no_follow).await? {
        Ran::DryRun => {
            tracing::info!("{}\nDRY RUN OK", crate::output::plan::text(plan));
            Ok(())
        }
        Ran::Done(done) => done.into_result(),
    }
}

async fn no_follow(_: &Apply<'_>) -> Result<()> {
    Ok(())
}

/// Progress as log lines (stderr), for commands whose stdout is data.
struct LogProgress;

impl crate::progress::Progress for LogProgress {
    fn info(&self, msg: &str) {
        tracing::info!("{msg}");
    }
    fn event(&self, _: &Value, _: &str) {}
    fn deployments(&self, _: &[Value]) {}
    fn status(&self, _: &str) {}
}

pub async fn delete(app: &App, force: bool, terminate: bool, change: Change) -> Result<()> {
    let aws = app.aws().await?;
    let (plan, sv) = lplan::delete(app, &aws, terminate).await?;
    let service = plan.service.clone().unwrap_or_default();
    print!("{}", crate::output::status::format_service(&sv, &app.config.cluster, 3));
    if change.dry_run {
        tracing::info!("service {service} would be deleted");
    }
    let ready = || {
        if force {
            return Ok(());
        }
        match prompt::type_to_confirm("Enter the service name to DELETE: ", &service)? {
            None => Ok(()),
            Some(Mismatch::NoTerminal) => anyhow::bail!("delete needs --force when not run on a terminal"),
            Some(Mismatch::Typed(t)) => anyhow::bail!("aborted: {t:?} is not {service:?}"),
        }
    };
    logged(app, &aws, &plan, &change, ready).await
}

pub async fn appspec(app: &App, task_definition: &str, update_service: bool, json: bool) -> Result<()> {
    let aws = app.aws().await?;
    let client = aws.ecs();
    let service = app.service_name()?;
    let remote = ecs::describe_service(&client, &app.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let td_arn = match task_definition {
        "current" => remote.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned(),
        "latest" => {
            let family = ecs::family_of_arn(remote.get("taskDefinition").and_then(Value::as_str).unwrap_or_default()).unwrap_or_default().to_owned();
            ecs::latest_task_definition_arn(&client, &family).await?.context("no ACTIVE revision")?
        }
        arn if crate::aws::arn::Arn::is_of(arn, "ecs") => arn.to_owned(),
        other => return Err(crate::error::InputError::new(format!("--task-definition {other:?}: use latest, current or an ARN")).into()),
    };
    let sv = if update_service { app.renderer().service_definition(app.service_definition_path()?, Some(&service))? } else { remote };
    if json {
        let spec = crate::plan::codedeploy::appspec_json(Value::String(td_arn), &sv, app.config.appspec.as_ref())?;
        println!("{}", serde_json::to_string_pretty(&spec)?);
    } else {
        print!("{}", crate::plan::codedeploy::appspec(&td_arn, &sv, app.config.appspec.as_ref())?);
    }
    Ok(())
}
