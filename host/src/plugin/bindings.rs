//! Host bindings generated from `wit/` — the one source of truth for the plugin contract.
//!
//! The current version (`cortado:plugin@0.4.0`, `wit/plugin.wit`) is bound at the top level;
//! every older version keeps its own module, generated from its frozen copy (`wit/v0.3.0/`, `wit/v0.2.0/`,
//! `wit/v0.1.0/`), so components built against it keep loading (Zed's extension host does the
//! same). The host implements the older imports by converting to and from the current types,
//! never a second time.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Brokered answers are written to and read from cassettes (`plugin::cassette`).
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use cortado::plugin::types::{Capability, Check, CheckStatus, Decision, FunctionSpec, Hook, Level, Plan, Stage, Step};

/// The contract as it was in 0.3.0: no `registry` imports.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.3.0",
        world: "plugin",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

/// The contract as it was in 0.2.0: no `steps` in plans (they reach its gates in `overrides`).
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2.0",
        world: "plugin",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

/// The contract as it was in 0.1.0: no `stage` in plans, no `inconclusive`, no `metrics` imports.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "plugin",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

/// The WIT package versions the host loads, newest first.
pub const VERSIONS: [&str; 4] = ["cortado:plugin@0.4.0", "cortado:plugin@0.3.0", "cortado:plugin@0.2.0", "cortado:plugin@0.1.0"];

/// Converts between two generated types of the same shape (a 0.1.0 record and its 0.3.0 twin):
/// fields and cases are matched by name, fields the older type lacks are dropped.
pub fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(a: &A) -> Result<B, String> {
    serde_json::to_value(a).and_then(serde_json::from_value).map_err(|e| format!("converting between WIT versions: {e}"))
}
