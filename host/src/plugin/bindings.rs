//! Host bindings generated from `wit/` — the one source of truth for the plugin contract.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
});

pub use cortado::plugin::types::{Capability, Check, CheckStatus, Decision, FunctionSpec, Hook, Level, Plan};
