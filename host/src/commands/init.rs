//! `cortado init`: a config and definition files written from what runs, so that `diff` right after
//! shows nothing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use crate::aws::{Aws, codedeploy, ecs};
use crate::config::duration::format_go_duration;
use crate::context::Globals;
use crate::definitions::to_pretty_json;
use crate::diff::normalize;
use crate::env::Env;
use crate::output::jsonnet_fmt;

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Region of the service [default: AWS_REGION]
    #[arg(long)]
    pub region: Option<String>,
    /// Cluster of the service
    #[arg(long, default_value = "default")]
    pub cluster: String,
    /// Service to import with its task definition
    #[arg(long, required_unless_present = "task_definition", conflicts_with = "task_definition")]
    pub service: Option<String>,
    /// Import only this task definition (family:revision or ARN)
    #[arg(long = "task-definition")]
    pub task_definition: Option<String>,
    /// Where to write the task definition
    #[arg(long = "task-definition-path", default_value = "ecs-task-def.json")]
    pub task_definition_path: PathBuf,
    /// Where to write the service definition
    #[arg(long = "service-definition-path", default_value = "ecs-service-def.json")]
    pub service_definition_path: PathBuf,
    /// Sort arrays in the task definition as diff does
    #[arg(long)]
    pub sort: bool,
    /// Overwrite existing files without asking
    #[arg(long = "force-overwrite")]
    pub force_overwrite: bool,
    /// Write Jsonnet instead of JSON/YAML
    #[arg(long)]
    pub jsonnet: bool,
    /// The service is an Express service: write its express definition (ECS Express mode)
    #[arg(long, overrides_with = "no_express", requires = "service")]
    pub express: bool,
    /// Write a task and a service definition (the default)
    #[arg(long = "no-express", overrides_with = "express")]
    pub no_express: bool,
    /// Where to write the express definition (with --express)
    #[arg(long = "express-definition-path", default_value = "ecs-express-def.json")]
    pub express_definition_path: PathBuf,
}

/// Fields of DescribeServices output that describe the running state, not the definition.
const SERVICE_RUNTIME_FIELDS: &[&str] = &[
    "clusterArn",
    "createdAt",
    "createdBy",
    "deployments",
    "events",
    "pendingCount",
    "runningCount",
    "status",
    "taskDefinition",
    "taskSets",
    "serviceArn",
    "roleArn",
    "serviceName",
    "currentServiceDeployment",
    "currentServiceRevisions",
];

pub async fn run(globals: &Globals, mut env: Env, args: InitArgs) -> Result<()> {
    for file in &globals.envfile {
        env.load_envfile(file)?;
    }
    let config_path = globals.config.clone().unwrap_or_else(|| PathBuf::from(if args.jsonnet { "cortado.jsonnet" } else { "cortado.yml" }));
    let config_path = if args.jsonnet && has_ext(&config_path, &["yml", "yaml", "json"]) { config_path.with_extension("jsonnet") } else { config_path };
    let dir = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let td_rel = if args.jsonnet { args.task_definition_path.with_extension("jsonnet") } else { args.task_definition_path.clone() };
    let sv_rel = if args.jsonnet { args.service_definition_path.with_extension("jsonnet") } else { args.service_definition_path.clone() };

    let region = args.region.clone().or_else(|| env.get("AWS_REGION").map(str::to_owned));
    let aws = Aws::load(region.as_deref(), globals.assume_role_arn.as_deref()).await?;
    let client = aws.ecs();

    let mut config = Map::new();
    config.insert("region".into(), json!(aws.region()));
    config.insert("cluster".into(), json!(args.cluster));

    if args.express {
        let service = args.service.as_deref().unwrap_or_default();
        let rel = if args.jsonnet { args.express_definition_path.with_extension("jsonnet") } else { args.express_definition_path.clone() };
        let doc = express_definition_from_remote(&client, &args.cluster, service).await?;
        let text = if args.jsonnet { jsonnet_fmt::format(&doc) } else { to_pretty_json(&doc) };
        write_file(&dir.join(&rel), &text, args.force_overwrite)?;
        config.insert("service".into(), json!(service));
        config.insert("express_definition".into(), json!(rel.display().to_string()));
        config.insert("timeout".into(), json!(format_go_duration(crate::config::DEFAULT_TIMEOUT)));
        return write_config(&config_path, config, args.jsonnet, args.force_overwrite);
    }

    let td_arn = match &args.service {
        Some(service) => {
            let sv = ecs::describe_service(&client, &args.cluster, service)
                .await?
                .with_context(|| format!("service {service} is not found in cluster {}", args.cluster))?;
            let td_arn = sv.get("taskDefinition").and_then(Value::as_str).unwrap_or("").to_owned();
            if crate::aws::controller::Controller::of(&sv) == crate::aws::controller::Controller::CodeDeploy {
                match codedeploy::find(&aws.codedeploy(), None, &args.cluster, service).await {
                    Ok(Some(t)) => {
                        config.insert("codedeploy".into(), json!({"application_name": t.application, "deployment_group_name": t.deployment_group}));
                    }
                    Ok(None) => tracing::warn!("no CodeDeploy deployment group found for {service}"),
                    Err(e) => tracing::warn!("CodeDeploy discovery failed: {e:#}"),
                }
            }
            config.insert("service".into(), json!(service));
            config.insert("service_definition".into(), json!(sv_rel.display().to_string()));
            let sv_doc = service_definition_from_remote(sv);
            let text = if args.jsonnet { jsonnet_fmt::format(&sv_doc) } else { to_pretty_json(&sv_doc) };
            write_file(&dir.join(&sv_rel), &text, args.force_overwrite)?;
            td_arn
        }
        None => args.task_definition.clone().unwrap_or_default(),
    };

    let (def, tags) = ecs::describe_task_definition(&client, &td_arn).await?;
    let mut td = ecs::registerable(&def, &tags);
    if args.sort {
        td = normalize::task_definition(&td);
    }
    config.insert("task_definition".into(), json!(td_rel.display().to_string()));
    config.insert("timeout".into(), json!(format_go_duration(crate::config::DEFAULT_TIMEOUT)));
    let td_text = if args.jsonnet { jsonnet_fmt::format(&td) } else { to_pretty_json(&td) };
    write_file(&dir.join(&td_rel), &td_text, args.force_overwrite)?;

    write_config(&config_path, config, args.jsonnet, args.force_overwrite)
}

/// Writes the config (YAML in ecspresso's key order, JSON or Jsonnet by its extension).
fn write_config(config_path: &Path, config: Map<String, Value>, jsonnet: bool, force: bool) -> Result<()> {
    let config_text = if jsonnet || has_ext(config_path, &["json", "jsonnet"]) {
        if has_ext(config_path, &["json"]) { to_pretty_json(&Value::Object(config)) } else { jsonnet_fmt::format(&Value::Object(config)) }
    } else {
        config_yaml(&config)?
    };
    write_file(config_path, &config_text, force)
}

/// `init --express`: the Express service as an express definition — its infrastructure role, its
/// newest configuration and the service's tags, without `serviceName` and `cluster` (the config
/// sets them, as in ecspresso).
async fn express_definition_from_remote(client: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<Value> {
    let sv = ecs::describe_service(client, cluster, service).await?.with_context(|| format!("service {service} is not found in cluster {cluster}"))?;
    if !crate::aws::express::is_express(&sv) {
        anyhow::bail!("service {service} in cluster {cluster} is not an Express service (resourceManagementType is not ECS): run init without --express");
    }
    let arn = sv.get("serviceArn").and_then(Value::as_str).unwrap_or_default();
    let x = crate::aws::express::describe(client, arn).await?.with_context(|| format!("Express service {service} is not found in cluster {cluster}"))?;
    let mut doc = crate::plan::express::as_definition(&x, service, cluster);
    if let Value::Object(o) = &mut doc {
        o.remove("serviceName");
        o.remove("cluster");
        // ECS names the task definition it runs, its own too; beside the primary container it
        // would be refused (ecspresso writes the primary container's form as well).
        if o.contains_key("primaryContainer") {
            o.remove("taskDefinitionArn");
        }
        if let Some(tags) = sv.get("tags").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())) {
            o.insert("tags".into(), tags.clone());
        }
    }
    Ok(doc)
}

/// The running service as a definition file: runtime state removed, tags and deployment settings kept.
pub fn service_definition_from_remote(sv: Value) -> Value {
    let mut sv = crate::definitions::keys::normalise(sv);
    if let Value::Object(o) = &mut sv {
        for k in SERVICE_RUNTIME_FIELDS {
            o.remove(*k);
        }
        let pt = o.get("propagateTags").and_then(Value::as_str);
        if !matches!(pt, Some("SERVICE" | "TASK_DEFINITION")) {
            o.insert("propagateTags".into(), json!("NONE"));
        }
    }
    sv
}

/// The config in ecspresso's key order.
fn config_yaml(config: &Map<String, Value>) -> Result<String> {
    let mut out = String::new();
    for key in ["region", "cluster", "service", "service_definition", "task_definition", "express_definition", "timeout", "codedeploy"] {
        if let Some(v) = config.get(key) {
            let mut one = serde_yaml_ng::Mapping::new();
            one.insert(serde_yaml_ng::Value::String(key.into()), serde_yaml_ng::to_value(v)?);
            out.push_str(&serde_yaml_ng::to_string(&one)?);
        }
    }
    Ok(out)
}

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Writes a file, asking before overwriting on a terminal and skipping otherwise.
fn write_file(path: &Path, text: &str, force: bool) -> Result<()> {
    if path.exists() && !force {
        if !std::io::stdin().is_terminal() {
            tracing::warn!("{} exists; skipped (use --force-overwrite)", path.display());
            return Ok(());
        }
        if !crate::output::prompt::confirm(&format!("Overwrite existing file {}?", path.display()))? {
            tracing::info!("skipped {}", path.display());
            return Ok(());
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!("{} is written", path.display());
    Ok(())
}
