//! Plans of the task-definition and service lifecycle commands: `register`, `deregister`
//! (`--delete`), `delete`. Each carries the full body of every task definition it touches.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::{Plan, PlannedTd, Role, Step, described_td};
use crate::aws::{Aws, SdkContext, ecs};
use crate::context::Context;
use crate::error::InputError;

/// `register`: the rendered task definition (`td`, rendered before any AWS call by
/// [`rendered_task_definition`]), its images pinned when the config asks, registered as a new revision.
pub async fn register(ctx: &Context, aws: &Aws, td: Value) -> Result<Plan> {
    let td = super::deploy::pinned(ctx, aws, td, &mut Vec::new()).await?;
    let mut plan = Plan::new("register", &ctx.config.cluster, ctx.config.service.as_deref());
    plan.push(super::deploy::register_step(&td));
    plan.diff = crate::diff::Pair::task_definition(&td, None, "", &ctx.task_definition_path()?.display().to_string()).unified();
    // A registered revision can be deployed later by --latest-task-definition: gates judge it now.
    plan.task_definitions.push(PlannedTd { arn: None, body: td, role: Role::Runs });
    Ok(plan)
}

/// The local task definition, rendered (bad input fails here, before any AWS call).
pub fn rendered_task_definition(ctx: &Context) -> Result<Value> {
    ctx.renderer().task_definition(ctx.task_definition_path()?)
}

#[derive(Debug, Clone, Default)]
pub struct DeregisterOptions {
    pub revision: Option<String>,
    pub keeps: Option<usize>,
    pub delete: bool,
}

/// The local task definition's family.
pub fn local_family(ctx: &Context) -> Result<String> {
    let td = ctx.renderer().task_definition(ctx.task_definition_path()?)?;
    Ok(crate::definitions::family(&td).unwrap_or_default().to_owned())
}

/// `deregister`: the revisions not in use that `--revision` or `--keeps` select (and their
/// deletion with `--delete`).
pub async fn deregister(ctx: &Context, aws: &Aws, opts: &DeregisterOptions) -> Result<Plan> {
    if opts.revision.is_none() && opts.keeps.is_none() {
        return Err(InputError::new("--revision or --keeps required").into());
    }
    if opts.keeps == Some(0) {
        return Err(InputError::new("--keeps must be greater than 0").into());
    }
    let family = local_family(ctx)?;
    let client = aws.ecs();
    let active = ecs::active_revisions(&client, &family).await?;
    let used = in_use(ctx, &client, &family).await?;
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
    let mut plan = Plan::new("deregister", &ctx.config.cluster, ctx.config.service.as_deref());
    for t in &targets {
        plan.task_definitions.push(described_td(&client, t, Role::Removed).await?);
        plan.push(deregister_step(t));
        plan.diff.push_str(&format!("-taskDefinition {t}\n"));
    }
    if opts.delete {
        for chunk in targets.chunks(10) {
            plan.push(Step::ecs("DeleteTaskDefinitions", json!({"taskDefinitions": chunk}), chunk.join(", ")));
        }
    }
    Ok(plan)
}

/// Task definitions in use: the service's deployments and the cluster's running tasks of the family.
pub async fn in_use(ctx: &Context, client: &aws_sdk_ecs::Client, family: &str) -> Result<BTreeMap<String, String>> {
    let mut used = BTreeMap::new();
    if let Some(service) = &ctx.config.service
        && let Some(sv) = ecs::describe_service(client, &ctx.config.cluster, service).await?
    {
        for d in sv.get("deployments").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(td), Some(status)) = (d.get("taskDefinition").and_then(Value::as_str), d.get("status").and_then(Value::as_str)) {
                used.insert(td.to_owned(), format!("{status} deployment"));
            }
        }
    }
    let list = client
        .list_tasks()
        .cluster(&ctx.config.cluster)
        .family(family)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .send()
        .await
        .sdk_context(|| "listing tasks".into())?;
    for chunk in list.task_arns().chunks(100) {
        let desc =
            client.describe_tasks().cluster(&ctx.config.cluster).set_tasks(Some(chunk.to_vec())).send().await.sdk_context(|| "describing tasks".into())?;
        for t in desc.tasks() {
            if let Some(td) = t.task_definition_arn() {
                used.entry(td.to_owned()).or_insert_with(|| format!("{} task", t.last_status().unwrap_or("RUNNING")));
            }
        }
    }
    Ok(used)
}

/// `delete`: the service, with what it runs.
pub async fn delete(ctx: &Context, aws: &Aws, terminate: bool) -> Result<(Plan, Value)> {
    let service = ctx.service_name()?;
    let client = aws.ecs();
    let sv = ecs::describe_service(&client, &ctx.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let mut plan = Plan::new("delete", &ctx.config.cluster, Some(&service));
    if let Some(td) = sv.get("taskDefinition").and_then(Value::as_str) {
        plan.task_definitions.push(described_td(&client, td, Role::Removed).await?);
    }
    plan.diff = format!("-service {service}\n");
    plan.service_before = Some(sv.clone());
    let cluster = &ctx.config.cluster;
    let resource = format!("service {service} in cluster {cluster}{}", if terminate { " (force)" } else { "" });
    plan.push(Step::ecs("DeleteService", json!({"cluster": cluster, "service": service, "force": terminate}), resource));
    Ok((plan, sv))
}

/// DeregisterTaskDefinition of `arn`.
pub fn deregister_step(arn: &str) -> Step {
    Step::ecs("DeregisterTaskDefinition", json!({"taskDefinition": arn}), arn)
}
