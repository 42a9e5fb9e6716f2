//! The subcommands, each a small module gluing the pipeline stages together.

pub mod audit;
pub mod diff;
pub mod exec;
pub mod iam_policy;
pub mod init;
pub mod lifecycle;
pub mod plugin;
pub mod render;
pub mod run;
pub mod status;
pub mod tasks;
pub mod trace;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use crate::aws::Aws;
use crate::cli::Globals;
use crate::config::{self, Config, LoadOptions};
use crate::definitions::Renderer;
use crate::env::Env;
use crate::error::InputError;
use crate::functions::Registry;
use crate::jsonnet::JsonnetOptions;
use crate::plugin::PluginHost;
use crate::plugin::broker::AwsSlot;

/// Everything a command needs once the config is loaded. Loading does no AWS call, so bad input
/// is reported before anything is touched.
pub struct App {
    pub globals: Globals,
    pub env: Arc<Env>,
    pub jsonnet: JsonnetOptions,
    pub config: Config,
    pub registry: Registry,
    pub plugins: PluginHost,
}

impl App {
    pub fn load(globals: Globals, mut env: Env) -> Result<App> {
        for file in &globals.envfile {
            env.load_envfile(file)?;
        }
        let env = Arc::new(env);
        let jsonnet = jsonnet_options(&globals)?;
        let cwd = std::env::current_dir()?;
        let path = config::locate(globals.config.as_deref(), &cwd)?;
        let mut config = config::load(&path, &LoadOptions { env: env.clone(), jsonnet: jsonnet.clone() })?;
        if let Some(t) = &globals.timeout {
            config.timeout = config::duration::parse_go_duration(t).map_err(|e| InputError::new(format!("--timeout: {e}")))?;
        }
        if let Some(fc) = &globals.filter_command {
            config.filter_command = Some(fc.clone());
        }
        config.strict |= globals.sandboxed_only;
        let region = config.region.clone().or_else(|| env.get("AWS_REGION").map(str::to_owned));
        let plugins = PluginHost::new(&config, AwsSlot::new(region, globals.assume_role_arn.clone()));
        let registry = plugins.registry(&config, env.lookup_fn())?;
        Ok(App { globals, env, jsonnet, config, registry, plugins })
    }

    /// The config alone (no plugin is loaded): for commands that inspect plugins.
    pub fn load_config(globals: &Globals, mut env: Env) -> Result<Config> {
        for file in &globals.envfile {
            env.load_envfile(file)?;
        }
        let env = Arc::new(env);
        let jsonnet = jsonnet_options(globals)?;
        let path = config::locate(globals.config.as_deref(), &std::env::current_dir()?)?;
        config::load(&path, &LoadOptions { env, jsonnet })
    }

    pub fn renderer(&self) -> Renderer<'_> {
        Renderer { registry: &self.registry, jsonnet: &self.jsonnet }
    }

    pub fn task_definition_path(&self) -> Result<&PathBuf, InputError> {
        self.config.task_definition.as_ref().ok_or_else(|| InputError::in_file(&self.config.path, "task_definition is not defined"))
    }

    pub fn service_definition_path(&self) -> Result<&PathBuf, InputError> {
        self.config.service_definition.as_ref().ok_or_else(|| InputError::in_file(&self.config.path, "service_definition is not defined"))
    }

    pub async fn aws(&self) -> Result<Aws> {
        let region = self.config.region.clone().or_else(|| self.env.get("AWS_REGION").map(str::to_owned));
        Aws::load(region.as_deref(), self.globals.assume_role_arn.as_deref()).await
    }
}

/// `--ext-str`/`--ext-code` as KEY=VALUE pairs.
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
