//! `cortado run`: a one-off task. Planned (plan/run.rs), gated, applied (register when the file is
//! new, RunTask), then waited for (wait/tasks.rs): the watched container's awslogs are tailed and
//! cortado exits with its exit code.

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;

use super::App;
use super::deploy::Change;
use crate::apply::Apply;
use crate::aws::task;
use crate::ops::{self, Ran};
use crate::plan::run::RunOptions;
use crate::wait::tasks::{self as twait, WaitUntil};

pub async fn run(app: &App, opts: RunOptions, wait_until: WaitUntil, change: Change) -> Result<()> {
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
    until: WaitUntil,
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
