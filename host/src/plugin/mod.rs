//! Stage: the plugin runtime. Plugins are wasm32-wasip2 components speaking the `wit/` contract;
//! they resolve template functions, add verify checks and gate deploys. They hold no credentials,
//! network, environment or files beyond the operator's grants: AWS reads go through the
//! [`broker`], files through read-only preopens.

pub mod arn;
pub mod bindings;
pub mod broker;
pub mod cache_gc;
pub mod cache_mac;
pub mod cassette;
pub use crate::config::catalog;
pub mod external;
pub mod fetch;
pub mod fn_cache;
pub mod grants;
pub mod instance;
pub mod oci;
pub mod pull;
pub mod runtime;
pub mod seal_retry;
pub mod url_grant;

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
    /// Where an `oci:` plugin came from and who signed it, once pulled (for the audit record).
    pub provenance: OnceLock<pull::Provenance>,
    /// The private directory holding tfstate's `path:` file, the only thing mounted for it.
    scratch: OnceLock<ScratchDir>,
}

/// A private (0700) directory under the system temp dir, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(label: &str) -> std::io::Result<ScratchDir> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("cortado-{label}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir)?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl LazyPlugin {
    /// A plugin configured as `config` (paths relative to `config_dir`), loaded on first use.
    pub fn new(config: PluginConfig, config_dir: PathBuf, slot: Arc<AwsSlot>) -> LazyPlugin {
        LazyPlugin { config, config_dir, slot, loaded: OnceLock::new(), provenance: OnceLock::new(), scratch: OnceLock::new() }
    }

    /// The plugin, loading it if needed; the error names the plugin.
    pub fn get(&self) -> Result<&LoadedPlugin, String> {
        self.loaded.get_or_init(|| self.load().map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
    }

    /// The component's bytes after checking the pinned digest (custom plugins), and that digest.
    pub fn bytes(&self) -> Result<(std::borrow::Cow<'static, [u8]>, String)> {
        if let Some(source) = &self.config.oci {
            return self.pulled(source);
        }
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

    /// An `oci:` plugin's component: cached or pulled, digest-checked, signature-verified — all
    /// before it is compiled. A refusal is bad input (exit 2) naming the plugin.
    fn pulled(&self, source: &crate::config::OciSource) -> Result<(std::borrow::Cow<'static, [u8]>, String)> {
        let name = &self.config.name;
        let p = pull::load(source, self.config.sha256.as_deref())
            .map_err(|e| InputError::new(format!("plugin {name:?} (oci: {}): {e}; refusing to run it", source.reference)))?;
        let digest = p.provenance.layer_digest.trim_start_matches("sha256:").to_owned();
        match &p.provenance.key_id {
            Some(k) => tracing::info!("plugin {name:?}: {} ({}) signed by key {k}", source.reference, p.provenance.manifest_digest),
            None => tracing::info!("plugin {name:?}: {} ({}), pinned sha256 {digest}", source.reference, p.provenance.manifest_digest),
        }
        let _ = self.provenance.set(p.provenance);
        Ok((std::borrow::Cow::Owned(p.bytes), digest))
    }

    fn load(&self) -> Result<LoadedPlugin> {
        let (bytes, digest) = self.bytes()?;
        let spec = self.spec(digest)?;
        let loaded = LoadedPlugin::load(&bytes, spec)?;
        check_manifest(&self.config.name, &loaded.manifest)?;
        Ok(loaded)
    }

    fn spec(&self, digest: String) -> Result<PluginSpec> {
        let p = &self.config;
        let mut config = p.config.clone();
        let mut preopens: Vec<Preopen> =
            p.preopens.iter().map(|rel| Preopen { host: Path::new(".").join(&self.config_dir).join(rel), guest: rel.display().to_string() }).collect();
        // ecspresso's tfstate `path`: mount the state file alone (linked, else copied, into a
        // private directory), read-only, and point the plugin at it; its neighbours stay unseen.
        if !p.is_custom()
            && p.name.eq_ignore_ascii_case("tfstate")
            && let Some(state) = local_state_path(&config)
        {
            let host = self.config_dir.join(&state);
            let file = host.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "terraform.tfstate".into());
            let scratch = match self.scratch.get() {
                Some(s) => s,
                None => {
                    let s = ScratchDir::new("tfstate").map_err(|e| anyhow::anyhow!("plugin {:?}: cannot create a directory for the state: {e}", p.name))?;
                    let target = s.0.join(&file);
                    // An `optional: true` state that cannot be read leaves the directory empty:
                    // the plugin then finds no file and treats every lookup as empty.
                    let optional = config.get("optional").and_then(Value::as_bool).unwrap_or(false);
                    if std::fs::hard_link(&host, &target).is_err()
                        && let Err(e) = std::fs::copy(&host, &target)
                        && !optional
                    {
                        return Err(InputError::in_file(&host, format!("plugin {:?}: cannot read the state file: {e}", p.name)).into());
                    }
                    let _ = self.scratch.set(s);
                    self.scratch.get().ok_or_else(|| anyhow::anyhow!("scratch directory"))?
                }
            };
            preopens.push(Preopen { host: scratch.0.clone(), guest: "/tfstate".into() });
            config["path"] = Value::String(format!("/tfstate/{file}"));
        }
        let limits = limits(p)?;
        let mut broker = Broker::new(p.name.clone(), grants::effective(p, self.slot.configured_partition()), self.slot.clone());
        broker.max_object_bytes = limits.max_object_bytes;
        Ok(PluginSpec { name: p.name.clone(), digest, config_json: config.to_string(), preopens, limits, broker: Arc::new(broker) })
    }
}

/// A manifest the host can act on: every function's argument range is a range.
fn check_manifest(plugin: &str, m: &bindings::Manifest) -> Result<()> {
    for f in &m.functions {
        if f.min_args > f.max_args {
            anyhow::bail!("plugin {plugin:?}: manifest function {:?} has min-args {} > max-args {}; refusing the plugin", f.name, f.min_args, f.max_args);
        }
    }
    Ok(())
}

/// The local file a tfstate config reads: `path`, or a `url` that is a plain (relative or absolute)
/// path or `file://PATH`, as ecspresso (tfstate-lookup) accepts.
fn local_state_path(config: &Value) -> Option<String> {
    if let Some(p) = config.get("path").and_then(Value::as_str) {
        return Some(p.to_owned());
    }
    let url = config.get("url").and_then(Value::as_str)?;
    match url.split_once("://") {
        None => Some(url.to_owned()),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("file") => Some(rest.to_owned()),
        Some(_) => None,
    }
}

/// The `limits:` block: `memory` (bytes or `64MiB`), `timeout` (Go duration), `max_output` (bytes or
/// size: every hook result), `max_object` (bytes or size: a brokered S3 object).
fn limits(p: &PluginConfig) -> Result<Limits, InputError> {
    let mut l = Limits::default();
    let bad = |k: &str, v: &Value| InputError::new(format!("plugin {:?}: limits.{k}: cannot read {v}", p.name));
    for (k, v) in &p.limits {
        match k.as_str() {
            "memory" => l.memory_bytes = parse_size(v).ok_or_else(|| bad(k, v))?,
            "max_output" => l.max_output_bytes = parse_size(v).ok_or_else(|| bad(k, v))?,
            "max_object" => l.max_object_bytes = parse_size(v).ok_or_else(|| bad(k, v))?,
            "timeout" => {
                l.call_timeout =
                    v.as_str().and_then(|s| crate::config::duration::parse_go_duration(s).ok()).filter(|d| *d > Duration::ZERO).ok_or_else(|| bad(k, v))?
            }
            other => return Err(InputError::new(format!("plugin {:?}: unknown limit {other:?} (memory, timeout, max_output, max_object)", p.name))),
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
        let mut registry = Registry::with_env(lookup.clone());
        let mut unsandboxed = Vec::new();
        for lp in &self.plugins {
            let p = &lp.config;
            if external::is_external(p) {
                unsandboxed.push(add_external(&mut registry, config, p, &lookup)?);
                continue;
            }
            let functions: Vec<(String, usize, usize)> = match (p.is_custom().then_some(()), catalog::first_party(&p.name)) {
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
                let typed = (!p.is_custom() && catalog::has_json_form(&p.name, &func)).then(|| typed_resolver(lp.clone(), format!("{func}#json")));
                let plugin = lp.clone();
                let f: crate::template::Func = Arc::new(move |args: &[TValue]| {
                    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                    let loaded = plugin.get()?;
                    loaded.resolve(&func, &args).map(TValue::String).map_err(|e| e.to_string())
                });
                registry
                    .add(&full, required, optional, f, typed)
                    .map_err(|e| InputError::in_file(&config.path, format!("plugin {:?}: {e}; set func_prefix", p.name)))?;
            }
        }
        external::mark_unsandboxed(unsandboxed);
        Ok(registry)
    }
}

/// Registers an `external` plugin's function, outside the sandbox (refused under `strict`), and
/// returns how the audit log names it.
fn add_external(registry: &mut Registry, config: &Config, p: &PluginConfig, lookup: &crate::template::EnvLookup) -> Result<String> {
    let cfg = external::ExternalConfig::parse(p).map_err(|e| InputError::in_file(&config.path, e.0))?;
    let label = format!("external:{} ({})", cfg.name, cfg.command_line());
    if config.strict {
        return Err(InputError::in_file(
            &config.path,
            format!("plugin {label} runs outside the sandbox, which `strict: true` / --sandboxed-only refuses; remove it or port it to a wasm plugin"),
        )
        .into());
    }
    tracing::warn!(
        "plugin {label} runs OUTSIDE the sandbox as a host process; it gets only PATH, HOME, LANG, LC_ALL, TZ, TMPDIR{} from the environment",
        if cfg.env.is_empty() { String::new() } else { format!(" and {}", cfg.env.join(", ")) }
    );
    let full = format!("{}{}", p.func_prefix, cfg.name);
    let num_args = cfg.num_args;
    let ext = Arc::new(external::External::new(cfg, lookup));
    let for_template = ext.clone();
    let f: crate::template::Func = Arc::new(move |args: &[TValue]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for_template.call(&args).map(|v| external::to_template_value(&v))
    });
    // ecspresso's Jsonnet native takes exactly num_args strings and keeps the result's JSON type.
    let typed: crate::functions::TypedFunc = Arc::new(move |args: &[Value]| {
        let args = args
            .iter()
            .enumerate()
            .map(|(i, a)| a.as_str().map(str::to_owned).ok_or_else(|| format!("arg{i} must be string")))
            .collect::<Result<Vec<_>, _>>()?;
        ext.call(&args)
    });
    registry.add(&full, num_args, 0, f, Some(typed)).map_err(|e| InputError::in_file(&config.path, format!("plugin {label}: {e}; set func_prefix")))?;
    Ok(label)
}

/// The Jsonnet form of a plugin function that answers in JSON (`tfstate#json`): the value keeps its type.
fn typed_resolver(plugin: Arc<LazyPlugin>, function: String) -> crate::functions::TypedFunc {
    Arc::new(move |args: &[Value]| {
        let args: Vec<String> = args.iter().map(crate::functions::arg_string).collect();
        let text = plugin.get()?.resolve(&function, &args).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("{function} returned invalid JSON: {e}"))
    })
}

/// A gate's decision, failing closed: a gate that traps, times out or cannot be called denies, with
/// the failure as its reason.
pub fn gate_outcome(plugin: &LoadedPlugin, plan: &bindings::Plan) -> bindings::Decision {
    match plugin.evaluate(plan) {
        Ok(d) => d,
        Err(e) => bindings::Decision::Deny(vec![e.to_string()]),
    }
}

#[cfg(test)]
mod tests {
    use super::bindings::{FunctionSpec, Manifest};

    #[test]
    fn tfstate_path_mounts_the_state_file_alone() {
        let dir = std::env::temp_dir().join(format!("cortado-tfmount-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("state")).unwrap();
        std::fs::write(dir.join("state/terraform.tfstate"), "{}").unwrap();
        std::fs::write(dir.join("state/secrets.auto.tfvars"), "db_password = \"hunter2\"").unwrap();
        let config = crate::config::PluginConfig::named("tfstate", serde_json::json!({"path": "state/terraform.tfstate"}));
        let lp = super::LazyPlugin::new(config, dir.clone(), super::AwsSlot::new(None, None));
        let spec = lp.spec("d".into()).unwrap();
        let mount = spec.preopens.iter().find(|p| p.guest == "/tfstate").expect("the state is mounted");
        let seen: Vec<String> = std::fs::read_dir(&mount.host).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(seen, vec!["terraform.tfstate".to_string()], "only the state file is visible");
        assert!(spec.config_json.contains("/tfstate/terraform.tfstate"), "{}", spec.config_json);
        let scratch = mount.host.clone();
        drop(spec);
        drop(lp);
        assert!(!scratch.exists(), "{} left behind", scratch.display());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_manifest_with_min_args_above_max_args_is_refused() {
        let f = |min, max| FunctionSpec { name: "f".into(), min_args: min, max_args: max, description: String::new() };
        let m = |fs| Manifest { name: "p".into(), version: "1".into(), description: String::new(), functions: fs, hooks: vec![], capabilities: vec![] };
        assert!(super::check_manifest("p", &m(vec![f(1, 2), f(0, 0)])).is_ok());
        let e = super::check_manifest("p", &m(vec![f(3, 1)])).unwrap_err();
        assert!(e.to_string().contains("min-args 3 > max-args 1"), "{e}");
    }
}
