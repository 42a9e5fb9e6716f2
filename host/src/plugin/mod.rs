//! Stage: the plugin runtime. Plugins are wasm32-wasip2 components speaking the `wit/` contract;
//! they resolve template functions, add verify checks and gate deploys. They hold no credentials,
//! network, environment or files beyond the operator's grants: AWS reads go through the
//! [`broker`], files through read-only preopens.

pub mod bindings;
pub mod broker;
pub mod cassette;
pub mod catalog;
pub mod grants;
pub mod instance;
pub mod runtime;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use self::broker::{AwsSlot, Broker};
use self::instance::{Limits, LoadedPlugin, PluginSpec, Preopen};
use crate::config::{Config, PluginConfig};
use crate::error::InputError;
use crate::functions::Registry;
use crate::template::Value as TValue;

/// The bundled component of a first-party plugin, if this build has it.
pub fn bundled(name: &str) -> Option<&'static [u8]> {
    bundled::BUNDLED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, b)| *b)
}

/// A configured plugin, compiled and instantiated on first use.
pub struct LazyPlugin {
    pub config: PluginConfig,
    config_dir: PathBuf,
    slot: Arc<AwsSlot>,
    loaded: OnceLock<Result<LoadedPlugin, String>>,
}

impl LazyPlugin {
    /// A plugin configured as `config` (paths relative to `config_dir`), loaded on first use.
    pub fn new(config: PluginConfig, config_dir: PathBuf, slot: Arc<AwsSlot>) -> LazyPlugin {
        LazyPlugin { config, config_dir, slot, loaded: OnceLock::new() }
    }

    /// The plugin, loading it if needed; the error names the plugin.
    pub fn get(&self) -> Result<&LoadedPlugin, String> {
        self.loaded.get_or_init(|| self.load().map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
    }

    /// The component's bytes after checking the pinned digest (custom plugins), and that digest.
    pub fn bytes(&self) -> Result<(std::borrow::Cow<'static, [u8]>, String)> {
        match &self.config.path {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| InputError::in_file(path, format!("plugin {:?}: cannot read component: {e}", self.config.name)))?;
                let digest = runtime::sha256_hex(&bytes);
                let pinned = self.config.sha256.as_deref().unwrap_or("").trim().to_ascii_lowercase();
                if digest != pinned {
                    return Err(InputError::in_file(
                        path,
                        format!("plugin {:?}: sha256 is {digest} but the config pins {pinned}; refusing to run it", self.config.name),
                    )
                    .into());
                }
                Ok((std::borrow::Cow::Owned(bytes), digest))
            }
            None => {
                let bytes = bundled(&self.config.name).ok_or_else(|| {
                    anyhow::anyhow!("plugin {:?} is not bundled in this build of cortado (run scripts/build-plugins.sh, then rebuild)", self.config.name)
                })?;
                Ok((std::borrow::Cow::Borrowed(bytes), runtime::sha256_hex(bytes)))
            }
        }
    }

    fn load(&self) -> Result<LoadedPlugin> {
        let (bytes, digest) = self.bytes()?;
        let spec = self.spec(digest)?;
        let loaded = LoadedPlugin::load(&bytes, spec)?;
        Ok(loaded)
    }

    fn spec(&self, digest: String) -> Result<PluginSpec> {
        let p = &self.config;
        let mut config = p.config.clone();
        let mut preopens: Vec<Preopen> =
            p.preopens.iter().map(|rel| Preopen { host: Path::new(".").join(&self.config_dir).join(rel), guest: rel.display().to_string() }).collect();
        // ecspresso's tfstate `path`: mount the state's directory read-only and point the plugin at it.
        if p.path.is_none()
            && p.name.eq_ignore_ascii_case("tfstate")
            && let Some(state) = config.get("path").and_then(Value::as_str).map(str::to_owned)
        {
            let host = self.config_dir.join(&state);
            let dir = host.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
            let file = host.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            preopens.push(Preopen { host: dir, guest: "/tfstate".into() });
            config["path"] = Value::String(format!("/tfstate/{file}"));
        }
        Ok(PluginSpec {
            name: p.name.clone(),
            digest,
            config_json: config.to_string(),
            preopens,
            limits: limits(p)?,
            broker: Arc::new(Broker { plugin: p.name.clone(), grants: grants::effective(p), slot: self.slot.clone(), denials: Default::default() }),
        })
    }
}

/// The `limits:` block: `memory` (bytes or `64MiB`), `timeout` (Go duration), `max_output` (bytes or size).
fn limits(p: &PluginConfig) -> Result<Limits, InputError> {
    let mut l = Limits::default();
    let bad = |k: &str, v: &Value| InputError::new(format!("plugin {:?}: limits.{k}: cannot read {v}", p.name));
    for (k, v) in &p.limits {
        match k.as_str() {
            "memory" => l.memory_bytes = parse_size(v).ok_or_else(|| bad(k, v))?,
            "max_output" => l.max_output_bytes = parse_size(v).ok_or_else(|| bad(k, v))?,
            "timeout" => {
                l.call_timeout =
                    v.as_str().and_then(|s| crate::config::duration::parse_go_duration(s).ok()).filter(|d| *d > Duration::ZERO).ok_or_else(|| bad(k, v))?
            }
            other => return Err(InputError::new(format!("plugin {:?}: unknown limit {other:?} (memory, timeout, max_output)", p.name))),
        }
    }
    Ok(l)
}

fn parse_size(v: &Value) -> Option<usize> {
    if let Some(n) = v.as_u64() {
        return usize::try_from(n).ok();
    }
    let s = v.as_str()?.trim();
    let (num, mult) = [("GiB", 1usize << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        .iter()
        .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n.trim(), *m)))
        .unwrap_or((s, 1));
    num.parse::<usize>().ok()?.checked_mul(mult)
}

/// Every configured plugin of a run (defaults first), loaded lazily.
pub struct PluginHost {
    pub plugins: Vec<Arc<LazyPlugin>>,
}

impl PluginHost {
    pub fn new(config: &Config, slot: Arc<AwsSlot>) -> PluginHost {
        let plugins = config.effective_plugins().into_iter().map(|p| Arc::new(LazyPlugin::new(p, config.dir.clone(), slot.clone()))).collect();
        PluginHost { plugins }
    }

    /// The function registry for definition files: the built-ins plus every plugin's functions
    /// under its `func_prefix`. First-party functions come from the catalogue, so their plugins
    /// load only when a template calls them; custom plugins load now, for their manifests.
    pub fn registry(&self, config: &Config, lookup: crate::template::EnvLookup) -> Result<Registry> {
        let mut registry = Registry::with_env(lookup);
        for lp in &self.plugins {
            let p = &lp.config;
            let functions: Vec<(String, usize, usize)> = match (&p.path, catalog::first_party(&p.name)) {
                (None, Some(fp)) => fp.signatures.iter().map(|(f, min, extra)| ((*f).to_owned(), *min, *extra)).collect(),
                _ => {
                    let loaded = lp.get().map_err(|e| {
                        if e.contains("refusing to run") || e.contains("cannot read component") {
                            anyhow::Error::new(InputError(e))
                        } else {
                            anyhow::anyhow!(e)
                        }
                    })?;
                    loaded.manifest.functions.iter().map(|f| (f.name.clone(), f.min_args as usize, f.max_args.saturating_sub(f.min_args) as usize)).collect()
                }
            };
            for (func, required, optional) in functions {
                let full = format!("{}{}", p.func_prefix, func);
                let plugin = lp.clone();
                let f: crate::template::Func = Arc::new(move |args: &[TValue]| {
                    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                    let loaded = plugin.get()?;
                    loaded.resolve(&func, &args).map(TValue::String).map_err(|e| e.to_string())
                });
                registry
                    .add(&full, required, optional, f)
                    .map_err(|e| InputError::in_file(&config.path, format!("plugin {:?}: {e}; set func_prefix", p.name)))?;
            }
        }
        Ok(registry)
    }
}

/// A gate's decision, failing closed: a gate that traps, times out or cannot be called denies, with
/// the failure as its reason.
pub fn gate_outcome(plugin: &LoadedPlugin, plan: &bindings::Plan) -> bindings::Decision {
    match plugin.evaluate(plan) {
        Ok(d) => d,
        Err(e) => bindings::Decision::Deny(vec![e.to_string()]),
    }
}
