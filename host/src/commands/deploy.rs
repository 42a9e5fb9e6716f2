//! `deploy`, `scale`, `refresh`, `rollback` and `wait`: plan → gate → apply → wait, and the report.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::App;
use super::args::{AutoScalingArgs, ChangeArgs, GateArgs, OutputArgs};
use crate::apply::Apply;
use crate::aws::controller::Controller;
use crate::context::Globals;
use crate::env::Env;
use crate::gate::Overrides;
use crate::ops::{self, Ran};
use crate::output::progress::Reporter;
use crate::plan::Plan;
use crate::plan::deploy::DeployOptions;
use crate::plan::rollback::RollbackOptions;
use crate::progress::Progress;
use crate::util::epoch_now;
use crate::wait::deployments::Until;
use crate::wait::{self, Watch};

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Desired count: N, or `unchanged` (the service definition's desiredCount if it has one, else the current count; `-1` as in ecspresso)
    #[arg(long, value_name = "N|unchanged", default_value = "unchanged", value_parser = parse_tasks, allow_negative_numbers = true)]
    pub tasks: DesiredTasks,
    /// Keep the service's current task definition
    #[arg(long = "skip-task-definition")]
    pub skip_task_definition: bool,
    /// Deploy this revision of the service's task definition family
    #[arg(long)]
    pub revision: Option<i64>,
    /// Deploy the newest ACTIVE revision of the family
    #[arg(long = "latest-task-definition")]
    pub latest_task_definition: bool,
    /// Start a new deployment even when nothing changed (replaces every task)
    #[arg(long = "force-new-deployment")]
    pub force_new_deployment: bool,
    /// Register a new revision even when the definition equals the newest ACTIVE one
    #[arg(long = "force-register")]
    pub force_register: bool,
    /// Do not apply the service definition's attributes and tags
    #[arg(long = "no-update-service", overrides_with = "update_service")]
    pub no_update_service: bool,
    /// Apply them (the default; ecspresso's flag): undoes an earlier --no-update-service
    #[arg(long = "update-service", hide = true, overrides_with = "no_update_service")]
    pub update_service: bool,
    #[command(flatten)]
    pub autoscaling: AutoScalingArgs,
    /// CodeDeploy: roll back on DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST
    #[arg(long = "rollback-events", value_delimiter = ',')]
    pub rollback_events: Vec<String>,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Desired count: N, or `unchanged` (the default; `-1` as in ecspresso)
    #[arg(long, value_name = "N|unchanged", default_value = "unchanged", value_parser = parse_tasks, allow_negative_numbers = true)]
    pub tasks: DesiredTasks,
    #[command(flatten)]
    pub autoscaling: AutoScalingArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Keep the task definition rolled back from (it is deregistered by default)
    #[arg(long = "no-deregister-task-definition", overrides_with = "deregister")]
    pub no_deregister: bool,
    /// Deregister it (the default; ecspresso's flag): undoes an earlier --no-deregister-task-definition
    #[arg(long = "deregister-task-definition", hide = true, overrides_with = "no_deregister")]
    pub deregister: bool,
    /// CodeDeploy: roll back on DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST
    #[arg(long = "rollback-events", value_delimiter = ',')]
    pub rollback_events: Vec<String>,
    /// Deploy the previous task definition revision even when a deployment is active (needed under ecspresso v3 when none is)
    #[arg(long = "with-previous-task-definition")]
    pub with_previous_task_definition: bool,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    /// deployed (the default), stable, paused (the first PAUSE hook awaiting action), ecs:<STAGE>,
    /// or codedeploy:<EVENT> (a CodeDeploy deployment's lifecycle event, e.g. AfterAllowTestTraffic, is done)
    #[arg(long = "wait-until", value_name = "deployed|stable|paused|ecs:STAGE|codedeploy:EVENT")]
    pub wait_until: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--tasks`: a desired count, or leave it as the definition or the service has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DesiredTasks {
    #[default]
    Unchanged,
    Count(i64),
}

impl DesiredTasks {
    pub fn count(self) -> Option<i64> {
        match self {
            DesiredTasks::Unchanged => None,
            DesiredTasks::Count(n) => Some(n),
        }
    }
}

/// `unchanged` or ecspresso's `-1` sentinel, else a count ≥ 0; `-5` is an error, not "unchanged".
fn parse_tasks(s: &str) -> Result<DesiredTasks, String> {
    match s {
        "unchanged" | "-1" => Ok(DesiredTasks::Unchanged),
        _ => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(DesiredTasks::Count(n)),
            _ => Err(format!("{s:?} is not a task count: use a number ≥ 0, or `unchanged`")),
        },
    }
}

impl DeployArgs {
    /// `cortado deploy`: the flags as the planner's options; a daemon config deploys its daemon.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        if super::daemon::is_daemon(&app) {
            return super::daemon::deploy(&app, self.force_register, self.change.change(&self.gates, &self.output)).await;
        }
        if super::express::is_express(&app) {
            return super::express::deploy(&app, self.force_register, self.change.change(&self.gates, &self.output)).await;
        }
        let opts = DeployOptions {
            command: "deploy",
            tasks: self.tasks.count(),
            skip_task_definition: self.skip_task_definition,
            revision: self.revision,
            latest_task_definition: self.latest_task_definition,
            force_new_deployment: self.force_new_deployment,
            force_register: self.force_register,
            update_service: !self.no_update_service,
            desired_unchanged: false,
            autoscaling: self.autoscaling.change(),
            rollback_events: self.rollback_events.clone(),
        };
        deploy(&app, opts, self.change.change(&self.gates, &self.output)).await
    }
}

impl ScaleArgs {
    /// `cortado scale`: a deploy that keeps the task definition and the service's attributes.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "scale")?;
        let opts = DeployOptions {
            command: "scale",
            tasks: self.tasks.count(),
            skip_task_definition: true,
            update_service: false,
            autoscaling: self.autoscaling.change(),
            ..Default::default()
        };
        deploy(&app, opts, self.change.change(&self.gates, &self.output)).await
    }
}

impl RefreshArgs {
    /// `cortado refresh`: a forced new deployment of what runs, desired count untouched.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "refresh")?;
        let opts = DeployOptions {
            command: "refresh",
            skip_task_definition: true,
            force_new_deployment: true,
            update_service: false,
            desired_unchanged: true,
            ..Default::default()
        };
        deploy(&app, opts, self.change.change(&self.gates, &self.output)).await
    }
}

impl WaitArgs {
    /// `cortado wait`: a daemon config waits for its daemon (after checking `--wait-until`).
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        if super::daemon::is_daemon(&app) {
            let change = Change { wait_until: self.wait_until.clone(), ..Default::default() };
            change.until()?;
            return super::daemon::wait(&app, self.output.json()).await;
        }
        if super::express::is_express(&app) {
            return super::express::wait(&app, self.output.json(), self.wait_until).await;
        }
        wait(&app, self.output.json(), self.wait_until).await
    }
}

impl RollbackArgs {
    /// `cortado rollback`: the flags as the rollback planner's options; a daemon config rolls back its daemon.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "rollback")?;
        if super::daemon::is_daemon(&app) {
            return super::daemon::rollback(&app, self.change.change(&self.gates, &self.output)).await;
        }
        let opts = RollbackOptions {
            deregister: !self.no_deregister,
            wait: !self.change.no_wait,
            rollback_events: self.rollback_events.clone(),
            with_previous: self.with_previous_task_definition,
        };
        rollback(&app, opts, self.change.change(&self.gates, &self.output)).await
    }
}

/// What every changing command shares: `--dry-run`, `--no-wait`, gate overrides, `--output json`,
/// `--wait-until`.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub dry_run: bool,
    pub wait: bool,
    pub overrides: Overrides,
    pub json: bool,
    pub wait_until: Option<String>,
}

impl Change {
    /// The engine's options for this change, reporting to `progress`.
    pub fn options<'a>(&'a self, progress: &'a dyn Progress) -> ops::Options<'a> {
        ops::Options { wait: self.wait, ..ops::Options::new(&self.overrides, self.dry_run, progress) }
    }

    /// `--wait-until` (deployed when not given).
    pub fn until(&self) -> Result<Until> {
        Ok(self.wait_until.as_deref().map(Until::parse).transpose()?.unwrap_or_default())
    }
}

pub async fn deploy(app: &App, opts: DeployOptions, change: Change) -> Result<()> {
    let started = epoch_now();
    let reporter = Reporter::new(change.json);
    let until = change.until()?;
    let aws = app.aws().await?;
    let dp = crate::plan::deploy::plan(app, &aws, &opts).await?;
    check_until(&dp.plan, &until, dp.codedeploy)?;
    for note in &dp.notes {
        reporter.info(note);
    }
    if !change.dry_run && dp.plan.is_empty() {
        reporter.info("service is up to date: nothing to update");
    }
    let mut bound = None;
    let ran = ops::execute(
        app,
        &aws,
        &dp.plan,
        change.options(&reporter),
        || Ok(()),
        async |apply: &Apply<'_>| {
            let native = apply.applied.service.as_ref().filter(|s| ops::follow::is_native(s) && change.wait && !dp.codedeploy);
            match native.and_then(|s| s.get("taskDefinition")).and_then(Value::as_str) {
                Some(td) => {
                    let origin = ops::follow::Origin { plan: &dp.plan, run_id: apply.run_id(), started };
                    ops::follow::follow_deploy(app, &aws, td, &until, origin, &reporter, &mut bound).await
                }
                None => ops::follow::follow_rolling(app, &aws, &dp, &apply.applied, change.wait, &until, &reporter, started).await,
            }
        },
    )
    .await?;
    let Ran::Done(done) = ran else {
        show_dry_run(&dp.plan, &reporter);
        return Ok(());
    };
    if let Err(e) = &done.result {
        let id = done.applied.deployment_id.clone().or(done.applied.codedeploy_deployment.clone());
        reporter.fail(&format!("{e:#}"), json!({"deployment_id": id, "service_deployment_arn": bound}));
    }
    done.into_result()
}

/// `--wait-until ecs:STAGE` needs a strategy that reports stages, `paused` one with lifecycle
/// hooks, `codedeploy:EVENT` a CodeDeploy service: refused before anything changes.
fn check_until(plan: &Plan, until: &Until, codedeploy: bool) -> Result<()> {
    let after = plan.service_after.as_ref().or(plan.service_before.as_ref());
    if !codedeploy {
        refuse_codedeploy(after, until)?;
    }
    match after {
        Some(sv) if !ops::follow::is_native(sv) => refuse_until(sv, until),
        _ => Ok(()),
    }
}

/// The error for `--wait-until ecs:STAGE` or `paused` on a service that is not ECS-native.
fn refuse_until(sv: &Value, until: &Until) -> Result<()> {
    let strategy = crate::aws::controller::Strategy::of(sv);
    let msg = match until {
        Until::Stage(stage) => {
            format!("--wait-until ecs:{stage}: the service deploys with {strategy}, which reports no lifecycle stage (BLUE_GREEN, LINEAR or CANARY do)")
        }
        Until::Paused => {
            format!("--wait-until paused: the service deploys with {strategy}, which has no PAUSE lifecycle hooks (BLUE_GREEN, LINEAR or CANARY do)")
        }
        _ => return Ok(()),
    };
    Err(crate::error::InputError::new(msg).into())
}

/// The error for `--wait-until codedeploy:EVENT` on a service CodeDeploy does not deploy: there
/// is no CodeDeploy deployment whose lifecycle events could be waited for.
fn refuse_codedeploy(sv: Option<&Value>, until: &Until) -> Result<()> {
    let Until::CodeDeploy(event) = until else {
        return Ok(());
    };
    let how = match sv {
        Some(sv) => {
            format!("the service deploys with deployment controller {} ({}), not CODE_DEPLOY", Controller::of(sv), crate::aws::controller::Strategy::of(sv))
        }
        None => "the service is not deployed by CodeDeploy".to_owned(),
    };
    let msg = format!("--wait-until codedeploy:{event}: {how}; use deployed, stable, or ecs:<STAGE> for a BLUE_GREEN/LINEAR/CANARY service");
    Err(crate::error::InputError::new(msg).into())
}

/// `--dry-run`: what would change, then the exact AWS calls.
fn show_dry_run(plan: &Plan, reporter: &Reporter) {
    for step in &plan.steps {
        match step.operation {
            "RegisterTaskDefinition" => reporter.info("task definition would be registered (its exact request is below)"),
            "CreateService" => reporter.info("service would be created (its exact request is below)"),
            _ => {}
        }
    }
    if !plan.diff.is_empty() {
        reporter.info(&format!("diff:\n{}", plan.diff.trim_end()));
    }
    if matches!(plan.command.as_str(), "deploy" | "scale" | "refresh") {
        reporter.info(&format!("desired count: {}", plan.desired_count.map(|d| d.to_string()).unwrap_or_else(|| "unchanged".into())));
    }
    crate::output::plan::show(plan, reporter);
    reporter.info("DRY RUN OK");
}

pub async fn rollback(app: &App, opts: RollbackOptions, change: Change) -> Result<()> {
    let started = epoch_now();
    let reporter = Reporter::new(change.json);
    let aws = app.aws().await?;
    let until = change.until()?;
    let rp = crate::plan::rollback::plan(app, &aws, &opts).await?;
    if until == Until::Paused && !ops::follow::is_native(&rp.remote) {
        refuse_until(&rp.remote, &until)?;
    }
    if !rp.codedeploy {
        refuse_codedeploy(Some(&rp.remote), &until)?;
    }
    if let Some(to) = &rp.to {
        let short = crate::aws::ecs::short_task_definition;
        reporter.info(&format!("rolling back {} from {} to {}", rp.plan.service.as_deref().unwrap_or(""), short(&rp.from), short(to)));
    }
    let follow = async |apply: &Apply<'_>| ops::follow::follow_rollback(app, &aws, &rp, &apply.applied, change.wait, &until, &reporter, started).await;
    let Ran::Done(done) = ops::execute(app, &aws, &rp.plan, change.options(&reporter), || Ok(()), follow).await? else {
        show_dry_run(&rp.plan, &reporter);
        return Ok(());
    };
    if let Err(e) = &done.result {
        let id = done.applied.deployment_id.clone().or(done.applied.codedeploy_deployment.clone());
        reporter.fail(&format!("{e:#}"), json!({"deployment_id": id}));
    }
    done.into_result()
}

/// `wait`: follows the service's current deployment (ECS or CodeDeploy). Changes nothing.
pub async fn wait(app: &App, json_output: bool, wait_until: Option<String>) -> Result<()> {
    let until = Change { wait_until, ..Default::default() }.until()?;
    let service = app.service_name()?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let sv = crate::aws::ecs::describe_service(&client, &app.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let reporter = Reporter::new(json_output);
    if !ops::follow::is_native(&sv) {
        refuse_until(&sv, &until)?;
    }
    if Controller::of(&sv) != Controller::CodeDeploy {
        refuse_codedeploy(Some(&sv), &until)?;
    }
    let result = if ops::follow::is_native(&sv) {
        ops::follow::wait_newest(app, &aws, &until, &reporter).await
    } else if Controller::of(&sv) == Controller::CodeDeploy {
        match crate::plan::codedeploy::in_progress(app, &aws).await? {
            Some(id) => ops::follow::follow_codedeploy(app, &aws, &id, &until, &reporter).await,
            None => {
                reporter.result(true, "no CodeDeploy deployment in progress", json!({}));
                Ok(())
            }
        }
    } else {
        // Events from the last ten minutes give context on what is being waited for.
        let watch = Watch {
            cluster: app.config.cluster.clone(),
            service,
            deployment: crate::apply::primary_deployment(&sv),
            timeout: app.config.timeout,
            since: epoch_now() - 600.0,
            known_events: Default::default(),
            just_created: false,
            poll: wait::tasks::fixed_poll_interval(app)?,
            early: until == Until::Deployed,
        };
        ops::follow::finish_wait(&client, watch, &reporter).await.map(|_| ())
    };
    if let Err(e) = &result {
        reporter.fail(&format!("{e:#}"), json!({}));
    }
    result
}
