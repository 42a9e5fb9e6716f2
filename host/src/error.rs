//! Exit codes and the error type for bad input.
//!
//! cortado exits 0 on success, 1 when an operation failed (or `diff --exit-code` found a difference),
//! and 2 for bad input or usage. Bad input is any [`InputError`] anywhere in an error's chain, so
//! code deep in the loaders only has to pick the right type and may add `anyhow` context freely.

use std::fmt;
use std::path::Path;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_INPUT: i32 = 2;

/// A problem with what the user gave us: a file, a flag, a template. Its message names the file
/// (and line and key where known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl InputError {
    pub fn new(msg: impl Into<String>) -> Self {
        InputError(msg.into())
    }
    /// `path:line: message`
    pub fn at(path: &Path, line: usize, msg: impl fmt::Display) -> Self {
        InputError(format!("{}:{line}: {msg}", path.display()))
    }
    /// `path: message`
    pub fn in_file(path: &Path, msg: impl fmt::Display) -> Self {
        InputError(format!("{}: {msg}", path.display()))
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Raised by `diff --exit-code` when something differs: not an error to print, only an exit code.
#[derive(Debug)]
pub struct DiffFound;

impl fmt::Display for DiffFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("differences found")
    }
}

impl std::error::Error for DiffFound {}

/// Ends the command with this exit code after printing the message: `run` exits with its watched
/// container's exit code, `exec` with session-manager-plugin's.
#[derive(Debug)]
pub struct ExitWith {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for ExitWith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitWith {}

/// The exit code for an error: an [`ExitWith`]'s code, else 2 if bad input is anywhere in its
/// chain, else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(e) = err.chain().find_map(|e| e.downcast_ref::<ExitWith>()) {
        return e.code;
    }
    if err.chain().any(|e| e.is::<InputError>()) { EXIT_INPUT } else { EXIT_FAILURE }
}

/// Shorthand for returning an [`InputError`] from a function returning `anyhow::Result`.
#[macro_export]
macro_rules! input_bail {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::error::InputError::new(format!($($arg)*))))
    };
}
