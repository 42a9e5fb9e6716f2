//! cortado: an ECS deploy engine, ecspresso-compatible, extended by sandboxed WebAssembly plugins.
//!
//! The modules follow the pipeline, each importing only those before it:
//! foundations ([`error`], [`util`], [`env`], [`style`], [`progress`]) → [`config`] → [`template`]/[`jsonnet`]/[`functions`] →
//! [`plugin`] → [`definitions`] → [`diff`] → [`aws`] (reads) → [`context`] → [`plan`] → [`gate`] →
//! [`apply`] (the only writer) → [`wait`] → [`verify`] → [`output`] → [`ops`] → [`stack`], with [`commands`] and [`cli`] on top.
//! tests/tests/layering.rs checks the order and that no module but `apply` calls a mutating AWS operation.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod definitions;
pub mod diff;
pub mod env;
pub mod error;
pub mod functions;
pub mod gate;
pub mod interrupt;
pub mod jsonnet;
pub mod ops;
pub mod output;
pub mod plan;
pub mod plugin;
pub mod progress;
pub mod stack;
pub mod style;
pub mod template;
pub mod util;
pub mod verify;
pub mod wait;
