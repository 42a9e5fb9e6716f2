//! `cortado diff`: the service and task definitions in the files against what runs.

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::Value;

use super::App;
use crate::aws::ecs;
use crate::context::Globals;
use crate::diff::{self, Pair};
use crate::env::Env;
use crate::error::DiffFound;
use crate::output::Style;

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Unified diff (the default); --no-unified prints whole documents
    #[arg(long, overrides_with = "no_unified")]
    pub unified: bool,
    /// Print the remote and local documents whole instead of a unified diff
    #[arg(long = "no-unified", overrides_with = "unified")]
    pub no_unified: bool,
    /// Exit 1 when anything differs
    #[arg(long = "exit-code")]
    pub exit_code: bool,
    /// Run this command with the remote and local files as its last two arguments instead [env: CORTADO_DIFF_COMMAND]
    #[arg(long)]
    pub external: Option<String>,
    /// Compare the service too (the default); --without-service compares only the task definition (ecspresso v2.8)
    #[arg(long = "with-service", overrides_with = "without_service")]
    pub with_service: bool,
    #[arg(long = "without-service", overrides_with = "with_service")]
    pub without_service: bool,
    /// Compare the documents formatted as Jsonnet, as `render --jsonnet` prints them (ecspresso v2.8)
    #[arg(long)]
    pub jsonnet: bool,
}

impl DiffArgs {
    /// `cortado diff`: a daemon config diffs its daemon, any other its service.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        if self.unified || self.no_unified {
            let flag = if self.no_unified { "diff --no-unified" } else { "diff --unified" };
            crate::config::refuse_removed_in_v3(&app.config, flag, "#1027", "the diff is always unified; --external CMD shows it another way")?;
        }
        if super::daemon::is_daemon(&app) {
            return super::daemon::diff(&app, &self).await;
        }
        if super::express::is_express(&app) {
            return super::express::diff(&app, &self).await;
        }
        run(&app, self).await
    }
}

pub async fn run(app: &App, args: DiffArgs) -> Result<()> {
    // Local side first: bad input fails before any AWS call.
    let td_path = app.task_definition_path()?.clone();
    let local_td = app.renderer().task_definition(&td_path)?;
    let local_sv = match &app.config.service {
        // The service's task definition is still the one compared against.
        Some(_) if args.without_service => None,
        Some(_) => {
            let path = app.service_definition_path()?.clone();
            Some((app.renderer().service_definition(&path, app.config.service.as_deref())?, path))
        }
        None => None,
    };

    let aws = app.aws().await?;
    let client = aws.ecs();
    let mut pairs = Vec::new();
    let mut remote_td_arn = None;

    if let (Some(service), true) = (&app.config.service, args.without_service) {
        remote_td_arn = ecs::describe_service(&client, &app.config.cluster, service).await?.and_then(|r| r.get("taskDefinition")?.as_str().map(str::to_owned));
    }
    if let (Some(service), Some((local, path))) = (&app.config.service, &local_sv) {
        let remote = ecs::describe_service(&client, &app.config.cluster, service).await?;
        if remote.is_none() {
            tracing::info!("service {service} is not found in cluster {}: deploy will create it", app.config.cluster);
        }
        remote_td_arn = remote.as_ref().and_then(|r| r.get("taskDefinition")).and_then(Value::as_str).map(str::to_owned);
        pairs.push(Pair::service(local, remote.as_ref(), &app.config.ignore.tags, &path.display().to_string()));
    }
    if remote_td_arn.is_none()
        && let Some(family) = crate::definitions::family(&local_td)
    {
        remote_td_arn = ecs::latest_task_definition_arn(&client, family).await?;
    }
    let remote_td = match &remote_td_arn {
        Some(arn) => {
            let (def, tags) = ecs::describe_task_definition(&client, arn).await?;
            Some(ecs::registerable(&def, &tags))
        }
        None => None,
    };
    pairs.push(Pair::task_definition(&local_td, remote_td.as_ref(), remote_td_arn.as_deref().unwrap_or(""), &td_path.display().to_string()));

    show(app, &pairs, &args)
}

/// Prints the pairs that differ as `args` asks (unified, whole documents, Jsonnet, or through the
/// external command), then `--exit-code`'s exit 1 when any did. The service, Express and daemon
/// diffs all end here, so every flag means the same for each.
pub fn show(app: &App, pairs: &[Pair], args: &DiffArgs) -> Result<()> {
    let mut differs = false;
    let style = Style::stdout();
    let external_cmd =
        args.external.clone().or_else(|| app.env.get("CORTADO_DIFF_COMMAND").or_else(|| app.env.get("ECSPRESSO_DIFF_COMMAND")).map(str::to_owned));
    for pair in pairs.iter().filter(|p| p.differs()) {
        differs = true;
        if let Some(cmd) = &external_cmd {
            std::io::stdout().flush()?;
            external(cmd, pair, args.jsonnet)?;
            continue;
        }
        let text = match (args.no_unified, args.jsonnet) {
            (true, _) => full_diff(pair, args.jsonnet),
            (false, false) => pair.unified(),
            (false, true) => unified_jsonnet(pair),
        };
        std::io::stdout().lock().write_all(diff::colorize(&text, &style).as_bytes())?;
    }
    if differs && args.exit_code {
        return Err(DiffFound.into());
    }
    Ok(())
}

/// A document as the diff shows it: pretty JSON, or Jsonnet under `--jsonnet` (go-jsonnet's
/// formatter style, so a Jsonnet user reads the diff in the form they write).
fn text(v: &Value, jsonnet: bool) -> String {
    if jsonnet { crate::output::jsonnet_fmt::format(v) } else { crate::definitions::to_pretty_json(v) }
}

/// `--jsonnet`: the unified diff of both documents formatted as Jsonnet, with the same headers.
fn unified_jsonnet(pair: &Pair) -> String {
    let old = pair.remote.as_ref().map(|v| text(v, true)).unwrap_or_default();
    let new = text(&pair.local, true);
    similar::TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).header(&pair.remote_name, &pair.local_name).to_string()
}

/// `--no-unified`: both documents in full, every line marked.
fn full_diff(pair: &Pair, jsonnet: bool) -> String {
    let old = pair.remote.as_ref().map(|v| text(v, jsonnet)).unwrap_or_default();
    let new = text(&pair.local, jsonnet);
    let mut out = format!("--- {}\n+++ {}\n", pair.remote_name, pair.local_name);
    for change in similar::TextDiff::from_lines(&old, &new).iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push_str(change.value());
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out
}

/// `--external CMD`: writes both sides to temporary files and runs `CMD remote local` via `sh -c`
/// (`.jsonnet` files under `--jsonnet`).
fn external(cmd: &str, pair: &Pair, jsonnet: bool) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("cortado-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ext = if jsonnet { "jsonnet" } else { "json" };
    let remote = dir.join(format!("remote.{ext}"));
    let local = dir.join(format!("local.{ext}"));
    std::fs::write(&remote, pair.remote.as_ref().map(|v| text(v, jsonnet)).unwrap_or_default())?;
    std::fs::write(&local, text(&pair.local, jsonnet))?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} \"$0\" \"$1\""))
        .arg(&remote)
        .arg(&local)
        .status()
        .with_context(|| format!("running the external diff command {cmd:?}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    // diff(1)-style tools exit 1 on differences; only 2+ is a failure.
    if status.code().is_some_and(|c| c > 1) {
        anyhow::bail!("external diff command {cmd:?} failed with {status}");
    }
    Ok(())
}
