//! `stack deploy` and `stack rollback`: every member planned first, then judged together (each
//! member's gates on its plan, the stack's gates on all of them; one run id joins every record),
//! every member's lock taken in sorted order, then the members applied in `needs` order through
//! the engine (`ops::carry_out`: apply → wait → outcome record), independent ones concurrently.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};

use super::evidence::MemberEvidence;
use super::schedule::{self, Ran};
use super::state::{self, Changed};
use super::{Member, OnFailure, StackFile, in_member};
use crate::apply::{Applied, Apply};
use crate::aws::{Aws, ecs};
use crate::context::Context;
use crate::gate::{self, Approval, Blocked, Overrides};
use crate::ops;
use crate::plan::deploy::{DeployOptions, update_step};
use crate::plan::{Plan, Role, described_td};
use crate::progress::Progress;
use crate::wait::{self, Watch};

/// Where a stack run reports: member states and what the engine says about each member.
pub trait Events: Sync {
    /// A member's state: planned, unchanged, deploying, done, failed, not started, rolling back,
    /// rolled back (with a short detail, possibly empty).
    fn state(&self, member: &str, state: &str, detail: &str);
    /// A message of the engine about `member` (registered, updated, a service event).
    fn info(&self, member: &str, msg: &str);
}

/// The engine's progress for one member, tagged with its name.
struct MemberProgress<'a> {
    name: &'a str,
    events: &'a dyn Events,
}

impl Progress for MemberProgress<'_> {
    fn info(&self, msg: &str) {
        self.events.info(self.name, msg);
    }
    fn event(&self, _: &Value, message: &str) {
        self.events.info(self.name, message);
    }
    fn deployments(&self, _: &[Value]) {}
    fn status(&self, _: &str) {}
}

/// Now, in epoch seconds (events older than a member's start are not shown while waiting).
fn epoch_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// What became of the stack: each member's final state.
#[derive(Debug, Default)]
pub struct Summary {
    pub run_id: Option<String>,
    pub states: BTreeMap<String, String>,
    pub failed: bool,
}

impl Summary {
    pub fn to_json(&self) -> Value {
        json!({"run_id": self.run_id, "result": if self.failed { "failed" } else { "ok" }, "members": self.states})
    }

    /// Members in `state`.
    pub fn with(&self, state: &str) -> Vec<&str> {
        self.states.iter().filter(|(_, s)| *s == state).map(|(n, _)| n.as_str()).collect()
    }
}

/// One member's plan, ready to judge and apply.
struct Planned<'m> {
    m: &'m Member,
    aws: Aws,
    plan: Plan,
    /// The service before (None: the plan creates it).
    remote: Option<Value>,
    /// The apply starts a deployment the wait follows from its start.
    just_created: bool,
}

impl Planned<'_> {
    /// The task definition the service ran before this run.
    fn before(&self) -> Option<String> {
        self.remote.as_ref().and_then(|r| r.get("taskDefinition")).and_then(Value::as_str).map(str::to_owned)
    }
}

/// `stack deploy`: plans, judges, locks, applies in waves; `dry_run` stops after the gates.
pub async fn deploy(stack: &StackFile, members: &[Member], own: &Context, dry_run: bool, events: &dyn Events) -> Result<Summary> {
    let mut planned = Vec::new();
    for m in members {
        planned.push(plan_member(m).await.map_err(in_member(&m.name, &m.config))?);
    }
    for p in &planned {
        let what = p.plan.steps.iter().map(|s| s.operation).collect::<Vec<_>>().join(", ");
        events.state(&p.m.name, "planned", &if p.plan.is_empty() { "no change".to_owned() } else { format!("{} step(s): {what}", p.plan.steps.len()) });
    }
    let run_id = gate::run_id();
    let (mut approvals, mut stack_approval) = judge(own, &planned, dry_run, &run_id, "stack-deploy").await?;
    let decisions = release_decisions(&mut approvals, &stack_approval);
    if dry_run {
        return Ok(dry_run_summary(&planned, events));
    }
    let needs: BTreeMap<String, Vec<String>> = planned.iter().map(|p| (p.m.name.clone(), p.m.needs.clone())).collect();
    let mut run = apply_all(stack, &planned, approvals, &needs, events).await?;
    let mut summary = Summary { run_id: Some(run_id.clone()), states: run.states.clone(), failed: run.failed };
    if run.failed && stack.on_failure == OnFailure::Rollback {
        let one_statement = stack_approval.signs_evidence();
        roll_back_changed(&planned, &mut run, &mut summary, (&run_id, one_statement), events).await;
    }
    sign_release(&mut stack_approval, stack, &planned, &decisions, &run, &summary);
    record_stack_outcome(stack_approval, &summary, &run.applied);
    if !summary.failed {
        let changed = changed_members(&planned, &run);
        if !changed.is_empty() {
            state::write(&stack.path, Some(&run_id), &changed)?;
        }
    }
    Ok(summary)
}

/// `stack rollback`: the members the last successful run changed go back to what ran before it,
/// in reverse `needs` order. A member changed since then is refused before anything is sent.
pub async fn rollback(stack: &StackFile, members: &[Member], own: &Context, events: &dyn Events) -> Result<Summary> {
    let (_, changed) = state::read(&stack.path)?;
    let mut planned = Vec::new();
    for c in &changed {
        let m = members.iter().find(|m| m.name == c.member).ok_or_else(|| {
            crate::error::InputError::in_file(&stack.path, format!("the last run changed {}, which is no longer a member of the stack", c.member))
        })?;
        let p = restore_member(m, &c.before, Some(&c.after)).await.map_err(in_member(&m.name, &m.config))?;
        events.state(&m.name, "planned", &format!("back to {}", ecs::short_task_definition(&c.before)));
        planned.push(p);
    }
    let run_id = gate::run_id();
    let (mut approvals, mut stack_approval) = judge(own, &planned, false, &run_id, "stack-rollback").await?;
    let decisions = release_decisions(&mut approvals, &stack_approval);
    // Reverse `needs`: a member goes back once every member that needs it went back.
    let names: BTreeSet<&str> = planned.iter().map(|p| p.m.name.as_str()).collect();
    let needs: BTreeMap<String, Vec<String>> = planned
        .iter()
        .map(|p| {
            let dependents = planned.iter().filter(|q| q.m.needs.contains(&p.m.name) && names.contains(q.m.name.as_str())).map(|q| q.m.name.clone()).collect();
            (p.m.name.clone(), dependents)
        })
        .collect();
    let run = apply_all(stack, &planned, approvals, &needs, events).await?;
    let summary = Summary { run_id: Some(run_id), states: run.states.clone(), failed: run.failed };
    sign_release(&mut stack_approval, stack, &planned, &decisions, &run, &summary);
    record_stack_outcome(stack_approval, &summary, &run.applied);
    if !summary.failed {
        state::clear(&stack.path)?;
    }
    Ok(summary)
}

/// A member's deploy plan, as `cortado deploy` with no flag makes it.
async fn plan_member(m: &Member) -> Result<Planned<'_>> {
    let aws = m.ctx.aws().await?;
    let opts = DeployOptions { command: "deploy", update_service: true, ..Default::default() };
    let dp = crate::plan::deploy::plan(&m.ctx, &aws, &opts).await?;
    refuse_native(m, dp.plan.service_after.as_ref().or(dp.remote.as_ref()))?;
    let just_created = dp.starts_deployment();
    Ok(Planned { m, aws, plan: dp.plan, remote: dp.remote, just_created })
}

/// A stack follows rolling and CodeDeploy deployments only. A BLUE_GREEN, LINEAR or CANARY
/// member would pause at lifecycle hooks that its stage gates answer under `cortado deploy`, and a
/// stack that did not answer them would let a hook's timeout decide instead of a hard-mandatory
/// gate: refused before anything changes.
fn refuse_native(m: &Member, service: Option<&Value>) -> Result<()> {
    let strategy = service.map(crate::aws::controller::Strategy::of);
    if strategy.is_some_and(|s| s.is_native()) {
        let msg = format!(
            "stack member {}: the service deploys with a native strategy (BLUE_GREEN, LINEAR or CANARY), which stacks do not follow yet; deploy it with `cortado deploy`; nothing was changed",
            m.name
        );
        return Err(crate::error::InputError::in_file(&m.config, msg).into());
    }
    Ok(())
}

/// A plan that puts `to` back on the member's service (UpdateService with that revision, as
/// `rollback` sends); empty when it already runs. With `expect`, the service must run that
/// revision now (else someone deployed since, and nothing is changed).
async fn restore_member<'m>(m: &'m Member, to: &str, expect: Option<&str>) -> Result<Planned<'m>> {
    let aws = m.ctx.aws().await?;
    let service = m.ctx.service_name()?;
    let cluster = m.ctx.config.cluster.clone();
    let client = aws.ecs();
    let sv = ecs::describe_service(&client, &cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    refuse_native(m, Some(&sv))?;
    let current = sv.get("taskDefinition").and_then(Value::as_str).unwrap_or("").to_owned();
    if let Some(after) = expect
        && current != after
        && current != to
    {
        anyhow::bail!(
            "service {service} runs {}, not {} that the last stack run deployed: it changed since, nothing was changed",
            ecs::short_task_definition(&current),
            ecs::short_task_definition(after)
        );
    }
    let mut plan = Plan::new("rollback", &cluster, Some(&service));
    plan.service_before = Some(sv.clone());
    if current != to {
        let target = described_td(&client, to, Role::Runs).await?;
        let now = described_td(&client, &current, Role::Runs).await?;
        plan.diff = crate::diff::Pair::task_definition(&target.body, Some(&now.body), &current, to).unified();
        plan.task_definitions.push(target);
        plan.push(update_step(json!({"cluster": cluster, "service": service}), Some(json!(to))));
    }
    Ok(Planned { m, aws, plan, remote: Some(sv), just_created: true })
}

/// The plan the stack's own gates judge: every member's steps (resources prefixed with the
/// member's name) and diffs, as command `command`.
fn stack_plan(command: &str, planned: &[Planned<'_>]) -> Plan {
    let mut plan = Plan::new(command, "", None);
    for p in planned {
        let tag = |s: &crate::plan::Step| {
            let mut s = s.clone();
            s.resource = format!("{}: {}", p.m.name, s.resource);
            s
        };
        plan.steps.extend(p.plan.steps.iter().map(tag));
        plan.after_wait.extend(p.plan.after_wait.iter().map(tag));
        plan.on_failure.extend(p.plan.on_failure.iter().map(tag));
        if !p.plan.diff.is_empty() {
            plan.diff.push_str(&format!("# {}\n{}", p.m.name, p.plan.diff));
        }
    }
    plan
}

/// Every member's gates on its plan, then the stack's gates on all plans, one run id for every
/// decision record. Any block: the approvals made are closed with a "not started" outcome and
/// [`Blocked`] is returned (exit 1), nothing changed anywhere.
async fn judge(own: &Context, planned: &[Planned<'_>], dry_run: bool, run_id: &str, command: &str) -> Result<(Vec<Approval>, Approval)> {
    let none = Overrides::default();
    let mut approvals = Vec::new();
    let mut blocked = Vec::new();
    for p in planned {
        match gate::evaluate_in_run(&p.m.ctx, &p.aws, &p.plan, &none, dry_run, Some(run_id)).await {
            Ok(a) => approvals.push(a),
            Err(e) => match e.downcast_ref::<Blocked>() {
                Some(b) => blocked.extend(b.0.iter().map(|g| format!("member {}: {g}", p.m.name))),
                None => {
                    close_unstarted(approvals, &format!("the stack stopped: member {} could not be judged", p.m.name));
                    return Err(in_member(&p.m.name, &p.m.config)(e));
                }
            },
        }
    }
    let stack_aws = own.aws().await?;
    let whole = stack_plan(command, planned);
    let stack_approval = match gate::evaluate_in_run(own, &stack_aws, &whole, &none, dry_run, Some(run_id)).await {
        Ok(a) => Some(a),
        Err(e) => match e.downcast_ref::<Blocked>() {
            Some(b) => {
                blocked.extend(b.0.iter().map(|g| format!("the stack's {g}")));
                None
            }
            None => {
                close_unstarted(approvals, "the stack stopped: its own gates could not judge");
                return Err(e.context(format!("stack file {}", own.config.path.display())));
            }
        },
    };
    match stack_approval {
        Some(s) if blocked.is_empty() => Ok((approvals, s)),
        s => {
            let why = format!("not started: the stack was blocked by {}", blocked.join(", "));
            close_unstarted(approvals, &why);
            if let Some(s) = s {
                close_unstarted(vec![s], &why);
            }
            Err(Blocked(blocked, dry_run).into())
        }
    }
}

/// Chains a "not started" outcome to decisions that will not be acted on.
fn close_unstarted(approvals: Vec<Approval>, why: &str) {
    for a in approvals {
        let mut m = Map::new();
        m.insert("result".into(), json!("not_started"));
        m.insert("error".into(), json!(why));
        m.insert("changed".into(), json!([]));
        if let Err(e) = a.record_outcome(m) {
            tracing::error!("an outcome could not be recorded: {e:#}");
        }
    }
}

/// `--dry-run`: what each member would do (the gates have judged and recorded).
fn dry_run_summary(planned: &[Planned<'_>], events: &dyn Events) -> Summary {
    let mut summary = Summary::default();
    for p in planned {
        for s in &p.plan.steps {
            events.info(&p.m.name, &format!("would send {}: {}", s.action(), s.resource));
        }
        let state = if p.plan.is_empty() { "unchanged" } else { "would change" };
        events.state(&p.m.name, state, "");
        summary.states.insert(p.m.name.clone(), state.into());
    }
    summary
}

/// What the applies did: each member's final state and what it sent.
struct Run {
    states: BTreeMap<String, String>,
    applied: BTreeMap<String, Applied>,
    /// Members in the order they finished.
    order: Vec<String>,
    /// Each member's state when the applies ended (before any `on_failure: rollback`).
    finished: BTreeMap<String, String>,
    failed: bool,
}

/// Takes every member's lock (sorted order), then applies in `needs` order, at most
/// `parallelism` at once; members never started get a "not started" outcome.
async fn apply_all(
    stack: &StackFile,
    planned: &[Planned<'_>],
    approvals: Vec<Approval>,
    needs: &BTreeMap<String, Vec<String>>,
    events: &dyn Events,
) -> Result<Run> {
    let progresses: Vec<MemberProgress<'_>> = planned.iter().map(|p| MemberProgress { name: &p.m.name, events }).collect();
    let mut applies = Vec::new();
    for ((p, approval), progress) in planned.iter().zip(approvals).zip(&progresses) {
        applies.push(Some(Apply::new(&p.plan, approval, &p.aws, progress)?));
    }
    // `planned` is sorted by name: the locks are taken in that order, so single-service deploys
    // of members interleave safely with the stack.
    for i in 0..applies.len() {
        let locked = match applies[i].as_mut() {
            Some(a) => a.lock().await,
            None => Ok(()),
        };
        if let Err(e) = locked {
            let name = &planned[i].m.name;
            finish_unstarted(applies.iter_mut(), &format!("not started: the lock of member {name} could not be taken"));
            return Err(in_member(name, &planned[i].m.config)(e));
        }
    }
    let index: BTreeMap<&str, usize> = planned.iter().enumerate().map(|(i, p)| (p.m.name.as_str(), i)).collect();
    let slots = RefCell::new(applies);
    let results: RefCell<BTreeMap<String, (String, Applied)>> = RefCell::new(BTreeMap::new());
    let (fate, order) = schedule::run(needs, stack.parallelism, |name| {
        let i = index.get(name).copied().unwrap_or(usize::MAX);
        let apply = slots.borrow_mut().get_mut(i).and_then(Option::take);
        let (p, progress, results) = (planned.get(i), progresses.get(i), &results);
        Box::pin(async move {
            let (Some(apply), Some(p), Some(progress)) = (apply, p, progress) else { return false };
            let (state, applied) = run_member(p, apply, progress, events).await;
            let ok = state != "failed";
            results.borrow_mut().insert(p.m.name.clone(), (state, applied));
            ok
        })
    })
    .await;
    let mut slots = slots.into_inner();
    let failed = fate.values().any(|f| *f == Ran::Failed);
    finish_unstarted(slots.iter_mut(), "not started: an earlier member failed");
    let mut states = BTreeMap::new();
    let mut applied = BTreeMap::new();
    for (name, (state, a)) in results.into_inner() {
        states.insert(name.clone(), state);
        applied.insert(name, a);
    }
    for (name, f) in &fate {
        if *f == Ran::NotStarted {
            events.state(name, "not started", "an earlier member failed");
            states.insert(name.clone(), "not started".into());
        }
    }
    Ok(Run { finished: states.clone(), states, applied, order, failed })
}

/// Records "not started" on every apply still waiting (its lock is released).
fn finish_unstarted<'x, 'a: 'x>(applies: impl Iterator<Item = &'x mut Option<Apply<'a>>>, why: &str) {
    for slot in applies {
        if let Some(a) = slot.take() {
            let r: Result<()> = Err(anyhow::anyhow!("{why}"));
            if let Err(e) = a.finish(&r) {
                tracing::error!("an outcome could not be recorded: {e:#}");
            }
        }
    }
}

/// One member through the engine: its steps, the wait for its deployment, its outcome record.
async fn run_member(p: &Planned<'_>, apply: Apply<'_>, progress: &dyn Progress, events: &dyn Events) -> (String, Applied) {
    let name = &p.m.name;
    let empty = p.plan.is_empty();
    events.state(name, if empty { "unchanged" } else { "deploying" }, "");
    let started = epoch_now();
    let follow = async |apply: &Apply<'_>| follow(p, &apply.applied, progress, started).await;
    match ops::carry_out(apply, true, progress, follow).await {
        Ok(done) => match done.result {
            Ok(()) if empty => ("unchanged".into(), done.applied),
            Ok(()) => {
                events.state(name, "done", "");
                ("done".into(), done.applied)
            }
            Err(e) => {
                events.state(name, "failed", &format!("{e:#}"));
                ("failed".into(), done.applied)
            }
        },
        Err(e) => {
            events.state(name, "failed", &format!("{e:#}"));
            ("failed".into(), Applied::default())
        }
    }
}

/// After a member's steps: the wait for the deployment they started (ECS or CodeDeploy).
async fn follow(p: &Planned<'_>, applied: &Applied, progress: &dyn Progress, started: f64) -> Result<()> {
    let ctx = &p.m.ctx;
    let service = ctx.service_name()?;
    if let Some(id) = &applied.codedeploy_deployment {
        return wait::codedeploy::wait_deployment(&p.aws, &ctx.config.cluster, &service, id, ctx.config.timeout, progress).await;
    }
    if applied.service.is_none() {
        return Ok(());
    }
    let watch = Watch {
        cluster: ctx.config.cluster.clone(),
        service,
        deployment: applied.deployment_id.clone(),
        timeout: ctx.config.timeout,
        since: started,
        known_events: p.remote.as_ref().map(wait::event_ids).unwrap_or_default(),
        just_created: p.just_created,
        poll: wait::tasks::fixed_poll_interval(ctx)?,
        early: false,
    };
    let stats = wait::wait_ecs(&p.aws.ecs(), watch, progress).await?;
    progress.info(&format!("deployment completed ({} DescribeServices calls in {:.1}s)", stats.describe_calls, stats.elapsed.as_secs_f64()));
    Ok(())
}

/// `on_failure: rollback`: every member this run changed goes back to what it ran before, in the
/// reverse of the order they finished (the reverse of `needs`), one after another.
/// With the run id comes whether the release is signed as one statement (then the restores
/// write none of their own; the release statement lists each member's final state).
async fn roll_back_changed(planned: &[Planned<'_>], run: &mut Run, summary: &mut Summary, (run_id, one_statement): (&str, bool), events: &dyn Events) {
    for name in run.order.clone().iter().rev() {
        let Some(p) = planned.iter().find(|p| &p.m.name == name) else { continue };
        let changed = run.applied.get(name).is_some_and(|a| !a.done.is_empty());
        if !changed {
            continue;
        }
        let Some(before) = p.before() else {
            events.state(name, "left in place", "this run created the service; roll back by deleting it");
            continue;
        };
        events.state(name, "rolling back", &format!("to {}", ecs::short_task_definition(&before)));
        let state = match restore(p.m, &before, (run_id, one_statement), events).await {
            Ok(true) => "rolled back".to_owned(),
            Ok(false) => "rolled back".to_owned(),
            Err(e) => {
                events.state(name, "rollback failed", &format!("{e:#}"));
                "rollback failed".to_owned()
            }
        };
        if state == "rolled back" {
            events.state(name, "rolled back", "");
        }
        summary.states.insert(name.clone(), state.clone());
        run.states.insert(name.clone(), state);
    }
}

/// Puts `to` back on a member through the engine (gated and recorded under `run_id`). False when
/// it already ran `to` (the circuit breaker rolled it back): nothing sent.
async fn restore(m: &Member, to: &str, (run_id, one_statement): (&str, bool), events: &dyn Events) -> Result<bool> {
    let p = restore_member(m, to, None).await?;
    if p.plan.is_empty() {
        events.info(&m.name, &format!("already runs {}", ecs::short_task_definition(to)));
        return Ok(false);
    }
    let mut approval = gate::evaluate_in_run(&m.ctx, &p.aws, &p.plan, &Overrides::default(), false, Some(run_id)).await?;
    if one_statement {
        approval.drop_evidence();
    }
    let progress = MemberProgress { name: &m.name, events };
    let mut apply = Apply::new(&p.plan, approval, &p.aws, &progress)?;
    apply.lock().await?;
    let started = epoch_now();
    let done = ops::carry_out(apply, true, &progress, async |apply: &Apply<'_>| follow(&p, &apply.applied, &progress, started).await).await?;
    done.result.map(|()| true)
}

/// Each member's decision, for the release statement. When the stack signs, the members' own
/// statements are dropped: one statement for the release.
fn release_decisions(approvals: &mut [Approval], stack: &Approval) -> Vec<Value> {
    if stack.signs_evidence() {
        approvals.iter_mut().for_each(Approval::drop_evidence);
    }
    approvals.iter().map(|a| a.decision_ref().unwrap_or(Value::Null)).collect()
}

/// Puts every member's decision, outcome and registered definitions into the stack's statement
/// (signed when its outcome is recorded; nothing when the stack does not sign).
fn sign_release(approval: &mut Approval, stack: &StackFile, planned: &[Planned<'_>], decisions: &[Value], run: &Run, summary: &Summary) {
    approval.amend_evidence(|statement| {
        let members: Vec<MemberEvidence<'_>> = planned
            .iter()
            .zip(decisions)
            .map(|(p, d)| MemberEvidence {
                name: &p.m.name,
                config: &p.m.config,
                cluster: &p.plan.cluster,
                service: p.plan.service.as_deref(),
                decision: d.clone(),
                state: summary.states.get(&p.m.name).map(String::as_str),
                failed: run.finished.get(&p.m.name).is_some_and(|s| s == "failed"),
                applied: run.applied.get(&p.m.name),
            })
            .collect();
        super::evidence::amend(statement, &stack.path, &members);
    });
}

/// The stack's outcome record: each member's state, what changed, what rolled back, what never started.
fn record_stack_outcome(approval: Approval, summary: &Summary, applied: &BTreeMap<String, Applied>) {
    let mut m = Map::new();
    m.insert("result".into(), json!(if summary.failed { "failed" } else { "ok" }));
    m.insert("error".into(), if summary.failed { json!(format!("failed: {}", summary.with("failed").join(", "))) } else { Value::Null });
    m.insert("members".into(), json!(summary.states));
    let changed: Vec<&String> = applied.iter().filter(|(_, a)| !a.done.is_empty()).map(|(n, _)| n).collect();
    m.insert("changed".into(), json!(changed));
    m.insert("rolled_back".into(), json!(summary.with("rolled back")));
    m.insert("not_started".into(), json!(summary.with("not started")));
    if let Err(e) = approval.record_outcome(m) {
        tracing::error!("the stack's outcome could not be recorded: {e:#}");
    }
}

/// What the run changed, for `stack rollback`: members whose running task definition moved.
fn changed_members(planned: &[Planned<'_>], run: &Run) -> Vec<Changed> {
    let mut out = Vec::new();
    for p in planned {
        let after = run.applied.get(&p.m.name).and_then(|a| a.service.as_ref()).and_then(|s| s.get("taskDefinition")).and_then(Value::as_str);
        if let (Some(before), Some(after)) = (p.before(), after)
            && before != after
        {
            out.push(Changed { member: p.m.name.clone(), before, after: after.to_owned() });
        }
    }
    out
}
