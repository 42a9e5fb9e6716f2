//! `cortado stack render|diff|status|deploy|rollback`: the stack file's members as one release.
//! Arguments in, member states out (text lines, or one JSON line per member event and a final
//! summary); the orchestration lives in `stack/`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::args::OutputArgs;
use super::diff::DiffArgs;
use super::render::{RenderArgs, RenderTarget};
use super::status::StatusArgs;
use super::verify::{VerifyArgs, VerifyFailed};
use crate::context::Globals;
use crate::env::Env;
use crate::error::DiffFound;
use crate::stack::deploy::{Events, Summary};
use crate::stack::{self, Member, StackFile};

#[derive(clap::Subcommand, Debug)]
pub enum StackCommand {
    /// Render every member's service and task definitions (or the given targets)
    Render(StackRenderArgs),
    /// Each member's diff; --exit-code exits 1 when any member differs
    Diff(StackDiffArgs),
    /// Each member's status
    Status(StackStatusArgs),
    /// Each member's `verify` under a header; exits non-zero when any member fails
    Verify(StackVerifyArgs),
    /// Plan every member, gate them together, take every lock, apply in `needs` order
    Deploy(StackDeployArgs),
    /// Send the members the last successful `stack deploy` changed back to what ran before it
    Rollback(StackRollbackArgs),
}

/// Which stack file, which members.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StackSelect {
    /// The stack file [default: cortado-stack.yml] [env: CORTADO_STACK]
    #[arg(long, value_name = "FILE")]
    pub stack: Option<PathBuf>,
    /// Only this member (repeatable), with what it needs unless --no-needs
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// With --only: not the members it needs
    #[arg(long = "no-needs")]
    pub no_needs: bool,
}

#[derive(clap::Args, Debug)]
pub struct StackRenderArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// What to render for each member, in order [default: servicedef taskdef]
    #[arg(value_enum)]
    pub targets: Vec<RenderTarget>,
}

#[derive(clap::Args, Debug)]
pub struct StackDiffArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// Exit 1 when any member differs
    #[arg(long = "exit-code")]
    pub exit_code: bool,
}

#[derive(clap::Args, Debug)]
pub struct StackStatusArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// How many recent service events to show per member
    #[arg(long, default_value_t = 10)]
    pub events: usize,
}

#[derive(clap::Args, Debug)]
pub struct StackVerifyArgs {
    #[command(flatten)]
    pub select: StackSelect,
    #[command(flatten)]
    pub verify: VerifyArgs,
}

#[derive(clap::Args, Debug)]
pub struct StackDeployArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// Plan and gate every member (decisions are recorded); change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct StackRollbackArgs {
    #[command(flatten)]
    pub select: StackSelect,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The stack file, the selected members (loaded and rendered): bad input exits 2 here.
fn load(select: &StackSelect, globals: &Globals, env: &Env) -> Result<(StackFile, BTreeSet<String>, Vec<Member>)> {
    let path = stack::locate(select.stack.as_deref(), env, &std::env::current_dir()?)?;
    let file = StackFile::load(&path)?;
    let selected = file.select(&select.only, !select.no_needs)?;
    let members = stack::load_members(&file, &selected, globals, env)?;
    Ok((file, selected, members))
}

pub async fn run(command: StackCommand, globals: Globals, env: Env) -> Result<()> {
    match command {
        StackCommand::Render(a) => {
            let (_, _, members) = load(&a.select, &globals, &env)?;
            for m in &members {
                println!("# {} ({})", m.name, m.config.display());
                let _ = std::io::stdout().flush();
                let targets = if a.targets.is_empty() { vec![RenderTarget::Servicedef, RenderTarget::Taskdef] } else { a.targets.clone() };
                super::render::run(&m.ctx, RenderArgs { targets, jsonnet: false }).map_err(stack::in_member(&m.name, &m.config))?;
            }
            Ok(())
        }
        StackCommand::Diff(a) => {
            let (_, _, members) = load(&a.select, &globals, &env)?;
            let mut differ = Vec::new();
            for m in &members {
                println!("# {} ({})", m.name, m.config.display());
                let _ = std::io::stdout().flush();
                let args =
                    DiffArgs { unified: false, no_unified: false, exit_code: true, external: None, with_service: true, without_service: false, jsonnet: false };
                match super::diff::run(&m.ctx, args).await {
                    Ok(()) => {}
                    Err(e) if e.is::<DiffFound>() => differ.push(m.name.clone()),
                    Err(e) => return Err(stack::in_member(&m.name, &m.config)(e)),
                }
            }
            if a.exit_code && !differ.is_empty() {
                eprintln!("stack: {} member(s) differ: {}", differ.len(), differ.join(", "));
                return Err(DiffFound.into());
            }
            Ok(())
        }
        StackCommand::Status(a) => {
            let (_, _, members) = load(&a.select, &globals, &env)?;
            for m in &members {
                println!("# {} ({})", m.name, m.config.display());
                let _ = std::io::stdout().flush();
                super::status::run(&m.ctx, StatusArgs { events: a.events, output: "text".into() }).await.map_err(stack::in_member(&m.name, &m.config))?;
            }
            Ok(())
        }
        StackCommand::Verify(a) => {
            let (_, _, members) = load(&a.select, &globals, &env)?;
            verify(&members, &a.verify).await
        }
        StackCommand::Deploy(a) => {
            let (file, selected, members) = load(&a.select, &globals, &env)?;
            let own = file.own_context(&globals, env, &members)?;
            let presenter = Presenter { json: a.output.json() };
            presenter.waves(&file, &selected)?;
            let summary = stack::deploy::deploy(&file, &members, &own, a.dry_run, &presenter).await?;
            presenter.summary(&summary, if a.dry_run { "dry run" } else { "deploy" })
        }
        StackCommand::Rollback(a) => {
            let (file, _, members) = load(&a.select, &globals, &env)?;
            let own = file.own_context(&globals, env, &members)?;
            let presenter = Presenter { json: a.output.json() };
            let summary = stack::deploy::rollback(&file, &members, &own, &presenter).await?;
            presenter.summary(&summary, "rollback")
        }
    }
}

/// Every member's `verify` under its header, all of them even after a failure; then exit 1
/// naming the members that failed (their checks or an error).
async fn verify(members: &[Member], args: &VerifyArgs) -> Result<()> {
    let mut failed = Vec::new();
    for m in members {
        println!("# {} ({})", m.name, m.config.display());
        let _ = std::io::stdout().flush();
        match super::verify::run(&m.ctx, args.clone()).await {
            Ok(()) => {}
            Err(e) if e.is::<VerifyFailed>() => failed.push(format!("{} ({e})", m.name)),
            Err(e) => {
                let e = stack::in_member(&m.name, &m.config)(e);
                eprintln!("Error: {e:#}");
                failed.push(format!("{} (error)", m.name));
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("stack verify: {} member(s) failed: {}", failed.len(), failed.join(", "));
    }
    eprintln!("stack verify: every member ({}) passed", members.len());
    Ok(())
}

/// Member states as lines (`api: deploying`), or JSON lines with `--output json`.
struct Presenter {
    json: bool,
}

impl Presenter {
    fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// The waves the members run in.
    fn waves(&self, file: &StackFile, selected: &BTreeSet<String>) -> Result<()> {
        let waves = file.waves(selected)?;
        if self.json {
            self.line(&json!({"event": "waves", "waves": waves}).to_string());
        } else {
            let text: Vec<String> = waves.iter().map(|w| format!("[{}]", w.join(", "))).collect();
            self.line(&format!("stack: {} member(s) in {} wave(s): {}", selected.len(), waves.len(), text.join(" → ")));
        }
        Ok(())
    }

    /// The final line; a failed run is exit 1 after it.
    fn summary(&self, s: &Summary, what: &str) -> Result<()> {
        if self.json {
            self.line(&json!({"event": "summary", "command": what, "summary": s.to_json()}).to_string());
        } else {
            let counts: Vec<String> = {
                let mut states: Vec<&String> = s.states.values().collect();
                states.sort();
                states.dedup();
                states.iter().map(|st| format!("{} {st}", s.states.values().filter(|x| x == st).count())).collect()
            };
            let run = s.run_id.as_deref().map(|r| format!(" (run {r})")).unwrap_or_default();
            self.line(&format!("stack {what} {}{run}: {}", if s.failed { "FAILED" } else { "ok" }, counts.join(", ")));
        }
        if s.failed {
            anyhow::bail!("stack {what} failed: {}", s.with("failed").join(", "));
        }
        Ok(())
    }
}

impl Events for Presenter {
    fn state(&self, member: &str, state: &str, detail: &str) {
        if self.json {
            self.line(&json!({"event": "member", "member": member, "state": state, "detail": detail}).to_string());
        } else if detail.is_empty() {
            self.line(&format!("{member}: {state}"));
        } else {
            self.line(&format!("{member}: {state}: {detail}"));
        }
    }

    fn info(&self, member: &str, msg: &str) {
        if self.json {
            self.line(&json!({"event": "info", "member": member, "message": msg}).to_string());
        } else {
            self.line(&format!("[{member}] {msg}"));
        }
    }
}
