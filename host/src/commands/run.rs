//! `cortado run`: a one-off task. Planned (plan/run.rs), gated, applied (register when the file is
//! new, RunTask), then waited for (wait/tasks.rs): the watched container's awslogs are tailed and
//! cortado exits with its exit code.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;

use super::App;
use super::args::GateArgs;
use super::deploy::Change;
use crate::apply::Apply;
use crate::aws::task;
use crate::context::Globals;
use crate::env::Env;
use crate::ops::{self, Ran};
use crate::plan::run::RunOptions;
use crate::wait::tasks as twait;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUntil {
    /// Every task is RUNNING
    Running,
    /// Every task has STOPPED
    Stopped,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Resolve and print what would run; register and start nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Task definition file to register and run instead of the config's task_definition
    #[arg(long = "task-def")]
    pub task_def: Option<PathBuf>,
    /// Wait for the task (the default); --no-wait prints the task ARN and returns
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Print the task ARNs and return without waiting
    #[arg(long = "no-wait", overrides_with = "wait")]
    pub no_wait: bool,
    /// TaskOverride JSON (wins over --overrides-file)
    #[arg(long = "overrides")]
    pub task_overrides: Option<String>,
    /// TaskOverride file, rendered like a definition file (template, or Jsonnet for .jsonnet)
    #[arg(long = "overrides-file")]
    pub overrides_file: Option<PathBuf>,
    /// Run the service's current task definition (else the family's latest) without registering
    #[arg(long = "skip-task-definition")]
    pub skip_task_definition: bool,
    /// How many tasks to start (1-10); every task is waited for, the first one's logs are shown
    #[arg(long, default_value_t = 1)]
    pub count: i32,
    /// The container whose exit code cortado exits with and whose logs are shown [default: the first]
    #[arg(long = "watch-container")]
    pub watch_container: Option<String>,
    /// Run the latest ACTIVE revision of the family without registering
    #[arg(long = "latest-task-definition", conflicts_with = "revision")]
    pub latest_task_definition: bool,
    /// SERVICE (copy the service's tags to the task), TASK_DEFINITION or NONE
    #[arg(long = "propagate-tags")]
    pub propagate_tags: Option<String>,
    /// Task tags: KEY=VALUE,KEY2=VALUE2
    #[arg(long)]
    pub tags: Option<String>,
    /// Wait until the tasks are running, or (the default) stopped
    #[arg(long = "wait-until", value_enum, default_value_t = WaitUntil::Stopped)]
    pub wait_until: WaitUntil,
    /// Run revision N of the family without registering
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub revision: Option<i64>,
    /// RunTask idempotency token
    #[arg(long = "client-token")]
    pub client_token: Option<String>,
    /// Subnets for awsvpc tasks (override the service definition's; needed without one)
    #[arg(long, value_delimiter = ',')]
    pub subnets: Vec<String>,
    /// Security groups for awsvpc tasks (override the service definition's)
    #[arg(long = "security-groups", value_delimiter = ',')]
    pub security_groups: Vec<String>,
    /// ENABLED or DISABLED, for awsvpc tasks
    #[arg(long = "assign-public-ip")]
    pub assign_public_ip: Option<String>,
    /// FARGATE, EC2 or EXTERNAL (overrides the service definition's launch type and capacity providers)
    #[arg(long = "launch-type")]
    pub launch_type: Option<String>,
    /// Delete the managed EBS volumes taken from the service definition when the task stops (the default)
    #[arg(long = "ebs-delete-on-termination", overrides_with = "no_ebs_delete_on_termination")]
    pub ebs_delete_on_termination: bool,
    /// Keep those EBS volumes when the task stops
    #[arg(long = "no-ebs-delete-on-termination", overrides_with = "ebs_delete_on_termination")]
    pub no_ebs_delete_on_termination: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

impl RunArgs {
    fn options(&self) -> crate::plan::run::RunOptions {
        crate::plan::run::RunOptions {
            task_def: self.task_def.clone(),
            task_overrides: self.task_overrides.clone(),
            overrides_file: self.overrides_file.clone(),
            skip_task_definition: self.skip_task_definition,
            count: self.count,
            watch_container: self.watch_container.clone(),
            latest_task_definition: self.latest_task_definition,
            propagate_tags: self.propagate_tags.clone(),
            tags: self.tags.clone(),
            revision: self.revision,
            client_token: self.client_token.clone(),
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.clone(),
            assign_public_ip: self.assign_public_ip.clone(),
            launch_type: self.launch_type.clone(),
            no_ebs_delete_on_termination: self.no_ebs_delete_on_termination,
        }
    }
}

impl RunArgs {
    /// `cortado run`: the flags as the planner's options, `--wait-until` as the waiter's.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        super::express::refuse(&app, "run")?;
        let until = match self.wait_until {
            WaitUntil::Running => twait::WaitUntil::Running,
            WaitUntil::Stopped => twait::WaitUntil::Stopped,
        };
        let change = Change { dry_run: self.dry_run, wait: !self.no_wait, overrides: self.gate.to_overrides(), json: false, wait_until: None };
        run(&app, self.options(), until, change).await
    }
}

pub async fn run(app: &App, opts: RunOptions, wait_until: twait::WaitUntil, change: Change) -> Result<()> {
    let aws = app.aws().await?;
    let rp = crate::plan::run::plan(app, &aws, &opts).await?;
    let progress = crate::progress::Silent;
    let follow = async |apply: &Apply<'_>| follow(app, &aws, &rp, &apply.applied, wait_until, &change).await;
    match ops::execute(app, &aws, &rp.plan, change.options(&progress), || Ok(()), follow).await? {
        Ran::DryRun => {
            print_dry_run(&rp);
            Ok(())
        }
        Ran::Done(done) => done.into_result(),
    }
}

/// The RunTask request as it would be sent (its task definition named, or "to be registered").
fn print_dry_run(rp: &crate::plan::run::RunPlan) {
    let family = crate::definitions::family(&rp.td).unwrap_or_default();
    for step in &rp.plan.steps {
        if step.operation == "RunTask" {
            // ecspresso prints the request with the family "(to be registered)" where the plan
            // has a reference to the RegisterTaskDefinition step's answer.
            let mut body = step.input.clone();
            match step.str("taskDefinition") {
                Some(a) => tracing::info!("Task definition ARN: {a}"),
                None => {
                    tracing::info!("task definition family {family} will be registered");
                    body["taskDefinition"] = serde_json::json!(format!("{family} (to be registered)"));
                }
            }
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        }
    }
    tracing::info!("{}", crate::output::plan::text(&rp.plan));
    tracing::info!("DRY RUN OK");
}

/// After RunTask: the ARNs, then (unless --no-wait) the wait, the logs and the verdict.
async fn follow(
    app: &App,
    aws: &crate::aws::Aws,
    rp: &crate::plan::run::RunPlan,
    applied: &crate::apply::Applied,
    until: twait::WaitUntil,
    change: &Change,
) -> Result<()> {
    if let Some(arn) = &applied.registered {
        tracing::info!("Task definition ARN: {arn}");
    } else if let Some(arn) = rp.plan.task_definitions.first().and_then(|t| t.arn.as_deref()) {
        tracing::info!("Task definition ARN: {arn}");
    }
    let resp = applied.run.clone().unwrap_or(Value::Null);
    let arns: Vec<String> =
        resp.get("tasks").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("taskArn").and_then(Value::as_str)).map(str::to_owned).collect();
    if let Some(f) = resp.get("failures").and_then(Value::as_array).and_then(|f| f.first()) {
        let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("");
        let started = if arns.is_empty() { String::new() } else { format!(" (started anyway: {})", arns.join(" ")) };
        bail!("failed to run task: {} {} {}{started}", s("reason"), s("detail"), s("arn"));
    }
    if arns.is_empty() {
        bail!("RunTask started no task and reported no failure");
    }
    for a in &arns {
        tracing::info!("Task ARN: {a}");
    }
    if !change.wait {
        for a in &arns {
            println!("{a}");
        }
        tracing::info!("Run task invoked");
        return Ok(());
    }
    let container = twait::container_def(&rp.td, &rp.watch);
    let mut tail = match container.and_then(|c| twait::log_tail(aws, c, &rp.watch, task::task_id(&arns[0]))) {
        Some(t) => Some(t),
        None => {
            tracing::info!("container {} does not log through awslogs with a stream prefix: its logs are not shown", rp.watch);
            None
        }
    };
    let fixed = twait::fixed_poll_interval(app)?;
    let tasks = twait::wait(&aws.ecs(), &app.config.cluster, &arns, until, &mut tail, app.config.timeout, fixed).await?;
    if let Some(t) = tail.as_mut() {
        // CloudWatch Logs may still be ingesting the last lines.
        if t.poll().await == 0 {
            tokio::time::sleep(fixed.unwrap_or(Duration::from_secs(2)).min(Duration::from_secs(2))).await;
            t.poll().await;
        }
    }
    twait::judge(&tasks, &arns, &rp.watch, until)?;
    tracing::info!("Run task completed!");
    Ok(())
}
