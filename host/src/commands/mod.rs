//! The subcommands: each parses its options into the pipeline's plain structs, runs the stages
//! (plan → gate → apply → wait) and presents the result. No AWS call that changes anything is made
//! here: those live in `apply/`.

pub mod args;
pub mod audit;
pub mod daemon;
pub mod deploy;
pub mod diff;
pub mod docs;
pub mod evidence;
pub mod exec;
mod exec_cp;
pub mod express;
pub mod iam_policy;
mod iam_refs;
pub mod init;
pub mod lifecycle;
pub mod manual;
pub mod native;
pub mod plugin;
pub mod render;
pub mod run;
pub mod skills;
pub mod stack;
pub mod status;
mod task_logs;
pub mod tasks;
pub mod trace;
pub mod unlock;
pub mod verify;

pub use crate::context::Context as App;
