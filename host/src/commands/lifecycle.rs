//! The task-definition and service lifecycle commands around deploy: wait, register, deregister,
//! revisions, delete, appspec.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::App;
use crate::aws::{SdkContext, ecs};
use crate::definitions::to_pretty_json;
use crate::deploy::progress::Reporter;
use crate::deploy::{codedeploy, epoch_now, finish_wait, primary_deployment};
use crate::gate::{self, Overrides, PlanInput};

pub async fn wait(app: &App, json_output: bool) -> Result<()> {
    let service = app.config.service.clone().ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service is not defined"))?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let sv = ecs::describe_service(&client, &app.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let mut reporter = Reporter::new(json_output);
    if sv.pointer("/deploymentController/type").and_then(Value::as_str) == Some("CODE_DEPLOY") {
        return match codedeploy::in_progress(app, &aws).await? {
            Some(id) => codedeploy::wait_deployment(&aws, &app.config.cluster, &service, &id, app.config.timeout, &mut reporter).await,
            None => {
                reporter.result(true, "no CodeDeploy deployment in progress", json!({}));
                Ok(())
            }
        };
    }
    // Events from the last ten minutes give context on what is being waited for.
    let watch = crate::deploy::wait::Watch {
        cluster: app.config.cluster.clone(),
        service,
        deployment: primary_deployment(&sv),
        timeout: app.config.timeout,
        since: epoch_now() - 600.0,
        known_events: Default::default(),
        just_created: false,
    };
    finish_wait(&client, watch, &mut reporter).await
}

pub async fn register(app: &App, dry_run: bool, output: bool) -> Result<()> {
    let td = app.renderer().task_definition(app.task_definition_path()?)?;
    if dry_run {
        print!("{}", to_pretty_json(&td));
        return Ok(());
    }
    let aws = app.aws().await?;
    let registered = ecs::register_task_definition(&aws.ecs(), &td).await?;
    let arn = registered.get("taskDefinitionArn").and_then(Value::as_str).unwrap_or_default();
    tracing::info!("task definition is registered: {}", ecs::short_task_definition(arn));
    if output {
        print!("{}", to_pretty_json(&registered));
    }
    Ok(())
}

/// Task definitions in use: the service's deployments and the cluster's tasks of the family.
async fn in_use(app: &App, client: &aws_sdk_ecs::Client, family: &str) -> Result<BTreeMap<String, String>> {
    let mut used = BTreeMap::new();
    if let Some(service) = &app.config.service
        && let Some(sv) = ecs::describe_service(client, &app.config.cluster, service).await?
    {
        for d in sv.get("deployments").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(td), Some(status)) = (d.get("taskDefinition").and_then(Value::as_str), d.get("status").and_then(Value::as_str)) {
                used.insert(td.to_owned(), format!("{status} deployment"));
            }
        }
    }
    for status in [aws_sdk_ecs::types::DesiredStatus::Running] {
        let list =
            client.list_tasks().cluster(&app.config.cluster).family(family).desired_status(status).send().await.sdk_context(|| "listing tasks".into())?;
        let arns = list.task_arns().to_vec();
        for chunk in arns.chunks(100) {
            let desc =
                client.describe_tasks().cluster(&app.config.cluster).set_tasks(Some(chunk.to_vec())).send().await.sdk_context(|| "describing tasks".into())?;
            for t in desc.tasks() {
                if let Some(td) = t.task_definition_arn() {
                    used.entry(td.to_owned()).or_insert_with(|| format!("{} task", t.last_status().unwrap_or("RUNNING")));
                }
            }
        }
    }
    Ok(used)
}

async fn local_family(app: &App) -> Result<String> {
    let td = app.renderer().task_definition(app.task_definition_path()?)?;
    Ok(crate::definitions::family(&td).unwrap_or_default().to_owned())
}

pub async fn revisions(app: &App, revision: Option<String>, output: &str) -> Result<()> {
    let family = local_family(app).await?;
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
        let (def, tags) = ecs::describe_task_definition(&client, &name).await?;
        let mut def = def;
        if tags.as_array().is_some_and(|t| !t.is_empty()) {
            def["tags"] = tags;
        }
        print!("{}", to_pretty_json(&def));
        return Ok(());
    }
    let active = ecs::active_revisions(&client, &family).await?;
    let used = in_use(app, &client, &family).await?;
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
            let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
            println!("| {:<w$} | IN USE", "NAME");
            for (name, in_use) in &rows {
                println!("| {name:<w$} | {in_use}");
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct DeregisterOptions {
    pub dry_run: bool,
    pub revision: Option<String>,
    pub keeps: Option<usize>,
    pub force: bool,
    pub delete: bool,
}

pub async fn deregister(app: &App, opts: DeregisterOptions) -> Result<()> {
    if opts.revision.is_none() && opts.keeps.is_none() {
        return Err(crate::error::InputError::new("--revision or --keeps required").into());
    }
    if opts.keeps == Some(0) {
        return Err(crate::error::InputError::new("--keeps must be greater than 0").into());
    }
    let family = local_family(app).await?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let active = ecs::active_revisions(&client, &family).await?;
    let used = in_use(app, &client, &family).await?;
    let targets: Vec<String> = match &opts.revision {
        Some(r) => {
            let arn = if r == "latest" {
                active.last().cloned().context("no ACTIVE revision")?
            } else {
                active
                    .iter()
                    .find(|a| ecs::revision_of_arn(a).map(|n| n.to_string()) == Some(r.clone()))
                    .cloned()
                    .with_context(|| format!("{family}:{r} is not ACTIVE"))?
            };
            if let Some(how) = used.get(&arn) {
                anyhow::bail!("{} is in use ({how}): not deregistered", ecs::short_task_definition(&arn));
            }
            vec![arn]
        }
        None => {
            let keeps = opts.keeps.unwrap_or(0);
            let unused: Vec<&String> = active.iter().filter(|a| !used.contains_key(*a)).collect();
            unused.iter().rev().skip(keeps).rev().map(|a| (*a).clone()).collect()
        }
    };
    if targets.is_empty() {
        tracing::info!("nothing to deregister");
        return Ok(());
    }
    for t in &targets {
        tracing::info!("{} will be deregistered", ecs::short_task_definition(t));
    }
    if opts.dry_run {
        tracing::info!("DRY RUN OK");
        return Ok(());
    }
    if !opts.force && !confirm(&format!("Deregister {} revision(s)? (y/N) ", targets.len()), &["y", "Y", "yes"])? {
        anyhow::bail!("aborted");
    }
    for t in &targets {
        client.deregister_task_definition().task_definition(t).send().await.sdk_context(|| format!("deregistering {t}"))?;
        tracing::info!("deregistered {}", ecs::short_task_definition(t));
    }
    if opts.delete {
        for chunk in targets.chunks(10) {
            client.delete_task_definitions().set_task_definitions(Some(chunk.to_vec())).send().await.sdk_context(|| "deleting task definitions".into())?;
        }
        tracing::info!("deleted {} revision(s)", targets.len());
    }
    Ok(())
}

/// Asks on the terminal; anything but an accepted answer is a no. Without a terminal: no.
fn confirm(prompt: &str, accept: &[&str]) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(accept.contains(&answer.trim()))
}

pub async fn delete(app: &App, dry_run: bool, force: bool, terminate: bool, overrides: Overrides) -> Result<()> {
    let service = app.config.service.clone().ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service is not defined"))?;
    let aws = app.aws().await?;
    let client = aws.ecs();
    let sv = ecs::describe_service(&client, &app.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    print!("{}", super::status::format_service(&sv, &app.config.cluster, 3));
    gate::check(app, &aws, PlanInput { command: "delete".into(), diff: format!("-service {service}\n"), ..Default::default() }, &overrides, dry_run).await?;
    if dry_run {
        tracing::info!("service {service} would be deleted\nDRY RUN OK");
        return Ok(());
    }
    if !force {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("delete needs --force when not run on a terminal");
        }
        eprint!("Enter the service name to DELETE: ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != service {
            anyhow::bail!("aborted: {:?} is not {service:?}", answer.trim());
        }
    }
    client
        .delete_service()
        .cluster(&app.config.cluster)
        .service(&service)
        .force(terminate)
        .send()
        .await
        .sdk_context(|| format!("deleting service {service}"))?;
    tracing::info!("service {service} is deleted");
    Ok(())
}

pub async fn appspec(app: &App, task_definition: &str, update_service: bool) -> Result<()> {
    let aws = app.aws().await?;
    let client = aws.ecs();
    let service = app.config.service.clone().ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service is not defined"))?;
    let remote = ecs::describe_service(&client, &app.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let td_arn = match task_definition {
        "current" => remote.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned(),
        "latest" => {
            let family = ecs::family_of_arn(remote.get("taskDefinition").and_then(Value::as_str).unwrap_or_default()).unwrap_or_default().to_owned();
            ecs::latest_task_definition_arn(&client, &family).await?.context("no ACTIVE revision")?
        }
        arn if arn.starts_with("arn:aws:ecs:") => arn.to_owned(),
        other => return Err(crate::error::InputError::new(format!("--task-definition {other:?}: use latest, current or an ARN")).into()),
    };
    let sv = if update_service { app.renderer().service_definition(app.service_definition_path()?, Some(&service))? } else { remote };
    print!("{}", codedeploy::appspec(&td_arn, &sv, app.config.appspec.as_ref())?);
    Ok(())
}
