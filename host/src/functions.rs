//! The registry of functions a definition file may call: the built-ins (`env`, `must_env`,
//! `json_escape`) and every plugin's functions (with their `func_prefix`). One registry feeds both
//! the Go-template engine and Jsonnet's `std.native`, so a function behaves the same in both.

use crate::template::{self, Func, FuncMap};

/// A function as Jsonnet sees it: how many arguments it requires and how many more it accepts.
#[derive(Clone)]
pub struct NativeSpec {
    pub name: String,
    pub required: usize,
    pub optional: usize,
    pub func: Func,
}

#[derive(Clone, Default)]
pub struct Registry {
    funcs: FuncMap,
    natives: Vec<NativeSpec>,
}

impl Registry {
    /// The built-ins over an environment lookup.
    pub fn with_env(lookup: crate::template::EnvLookup) -> Self {
        let funcs = template::env_funcs(lookup);
        let mut natives = Vec::new();
        for (name, required, optional) in [("env", 1, 7), ("must_env", 1, 0), ("json_escape", 1, 0)] {
            if let Some(f) = funcs.get(name) {
                natives.push(NativeSpec { name: name.into(), required, optional, func: f.clone() });
            }
        }
        Registry { funcs, natives }
    }

    /// Adds a function; a name taken already is an error naming it.
    pub fn add(&mut self, name: &str, required: usize, optional: usize, func: Func) -> Result<(), String> {
        self.funcs.insert(name, func.clone())?;
        self.natives.push(NativeSpec { name: name.into(), required, optional, func });
        Ok(())
    }

    pub fn funcs(&self) -> &FuncMap {
        &self.funcs
    }

    pub fn natives(&self) -> &[NativeSpec] {
        &self.natives
    }
}
