//! Stage: deploy, wait, roll back. One module per job: [`service`] builds API bodies and desired
//! counts, [`wait`] follows a deployment by id, [`progress`] shows it, [`autoscaling`] suspends and
//! resumes Application Auto Scaling, [`codedeploy`] runs blue/green deployments, [`rollback`] goes
//! back a revision.

pub mod autoscaling;
pub mod codedeploy;
pub mod progress;
pub mod rollback;
pub mod service;
pub mod wait;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use self::progress::Reporter;
use crate::aws::{Aws, ecs};
use crate::commands::App;
use crate::definitions::to_pretty_json;
use crate::diff::{self, normalize};
use crate::gate::{self, Overrides, PlanInput};

/// What `deploy`, `scale` and `refresh` do, as flags.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub command: &'static str,
    pub dry_run: bool,
    /// `--tasks N`; None or -1 means "from the definition / unchanged".
    pub tasks: Option<i64>,
    pub skip_task_definition: bool,
    pub revision: Option<i64>,
    pub latest_task_definition: bool,
    pub force_new_deployment: bool,
    pub force_register: bool,
    pub wait: bool,
    pub update_service: bool,
    /// `refresh`: the desired count is not sent.
    pub desired_unchanged: bool,
    pub autoscaling: autoscaling::Change,
    pub rollback_events: Vec<String>,
    pub overrides: Overrides,
    pub json_output: bool,
}

/// The epoch second a command started (events older than this are not shown while waiting).
pub fn epoch_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

pub async fn deploy(app: &App, opts: DeployOptions) -> Result<()> {
    let started = epoch_now();
    let service_name = app.config.service.clone().ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service is not defined"))?;
    let needs_local_td = !(opts.skip_task_definition || opts.revision.is_some() || opts.latest_task_definition);
    if opts.revision.is_some() && opts.latest_task_definition {
        return Err(crate::error::InputError::new("--revision and --latest-task-definition cannot be used together").into());
    }
    // Everything local first: a bad file fails before any AWS call.
    let local_td = if needs_local_td { Some(app.renderer().task_definition(app.task_definition_path()?)?) } else { None };
    let local_sv = match &app.config.service_definition {
        Some(p) => Some(app.renderer().service_definition(p, Some(&service_name))?),
        None => None,
    };
    let mut reporter = Reporter::new(opts.json_output);
    let aws = app.aws().await?;
    let client = aws.ecs();
    let cluster = app.config.cluster.clone();
    let remote = ecs::describe_service(&client, &cluster, &service_name).await?;
    let Some(remote) = remote else {
        return create(app, &aws, &opts, &service_name, local_td, local_sv, &mut reporter, started).await;
    };
    let controller = remote.pointer("/deploymentController/type").and_then(Value::as_str).unwrap_or("ECS").to_owned();
    if controller != "ECS" && controller != "CODE_DEPLOY" {
        anyhow::bail!("service {service_name} uses the {controller} deployment controller, which cortado does not deploy");
    }
    let current_td = remote.get("taskDefinition").and_then(Value::as_str).unwrap_or("").to_owned();
    let current_family = ecs::family_of_arn(&current_td).unwrap_or("").to_owned();

    // Which task definition: an existing revision, or the local file (registered only if it differs
    // from the family's newest ACTIVE revision).
    let mut to_register: Option<Value> = None;
    let td_arn: String = if let Some(rev) = opts.revision {
        format!("{current_family}:{rev}")
    } else if opts.latest_task_definition {
        ecs::latest_task_definition_arn(&client, &current_family).await?.with_context(|| format!("no ACTIVE revision of {current_family}"))?
    } else if opts.skip_task_definition {
        current_td.clone()
    } else {
        let td = local_td.clone().context("task definition")?;
        let family = crate::definitions::family(&td).unwrap_or_default().to_owned();
        match reuse_latest(&client, &family, &td, opts.force_register).await? {
            Some(arn) => {
                reporter.info(&format!("task definition is unchanged: deploying {}", ecs::short_task_definition(&arn)));
                arn
            }
            None => {
                to_register = Some(td);
                String::new()
            }
        }
    };

    // Service attributes, desired count, tags.
    let codedeploy = controller == "CODE_DEPLOY";
    let mut body = Map::new();
    let mut attributes_change = false;
    let mut sv_diff = String::new();
    let mut tag_delta = (Vec::new(), Vec::new());
    let source_count = match (&local_sv, opts.update_service) {
        (Some(sv), true) => sv.get("desiredCount").and_then(Value::as_i64),
        _ => remote.get("desiredCount").and_then(Value::as_i64),
    };
    let shape = local_sv.as_ref().unwrap_or(&remote);
    let desired = service::desired_count(shape, opts.tasks, opts.desired_unchanged, source_count);
    if let (Some(sv), true) = (&local_sv, opts.update_service) {
        let ignore = &app.config.ignore.tags;
        let has_desired = sv.get("desiredCount").is_some();
        let (l, r) = (normalize::service(sv, ignore, has_desired), normalize::service(&remote, ignore, has_desired));
        let strip = |mut v: Value| {
            if let Value::Object(o) = &mut v {
                o.remove("desiredCount");
                o.remove("tags");
            }
            v
        };
        attributes_change = strip(l.clone()) != strip(r.clone());
        sv_diff =
            diff::unified(Some(&r), &l, remote.get("serviceArn").and_then(Value::as_str).unwrap_or(""), &app.service_definition_path()?.display().to_string());
        if attributes_change {
            body.extend(service::update_attributes(sv, codedeploy));
        }
        tag_delta = tag_changes(sv.get("tags"), remote.get("tags"), ignore);
    }
    let td_diff = match (&to_register, &local_td) {
        (Some(td), _) => {
            let remote_td = ecs::describe_task_definition(&client, &current_td).await.ok().map(|(d, t)| normalize::task_definition(&ecs::registerable(&d, &t)));
            diff::unified(remote_td.as_ref(), &normalize::task_definition(td), &current_td, &app.task_definition_path()?.display().to_string())
        }
        _ => String::new(),
    };

    // Gates: before the first mutating call.
    gate::check(
        app,
        &aws,
        PlanInput {
            command: opts.command.into(),
            task_definition: to_register.clone().or(local_td.clone()),
            task_definition_arn: (!td_arn.is_empty()).then(|| td_arn.clone()),
            service_definition: local_sv.clone(),
            diff: format!("{sv_diff}{td_diff}"),
            desired_count: desired,
            overrides: None,
        },
        &opts.overrides,
        opts.dry_run,
    )
    .await?;

    if opts.dry_run {
        if let Some(td) = &to_register {
            reporter.info(&format!("task definition would be registered:\n{}", to_pretty_json(td)));
        }
        if attributes_change {
            reporter.info(&format!("service attributes would change:\n{sv_diff}"));
        }
        reporter.info(&format!("desired count: {}", desired.map(|d| d.to_string()).unwrap_or_else(|| "unchanged".into())));
        autoscaling::apply(&aws, &cluster, &service_name, &opts.autoscaling, true, &reporter).await?;
        reporter.info("DRY RUN OK");
        return Ok(());
    }

    let td_arn = match to_register {
        Some(td) => register(&client, &td, &reporter).await?,
        None => td_arn,
    };
    autoscaling::apply(&aws, &cluster, &service_name, &opts.autoscaling, false, &reporter).await?;

    if codedeploy {
        return codedeploy::deploy(app, &aws, &remote, local_sv.as_ref(), &td_arn, desired, &body, &opts, &mut reporter, started).await;
    }

    // One UpdateService call (ecspresso made two: its issue #899).
    let td_changes = td_arn != current_td;
    let count_changes = desired.is_some_and(|d| Some(d) != remote.get("desiredCount").and_then(Value::as_i64));
    let mut deployment_id = None;
    let deployment_id_created = td_changes || attributes_change || count_changes || opts.force_new_deployment;
    if td_changes || attributes_change || count_changes || opts.force_new_deployment {
        body.insert("cluster".into(), json!(cluster));
        body.insert("service".into(), json!(service_name));
        body.insert("taskDefinition".into(), json!(td_arn));
        if let Some(d) = desired {
            body.insert("desiredCount".into(), json!(d));
        }
        if opts.force_new_deployment {
            body.insert("forceNewDeployment".into(), json!(true));
        }
        let updated = ecs::update_service(&client, &Value::Object(body)).await?;
        deployment_id = primary_deployment(&updated);
        reporter.info(&format!(
            "updated service {service_name}: {}{}{}{}",
            ecs::short_task_definition(&td_arn),
            desired.map(|d| format!(", desired {d}")).unwrap_or_default(),
            if attributes_change { ", attributes" } else { "" },
            if opts.force_new_deployment { ", forced new deployment" } else { "" }
        ));
    } else {
        reporter.info("service is up to date: nothing to update");
    }
    sync_tags(&client, remote.get("serviceArn").and_then(Value::as_str).unwrap_or(""), tag_delta, &reporter).await?;
    if !opts.wait {
        reporter.result(true, "service is deployed (not waiting)", json!({"deployment_id": deployment_id}));
        return Ok(());
    }
    let watch = wait::Watch {
        cluster,
        service: service_name,
        deployment: deployment_id,
        timeout: app.config.timeout,
        since: started,
        known_events: wait::event_ids(&remote),
        just_created: deployment_id_created,
    };
    finish_wait(&client, watch, &mut reporter).await
}

/// Waits and reports; shared by deploy, create, scale, refresh, rollback and wait.
pub async fn finish_wait(client: &aws_sdk_ecs::Client, watch: wait::Watch, reporter: &mut Reporter) -> Result<()> {
    let deployment_id = watch.deployment.clone();
    let service = watch.service.clone();
    match wait::wait_ecs(client, watch, reporter).await {
        Ok(stats) => {
            let mut detail = wait::stats_json(&stats);
            detail["deployment_id"] = json!(deployment_id);
            reporter.result(
                true,
                &format!(
                    "service {service} is stable: deployment completed ({} DescribeServices calls in {:.1}s)",
                    stats.describe_calls,
                    stats.elapsed.as_secs_f64()
                ),
                detail,
            );
            Ok(())
        }
        Err(e) => {
            reporter.fail(&format!("{e:#}"), json!({"deployment_id": deployment_id}));
            Err(e)
        }
    }
}

/// Registers a task definition and says so; returns its ARN.
async fn register(client: &aws_sdk_ecs::Client, td: &Value, reporter: &Reporter) -> Result<String> {
    let registered = ecs::register_task_definition(client, td).await?;
    let arn = registered.get("taskDefinitionArn").and_then(Value::as_str).unwrap_or_default().to_owned();
    reporter.info(&format!("registered task definition {}", ecs::short_task_definition(&arn)));
    Ok(arn)
}

/// The id of the PRIMARY deployment in a service object.
pub fn primary_deployment(sv: &Value) -> Option<String> {
    sv.get("deployments")?
        .as_array()?
        .iter()
        .find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"))
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The newest ACTIVE revision of the family when it equals `td` (so no new revision is needed).
async fn reuse_latest(client: &aws_sdk_ecs::Client, family: &str, td: &Value, force_register: bool) -> Result<Option<String>> {
    if force_register {
        return Ok(None);
    }
    let Some(latest) = ecs::latest_task_definition_arn(client, family).await? else { return Ok(None) };
    let (def, tags) = ecs::describe_task_definition(client, &latest).await?;
    let same = normalize::task_definition(&ecs::registerable(&def, &tags)) == normalize::task_definition(td);
    Ok(same.then_some(latest))
}

/// (keys to add or update with values, keys to remove), ignoring tags other tools own.
fn tag_changes(local: Option<&Value>, remote: Option<&Value>, ignore: &[String]) -> (Vec<(String, Value)>, Vec<String>) {
    let l = crate::definitions::tags_map(local);
    let r = crate::definitions::tags_map(remote);
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for (k, v) in &l {
        if !ignore.contains(k) && r.get(k) != Some(v) {
            set.push((k.clone(), v.clone()));
        }
    }
    if local.is_some() {
        for k in r.keys() {
            if !ignore.contains(k) && !l.contains_key(k) {
                remove.push(k.clone());
            }
        }
    }
    (set, remove)
}

async fn sync_tags(client: &aws_sdk_ecs::Client, arn: &str, (set, remove): (Vec<(String, Value)>, Vec<String>), reporter: &Reporter) -> Result<()> {
    use crate::aws::SdkContext;
    if !set.is_empty() {
        let tags: Vec<aws_sdk_ecs::types::Tag> =
            set.iter().map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v.as_str().unwrap_or_default()).build()).collect();
        client.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.sdk_context(|| "tagging the service".into())?;
        reporter.info(&format!("tags set: {}", set.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if !remove.is_empty() {
        client.untag_resource().resource_arn(arn).set_tag_keys(Some(remove.clone())).send().await.sdk_context(|| "untagging the service".into())?;
        reporter.info(&format!("tags removed: {}", remove.join(", ")));
    }
    Ok(())
}

/// The service is missing: create it from the definition files.
#[allow(clippy::too_many_arguments)]
async fn create(
    app: &App,
    aws: &Aws,
    opts: &DeployOptions,
    service_name: &str,
    local_td: Option<Value>,
    local_sv: Option<Value>,
    reporter: &mut Reporter,
    started: f64,
) -> Result<()> {
    let client = aws.ecs();
    let sv = local_sv.ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service_definition is needed to create the service"))?;
    let td_local = match local_td {
        Some(td) => td,
        None => app.renderer().task_definition(app.task_definition_path()?)?,
    };
    let family = crate::definitions::family(&td_local).unwrap_or_default().to_owned();
    reporter.info(&format!("service {service_name} does not exist in cluster {}: it will be created", app.config.cluster));
    let existing = if opts.skip_task_definition || opts.latest_task_definition {
        Some(ecs::latest_task_definition_arn(&client, &family).await?.with_context(|| format!("no ACTIVE revision of {family}"))?)
    } else {
        reuse_latest(&client, &family, &td_local, opts.force_register).await?
    };
    let desired = service::desired_count(&sv, opts.tasks, false, sv.get("desiredCount").and_then(Value::as_i64));
    gate::check(
        app,
        aws,
        PlanInput {
            command: opts.command.into(),
            task_definition: Some(td_local.clone()),
            task_definition_arn: existing.clone(),
            service_definition: Some(sv.clone()),
            diff: diff::unified(None, &normalize::service(&sv, &[], true), "", &app.service_definition_path()?.display().to_string()),
            desired_count: desired,
            overrides: None,
        },
        &opts.overrides,
        opts.dry_run,
    )
    .await?;
    if opts.dry_run {
        reporter.info(&format!("task definition:\n{}", to_pretty_json(&td_local)));
        reporter.info(&format!("service definition:\n{}", to_pretty_json(&sv)));
        reporter.info("DRY RUN OK");
        return Ok(());
    }
    let td_arn = match existing {
        Some(arn) => arn,
        None => register(&client, &td_local, reporter).await?,
    };
    let body = service::create_body(&sv, &app.config.cluster, service_name, &td_arn, desired);
    let created = ecs::create_service(&client, &body).await?;
    reporter.info(&format!("created service {service_name} with {}", ecs::short_task_definition(&td_arn)));
    // CreateService drops nothing on AWS, but the circuit breaker must be in force from the start.
    if !opts.wait {
        reporter.result(true, "service is created (not waiting)", json!({}));
        return Ok(());
    }
    if created.pointer("/deploymentController/type").and_then(Value::as_str) == Some("CODE_DEPLOY") {
        reporter.result(true, "service is created (CodeDeploy: no deployment until the next deploy)", json!({}));
        return Ok(());
    }
    let watch = wait::Watch {
        cluster: app.config.cluster.clone(),
        service: service_name.to_owned(),
        deployment: primary_deployment(&created),
        timeout: app.config.timeout,
        since: started,
        known_events: Default::default(),
        just_created: true,
    };
    finish_wait(&client, watch, reporter).await
}
