//! The plugin runtime. For now: the catalogue of first-party plugins and their template functions,
//! used to check `func_prefix` collisions while the config loads.

pub mod catalog;

use std::sync::Arc;

use crate::config::Config;
use crate::error::InputError;
use crate::functions::Registry;

/// The function registry for definition files: the built-ins plus every plugin's functions under
/// its `func_prefix`.
///
/// Until the wasm runtime lands, first-party plugin functions are registered so that templates parse
/// and a call fails with a message naming the plugin, instead of "function not defined".
pub fn registry_for(config: &Config, lookup: Arc<dyn Fn(&str) -> Option<String> + Send + Sync>) -> Result<Registry, InputError> {
    let mut registry = Registry::with_env(lookup);
    for p in config.effective_plugins() {
        let Some(fp) = catalog::first_party(&p.name) else { continue };
        for (func, required, optional) in fp.signatures {
            let full = format!("{}{}", p.func_prefix, func);
            let plugin = p.name.clone();
            let f: crate::template::Func = Arc::new(move |_args| Err(format!("plugin {plugin:?} cannot run: the plugin runtime is not part of this build")));
            registry
                .add(&full, *required, *optional, f)
                .map_err(|e| InputError::in_file(&config.path, format!("plugin {:?}: {e}; set func_prefix", p.name)))?;
        }
    }
    Ok(registry)
}
