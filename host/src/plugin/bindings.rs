//! Host bindings generated from `wit/` — the one source of truth for the plugin contract.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Brokered answers are written to and read from cassettes (`plugin::cassette`).
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use cortado::plugin::types::{Capability, Check, CheckStatus, Decision, FunctionSpec, Hook, Level, Plan};
