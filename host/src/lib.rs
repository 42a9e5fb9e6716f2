//! cortado: an ECS deploy engine, ecspresso-compatible, extended by sandboxed WebAssembly plugins.
//!
//! The modules follow the pipeline: [`config`] → [`template`]/[`jsonnet`] → [`definitions`] →
//! [`diff`] → [`plugin`] → [`aws`] → [`gate`] → [`deploy`] / [`verify`] → [`output`]. [`commands`] glues them
//! into the CLI's subcommands.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod definitions;
pub mod deploy;
pub mod diff;
pub mod env;
pub mod error;
pub mod functions;
pub mod gate;
pub mod jsonnet;
pub mod output;
pub mod plugin;
pub mod template;
pub mod verify;
