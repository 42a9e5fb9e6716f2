//! The context every command runs in: the loaded config, the renderer's functions, the plugins and
//! a way to reach AWS. It knows nothing of clap: `cli.rs` turns flags into [`Globals`], and every
//! pipeline stage (plan, gate, apply, wait) may take a `&Context`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::aws::Aws;
use crate::aws::arn::Partition;
use crate::config::{self, Config, LoadOptions};
use crate::definitions::Renderer;
use crate::env::Env;
use crate::error::InputError;
use crate::functions::Registry;
use crate::jsonnet::JsonnetOptions;
use crate::plugin::PluginHost;
use crate::plugin::broker::AwsSlot;

/// The options every command shares, as plain values.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    pub config: Option<PathBuf>,
    pub envfile: Vec<PathBuf>,
    pub debug: bool,
    pub ext_str: Vec<String>,
    pub ext_code: Vec<String>,
    pub assume_role_arn: Option<String>,
    pub timeout: Option<String>,
    /// `--audit-log FILE|s3://…`: replaces the config's `audit_log`.
    pub audit_log: Option<String>,
    pub lock_timeout: Option<String>,
    pub wait_for_others: bool,
    pub filter_command: Option<String>,
    /// ecspresso's `--log-format json`: `--output json` where the two overlap.
    pub log_format: Option<String>,
    /// Refuse plugins that run outside the sandbox (`strict: true` in the config does too).
    pub sandboxed_only: bool,
    pub color: bool,
    pub no_color: bool,
}

impl Globals {
    /// Fills unset options from `CORTADO_*`, then `ECSPRESSO_*`.
    pub fn with_env_defaults(mut self, env: &Env) -> Self {
        let get =
            |name: &str| env.get(&format!("CORTADO_{name}")).or_else(|| env.get(&format!("ECSPRESSO_{name}"))).filter(|v| !v.is_empty()).map(str::to_owned);
        let split = |v: String, sep: char| v.split(sep).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        if self.config.is_none() {
            self.config = get("CONFIG").map(PathBuf::from);
        }
        if self.envfile.is_empty()
            && let Some(v) = get("ENVFILE")
        {
            self.envfile = split(v, ',').into_iter().map(PathBuf::from).collect();
        }
        if !self.debug {
            self.debug = get("DEBUG").is_some_and(|v| v != "false" && v != "0");
        }
        if self.ext_str.is_empty()
            && let Some(v) = get("EXT_STR")
        {
            self.ext_str = split(v, ';');
        }
        if self.ext_code.is_empty()
            && let Some(v) = get("EXT_CODE")
        {
            self.ext_code = split(v, ';');
        }
        self.assume_role_arn = self.assume_role_arn.or_else(|| get("ASSUME_ROLE_ARN"));
        self.timeout = self.timeout.or_else(|| get("TIMEOUT"));
        self.audit_log = self.audit_log.or_else(|| get("AUDIT_LOG"));
        self.lock_timeout = self.lock_timeout.or_else(|| get("LOCK_TIMEOUT"));
        self.filter_command = self.filter_command.or_else(|| get("FILTER_COMMAND"));
        self.log_format = self.log_format.or_else(|| get("LOG_FORMAT").filter(|f| f == "text" || f == "json"));
        self
    }
}

/// Everything a command needs once the config is loaded. Loading does no AWS call, so bad input
/// is reported before anything is touched.
pub struct Context {
    pub globals: Globals,
    pub env: Arc<Env>,
    pub jsonnet: JsonnetOptions,
    pub config: Config,
    pub registry: Registry,
    pub plugins: PluginHost,
    /// The config's own `strict: true` (not `--sandboxed-only`, which is about plugins only):
    /// definitions with members unknown to the ECS API model are refused.
    pub strict_model: bool,
}

impl Context {
    pub fn load(globals: Globals, mut env: Env) -> Result<Context> {
        for file in &globals.envfile {
            env.load_envfile(file)?;
        }
        let env = Arc::new(env);
        let jsonnet = jsonnet_options(&globals)?;
        let cwd = std::env::current_dir()?;
        let path = config::locate(globals.config.as_deref(), &cwd)?;
        let config = load_two_pass(&globals, &env, &jsonnet, &path)?;
        Self::assemble(globals, env, jsonnet, config)
    }

    /// A context around a config built elsewhere (a stack file's own gates and audit log); the
    /// global options apply to it as to a loaded one.
    pub fn with_config(globals: Globals, mut env: Env, config: Config) -> Result<Context> {
        for file in &globals.envfile {
            env.load_envfile(file)?;
        }
        let jsonnet = jsonnet_options(&globals)?;
        Self::assemble(globals, Arc::new(env), jsonnet, config)
    }

    /// The global options applied to a loaded config, then its plugins and functions.
    fn assemble(globals: Globals, env: Arc<Env>, jsonnet: JsonnetOptions, mut config: Config) -> Result<Context> {
        let cwd = std::env::current_dir()?;
        if let Some(t) = &globals.timeout {
            let parsed = if config.ecspresso_v3 { config::duration::parse_v3(t, "--timeout") } else { config::duration::parse_go_duration(t) };
            config.timeout = parsed.map_err(|e| InputError::new(format!("--timeout: {e}")))?;
        }
        if let Some(a) = &globals.audit_log {
            match config::shared::S3Url::parse(a) {
                Some(url) => {
                    let url = url.map_err(|e| InputError::new(format!("--audit-log: {e}")))?;
                    // The lock follows the audit log to S3 unless the config says otherwise.
                    if config.lock.is_none() || config.lock == config.audit_s3 {
                        config.lock = Some(url.clone());
                    }
                    config.audit_s3 = Some(url);
                    config.audit_log = None;
                }
                None => {
                    config.audit_log = Some(cwd.join(a));
                    config.audit_s3 = None;
                }
            }
        }
        if let Some(t) = &globals.lock_timeout {
            config.lock_timeout = config::duration::parse_go_duration(t).map_err(|e| InputError::new(format!("--lock-timeout: {e}")))?;
        }
        config.wait_for_others |= globals.wait_for_others;
        if let Some(fc) = &globals.filter_command {
            config::refuse_removed_in_v3(&config, "--filter-command (or ECSPRESSO_FILTER_COMMAND)", "#1024", "pass --id to pick a task")?;
            config.filter_command = Some(fc.clone());
        }
        let strict_model = config.strict;
        config.strict |= globals.sandboxed_only;
        config::refuse_unsandboxed_filter(&config)?;
        let plugins = PluginHost::new(&config, AwsSlot::with_retries(config.region.clone(), globals.assume_role_arn.clone(), config.retry_max_attempts));
        let registry = plugins.registry(&config, env.lookup_fn())?;
        Ok(Context { globals, env, jsonnet, config, registry, plugins, strict_model })
    }

    /// The config alone, for commands that inspect plugins: no plugin is kept loaded, but a v3
    /// config's second pass runs its plugins' functions as [`Context::load`] does, so a config
    /// that loads for `deploy` loads here too.
    pub fn load_config(globals: &Globals, mut env: Env) -> Result<Config> {
        for file in &globals.envfile {
            env.load_envfile(file)?;
        }
        let env = Arc::new(env);
        let jsonnet = jsonnet_options(globals)?;
        let path = config::locate(globals.config.as_deref(), &std::env::current_dir()?)?;
        load_two_pass(globals, &env, &jsonnet, &path)
    }

    pub fn renderer(&self) -> Renderer<'_> {
        Renderer { registry: &self.registry, jsonnet: &self.jsonnet, strict: self.strict_model }
    }

    pub fn task_definition_path(&self) -> Result<&PathBuf, InputError> {
        self.config.task_definition.as_ref().ok_or_else(|| InputError::in_file(&self.config.path, "task_definition is not defined"))
    }

    pub fn service_definition_path(&self) -> Result<&PathBuf, InputError> {
        self.config.service_definition.as_ref().ok_or_else(|| InputError::in_file(&self.config.path, "service_definition is not defined"))
    }

    /// The config's service, or bad input naming the config file.
    pub fn service_name(&self) -> Result<String, InputError> {
        self.config.service.clone().ok_or_else(|| InputError::in_file(&self.config.path, "service is not defined"))
    }

    /// The rendered service definition, when the config names one.
    pub fn local_service_definition(&self) -> Result<Option<serde_json::Value>> {
        match &self.config.service_definition {
            Some(p) => Ok(Some(self.renderer().service_definition(p, self.config.service.as_deref())?)),
            None => Ok(None),
        }
    }

    /// The configured region: the config's `region`, else `AWS_REGION` (filled in once, by
    /// [`config::load`]). The SDK, the plugins' broker and `iam-policy` all start from this value;
    /// when it is `None` the SDK's chain (a profile's region) decides.
    pub fn region(&self) -> Option<&str> {
        self.config.region.as_deref()
    }

    /// The partition of [`Context::region`] (`aws` when no region is configured).
    pub fn partition(&self) -> Partition {
        Partition::of_region(self.region().unwrap_or(""))
    }

    pub async fn aws(&self) -> Result<Aws> {
        Aws::load_with(self.region(), self.globals.assume_role_arn.as_deref(), self.config.retry_max_attempts).await
    }
}

/// `--ext-str`/`--ext-code` as KEY=VALUE pairs.
/// Loads the config at `path`; a v3 config's second pass renders it with the functions of the
/// plugins its first pass declared (#1023).
fn load_two_pass(globals: &Globals, env: &Arc<Env>, jsonnet: &JsonnetOptions, path: &std::path::Path) -> Result<Config> {
    let lookup = env.lookup_fn();
    let role = globals.assume_role_arn.clone();
    let plugin_funcs = move |pre: &Config| -> Result<crate::template::FuncMap> {
        let host = PluginHost::new(pre, AwsSlot::with_retries(pre.region.clone(), role.clone(), pre.retry_max_attempts));
        Ok(host.registry(pre, lookup.clone())?.funcs().clone())
    };
    config::load_with_plugins(path, &LoadOptions { env: env.clone(), jsonnet: jsonnet.clone() }, Some(&plugin_funcs))
}

pub fn jsonnet_options(globals: &Globals) -> Result<JsonnetOptions, InputError> {
    let split = |flag: &str, items: &[String]| -> Result<Vec<(String, String)>, InputError> {
        items
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| InputError::new(format!("{flag} {kv:?}: expected KEY=VALUE")))
            })
            .collect()
    };
    Ok(JsonnetOptions { ext_str: split("--ext-str", &globals.ext_str)?, ext_code: split("--ext-code", &globals.ext_code)? })
}
