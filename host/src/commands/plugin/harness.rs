//! `cortado plugin test PLUGIN CASES.yaml`: runs a plugin's hooks against stated expectations,
//! with every brokered AWS answer recorded to (`--record`) or replayed from a cassette, so plugin
//! repositories test in CI with no network and no credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use super::cases::{Case, CasesFile, Expect, Hook};
use crate::config::PluginConfig;
use crate::error::{ExitWith, InputError};
use crate::plugin::LazyPlugin;
use crate::plugin::bindings::{Check, CheckStatus, Decision, Hook as WitHook};
use crate::plugin::broker::AwsSlot;
use crate::plugin::cassette::{Cassette, Mode};
use crate::plugin::instance::LoadedPlugin;
use crate::plugin::runtime;

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// The component (`.wasm`), or the name of a bundled first-party plugin (`ssm`, `tfstate`, …)
    pub plugin: String,
    /// The cases: each calls a hook and states the expected result
    pub cases: PathBuf,
    /// Run against AWS (or the simulator named by AWS_ENDPOINT_URL) and write the cassette
    #[arg(long)]
    pub record: bool,
    /// The cassette (default: the cases file's `cassette:`, else CASES with `.cassette.json`)
    #[arg(long)]
    pub cassette: Option<PathBuf>,
    /// `text` (a line a case) or `json`
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
}

/// One case's outcome.
#[derive(Debug, Serialize)]
struct Outcome {
    name: String,
    passed: bool,
    /// Why it failed (empty when it passed).
    message: String,
    /// Brokered calls the cassette had no answer for.
    unrecorded: Vec<String>,
}

pub fn run(region: Option<String>, args: &TestArgs) -> Result<()> {
    let file = CasesFile::load(&args.cases)?;
    let dir = args.cases.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let cassette_path =
        args.cassette.clone().or_else(|| file.cassette.as_ref().map(|c| dir.join(c))).unwrap_or_else(|| args.cases.with_extension("cassette.json"));
    let cassette = Arc::new(if args.record { Cassette::record(&cassette_path, file.keep_secrets.clone()) } else { Cassette::replay(&cassette_path)? });
    let plugin = lazy_plugin(&args.plugin, &file, &dir, AwsSlot::with_cassette(region, cassette.clone()))?;
    let loaded = plugin.get().map_err(|e| anyhow::anyhow!(e))?;

    let outcomes: Vec<Outcome> = file.cases.iter().map(|case| run_case(loaded, case, &dir, &cassette)).collect();
    if cassette.mode == Mode::Record {
        cassette.save()?;
    }
    report(args, &plugin.config.name, &cassette, &outcomes)
}

/// The plugin as the cases configure it: a component file (pinned to the digest it has now) or a
/// bundled first-party plugin.
fn lazy_plugin(plugin: &str, file: &CasesFile, dir: &Path, slot: Arc<AwsSlot>) -> Result<LazyPlugin> {
    let block = &file.plugin;
    let as_path = Path::new(plugin);
    let (path, sha256, default_name) = if as_path.is_file() {
        let bytes = std::fs::read(as_path).map_err(|e| InputError::in_file(as_path, format!("cannot read component: {e}")))?;
        let stem = as_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        (Some(as_path.to_path_buf()), Some(runtime::sha256_hex(&bytes)), stem)
    } else if crate::plugin::bundled(plugin).is_some() {
        (None, None, plugin.to_owned())
    } else {
        return Err(InputError::new(format!("{plugin}: no such component file, and no bundled plugin of that name")).into());
    };
    let config = PluginConfig {
        name: block.name.clone().unwrap_or(default_name),
        config: block.config.clone(),
        func_prefix: String::new(),
        path,
        sha256,
        oci: None,
        grants: block.grants.clone(),
        preopens: block.preopens.clone(),
        enforcement: None,
        limits: block.limits.clone(),
        stages: Vec::new(),
    };
    Ok(LazyPlugin::new(config, dir.to_path_buf(), slot))
}

fn run_case(plugin: &LoadedPlugin, case: &Case, dir: &Path, cassette: &Cassette) -> Outcome {
    let _ = cassette.take_misses();
    let result = check_case(plugin, case, dir);
    let unrecorded = cassette.take_misses();
    let message = match (result, unrecorded.first()) {
        (_, Some(first)) => format!("the plugin made an AWS call that is not in the cassette: {first}"),
        (Err(m), None) => m,
        (Ok(()), None) => String::new(),
    };
    Outcome { name: case.name.clone(), passed: message.is_empty(), message, unrecorded }
}

/// Calls the case's hook and compares what came back with `expect`; the error says how it differs.
fn check_case(plugin: &LoadedPlugin, case: &Case, dir: &Path) -> Result<(), String> {
    let declared = |h: WitHook, name: &str| {
        if plugin.manifest.hooks.contains(&h) { Ok(()) } else { Err(format!("the plugin's manifest does not declare the {name} hook")) }
    };
    let e = &case.expect;
    match &case.hook {
        Hook::Resolve { function, args } => {
            declared(WitHook::Resolver, "resolver")?;
            match plugin.resolve(function, args) {
                Ok(v) => expect_value(e, &v),
                Err(err) => expect_error(e, &err.message),
            }
        }
        Hook::Verify { task_definition, service_definition } => {
            declared(WitHook::Verifier, "verifier")?;
            let td = read(dir, task_definition)?;
            let sd = service_definition.as_ref().map(|p| read(dir, p)).transpose()?;
            match plugin.verify(&td, sd.as_deref()) {
                Ok(checks) => expect_checks(e, &checks),
                Err(err) => expect_error(e, &err.message),
            }
        }
        Hook::Evaluate { plan } => {
            declared(WitHook::Gate, "gate")?;
            match plugin.evaluate(&plan.to_plan()) {
                Ok(d) => expect_decision(e, &d),
                Err(err) => expect_error(e, &err.message),
            }
        }
    }
}

fn read(dir: &Path, rel: &Path) -> Result<String, String> {
    let p = dir.join(rel);
    std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
}

fn expect_value(e: &Expect, got: &str) -> Result<(), String> {
    match (&e.value, &e.error) {
        (Some(want), _) if want == got => Ok(()),
        (Some(want), _) => Err(format!("expected value {want:?}, got {got:?}")),
        (None, Some(want)) => Err(format!("expected an error containing {want:?}, got value {got:?}")),
        (None, None) => Err(format!("the case states no `value` or `error`; the plugin returned {got:?}")),
    }
}

fn expect_error(e: &Expect, got: &str) -> Result<(), String> {
    match &e.error {
        Some(want) if got.contains(want.as_str()) => Ok(()),
        Some(want) => Err(format!("expected an error containing {want:?}, got error {got:?}")),
        None => Err(format!("unexpected error: {got}")),
    }
}

fn status(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Ok => "ok",
        CheckStatus::Ng => "ng",
        CheckStatus::Skip => "skip",
    }
}

fn expect_checks(e: &Expect, got: &[Check]) -> Result<(), String> {
    let Some(want) = &e.checks else { return Err("the case states no `checks`".into()) };
    let shown = || got.iter().map(|c| format!("{} {} {:?}", status(c.status), c.name, c.message)).collect::<Vec<_>>().join("; ");
    if want.len() != got.len() {
        return Err(format!("expected {} checks, got {}: {}", want.len(), got.len(), shown()));
    }
    for (w, g) in want.iter().zip(got) {
        let message_ok = w.message.as_ref().is_none_or(|m| g.message.contains(m.as_str()));
        if w.name != g.name || !w.status.eq_ignore_ascii_case(status(g.status)) || !message_ok {
            return Err(format!(
                "expected check {} {}{}, got: {}",
                w.status,
                w.name,
                w.message.as_ref().map(|m| format!(" {m:?}")).unwrap_or_default(),
                shown()
            ));
        }
    }
    Ok(())
}

fn expect_decision(e: &Expect, got: &Decision) -> Result<(), String> {
    let Some(want) = &e.decision else { return Err("the case states no `decision`".into()) };
    let (kind, reasons): (&str, &[String]) = match got {
        Decision::Allow => ("allow", &[]),
        Decision::Warn(r) => ("warn", r),
        Decision::Deny(r) => ("deny", r),
        Decision::Inconclusive(r) => ("inconclusive", r),
    };
    if !want.eq_ignore_ascii_case(kind) {
        return Err(format!("expected decision {want}, got {kind} {reasons:?}"));
    }
    // Each expected reason must be contained in the reason at the same position.
    if let Some(w) = &e.reasons
        && (w.len() != reasons.len() || w.iter().zip(reasons).any(|(w, g)| !g.contains(w.as_str())))
    {
        return Err(format!("expected reasons {w:?}, got {reasons:?}"));
    }
    Ok(())
}

fn report(args: &TestArgs, plugin: &str, cassette: &Cassette, outcomes: &[Outcome]) -> Result<()> {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let passed = outcomes.len() - failed;
    let mode = if cassette.mode == Mode::Record { "record" } else { "replay" };
    match args.output {
        ReportFormat::Json => {
            let doc = serde_json::json!({
                "plugin": plugin, "mode": mode, "cassette": cassette.path, "cases": outcomes, "passed": passed, "failed": failed,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        ReportFormat::Text => {
            for o in outcomes {
                if o.passed {
                    println!("PASS {}", o.name);
                } else {
                    println!("FAIL {}: {}", o.name, o.message);
                }
            }
            println!("{passed} passed, {failed} failed");
        }
    }
    if cassette.mode == Mode::Record {
        eprintln!("cassette: {} call(s) recorded to {}", cassette.interactions().len(), cassette.path.display());
    }
    if failed > 0 {
        return Err(ExitWith { code: 1, message: format!("plugin {plugin}: {failed} of {} case(s) failed ({mode})", outcomes.len()) }.into());
    }
    Ok(())
}
