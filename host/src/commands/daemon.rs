//! The commands of a config that manages an ECS Managed Daemon (`daemon_definition`): `render`,
//! `diff`, `deploy`, `wait`, `status`, `rollback`, `delete`. Each mutating one builds a plan of exact
//! requests (`plan/daemon.rs`) and hands it to the one engine (`ops::execute`): gated, audited,
//! applied by `apply/`, followed here on DescribeDaemonDeployments.

use std::io::Write;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::App;
use super::deploy::Change;
use super::diff::DiffArgs;
use crate::apply::Apply;
use crate::aws::daemon as aws_daemon;
use crate::definitions::to_pretty_json;
use crate::diff::Pair;
use crate::error::InputError;
use crate::ops::{self, Ran};
use crate::output::progress::Reporter;
use crate::output::prompt::{self, Mismatch};
use crate::plan::Plan;
use crate::plan::daemon::{self as dplan, DaemonPlan};
use crate::progress::Progress;
use crate::wait::deployments::Until;

/// Whether the config manages a daemon.
pub fn is_daemon(app: &App) -> bool {
    app.config.daemon.is_some()
}

/// `render daemondef` / `render daemontaskdef`.
pub fn render(app: &App, task_definition: bool) -> Result<String> {
    let local = dplan::local(app)?;
    Ok(to_pretty_json(if task_definition { &local.task_definition } else { &local.definition }))
}

/// `--wait-until`: a daemon deployment has no lifecycle stages, and `stable` means `deployed` here.
fn check_until(change: &Change) -> Result<()> {
    match change.until()? {
        Until::Stage(s) => Err(InputError::new(format!("--wait-until ecs:{s}: a daemon deployment reports no lifecycle stage")).into()),
        Until::Paused => Err(InputError::new("--wait-until paused: a daemon deployment has no PAUSE lifecycle hooks").into()),
        Until::CodeDeploy(e) => Err(InputError::new(format!("--wait-until codedeploy:{e}: a daemon is not deployed by CodeDeploy")).into()),
        _ => Ok(()),
    }
}

pub async fn deploy(app: &App, force_register: bool, change: Change) -> Result<()> {
    check_until(&change)?;
    let reporter = Reporter::new(change.json);
    let aws = app.aws().await?;
    let dp = dplan::deploy(app, &aws, force_register).await?;
    if let Some(arn) = &dp.task_definition_arn {
        reporter.info(&format!("daemon task definition {} is unchanged: not registering it again", aws_daemon::short(arn)));
    }
    if dp.plan.is_empty() {
        reporter.info("daemon is up to date: nothing to update");
    }
    run(app, &aws, &dp, &change, &reporter, |_| Ok(())).await
}

pub async fn rollback(app: &App, change: Change) -> Result<()> {
    check_until(&change)?;
    let reporter = Reporter::new(change.json);
    let aws = app.aws().await?;
    let (dp, from, to) = dplan::rollback(app, &aws).await?;
    let name = dp.plan.service.clone().unwrap_or_default();
    reporter.info(&format!("rolling back {name} from {} to {}", aws_daemon::short(&from), aws_daemon::short(&to)));
    run(app, &aws, &dp, &change, &reporter, |_| Ok(())).await
}

pub async fn delete(app: &App, force: bool, change: Change) -> Result<()> {
    let reporter = Reporter::new(false);
    let aws = app.aws().await?;
    let dp = dplan::delete(app, &aws).await?;
    let name = dp.plan.service.clone().unwrap_or_default().trim_start_matches("daemon/").to_owned();
    let ready = |_: &()| {
        if force {
            return Ok(());
        }
        match prompt::type_to_confirm("Enter the daemon name to DELETE: ", &name)? {
            None => Ok(()),
            Some(Mismatch::NoTerminal) => anyhow::bail!("delete needs --force when not run on a terminal"),
            Some(Mismatch::Typed(t)) => anyhow::bail!("aborted: {t:?} is not {name:?}"),
        }
    };
    let change = Change { wait: false, ..change };
    run(app, &aws, &dp, &change, &reporter, ready).await
}

/// Gate → (dry run stops) → `ready` → apply → follow the daemon deployment → outcome record.
async fn run(app: &App, aws: &crate::aws::Aws, dp: &DaemonPlan, change: &Change, reporter: &Reporter, ready: impl FnOnce(&()) -> Result<()>) -> Result<()> {
    let follow = async |apply: &Apply<'_>| follow(app, aws, &dp.plan, apply, change, reporter).await;
    let ran = ops::execute(app, aws, &dp.plan, change.options(reporter), || ready(&()), follow).await?;
    let Ran::Done(done) = ran else {
        if !dp.plan.diff.is_empty() {
            reporter.info(&format!("diff:\n{}", dp.plan.diff.trim_end()));
        }
        crate::output::plan::show(&dp.plan, reporter);
        reporter.info("DRY RUN OK");
        return Ok(());
    };
    if let Err(e) = &done.result {
        reporter.fail(&format!("{e:#}"), json!({"daemon_deployment_arn": done.applied.daemon_deployment}));
    }
    done.into_result()
}

async fn follow(app: &App, aws: &crate::aws::Aws, plan: &Plan, apply: &Apply<'_>, change: &Change, reporter: &Reporter) -> Result<()> {
    let Some(arn) = apply.applied.daemon_deployment.clone() else {
        if plan.command == "delete" {
            reporter.result(true, "daemon is being deleted (ECS drains its tasks)", json!({}));
        } else {
            reporter.result(true, "daemon is up to date", json!({}));
        }
        return Ok(());
    };
    if plan.command == "delete" {
        reporter.result(true, "daemon is being deleted (ECS drains its tasks)", json!({"daemon_deployment_arn": arn}));
        return Ok(());
    }
    if !change.wait {
        reporter.result(true, "daemon deployment started (not waiting)", json!({"daemon_deployment_arn": arn}));
        return Ok(());
    }
    let poll = crate::wait::tasks::fixed_poll_interval(app)?;
    let waited = crate::wait::daemon::wait(&aws.ecs(), &arn, app.config.timeout, poll, reporter).await?;
    let msg = format!("daemon deployment completed ({} DescribeDaemonDeployments calls in {:.1}s)", waited.polls, waited.elapsed.as_secs_f64());
    reporter.result(true, &msg, json!({"daemon_deployment_arn": arn, "status": waited.deployment.get("status")}));
    Ok(())
}

/// `wait`: follows the daemon's newest deployment. Changes nothing.
pub async fn wait(app: &App, json_output: bool) -> Result<()> {
    let local = dplan::local(app)?;
    let aws = app.aws().await?;
    let remote = dplan::remote(app, &aws, &local.name).await?;
    let reporter = Reporter::new(json_output);
    let daemon = remote.daemon.with_context(|| format!("daemon {} is not found in cluster {}", local.name, app.config.cluster))?;
    let Some(arn) = daemon.get("deploymentArn").and_then(Value::as_str) else {
        reporter.result(true, "the daemon has no deployment", json!({}));
        return Ok(());
    };
    let poll = crate::wait::tasks::fixed_poll_interval(app)?;
    let result = crate::wait::daemon::wait(&aws.ecs(), arn, app.config.timeout, poll, &reporter).await;
    match &result {
        Ok(w) => reporter.result(true, "daemon deployment completed", json!({"daemon_deployment_arn": arn, "status": w.deployment.get("status")})),
        Err(e) => reporter.fail(&format!("{e:#}"), json!({"daemon_deployment_arn": arn})),
    }
    result.map(|_| ())
}

/// `status`: the daemon, its task counts per revision and capacity provider, its recent
/// deployments; `json` prints the same as one JSON object (AWS's shapes for the revisions and
/// deployments).
pub async fn status(app: &App, json_output: bool) -> Result<()> {
    let local = dplan::local(app)?;
    let aws = app.aws().await?;
    let remote = dplan::remote(app, &aws, &local.name).await?;
    let Some(d) = &remote.daemon else {
        if json_output {
            return super::status::print_json(&json!({"daemon": local.name, "cluster": app.config.cluster, "found": false}));
        }
        println!("Daemon: {} (not found in cluster {})", local.name, app.config.cluster);
        return Ok(());
    };
    let deployments: Vec<Value> = aws_daemon::list_deployments(&aws.ecs(), &remote.arn).await?.into_iter().take(5).collect();
    if json_output {
        return super::status::print_json(&json!({
            "daemon": local.name,
            "cluster": app.config.cluster,
            "found": true,
            "daemonArn": remote.arn,
            "status": d.get("status"),
            "daemonTaskDefinition": remote.task_definition_arn,
            "revisions": d.get("currentRevisions").cloned().unwrap_or_else(|| json!([])),
            "deployments": deployments,
        }));
    }
    let mut out = String::new();
    out.push_str(&format!("Daemon: {}\nCluster: {}\nStatus: {}\n", local.name, app.config.cluster, d.get("status").and_then(Value::as_str).unwrap_or("?")));
    if let Some(td) = &remote.task_definition_arn {
        out.push_str(&format!("DaemonTaskDefinition: {}\n", aws_daemon::short(td)));
    }
    out.push_str("Revisions:\n");
    for r in d.get("currentRevisions").and_then(Value::as_array).into_iter().flatten() {
        let arn = r.get("arn").and_then(Value::as_str).unwrap_or("?");
        out.push_str(&format!("  {} running={}\n", arn.rsplit('/').next().unwrap_or(arn), r.get("totalRunningCount").and_then(Value::as_i64).unwrap_or(0)));
        for cp in r.get("capacityProviders").and_then(Value::as_array).into_iter().flatten() {
            out.push_str(&format!(
                "    {} running={}\n",
                cp.get("arn").and_then(Value::as_str).unwrap_or("?"),
                cp.get("runningCount").and_then(Value::as_i64).unwrap_or(0)
            ));
        }
    }
    out.push_str("Deployments:\n");
    for dep in &deployments {
        let id = dep.get("daemonDeploymentArn").and_then(Value::as_str).and_then(|a| a.rsplit('/').next()).unwrap_or("?");
        let reason = dep.get("statusReason").and_then(Value::as_str).map(|r| format!(" ({r})")).unwrap_or_default();
        out.push_str(&format!("  {id} {}{reason}\n", dep.get("status").and_then(Value::as_str).unwrap_or("?")));
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

/// `diff`: the daemon definition and the daemon task definition against what runs, printed as for
/// a service (`--external`, `--no-unified`, `--jsonnet`, `--exit-code`). The daemon is the
/// "service" of `--with-service`/`--without-service`: without it, only the daemon task definition
/// is compared (against the revision the daemon runs, else the family's newest).
pub async fn diff(app: &App, args: &DiffArgs) -> Result<()> {
    let local = dplan::local(app)?;
    let aws = app.aws().await?;
    let remote = dplan::remote(app, &aws, &local.name).await?;
    let d = app.config.daemon.as_ref().context("daemon_definition is not defined")?;
    let mut pairs = Vec::new();
    if !args.without_service {
        let local_view = dplan::normalise(&local.definition, &remote.cluster_arn, None);
        let remote_view = remote.definition.as_ref().map(|r| dplan::normalise(r, &remote.cluster_arn, Some(&local.definition)));
        pairs.push(Pair { remote: remote_view, local: local_view, remote_name: remote.arn.clone(), local_name: d.definition.display().to_string() });
    }
    let ecs = aws.ecs();
    let family = local.task_definition.get("family").and_then(Value::as_str).unwrap_or_default();
    let remote_td_arn = match &remote.task_definition_arn {
        Some(a) => Some(a.clone()),
        None => aws_daemon::active_revisions(&ecs, family).await?.into_iter().next(),
    };
    let remote_td = match &remote_td_arn {
        Some(a) => Some(dplan::registerable(&aws_daemon::describe_task_definition(&ecs, a).await?)),
        None => None,
    };
    let mut local_td = local.task_definition.clone();
    if let Value::Object(o) = &mut local_td {
        o.remove("tags");
    }
    pairs.push(Pair {
        remote: remote_td,
        local: local_td,
        remote_name: remote_td_arn.unwrap_or_default(),
        local_name: d.task_definition.display().to_string(),
    });
    super::diff::show(app, &pairs, args)
}
