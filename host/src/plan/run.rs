//! The plan of `run` (ecspresso §10.1, fixed where it falls short): which task definition runs
//! (the local file registered first, a revision, the latest, or the service's current one), always
//! with its full body, and the RunTask request.
//!
//! Everything that can be checked locally is checked before the first AWS call, and a problem
//! found after reading the task definition (an unknown `--watch-container`, an awsvpc task with no
//! subnets) is still reported before anything is registered or started: exit 2. No service
//! definition is needed: network settings come from it when the config has one, and
//! `--subnets`/`--security-groups`/`--assign-public-ip`/`--launch-type` override or replace them.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use super::{Plan, PlannedTd, Role, Step};
use crate::aws::{Aws, SdkContext, ecs};
use crate::context::Context;
use crate::error::InputError;

/// `run`'s options, as plain values.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub task_def: Option<PathBuf>,
    pub task_overrides: Option<String>,
    pub overrides_file: Option<PathBuf>,
    pub skip_task_definition: bool,
    pub count: i32,
    pub watch_container: Option<String>,
    pub latest_task_definition: bool,
    pub propagate_tags: Option<String>,
    pub tags: Option<String>,
    pub revision: Option<i64>,
    pub client_token: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
    pub launch_type: Option<String>,
    pub no_ebs_delete_on_termination: bool,
}

/// The plan, and what waiting for the task needs.
pub struct RunPlan {
    pub plan: Plan,
    /// The task definition that runs (full body).
    pub td: Value,
    /// The container whose exit code and logs matter.
    pub watch: String,
}

/// Which task definition runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// Register this file, then run the new revision.
    Register(PathBuf),
    Revision(i64),
    Latest,
    /// The service's current task definition, else the family's latest.
    Current,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Propagate {
    None,
    Service,
    TaskDefinition,
}

pub async fn plan(ctx: &Context, aws: &Aws, opts: &RunOptions) -> Result<RunPlan> {
    // Local input first: a mistake here is exit 2 with no AWS call made.
    let overrides = read_overrides(ctx, opts)?;
    let mut tags = match opts.tags.as_deref() {
        Some(t) => parse_tags(t)?,
        None => vec![],
    };
    if !(1..=10).contains(&opts.count) {
        return Err(InputError::new(format!("--count {}: RunTask starts 1 to 10 tasks", opts.count)).into());
    }
    let propagate = parse_propagate(opts.propagate_tags.as_deref())?;
    if let Some(ip) = &opts.assign_public_ip
        && ip != "ENABLED"
        && ip != "DISABLED"
    {
        return Err(InputError::new(format!("--assign-public-ip {ip}: ENABLED or DISABLED")).into());
    }
    if let Some(lt) = &opts.launch_type
        && !["FARGATE", "EC2", "EXTERNAL"].contains(&lt.as_str())
    {
        return Err(InputError::new(format!("--launch-type {lt}: FARGATE, EC2 or EXTERNAL")).into());
    }
    if propagate == Propagate::Service && ctx.config.service.is_none() {
        return Err(InputError::in_file(&ctx.config.path, "--propagate-tags SERVICE needs `service` in the config").into());
    }
    let source = source(ctx, opts)?;
    let local_td = match (&source, &ctx.config.service) {
        (Source::Register(path), _) => Some(ctx.renderer().task_definition(path)?),
        // Without a service the family comes from the local file.
        (_, None) => Some(ctx.renderer().task_definition(ctx.task_definition_path()?)?),
        _ => None,
    };
    let sv = match &ctx.config.service_definition {
        Some(path) => Some(ctx.renderer().service_definition(path, ctx.config.service.as_deref())?),
        None => None,
    };
    if let (Source::Register(_), Some(td)) = (&source, &local_td) {
        check_task_definition(ctx, td, sv.as_ref(), opts)?;
    }

    let client = aws.ecs();
    let (td, td_arn) = match &source {
        Source::Register(_) => {
            let td = local_td.clone().context("the task definition was rendered")?;
            (super::deploy::pinned(ctx, aws, td, &mut Vec::new()).await?, None)
        }
        other => {
            let arn = resolve_arn(ctx, &client, other, local_td.as_ref()).await?;
            let (def, _) = ecs::describe_task_definition(&client, &arn).await?;
            check_task_definition(ctx, &def, sv.as_ref(), opts)?;
            let arn = def.get("taskDefinitionArn").and_then(Value::as_str).map(str::to_owned).unwrap_or(arn);
            (def, Some(arn))
        }
    };
    let watch = watch_container(&td, opts.watch_container.as_deref())?;
    if propagate == Propagate::Service {
        tags.extend(service_tags(ctx, &client).await?);
    }
    let body = request(ctx, opts, &td, sv.as_ref(), overrides.clone(), &tags, propagate);
    let mut plan = Plan::new("run", &ctx.config.cluster, ctx.config.service.as_deref());
    let registered = td_arn.is_none().then(|| plan.push(super::deploy::register_step(&td)));
    let td_ref = super::td_member(td_arn.as_deref(), registered);
    let mut body = body;
    let resource =
        format!("{} task(s) of {} in cluster {}", body.get("count").and_then(Value::as_i64).unwrap_or(1), super::td_display(&td_ref), ctx.config.cluster);
    body["taskDefinition"] = td_ref;
    super::step::with_client_token(&mut body, "RunTask");
    plan.push(Step::ecs("RunTask", body, resource));
    plan.task_definitions.push(PlannedTd { arn: td_arn, body: td.clone(), role: Role::Runs });
    plan.service_before = sv;
    plan.overrides = overrides;
    Ok(RunPlan { plan, td, watch })
}

fn source(ctx: &Context, opts: &RunOptions) -> Result<Source> {
    // As in ecspresso, --revision and --latest-task-definition say which revision
    // --skip-task-definition runs; only --task-def (register a file) excludes them.
    let registered = [opts.revision.is_some(), opts.latest_task_definition, opts.skip_task_definition];
    if opts.task_def.is_some() && registered.contains(&true) {
        return Err(InputError::new(
            "--task-def registers a file; --revision, --latest-task-definition and --skip-task-definition run a registered one: give one",
        )
        .into());
    }
    Ok(match (opts.revision, opts.latest_task_definition, opts.skip_task_definition, &opts.task_def) {
        (Some(n), _, _, _) => Source::Revision(n),
        (_, true, _, _) => Source::Latest,
        (_, _, true, _) => Source::Current,
        (_, _, _, Some(p)) => Source::Register(p.clone()),
        _ => Source::Register(ctx.task_definition_path()?.clone()),
    })
}

/// The task definition's ARN for `--revision`, `--latest-task-definition`, `--skip-task-definition`.
async fn resolve_arn(ctx: &Context, client: &aws_sdk_ecs::Client, source: &Source, local_td: Option<&Value>) -> Result<String> {
    let service_td = match &ctx.config.service {
        Some(svc) => {
            let sv = ecs::describe_service(client, &ctx.config.cluster, svc)
                .await?
                .with_context(|| format!("service {svc} is not found in cluster {}", ctx.config.cluster))?;
            Some(sv.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned())
        }
        None => None,
    };
    let family = match (&service_td, local_td) {
        (Some(arn), _) => ecs::family_of_arn(arn).unwrap_or(arn).to_owned(),
        (None, Some(td)) => crate::definitions::family(td).context("the task definition has no family")?.to_owned(),
        (None, None) => bail!("no task definition family: set service or task_definition in the config"),
    };
    match source {
        Source::Revision(n) => Ok(format!("{family}:{n}")),
        Source::Current if service_td.is_some() => Ok(service_td.unwrap_or_default()),
        _ => ecs::latest_task_definition_arn(client, &family).await?.with_context(|| format!("family {family} has no ACTIVE task definition")),
    }
}

/// `--watch-container`, else the first container; an unknown name is bad input (ecspresso panicked).
pub fn watch_container(td: &Value, wanted: Option<&str>) -> Result<String, InputError> {
    let names: Vec<&str> =
        td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("name").and_then(Value::as_str)).collect();
    match wanted {
        Some(w) if names.contains(&w) => Ok(w.to_owned()),
        Some(w) => Err(InputError::new(format!(
            "--watch-container {w}: task definition {} has no such container (it has {})",
            crate::definitions::family(td).unwrap_or("?"),
            names.join(", ")
        ))),
        None => names.first().map(|s| s.to_string()).ok_or_else(|| InputError::new("the task definition has no containers")),
    }
}

/// Everything about the task definition that would make RunTask fail or the run meaningless.
fn check_task_definition(ctx: &Context, td: &Value, sv: Option<&Value>, opts: &RunOptions) -> Result<(), InputError> {
    watch_container(td, opts.watch_container.as_deref())?;
    if crate::definitions::is_awsvpc(td) {
        let net = network_configuration(sv, opts);
        let subnets = net.as_ref().and_then(|n| n.pointer("/awsvpcConfiguration/subnets")).and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        if subnets == 0 {
            let where_ = match &ctx.config.service_definition {
                Some(p) => format!("{} has no networkConfiguration.awsvpcConfiguration.subnets", p.display()),
                None => format!("{} has no service_definition", ctx.config.path.display()),
            };
            return Err(InputError::new(format!(
                "task definition {} uses the awsvpc network mode, so RunTask needs subnets: {where_}; pass --subnets (and --security-groups)",
                crate::definitions::family(td).unwrap_or("?")
            )));
        }
    }
    Ok(())
}

/// The service definition's network configuration with the command-line settings on top.
fn network_configuration(sv: Option<&Value>, opts: &RunOptions) -> Option<Value> {
    let mut net = sv.and_then(|s| s.get("networkConfiguration")).cloned();
    if opts.subnets.is_empty() && opts.security_groups.is_empty() && opts.assign_public_ip.is_none() {
        return net;
    }
    let n = net.get_or_insert_with(|| json!({"awsvpcConfiguration": {}}));
    if !n.get("awsvpcConfiguration").is_some_and(Value::is_object) {
        n["awsvpcConfiguration"] = json!({});
    }
    let c = &mut n["awsvpcConfiguration"];
    if !opts.subnets.is_empty() {
        c["subnets"] = json!(opts.subnets);
    }
    if !opts.security_groups.is_empty() {
        c["securityGroups"] = json!(opts.security_groups);
    }
    if let Some(ip) = &opts.assign_public_ip {
        c["assignPublicIp"] = json!(ip);
    }
    net
}

/// The RunTask request (its `taskDefinition` is filled in by the caller).
fn request(
    ctx: &Context,
    opts: &RunOptions,
    td: &Value,
    sv: Option<&Value>,
    overrides: Option<Value>,
    tags: &[(String, String)],
    propagate: Propagate,
) -> Value {
    let mut b = Map::new();
    b.insert("cluster".into(), json!(ctx.config.cluster));
    b.insert("count".into(), json!(opts.count));
    if let Some(sv) = sv {
        for k in [
            "launchType",
            "capacityProviderStrategy",
            "placementConstraints",
            "placementStrategy",
            "platformVersion",
            "enableECSManagedTags",
            "enableExecuteCommand",
        ] {
            if let Some(v) = sv.get(k) {
                b.insert(k.into(), v.clone());
            }
        }
    }
    if let Some(net) = network_configuration(sv, opts) {
        b.insert("networkConfiguration".into(), net);
    }
    if let Some(vcs) = sv.and_then(|s| s.get("volumeConfigurations")).and_then(Value::as_array) {
        b.insert("volumeConfigurations".into(), task_volume_configurations(vcs, !opts.no_ebs_delete_on_termination));
    }
    if let Some(lt) = &opts.launch_type {
        b.insert("launchType".into(), json!(lt));
        b.remove("capacityProviderStrategy");
        if lt != "FARGATE" {
            b.remove("platformVersion");
        }
    } else if !b.contains_key("launchType") && !b.contains_key("capacityProviderStrategy") {
        let only_fargate = td.get("requiresCompatibilities").and_then(Value::as_array).is_some_and(|c| c.len() == 1 && c[0] == "FARGATE");
        if only_fargate {
            b.insert("launchType".into(), json!("FARGATE"));
        }
    }
    if let Some(o) = overrides {
        b.insert("overrides".into(), o);
    }
    if !tags.is_empty() {
        b.insert("tags".into(), Value::Array(tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect()));
    }
    if propagate == Propagate::TaskDefinition {
        b.insert("propagateTags".into(), json!("TASK_DEFINITION"));
    }
    if let Some(t) = &opts.client_token {
        b.insert("clientToken".into(), json!(t));
    }
    Value::Object(b)
}

/// The service definition's managed EBS volumes as RunTask wants them (ecspresso's conversion):
/// the same settings plus a termination policy from `--[no-]ebs-delete-on-termination`.
fn task_volume_configurations(service_volumes: &[Value], delete_on_termination: bool) -> Value {
    let converted = service_volumes.iter().map(|vc| {
        let mut task_vc = json!({"name": vc.get("name").cloned().unwrap_or(Value::Null)});
        if let Some(ebs) = vc.get("managedEBSVolume").and_then(Value::as_object) {
            let mut ebs = ebs.clone();
            ebs.insert("terminationPolicy".into(), json!({"deleteOnTermination": delete_on_termination}));
            task_vc["managedEBSVolume"] = Value::Object(ebs);
        }
        task_vc
    });
    Value::Array(converted.collect())
}

/// `--overrides` (plain JSON, wins) or `--overrides-file` (rendered like a definition file).
fn read_overrides(ctx: &Context, opts: &RunOptions) -> Result<Option<Value>> {
    let raw = match (&opts.task_overrides, &opts.overrides_file) {
        (Some(text), _) => serde_json::from_str::<Value>(text).map_err(|e| InputError::new(format!("--overrides: not JSON: {e}")))?,
        (None, Some(path)) => ctx.renderer().render_file(path, "--overrides-file")?,
        (None, None) => return Ok(None),
    };
    if !raw.is_object() {
        let from =
            opts.overrides_file.as_ref().filter(|_| opts.task_overrides.is_none()).map(|p| p.display().to_string()).unwrap_or_else(|| "--overrides".into());
        return Err(InputError::new(format!("{from}: a TaskOverride must be a JSON object, found {}", crate::config::kind(&raw))).into());
    }
    Ok(Some(crate::definitions::keys::normalise(raw)))
}

/// `K=V,K2=V2`: empty values are allowed and a trailing comma is ignored; `K`, `=V` are not tags.
pub fn parse_tags(s: &str) -> Result<Vec<(String, String)>, InputError> {
    let s = s.strip_suffix(',').unwrap_or(s);
    if s.is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(InputError::new(format!("--tags: {kv:?} is not KEY=VALUE"))),
        })
        .collect()
}

fn parse_propagate(s: Option<&str>) -> Result<Propagate, InputError> {
    match s.unwrap_or("") {
        "" | "NONE" => Ok(Propagate::None),
        "SERVICE" => Ok(Propagate::Service),
        "TASK_DEFINITION" => Ok(Propagate::TaskDefinition),
        other => Err(InputError::new(format!("--propagate-tags {other}: SERVICE, TASK_DEFINITION or NONE"))),
    }
}

/// The running service's tags (ecspresso read the ARN from the file, where it is normally empty).
async fn service_tags(ctx: &Context, client: &aws_sdk_ecs::Client) -> Result<Vec<(String, String)>> {
    let svc = ctx.config.service.as_deref().unwrap_or_default();
    let sv = ecs::describe_service(client, &ctx.config.cluster, svc)
        .await?
        .with_context(|| format!("service {svc} is not found in cluster {}", ctx.config.cluster))?;
    let arn = sv.get("serviceArn").and_then(Value::as_str).unwrap_or_default();
    let out = client.list_tags_for_resource().resource_arn(arn).send().await.sdk_context(|| format!("listing the tags of {arn}"))?;
    Ok(out
        .tags()
        .iter()
        .filter(|t| !t.key().unwrap_or("").starts_with("aws:"))
        .map(|t| (t.key().unwrap_or("").to_owned(), t.value().unwrap_or("").to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(parse_tags("a=1,b=,c=x=y,").unwrap(), vec![("a".into(), "1".into()), ("b".into(), "".into()), ("c".into(), "x=y".into())]);
        assert!(parse_tags("Foo").is_err());
        assert!(parse_tags("=").is_err());
        assert!(parse_tags("Foo=,Bar").is_err());
        assert!(parse_tags("").unwrap().is_empty());
    }

    #[test]
    fn watch_containers() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "app"}, {"name": "sidecar"}]});
        assert_eq!(watch_container(&td, None).unwrap(), "app");
        assert_eq!(watch_container(&td, Some("sidecar")).unwrap(), "sidecar");
        let e = watch_container(&td, Some("nope")).unwrap_err();
        assert!(e.0.contains("has no such container (it has app, sidecar)"), "{e}");
    }
}
