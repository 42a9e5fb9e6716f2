//! The follow after an apply, for every command that starts or answers a deployment: ECS-native
//! deployments (BLUE_GREEN, LINEAR, CANARY) with stage gates answering PAUSE hooks, rolling ECS
//! deployments, and CodeDeploy ones. Each reports its progress and its result line; the commands
//! only choose which follow to run.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use crate::aws::Aws;
use crate::aws::deployments::{self as sd, PausedHook};
use crate::context::Context;
use crate::gate;
use crate::gate::stage::StagePlan;
use crate::ops;
use crate::output::progress::Reporter;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::wait::deployments::{Event, Follow, Until};
use crate::wait::{self, RolloutFailed, Watch};

/// Whether a service (as ECS returns it) deploys with a native strategy.
pub fn is_native(service: &Value) -> bool {
    crate::aws::controller::Strategy::of(service).is_native()
}

/// What the deploy that started a deployment hands to the wait.
pub struct Origin<'a> {
    pub plan: &'a Plan,
    pub run_id: Option<String>,
    /// When the deploy started (epoch seconds): its deployment was created after.
    pub started: f64,
}

/// Binds to the deployment of `task_definition` this deploy started and follows it to the end.
/// `bound` gets its ARN as soon as it is known (for the failure report).
pub async fn follow_deploy(
    app: &Context,
    aws: &Aws,
    task_definition: &str,
    until: &Until,
    origin: Origin<'_>,
    reporter: &Reporter,
    bound: &mut Option<String>,
) -> Result<()> {
    let service = app.service_name()?;
    let arn = wait::deployments::bind(&aws.ecs(), &app.config.cluster, &service, task_definition, origin.started).await?;
    *bound = Some(arn.clone());
    reporter.info(&format!("following service deployment {arn}"));
    let follow = Follow::new(arn, until.clone(), app.config.timeout, wait::tasks::fixed_poll_interval(app)?);
    native(app, aws, follow, until, Some(origin), reporter).await
}

/// Follows until the deployment ends or reaches the wanted stage; stage gates answer PAUSE hooks
/// bound to them, other pauses are reported once (`cortado continue` answers them).
pub async fn native(app: &Context, aws: &Aws, mut follow: Follow, until: &Until, origin: Option<Origin<'_>>, reporter: &Reporter) -> Result<()> {
    let client = aws.ecs();
    let mut denied: Option<String> = None;
    let mut asked = Asked::default();
    loop {
        let event = follow.next(&client, reporter).await.map_err(|e| match (&denied, e.downcast_ref::<RolloutFailed>()) {
            (Some(why), Some(f)) => RolloutFailed(format!("{why}\n{}", f.0)).into(),
            _ => e,
        })?;
        match event {
            Event::Done(d) => return done(app, aws, &follow, &d, until, reporter).await,
            Event::Reached(d) => {
                let stage = d.get("lifecycleStage").and_then(Value::as_str).unwrap_or("");
                let msg = format!("service deployment {} reached {stage} ({})", follow.arn, d.get("status").and_then(Value::as_str).unwrap_or(""));
                reporter.result(true, &msg, detail(&follow, &d));
                return Ok(());
            }
            Event::Paused(d, hook) => {
                match paused(app, aws, &follow, &d, &hook, origin.as_ref(), &mut asked, reporter).await? {
                    // At --timeout (an inconclusive gate's last chance) the rollback is not waited for.
                    Answered::RolledBack(why) if follow.remaining().is_zero() => {
                        return Err(RolloutFailed(format!("{why}\n--timeout reached: ECS goes on rolling back; follow it with `cortado wait`")).into());
                    }
                    Answered::RolledBack(why) => denied = Some(why),
                    Answered::Again => follow.ask_again(&hook.hook_id),
                    Answered::Operator if *until == Until::Paused => {
                        reporter.result(true, &paused_line(&follow.arn, &hook), paused_detail(&follow, &d, &hook));
                        return Ok(());
                    }
                    Answered::Continued | Answered::Operator => {}
                }
            }
        }
    }
}

/// `--wait-until paused`: which hook and stage wait, and how to go on.
fn paused_line(arn: &str, hook: &PausedHook) -> String {
    format!(
        "service deployment {arn} is paused at {}: hook {} awaits action; continue with `cortado continue` (or roll back with `cortado rollback`)",
        hook.stage, hook.hook_id
    )
}

fn paused_detail(follow: &Follow, d: &Value, hook: &PausedHook) -> Value {
    let mut v = detail(follow, d);
    v["paused"] = json!(true);
    v["hook_id"] = json!(hook.hook_id);
    v["hook_stage"] = json!(hook.stage);
    v["hook_timeout_action"] = json!(hook.timeout_action);
    v
}

/// What the stage gates were asked so far in this run.
#[derive(Default)]
struct Asked {
    /// The deploying identity, looked up at the first question.
    caller: Option<gate::Caller>,
    /// Per paused hook.
    hooks: std::collections::HashMap<String, HookAsked>,
    /// Without a deploy plan (after `wait` or `continue`): the target revision's, read once, so
    /// that stage gates judge the task definition being continued.
    target: Option<crate::plan::Plan>,
}

/// One paused hook's questions so far.
#[derive(Default)]
struct HookAsked {
    attempts: u32,
    /// The last inconclusive reasons, and how many distinct ones were recorded.
    reasons: Vec<String>,
    recorded: u32,
}

/// What became of a paused hook.
enum Answered {
    /// No gate is bound to its stage: the operator answers it.
    Operator,
    Continued,
    /// A gate denied (or failed): rolled back, with the reason.
    RolledBack(String),
    /// A gate is inconclusive: ask again at the next poll.
    Again,
}

/// A PAUSE hook awaits action: a stage gate answers it, or the operator is told how to.
/// `asked` counts the hook's evaluations and keeps its last inconclusive reasons.
#[allow(clippy::too_many_arguments)] // one call site, each argument a different part of the run
async fn paused(
    app: &Context,
    aws: &Aws,
    follow: &Follow,
    d: &Value,
    hook: &PausedHook,
    origin: Option<&Origin<'_>>,
    asked: &mut Asked,
    reporter: &Reporter,
) -> Result<Answered> {
    if gate::stage::bound(app, &hook.stage).is_empty() {
        let action = if hook.timeout_action.is_empty() { String::new() } else { format!(" (on timeout: {})", hook.timeout_action) };
        reporter
            .info(&format!("paused at {}: hook {} awaits action{action}; answer it with `cortado continue` (or `cortado rollback`)", hook.stage, hook.hook_id));
        return Ok(Answered::Operator);
    }
    let who = match &asked.caller {
        Some(c) => c.clone(),
        None => asked.caller.insert(gate::caller(aws).await?).clone(),
    };
    let target = match (origin, &asked.target) {
        (Some(_), _) => None,
        (None, Some(p)) => Some(p.clone()),
        (None, None) => Some(asked.target.insert(crate::plan::deployments::target_revision_plan(app, aws, d).await?).clone()),
    };
    let asked = asked.hooks.entry(hook.hook_id.clone()).or_default();
    let created = d.get("createdAt").and_then(Value::as_f64).unwrap_or(0.0);
    let stage = StagePlan {
        stage: hook.stage.clone(),
        deployment_arn: follow.arn.clone(),
        hook_id: hook.hook_id.clone(),
        deployment: d.clone(),
        elapsed_seconds: if created > 0.0 { (crate::util::epoch_now() - created).max(0.0) } else { follow.elapsed().as_secs_f64() },
        deploy_plan: origin.map(|o| o.plan.clone()),
        target,
        parent_run_id: origin.and_then(|o| o.run_id.clone()),
        attempt: asked.attempts,
        previous_reasons: asked.reasons.clone(),
        inconclusive_recorded: asked.recorded,
        last_chance: follow.remaining().is_zero(),
    };
    asked.attempts += 1;
    let decision = gate::stage::evaluate_stage(app, aws, &stage, &who).await?;
    let Some((plan, approval)) = decision.answer else {
        if decision.reasons != asked.reasons {
            let left = follow.remaining().as_secs();
            reporter.info(&format!(
                "stage gate at {}: {}; the hook stays paused (asked again until --timeout, {left} s left)",
                hook.stage,
                decision.reasons.join("; ")
            ));
            asked.reasons = decision.reasons;
            asked.recorded += 1;
        }
        return Ok(Answered::Again);
    };
    ops::apply_approved(&plan, approval, aws, reporter).await?.into_result()?;
    if decision.verdict == gate::stage::Verdict::Continue {
        reporter.info(&format!("stage gate at {}: allowed; the deployment continues", hook.stage));
        return Ok(Answered::Continued);
    }
    let why = format!("stage gate at {} denied: {}; the deployment is rolled back", hook.stage, decision.reasons.join("; "));
    reporter.info(&why);
    Ok(Answered::RolledBack(why))
}

/// SUCCESSFUL: the report, early success criteria, and `--wait-until stable`'s extra wait.
async fn done(app: &Context, aws: &Aws, follow: &Follow, d: &Value, until: &Until, reporter: &Reporter) -> Result<()> {
    let status = d.get("status").and_then(Value::as_str).unwrap_or("");
    if let Some(n) = wait::deployments::draining(d).filter(|_| status == "SUCCESSFUL") {
        reporter.info(&format!("the deployment completed (early success criteria) while {n} source task(s) still drain"));
    }
    if *until == Until::Stable {
        let service = app.service_name()?;
        let client = aws.ecs();
        let sv = crate::aws::ecs::describe_service(&client, &app.config.cluster, &service).await?;
        let watch = Watch {
            cluster: app.config.cluster.clone(),
            service,
            deployment: sv.as_ref().and_then(crate::apply::primary_deployment),
            timeout: app.config.timeout.saturating_sub(follow.elapsed()),
            since: crate::util::epoch_now(),
            poll: wait::tasks::fixed_poll_interval(app)?,
            ..Default::default()
        };
        wait::wait_ecs(&client, watch, &crate::progress::Silent).await?;
    }
    let stages = if follow.stages.is_empty() { String::new() } else { format!(" (stages: {})", follow.stages.join(" → ")) };
    let what = if *until == Until::Stable { ", service is stable" } else { "" };
    reporter.result(true, &format!("service deployment {} {status}{stages}{what}", follow.arn), detail(follow, d));
    Ok(())
}

fn detail(follow: &Follow, d: &Value) -> Value {
    json!({
        "service_deployment_arn": follow.arn,
        "status": d.get("status"),
        "lifecycle_stage": d.get("lifecycleStage"),
        "stages": follow.stages,
        "hooks": sd::hooks_summary(d),
        "describe_service_deployments_calls": follow.calls,
        "wait_seconds": follow.elapsed().as_secs_f64(),
    })
}

/// A hook at a stage with bound gates is answered by those gates, never by `continue` (rolling back
/// stays open): `deploy --wait-until ecs:STAGE` then `continue` must not skip a hard-mandatory
/// stage gate. The gates are asked now, as the deploy would have asked them, and the deployment is
/// followed to its end (or to a later `--wait-until` stage).
pub async fn answered_by_stage_gates(app: &Context, aws: &Aws, arn: &str, hook: &PausedHook, until: &Until, dry_run: bool, reporter: &Reporter) -> Result<()> {
    reporter.info(&format!("stage gates are bound to {}: they answer hook {}, not `continue`", hook.stage, hook.hook_id));
    if dry_run {
        reporter.info("DRY RUN OK (the stage gates were not asked; nothing was answered)");
        return Ok(());
    }
    // A stage at or before the hook's is already reached: follow to the end instead.
    let until = match until {
        Until::Stage(s) if sd::stage_index(s) <= sd::stage_index(&hook.stage) => Until::Deployed,
        other => other.clone(),
    };
    let follow = Follow::new(arn.to_owned(), until.clone(), app.config.timeout, wait::tasks::fixed_poll_interval(app)?);
    let result = native(app, aws, follow, &until, None, reporter).await;
    if let Err(e) = &result {
        reporter.fail(&format!("{e:#}"), json!({"service_deployment_arn": arn}));
    }
    result
}

/// `cortado wait` on a native service: the newest service deployment, to its end.
pub async fn wait_newest(app: &Context, aws: &Aws, until: &Until, reporter: &Reporter) -> Result<()> {
    let service = app.service_name()?;
    let list = sd::list(&aws.ecs(), &app.config.cluster, &service, &[], None).await?;
    let Some(arn) = list.first().and_then(|d| d.get("serviceDeploymentArn")).and_then(Value::as_str) else {
        reporter.result(true, "no service deployment", json!({}));
        return Ok(());
    };
    reporter.info(&format!("following service deployment {arn}"));
    let follow = Follow::new(arn.to_owned(), until.clone(), app.config.timeout, wait::tasks::fixed_poll_interval(app)?);
    native(app, aws, follow, until, None, reporter).await
}

/// After a rolling or CodeDeploy deploy's apply: the wait (ECS or CodeDeploy) or the reason there
/// is none, and the result line.
#[allow(clippy::too_many_arguments)] // one call site, each argument a different part of the run
pub async fn follow_rolling(
    app: &Context,
    aws: &crate::aws::Aws,
    dp: &crate::plan::deploy::DeployPlan,
    applied: &crate::apply::Applied,
    wait: bool,
    until: &Until,
    reporter: &Reporter,
    started: f64,
) -> Result<()> {
    let service = app.service_name()?;
    if dp.codedeploy {
        let Some(id) = &applied.codedeploy_deployment else {
            let msg = if dp.remote.is_none() {
                "service is created (CodeDeploy: no deployment until the next deploy)"
            } else if dp.plan.is_empty() {
                "service is up to date (CodeDeploy: no new deployment)"
            } else {
                "service scaled (CodeDeploy: no new deployment)"
            };
            reporter.result(true, msg, json!({}));
            return Ok(());
        };
        if !wait {
            reporter.result(true, "CodeDeploy deployment created (not waiting)", json!({"deployment_id": id}));
            return Ok(());
        }
        return follow_codedeploy(app, aws, id, until, reporter).await;
    }
    if !wait {
        let what = if dp.remote.is_none() { "service is created (not waiting)" } else { "service is deployed (not waiting)" };
        reporter.result(true, what, json!({"deployment_id": applied.deployment_id}));
        return Ok(());
    }
    let watch = Watch {
        cluster: app.config.cluster.clone(),
        service,
        deployment: applied.deployment_id.clone(),
        timeout: app.config.timeout,
        since: started,
        known_events: dp.remote.as_ref().map(wait::event_ids).unwrap_or_default(),
        just_created: dp.starts_deployment(),
        poll: wait::tasks::fixed_poll_interval(app)?,
        early: *until == Until::Deployed,
    };
    if *until == Until::Stable
        && let Some(esc) = applied.service.as_ref().and_then(wait::early_success_of)
    {
        reporter.info(&stable_warning(&esc));
    }
    let early = finish_wait(&aws.ecs(), watch, reporter).await?;
    if let Some(e) = early {
        let _ = applied.completed_early.set(e);
    }
    Ok(())
}

/// ecspresso v2.8.7's warning: with early success criteria, "stable" is not what ECS reports.
pub fn stable_warning(esc: &str) -> String {
    format!(
        "WARNING: early success criteria are enabled ({esc}): ECS completes the deployment before the service is stable; --wait-until stable waits until the source tasks are gone and the target revision runs its desired count"
    )
}

/// Waits on an ECS deployment and reports; shared by deploy, rollback and wait. Returns whether
/// early success criteria completed it early (None without them).
pub async fn finish_wait(client: &aws_sdk_ecs::Client, watch: Watch, reporter: &Reporter) -> Result<Option<bool>> {
    let deployment_id = watch.deployment.clone();
    let service = watch.service.clone();
    let stats = wait::wait_ecs(client, watch, reporter).await?;
    let mut detail = wait::stats_json(&stats);
    detail["deployment_id"] = json!(deployment_id);
    let calls = format!("({} DescribeServices calls in {:.1}s)", stats.describe_calls, stats.elapsed.as_secs_f64());
    let msg = match stats.completed_early {
        Some(early) => {
            detail["completed_early"] = json!(early);
            if early {
                format!("service {service}: deployment completed by early success criteria {calls}")
            } else {
                format!("service {service} is stable: deployment completed {calls}")
            }
        }
        None => format!("service {service} is stable: deployment completed {calls}"),
    };
    reporter.result(true, &msg, detail);
    Ok(stats.completed_early)
}

/// Waits on CodeDeploy deployment `id` to its end, or to the lifecycle event of
/// `--wait-until codedeploy:EVENT`, and reports the result line. Shared by deploy, rollback and wait.
pub async fn follow_codedeploy(app: &Context, aws: &Aws, id: &str, until: &Until, reporter: &Reporter) -> Result<()> {
    let service = app.service_name()?;
    let event = match until {
        Until::CodeDeploy(e) => Some(e.clone()),
        _ => None,
    };
    let wanted = wait::codedeploy::Wanted { event, poll: wait::tasks::fixed_poll_interval(app)? };
    match wait::codedeploy::wait_until(aws, &app.config.cluster, &service, id, &wanted, app.config.timeout, reporter).await? {
        wait::codedeploy::Outcome::Succeeded => reporter.result(true, &format!("CodeDeploy deployment {id} succeeded"), json!({"deployment_id": id})),
        wait::codedeploy::Outcome::Reached { event, event_status, status } => {
            let detail = json!({
                "deployment_id": id,
                "lifecycle_event": event,
                "lifecycle_event_status": event_status,
                "deployment_status": status,
                "reached": true,
            });
            reporter.result(true, &reached_line(id, &event, &event_status, &status), detail);
        }
    }
    Ok(())
}

/// `--wait-until codedeploy:EVENT`: the event is done, cortado stops waiting, and how to go on.
fn reached_line(id: &str, event: &str, event_status: &str, status: &str) -> String {
    format!(
        "CodeDeploy deployment {id} reached {event} ({event_status}; deployment {status}): cortado stops waiting and the deployment goes on in CodeDeploy without it; follow it with `cortado wait`, or stop and roll it back with `cortado rollback`"
    )
}

/// After a rollback's apply: CodeDeploy stopped, the native rollback followed, or the ECS (or
/// CodeDeploy) deployment waited for, and the result line.
pub async fn follow_rollback(
    app: &Context,
    aws: &crate::aws::Aws,
    rp: &crate::plan::rollback::RollbackPlan,
    applied: &crate::apply::Applied,
    wait: bool,
    until: &Until,
    reporter: &Reporter,
    started: f64,
) -> Result<()> {
    let service = app.service_name()?;
    if let Some(id) = &rp.stops {
        reporter.result(true, &format!("CodeDeploy deployment {id} stopped with auto rollback"), json!({"deployment_id": id}));
        return Ok(());
    }
    if let Some(arn) = &rp.service_deployment {
        if !wait {
            reporter.result(true, "rollback requested (not waiting)", json!({"service_deployment_arn": arn}));
            return Ok(());
        }
        let follow = wait::deployments::Follow::new(arn.clone(), Until::Deployed, app.config.timeout, wait::tasks::fixed_poll_interval(app)?);
        return native(app, aws, follow.expecting_rollback(), &Until::Deployed, None, reporter).await;
    }
    if rp.codedeploy {
        let id = applied.codedeploy_deployment.clone().context("no CodeDeploy deployment was created")?;
        if wait {
            follow_codedeploy(app, aws, &id, until, reporter).await?;
        } else {
            reporter.result(true, "rollback started (not waiting)", json!({"deployment_id": id}));
        }
        return Ok(());
    }
    if !wait {
        reporter.result(true, "rollback started (not waiting)", json!({"deployment_id": applied.deployment_id}));
        return Ok(());
    }
    // A rollback that deploys the previous revision of a native service pauses at its hooks too.
    if *until == Until::Paused
        && let Some(td) = rp.to.as_deref().filter(|_| is_native(&rp.remote))
    {
        let arn = wait::deployments::bind(&aws.ecs(), &app.config.cluster, &service, td, started).await?;
        reporter.info(&format!("following service deployment {arn}"));
        let follow = Follow::new(arn, Until::Paused, app.config.timeout, wait::tasks::fixed_poll_interval(app)?);
        return native(app, aws, follow, until, None, reporter).await;
    }
    let watch = Watch {
        cluster: app.config.cluster.clone(),
        service,
        deployment: applied.deployment_id.clone(),
        timeout: app.config.timeout,
        since: started,
        known_events: wait::event_ids(&rp.remote),
        just_created: true,
        poll: wait::tasks::fixed_poll_interval(app)?,
        early: false,
    };
    finish_wait(&aws.ecs(), watch, reporter).await.map(|_| ())
}
