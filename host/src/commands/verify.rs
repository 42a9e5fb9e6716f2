//! `cortado verify`: the OK/NG/SKIP tree of every referenced resource and every verifier plugin's
//! checks; exit 1 when anything is NG.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::App;
use crate::context::Globals;
use crate::env::Env;
use crate::output::Style;
use crate::verify::{self, Inputs, Options, tree};

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyOutput {
    /// The indented OK/NG/SKIP tree
    #[default]
    Text,
    /// One JSON document
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct VerifyArgs {
    /// Read secret values with the execution role (the default); --no-get-secrets checks only that they exist
    #[arg(long = "get-secrets", overrides_with = "no_get_secrets")]
    pub get_secrets: bool,
    /// Only check that secrets exist; do not read their values
    #[arg(long = "no-get-secrets", overrides_with = "get_secrets")]
    pub no_get_secrets: bool,
    /// Write a test event to each awslogs group (the default); --no-put-logs checks only that they exist
    #[arg(long = "put-logs", overrides_with = "no_put_logs")]
    pub put_logs: bool,
    /// Only check that log groups exist; write nothing
    #[arg(long = "no-put-logs", overrides_with = "put_logs")]
    pub no_put_logs: bool,
    /// Check each distinct resource once, marking repeats (cached) (the default)
    #[arg(long, overrides_with = "no_cache")]
    pub cache: bool,
    /// Check every occurrence of a resource again
    #[arg(long = "no-cache", overrides_with = "cache")]
    pub no_cache: bool,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = VerifyOutput::Text)]
    pub output: VerifyOutput,
}

impl VerifyArgs {
    /// `cortado verify`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        run(&app, self).await
    }
}

/// Raised when a check is NG: the tree is already printed, so this only sets the exit code.
#[derive(Debug, thiserror::Error)]
#[error("verify found {0} {noun}", noun = if *.0 == 1 { "problem" } else { "problems" })]
pub struct VerifyFailed(pub usize);

/// `--put-logs`: the test events are a mutation, so they are planned, gated and applied (with the
/// execution role's credentials) before the read-only checks run.
async fn write_test_events(
    app: &App,
    aws: &crate::aws::Aws,
    td: &serde_json::Value,
    agent: &aws_config::SdkConfig,
) -> Result<HashMap<String, Result<(), String>>> {
    let plan = crate::plan::verify::put_logs(app, td);
    if plan.is_empty() {
        return Ok(HashMap::new());
    }
    let overrides = Default::default();
    let opts = crate::ops::Options { agent: Some(agent.clone()), ..crate::ops::Options::new(&overrides, false, &crate::progress::Silent) };
    match crate::ops::execute(app, aws, &plan, opts, || Ok(()), async |_: &crate::apply::Apply<'_>| Ok(())).await? {
        crate::ops::Ran::Done(done) => {
            done.result?;
            Ok(done.applied.log_writes.into_iter().collect())
        }
        crate::ops::Ran::DryRun => Ok(HashMap::new()),
    }
}

pub async fn run(app: &App, args: VerifyArgs) -> Result<()> {
    if super::express::is_express(app) {
        return express(app, args).await;
    }
    // Local files first: bad input fails before any AWS call.
    let td = app.renderer().task_definition(app.task_definition_path()?)?;
    let sv = match (&app.config.service, &app.config.service_definition) {
        (_, Some(path)) => Some(app.renderer().service_definition(path, app.config.service.as_deref())?),
        _ => None,
    };
    let opts = Options {
        get_secrets: !args.no_get_secrets,
        put_logs: !args.no_put_logs,
        cache: !args.no_cache,
        offline: app.env.get("CORTADO_OFFLINE").is_some_and(|v| !v.is_empty() && v != "0" && v != "false"),
        registry_timeout: Duration::from_secs(5),
        log_writes: Default::default(),
    };
    let mut opts = opts;
    let aws = app.aws().await?;
    let started = std::time::Instant::now();
    let agent = verify::agent_credentials(&aws, td.get("executionRoleArn").and_then(serde_json::Value::as_str)).await;
    if opts.put_logs {
        opts.log_writes = Arc::new(write_test_events(app, &aws, &td, &agent).await?);
    }
    let inputs = Inputs { task_definition: &td, service_definition: sv.as_ref(), cluster: &app.config.cluster, plugins: &app.plugins, agent: Some(agent) };
    let nodes = match app.config.timeout {
        t if t.is_zero() => verify::run(&aws, inputs, &opts).await,
        t => {
            tokio::time::timeout(t, verify::run(&aws, inputs, &opts)).await.map_err(|_| anyhow::anyhow!("verify did not finish within the timeout ({t:?})"))?
        }
    };
    tracing::debug!("verify took {:?}", started.elapsed());
    report(&nodes, args.output)
}

/// Prints the tree; exit 1 when anything is NG.
fn report(nodes: &[tree::Node], output: VerifyOutput) -> Result<()> {
    match output {
        VerifyOutput::Text => print!("{}", tree::render_text(nodes, Style::stdout())),
        VerifyOutput::Json => println!("{}", serde_json::to_string_pretty(&tree::render_json(nodes))?),
    }
    let failed: usize = nodes.iter().map(tree::Node::failures).sum();
    if failed > 0 {
        return Err(VerifyFailed(failed).into());
    }
    tracing::info!("Verify OK!");
    Ok(())
}

/// An Express service (ecspresso's `verifyExpressDefinition`): the execution and task roles
/// (trusted by ecs-tasks.amazonaws.com), the infrastructure role (trusted by ecs.amazonaws.com),
/// the primary container's image and secrets, the cluster. The checks are the task definition's,
/// run on the express definition seen as one (`express::verifiable_task_definition`).
async fn express(app: &App, args: VerifyArgs) -> Result<()> {
    let local = crate::plan::express::local(app)?;
    let def = local.definition;
    let aws = app.aws().await?;
    let td = match local.task_definition {
        Some(td) => td,
        None => super::express::verifiable_task_definition(app, &aws, &def).await?,
    };
    let opts = Options {
        get_secrets: !args.no_get_secrets,
        put_logs: false,
        cache: !args.no_cache,
        offline: app.env.get("CORTADO_OFFLINE").is_some_and(|v| !v.is_empty() && v != "0" && v != "false"),
        registry_timeout: Duration::from_secs(5),
        log_writes: Default::default(),
    };
    let agent = verify::agent_credentials(&aws, td.get("executionRoleArn").and_then(serde_json::Value::as_str)).await;
    let inputs = Inputs { task_definition: &td, service_definition: None, cluster: &app.config.cluster, plugins: &app.plugins, agent: Some(agent) };
    let checks = verify::run(&aws, inputs, &opts);
    let nodes = match app.config.timeout {
        t if t.is_zero() => checks.await,
        t => tokio::time::timeout(t, checks).await.map_err(|_| anyhow::anyhow!("verify did not finish within the timeout ({t:?})"))?,
    };
    let infra = match def.get("infrastructureRoleArn").and_then(serde_json::Value::as_str) {
        Some(arn) => {
            let iam = aws_sdk_iam::Client::new(&aws.sdk);
            Some(tree::Node::leaf(format!("InfrastructureRole[{arn}]"), verify::role::check_trusted(&iam, arn, verify::role::ECS).await))
        }
        None => None,
    };
    report(&express_tree(nodes, infra), args.output)
}

/// The task definition's tree as ecspresso names an Express service's: `ExpressDefinition` with the
/// roles (the infrastructure role added) and `PrimaryContainer`; no service definition.
fn express_tree(nodes: Vec<tree::Node>, infra: Option<tree::Node>) -> Vec<tree::Node> {
    let mut out = Vec::new();
    for n in nodes {
        match n.name.as_str() {
            "ServiceDefinition" => {}
            "TaskDefinition" => {
                let mut children: Vec<tree::Node> = n
                    .children
                    .into_iter()
                    .map(|mut c| {
                        if c.name == "ContainerDefinition[Main]" {
                            c.name = "PrimaryContainer".into();
                        }
                        c
                    })
                    .collect();
                children.extend(infra.clone());
                out.push(tree::Node::parent("ExpressDefinition", None, children));
            }
            _ => out.push(n),
        }
    }
    out
}
