//! The plan of `deploy`, `scale` and `refresh` (and of creating the service when it is missing):
//! which task definition will run — the local file (registered only when it differs from the
//! family's newest ACTIVE revision), a revision, the latest, or the current one, always with its
//! full body — and the one UpdateService (or CreateService, or CodeDeploy deployment) that gets it
//! there, with the service attributes, desired count, auto scaling and tags.

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};

use super::{OnError, Plan, PlannedTd, Role, Step, autoscaling, codedeploy, described_td, service, step, td_display, td_member};
use crate::aws::controller::Controller;
use crate::aws::{Aws, ecs};
use crate::context::Context;
use crate::diff::Pair;
use crate::error::InputError;

/// What `deploy`, `scale` and `refresh` ask for, as plain options.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub command: &'static str,
    /// `--tasks N`; None means "from the definition / unchanged".
    pub tasks: Option<i64>,
    pub skip_task_definition: bool,
    pub revision: Option<i64>,
    pub latest_task_definition: bool,
    pub force_new_deployment: bool,
    pub force_register: bool,
    pub update_service: bool,
    /// `refresh`: the desired count is not sent.
    pub desired_unchanged: bool,
    pub autoscaling: autoscaling::Change,
    pub rollback_events: Vec<String>,
}

/// A deploy's plan and what the wait after it needs.
pub struct DeployPlan {
    pub plan: Plan,
    /// The service as it was (None: the plan creates it).
    pub remote: Option<Value>,
    /// The service uses the CODE_DEPLOY controller.
    pub codedeploy: bool,
    /// What the planner noticed on the way ("task definition is unchanged: deploying app:3").
    pub notes: Vec<String>,
}

impl DeployPlan {
    /// Whether the apply starts a new ECS deployment (UpdateService with a change, or CreateService).
    pub fn starts_deployment(&self) -> bool {
        self.plan.steps.iter().any(|s| (s.operation == "UpdateService" && s.input.get("taskDefinition").is_some()) || s.operation == "CreateService")
    }
}

pub async fn plan(ctx: &Context, aws: &Aws, opts: &DeployOptions) -> Result<DeployPlan> {
    let service_name = ctx.service_name()?;
    if opts.revision.is_some() && opts.latest_task_definition {
        return Err(InputError::new("--revision and --latest-task-definition cannot be used together").into());
    }
    codedeploy::check_rollback_events(&opts.rollback_events)?;
    // Everything local first: a bad file fails before any AWS call.
    let needs_local_td = !(opts.skip_task_definition || opts.revision.is_some() || opts.latest_task_definition);
    let local_td = if needs_local_td { Some(ctx.renderer().task_definition(ctx.task_definition_path()?)?) } else { None };
    let local_sv = ctx.local_service_definition()?;
    let mut pin_notes = Vec::new();
    let local_td = match local_td {
        Some(td) => Some(pinned(ctx, aws, td, &mut pin_notes).await?),
        None => None,
    };
    let client = aws.ecs();
    let remote = ecs::describe_service(&client, &ctx.config.cluster, &service_name).await?;
    let mut planned = match remote {
        None => create(ctx, aws, opts, &service_name, local_td, local_sv).await?,
        Some(remote) => update(ctx, aws, opts, &service_name, local_td, local_sv, remote).await?,
    };
    pin_notes.append(&mut planned.notes);
    planned.notes = pin_notes;
    Ok(planned)
}

/// The local task definition with its images pinned to digests when the config asks for it
/// (`pin_image_digests`), each pin noted ("container app: image X pinned to Y").
pub async fn pinned(ctx: &Context, aws: &Aws, mut td: Value, notes: &mut Vec<String>) -> Result<Value> {
    if !ctx.config.pin_image_digests {
        return Ok(td);
    }
    for (container, from, to) in super::pin::pin_images(aws, &mut td).await? {
        notes.push(format!("container {container}: image {from} pinned to {to}"));
    }
    Ok(td)
}

async fn update(
    ctx: &Context,
    aws: &Aws,
    opts: &DeployOptions,
    name: &str,
    local_td: Option<Value>,
    local_sv: Option<Value>,
    remote: Value,
) -> Result<DeployPlan> {
    let client = aws.ecs();
    let cluster = &ctx.config.cluster;
    let controller = Controller::of(&remote);
    if !matches!(controller, Controller::Ecs | Controller::CodeDeploy) {
        anyhow::bail!("service {name} uses the {controller} deployment controller, which cortado does not deploy");
    }
    let codedeploy = controller == Controller::CodeDeploy;
    let current_arn = remote.get("taskDefinition").and_then(Value::as_str).unwrap_or("").to_owned();
    let current_family = ecs::family_of_arn(&current_arn).unwrap_or("").to_owned();
    let current = described_td(&client, &current_arn, Role::Runs).await?;
    let mut notes = Vec::new();

    // Which task definition runs, with its body.
    let td = if let Some(rev) = opts.revision {
        described_td(&client, &format!("{current_family}:{rev}"), Role::Runs).await?
    } else if opts.latest_task_definition {
        let arn = ecs::latest_task_definition_arn(&client, &current_family).await?.with_context(|| format!("no ACTIVE revision of {current_family}"))?;
        described_td(&client, &arn, Role::Runs).await?
    } else if opts.skip_task_definition {
        current.clone()
    } else {
        let body = local_td.clone().context("the local task definition")?;
        let family = crate::definitions::family(&body).unwrap_or_default().to_owned();
        let arn = reuse_latest(&client, &family, &body, opts.force_register).await?;
        if let Some(arn) = &arn {
            notes.push(format!("task definition is unchanged: deploying {}", ecs::short_task_definition(arn)));
        }
        PlannedTd { arn, body, role: Role::Runs }
    };

    let mut plan = Plan::new(opts.command, cluster, Some(name));
    let td_path = ctx.config.task_definition.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| td.arn.clone().unwrap_or_default());

    // Service attributes, desired count, tags.
    let mut attributes = Map::new();
    let mut tag_delta = (Vec::new(), Vec::new());
    let source_count = match (&local_sv, opts.update_service) {
        (Some(sv), true) => sv.get("desiredCount").and_then(Value::as_i64),
        _ => remote.get("desiredCount").and_then(Value::as_i64),
    };
    let desired = service::desired_count(local_sv.as_ref().unwrap_or(&remote), opts.tasks, opts.desired_unchanged, source_count);
    let mut diff = String::new();
    let mut service_differs = false;
    if let (Some(sv), true) = (&local_sv, opts.update_service) {
        let ignore = &ctx.config.ignore.tags;
        let pair = Pair::service(sv, Some(&remote), ignore, &ctx.service_definition_path()?.display().to_string());
        diff.push_str(&pair.unified());
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Value::Object(o) = &mut v {
                o.remove("desiredCount");
                o.remove("tags");
            }
            v
        };
        service_differs = strip(&pair.local) != pair.remote.as_ref().map(strip).unwrap_or(Value::Null);
        if service_differs {
            attributes = service::update_attributes(sv, codedeploy);
        }
        tag_delta = service::tag_changes(sv.get("tags"), remote.get("tags"), ignore);
    }
    diff.push_str(&Pair::task_definition(&td.body, Some(&current.body), &current_arn, &td_path).unified());

    // The steps, in order.
    let registered = td.arn.is_none().then(|| plan.push(register_step(&td.body)));
    let td_ref = td_member(td.arn.as_deref(), registered);
    if let Some((step, undo)) = autoscaling::step(aws, cluster, name, &opts.autoscaling).await? {
        plan.push(step);
        plan.on_failure.extend(undo);
    }
    let td_changes = td.arn.as_deref() != Some(current_arn.as_str());
    let count_changes = desired.is_some_and(|d| Some(d) != remote.get("desiredCount").and_then(Value::as_i64));
    let service_arn = remote.get("serviceArn").and_then(Value::as_str).unwrap_or("").to_owned();
    if codedeploy {
        if count_changes || !attributes.is_empty() {
            plan.push(update_step(update_body(cluster, name, &attributes, desired, false), None));
        }
        if codedeploy::needs_deployment(td_changes, service_differs, opts.force_new_deployment) {
            let t = codedeploy::target(ctx, aws).await?;
            let sv = local_sv.clone().unwrap_or_else(|| remote.clone());
            plan.push(deployment_step(&t, &sv, ctx.config.appspec.as_ref(), td_ref.clone(), &opts.rollback_events)?);
        }
    } else if td_changes || !attributes.is_empty() || count_changes || opts.force_new_deployment {
        // One UpdateService call (ecspresso made two: its issue #899).
        plan.push(update_step(update_body(cluster, name, &attributes, desired, opts.force_new_deployment), Some(td_ref.clone())));
    }
    if !codedeploy {
        let (set, remove) = tag_delta;
        if !set.is_empty() {
            plan.push(tag_step(&service_arn, &set));
        }
        if !remove.is_empty() {
            plan.push(untag_step(&service_arn, &remove));
        }
    }
    let mut after = remote.clone();
    if let Value::Object(o) = &mut after {
        o.extend(attributes);
        o.insert("taskDefinition".into(), json!(td.arn.clone().unwrap_or_else(|| td_display(&td_ref))));
        if let Some(d) = desired {
            o.insert("desiredCount".into(), json!(d));
        }
    }
    plan.task_definitions.push(td);
    plan.service_before = Some(remote.clone());
    plan.service_after = Some(after);
    plan.desired_count = desired;
    plan.autoscaling = (!opts.autoscaling.is_empty()).then_some(opts.autoscaling);
    plan.diff = diff;
    Ok(DeployPlan { plan, remote: Some(remote), codedeploy, notes })
}

/// RegisterTaskDefinition of `body`, exactly as rendered and checked.
pub fn register_step(body: &Value) -> Step {
    Step::ecs("RegisterTaskDefinition", body.clone(), format!("family {}", crate::definitions::family(body).unwrap_or("?")))
}

/// UpdateService with `body` (cluster, service and the attributes that change), and the task
/// definition when it is set (`td`: an ARN or a reference to the registered one).
pub fn update_step(mut body: Value, td: Option<Value>) -> Step {
    let mut what: Vec<String> = body.as_object().into_iter().flatten().map(|(k, _)| k.clone()).filter(|k| k != "cluster" && k != "service").collect();
    if let Some(td) = td {
        what.insert(0, format!("taskDefinition {}", td_display(&td)));
        body["taskDefinition"] = td;
    }
    let name = body.get("service").and_then(Value::as_str).unwrap_or("").to_owned();
    Step::ecs("UpdateService", body, format!("service {name} ({})", what.join(", ")))
}

/// CodeDeploy CreateDeployment of `td` with the AppSpec built from `sv` and the config's hooks.
pub fn deployment_step(t: &crate::aws::codedeploy::DeploymentTarget, sv: &Value, hooks: Option<&Value>, td: Value, events: &[String]) -> Result<Step> {
    let resource = format!("{}/{} with {}", t.application, t.deployment_group, td_display(&td));
    let input = codedeploy::create_deployment_input(t, sv, hooks, td, events)?;
    Ok(Step::new(step::Service::CodeDeploy, "CreateDeployment", input, resource))
}

pub(super) fn tag_step(arn: &str, tags: &[(String, String)]) -> Step {
    let list: Vec<Value> = tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    let mut s = Step::ecs("TagResource", json!({"resourceArn": arn, "tags": list}), format!("tagging {arn} with {}", keys.join(", ")));
    s.on_error = OnError::Report;
    s
}

pub(super) fn untag_step(arn: &str, keys: &[String]) -> Step {
    let mut s = Step::ecs("UntagResource", json!({"resourceArn": arn, "tagKeys": keys}), format!("untagging {} from {arn}", keys.join(", ")));
    s.on_error = OnError::Report;
    s
}

fn update_body(cluster: &str, service: &str, attributes: &Map<String, Value>, desired: Option<i64>, force: bool) -> Value {
    let mut body = attributes.clone();
    body.insert("cluster".into(), json!(cluster));
    body.insert("service".into(), json!(service));
    if let Some(d) = desired {
        body.insert("desiredCount".into(), json!(d));
    }
    if force {
        body.insert("forceNewDeployment".into(), json!(true));
    }
    Value::Object(body)
}

/// The service is missing: it is created from the definition files.
async fn create(ctx: &Context, aws: &Aws, opts: &DeployOptions, name: &str, local_td: Option<Value>, local_sv: Option<Value>) -> Result<DeployPlan> {
    let sv = local_sv.ok_or_else(|| InputError::in_file(&ctx.config.path, "service_definition is needed to create the service"))?;
    let mut notes = vec![format!("service {name} does not exist in cluster {}: it will be created", ctx.config.cluster)];
    let local = match local_td {
        Some(td) => td,
        None => pinned(ctx, aws, ctx.renderer().task_definition(ctx.task_definition_path()?)?, &mut notes).await?,
    };
    let family = crate::definitions::family(&local).unwrap_or_default().to_owned();
    let client = &aws.ecs();
    let latest = ecs::latest_task_definition_arn(client, &family).await?;
    let td = if opts.skip_task_definition || opts.latest_task_definition {
        let arn = latest.clone().with_context(|| format!("no ACTIVE revision of {family}"))?;
        described_td(client, &arn, Role::Runs).await?
    } else {
        let arn = reuse_latest(client, &family, &local, opts.force_register).await?;
        if let Some(arn) = &arn {
            notes.push(format!("task definition is unchanged: deploying {}", ecs::short_task_definition(arn)));
        }
        PlannedTd { arn, body: local.clone(), role: Role::Runs }
    };
    let desired = service::desired_count(&sv, opts.tasks, false, sv.get("desiredCount").and_then(Value::as_i64));
    let mut plan = Plan::new(opts.command, &ctx.config.cluster, Some(name));
    let mut diff = Pair::service(&sv, None, &[], &ctx.service_definition_path()?.display().to_string()).unified();
    let latest_body = match &latest {
        Some(arn) => Some(described_td(client, arn, Role::Runs).await?.body),
        None => None,
    };
    diff.push_str(
        &Pair::task_definition(&td.body, latest_body.as_ref(), latest.as_deref().unwrap_or(""), &ctx.task_definition_path()?.display().to_string()).unified(),
    );
    let registered = td.arn.is_none().then(|| plan.push(register_step(&td.body)));
    let td_ref = td_member(td.arn.as_deref(), registered);
    let mut body = service::create_body(&sv, &ctx.config.cluster, name, "", desired);
    if let Value::Object(o) = &mut body {
        o.remove("taskDefinition");
    }
    plan.service_after = Some(body.clone());
    let resource = format!("service {name} with {}", td_display(&td_ref));
    body["taskDefinition"] = td_ref;
    step::with_client_token(&mut body, "CreateService");
    plan.push(Step::ecs("CreateService", body, resource));
    plan.task_definitions.push(td);
    plan.desired_count = desired;
    plan.diff = diff;
    let codedeploy = Controller::of(&sv) == Controller::CodeDeploy;
    Ok(DeployPlan { plan, remote: None, codedeploy, notes })
}

/// The newest ACTIVE revision of the family when it equals `td` (so no new revision is needed).
pub async fn reuse_latest(client: &aws_sdk_ecs::Client, family: &str, td: &Value, force_register: bool) -> Result<Option<String>> {
    if force_register {
        return Ok(None);
    }
    let Some(latest) = ecs::latest_task_definition_arn(client, family).await? else { return Ok(None) };
    let (def, tags) = ecs::describe_task_definition(client, &latest).await?;
    let norm = crate::diff::normalize::task_definition;
    Ok((norm(&ecs::registerable(&def, &tags)) == norm(td)).then_some(latest))
}
