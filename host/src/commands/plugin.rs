//! `cortado plugin list` and `cortado plugin inspect PATH`: what each plugin is, what it provides,
//! and what it asks for beside what the config grants it. `plugin test` ([`harness`]) and
//! `plugin new` ([`scaffold`]) are for plugin authors; `plugin pull` and `plugin push` ([`oci`])
//! move plugins through an OCI registry.

pub mod cases;
pub mod harness;
pub mod oci;
pub mod scaffold;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use super::App;
use crate::config::{Grant, PluginConfig};
use crate::context::Globals;
use crate::env::Env;
use crate::plugin::bindings::{Hook, Manifest};
use crate::plugin::broker::{AwsSlot, Broker};
use crate::plugin::instance::{Limits, LoadedPlugin, PluginSpec};
use crate::plugin::{grants, runtime};

#[derive(clap::Subcommand, Debug)]
pub enum PluginCommand {
    /// The configured plugins (ssm and secretsmanager are always loaded)
    List,
    /// A component file's manifest, digest and requested capabilities (beside the config's grants
    /// when the config names it)
    Inspect {
        /// The component (.wasm)
        path: PathBuf,
    },
    /// Run a plugin's test cases; AWS answers come from a cassette (`--record` writes it)
    Test(harness::TestArgs),
    /// Write a new plugin project that builds to a component and passes its own test
    New(scaffold::NewArgs),
    /// Pull a plugin from an OCI registry into the cache and print the digests to pin
    Pull(oci::PullArgs),
    /// Publish a component to an OCI registry as a wasm artifact, signed with --sign-key
    Push(oci::PushArgs),
}

impl PluginCommand {
    /// `cortado plugin …`: `list` needs the config; `inspect` shows the grants when there is one.
    pub fn exec(self, globals: Globals, env: Env) -> Result<()> {
        match self {
            PluginCommand::List => {
                let app = App::load(globals, env)?;
                list(&app)
            }
            PluginCommand::Inspect { path } => {
                // A config is optional here: with one, the grants are shown beside the requests.
                let config = App::load_config(&globals, env).ok();
                inspect(config.as_ref(), &path)
            }
            PluginCommand::Test(args) => harness::run(None, &args),
            PluginCommand::New(args) => scaffold::run(&args),
            PluginCommand::Pull(args) => oci::pull(&args),
            PluginCommand::Push(args) => oci::push(&args),
        }
    }
}

pub fn list(app: &App) -> Result<()> {
    let mut out = String::new();
    for lp in &app.plugins.plugins {
        if crate::plugin::external::is_external(&lp.config) {
            let name = lp.config.config.get("name").and_then(serde_json::Value::as_str).unwrap_or("?");
            out.push_str(&format!("external ({}{name}): a host command OUTSIDE the sandbox, not a component; no grants apply\n\n", lp.config.func_prefix));
            continue;
        }
        let loaded = lp.get().map_err(|e| anyhow::anyhow!(e))?;
        let source = match (&lp.config.path, &lp.config.oci) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(o)) => format!("oci {}", o.reference),
            (None, None) => "bundled".into(),
        };
        describe(
            &mut out,
            &lp.config.name,
            &source,
            (&loaded.spec.digest, loaded.wit_version()),
            &loaded.manifest,
            &lp.config.func_prefix,
            Some(&grants::effective(&lp.config, app.partition())),
            Some(&lp.config),
        );
    }
    print!("{out}");
    Ok(())
}

pub fn inspect(config: Option<&crate::config::Config>, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| crate::error::InputError::in_file(path, format!("cannot read component: {e}")))?;
    let digest = runtime::sha256_hex(&bytes);
    let configured: Option<&PluginConfig> = config.and_then(|c| {
        let want = std::fs::canonicalize(path).ok();
        c.plugins.iter().find(|p| p.path.as_ref().and_then(|pp| std::fs::canonicalize(pp).ok()) == want && want.is_some())
    });
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let spec = PluginSpec {
        name: name.clone(),
        digest: digest.clone(),
        config_json: configured.map(|c| c.config.to_string()).unwrap_or_else(|| "null".into()),
        preopens: Vec::new(),
        limits: Limits::default(),
        // Inspecting runs only the manifest export: no grants, so no AWS call can be made.
        broker: Arc::new(Broker::new(name.clone(), Vec::new(), AwsSlot::new(None, None))),
    };
    let loaded = LoadedPlugin::load(&bytes, spec)?;
    let mut out = String::new();
    let partition = crate::aws::arn::Partition::of_region(config.and_then(|c| c.region.as_deref()).unwrap_or(""));
    let granted = configured.map(|p| grants::effective(p, partition));
    describe(
        &mut out,
        &loaded.manifest.name,
        &path.display().to_string(),
        (&digest, loaded.wit_version()),
        &loaded.manifest,
        configured.map(|c| c.func_prefix.as_str()).unwrap_or(""),
        granted.as_ref(),
        configured,
    );
    if let Some(c) = configured {
        if c.sha256.as_deref() != Some(digest.as_str()) {
            let _ = writeln!(out, "  WARNING: the config pins sha256 {}; cortado will refuse to run this file", c.sha256.as_deref().unwrap_or("-"));
        }
    } else {
        let _ = writeln!(out, "  (not in the config; pin it with `sha256: {digest}`)");
    }
    print!("{out}");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn describe(
    out: &mut String,
    name: &str,
    source: &str,
    (digest, contract): (&str, &str),
    m: &Manifest,
    prefix: &str,
    granted: Option<&Vec<Grant>>,
    config: Option<&PluginConfig>,
) {
    let _ = writeln!(out, "{name} {} ({source})", m.version);
    if !m.description.is_empty() {
        let _ = writeln!(out, "  {}", m.description);
    }
    let _ = writeln!(out, "  sha256: {digest}");
    let _ = writeln!(out, "  contract: {contract}");
    let hooks: Vec<&str> = m
        .hooks
        .iter()
        .map(|h| match h {
            Hook::Resolver => "resolver",
            Hook::Verifier => "verifier",
            Hook::Gate => "gate",
        })
        .collect();
    let _ = writeln!(out, "  hooks: {}", if hooks.is_empty() { "-".into() } else { hooks.join(", ") });
    for f in &m.functions {
        let _ = writeln!(out, "  function {prefix}{} ({}..{} args) {}", f.name, f.min_args, f.max_args, f.description);
    }
    let _ = writeln!(out, "  capabilities asked for / granted:");
    for c in &m.capabilities {
        // Granted only when one grant covers both the action and the whole resource asked for.
        let ok = granted.is_some_and(|g| grants::allows(g, &c.action, &c.resource));
        let _ = writeln!(out, "    asks   {} on {}{}", c.action, c.resource, if granted.is_some() && !ok { "  (NOT granted)" } else { "" });
    }
    if let Some(g) = granted {
        for x in g {
            let _ = writeln!(out, "    grant  {} on {}", x.action, x.resource);
        }
        if g.is_empty() {
            let _ = writeln!(out, "    grant  (none: every brokered AWS call is denied)");
        }
    }
    if let Some(c) = config {
        for p in &c.preopens {
            let _ = writeln!(out, "    files  {} (read-only)", p.display());
        }
        if let Some(e) = &c.enforcement {
            let _ = writeln!(out, "  enforcement: {e}");
        }
    }
}
