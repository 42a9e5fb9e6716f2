//! The registry of functions a definition file may call: the built-ins (`env`, `must_env`,
//! `json_escape`) and every plugin's functions (with their `func_prefix`). One registry feeds both
//! the Go-template engine and Jsonnet's `std.native`, so a function behaves the same in both.

use std::sync::Arc;

use serde_json::Value as JValue;

use crate::template::{self, EnvLookup, Func, FuncMap};

/// A Jsonnet native over JSON values: arguments and result keep their types (a number stays a
/// number, `null` stays `null`), where the template function must return a string.
pub type TypedFunc = Arc<dyn Fn(&[serde_json::Value]) -> Result<serde_json::Value, String> + Send + Sync>;

/// A function as Jsonnet sees it: how many arguments it requires and how many more it accepts.
#[derive(Clone)]
pub struct NativeSpec {
    pub name: String,
    pub required: usize,
    pub optional: usize,
    pub func: Func,
    /// The typed form Jsonnet calls instead of `func`, when the function has one.
    pub typed: Option<TypedFunc>,
}

#[derive(Clone, Default)]
pub struct Registry {
    funcs: FuncMap,
    natives: Vec<NativeSpec>,
}

impl Registry {
    /// The built-ins over an environment lookup.
    pub fn with_env(lookup: crate::template::EnvLookup) -> Self {
        let funcs = template::env_funcs(lookup.clone());
        let mut natives = Vec::new();
        for (name, required, optional) in [("env", 1, 7), ("must_env", 1, 0), ("json_escape", 1, 0)] {
            if let Some(f) = funcs.get(name) {
                let typed = (name == "env").then(|| typed_env(lookup.clone()));
                natives.push(NativeSpec { name: name.into(), required, optional, func: f.clone(), typed });
            }
        }
        Registry { funcs, natives }
    }

    /// Adds a function; a name taken already is an error naming it.
    pub fn add(&mut self, name: &str, required: usize, optional: usize, func: Func, typed: Option<TypedFunc>) -> Result<(), String> {
        self.funcs.insert(name, func.clone())?;
        self.natives.push(NativeSpec { name: name.into(), required, optional, func, typed });
        Ok(())
    }

    pub fn funcs(&self) -> &FuncMap {
        &self.funcs
    }

    pub fn natives(&self) -> &[NativeSpec] {
        &self.natives
    }
}

/// Jsonnet's `env(NAME…, DEFAULT)`: the first non-empty variable as a string, else the default
/// exactly as given (`null`, a number, a bool…), so `if env('T', null) != null then …` works as in
/// ecspresso. With one argument an unset variable is `""`, as the template function.
fn typed_env(lookup: EnvLookup) -> TypedFunc {
    Arc::new(move |args: &[JValue]| {
        let (names, default) = match args {
            [] => return Err("env requires a variable name".into()),
            [name] => (std::slice::from_ref(name), JValue::String(String::new())),
            [names @ .., default] => (names, default.clone()),
        };
        for name in names {
            let name = name.as_str().ok_or_else(|| format!("env: the variable name must be a string, got {name}"))?;
            if let Some(v) = lookup(name).filter(|v| !v.is_empty()) {
                return Ok(JValue::String(v));
            }
        }
        Ok(default)
    })
}

/// A plugin argument as the WIT passes it: strings as they are, anything else as JSON text.
pub fn arg_string(v: &JValue) -> String {
    match v {
        JValue::String(s) => s.clone(),
        other => other.to_string(),
    }
}
