//! The end-to-end tests: the real `cortado` binary against the local AWS simulator, one module per
//! area. One binary (see tests/Cargo.toml); `scripts/run-tests.py` runs each module in a process of
//! its own, so each module starts its own simulator, as each file did when it was a binary.
//!
//! One module: `cargo test -p cortado-e2e --test e2e deploy::` (a filter on the module path).
//! `tests/tests/layering.rs` checks that every file here is declared below.

mod agent_docs;
mod bad_input;
mod cli;
mod codedeploy_wait;
mod contract;
mod corpus;
mod daemons;
mod deploy;
mod docs;
mod early_success;
mod ecspresso_v28;
mod ecspresso_v3;
mod express;
mod faults;
mod gates;
mod hardening;
mod i10;
mod i12;
mod i24;
mod iam_policy;
mod layering;
mod live_view;
mod model;
mod one_path;
mod paused;
mod plan_request;
mod plugin_authors;
mod plugins;
mod private_registries;
mod render;
mod requests_approved;
mod run;
mod scripts;
mod shared_state;
mod simulator;
mod stacks;
mod supply;
mod tasks;
mod verify;
