//! Go `text/template`-compatible engine for ecspresso-style config and definition files.
//!
//! Why we own this engine: ecspresso users' files are Go `text/template` templates, so cortado
//! must render them byte-for-byte the same way. The only Rust port (`gtmpl`) takes plain `fn`
//! pointers (plugin functions need state, i.e. closures), spins forever on an unterminated action
//! and spawns a thread per parse. The subset these files use is small, so we implement it here
//! with no dependency beyond `thiserror`, with errors that carry `file:line:column`, and with
//! hard limits so that no input can panic, hang or exhaust memory.
//!
//! # Supported subset
//! * Text and actions `{{ }}` (fixed delimiters), trim markers `{{- ` / ` -}}`, comments
//!   `{{/* … */}}`.
//! * Literals: `"…"` strings with Go escapes, `` `raw` `` strings, `'c'` characters (Int),
//!   integers (decimal, `0x`, `0o`, `0b`, legacy leading-`0` octal, `_` separators), floats,
//!   `true`, `false`, `nil`.
//! * Pipelines `a | f b`, parenthesised sub-pipelines, variables (`$x := …`, `$x = …`, `$`),
//!   `.` (the data is always nil), field chains `.A.B` / `$x.A` / `(…).A` on maps.
//! * `if` / `else if` / `else`, `with` / `else with` / `else`, `range` over lists, maps and
//!   integers (Go 1.22) with `$i, $v :=`, `{{break}}`, `{{continue}}`, `{{else}}` for empty
//!   ranges.
//! * Builtins `and or not eq ne lt le gt ge len index slice print printf println html js
//!   urlquery call` (`call` always fails: there are no function values).
//! * Functions from a [`FuncMap`]; [`env_funcs`] provides ecspresso's `env`, `must_env` and
//!   `json_escape`.
//!
//! Not supported: `define`, `template`, `block` (a clear parse error), custom delimiters,
//! methods/structs, complex numbers, hexadecimal floating-point literals and `%x`/`%X` on floats.
//!
//! `host/tests/integration/go_template_diff.rs` renders thousands of generated templates here and with Go's own
//! `text/template` and requires the same output and the same error/no-error outcome; what it
//! found was fixed (`json_escape` of a non-string is an error, `%q` of an invalid rune quotes
//! U+FFFD). It does not generate the differences below.
//!
//! Deliberate differences from Go:
//! * `eq`/`lt`/… compare an Int with a Float numerically (Go reports "incompatible types").
//! * Limits instead of unbounded work: nesting deeper than [`MAX_NESTING_DEPTH`] is a parse
//!   error; execution fails beyond [`MAX_OUTPUT_BYTES`] of output, [`MAX_RANGE_ITERATIONS`]
//!   range iterations, or 1 GiB of strings produced by function calls.
//! * `unicode.IsPrint` (used by `%q`, `%#U` and `js`) is approximated without Unicode tables:
//!   unassigned code points count as printable.
//! * `\x`/octal escapes that would form invalid UTF-8 become U+FFFD (Rust strings are UTF-8).
//! * `index` of a string gives the byte as an Int (Go: `uint8`), which shows only in type names
//!   (`%T`, `%!(EXTRA uint8=…)`).
//! * [`Value`]'s `Display` is Go's `%v`, so nil displays as `<nil>`; an action that outputs nil
//!   prints `<no value>`, as Go does ([`Value::to_output_string`]).

mod builtins;
mod env_funcs;
mod exec;
mod gofmt;
mod lexer;
mod parse;
mod value;

#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use env_funcs::env_funcs;
pub use value::Value;

/// What a template function returns: a value, or a message that becomes
/// `error calling NAME: message` at the call's position.
pub type FuncResult = Result<Value, String>;

/// A template function. Arguments arrive in order; a piped value is the last argument.
pub type Func = Arc<dyn Fn(&[Value]) -> FuncResult + Send + Sync>;

/// How [`env_funcs`] reads a variable: cortado's environment (the process environment overlaid
/// with `--envfile` files); `None` when unset.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Maximum nesting of control structures and parentheses.
pub const MAX_NESTING_DEPTH: usize = 100;
/// Maximum size of a rendered template (and of any string built during execution).
pub const MAX_OUTPUT_BYTES: usize = 64 << 20;
/// Maximum total number of `range` iterations during one execution.
pub const MAX_RANGE_ITERATIONS: u64 = 10_000_000;

/// Names of the builtin functions, always available and never stored in a [`FuncMap`].
pub const BUILTIN_NAMES: &[&str] =
    &["and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or", "print", "printf", "println", "slice", "urlquery"];

/// Whether `name` is one of the builtin functions.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name)
}

/// A set of named template functions (in addition to the builtins).
#[derive(Clone, Default)]
pub struct FuncMap {
    funcs: BTreeMap<String, Func>,
}

impl std::fmt::Debug for FuncMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.funcs.keys()).finish()
    }
}

impl FuncMap {
    /// An empty map. Builtins are always available and are not part of it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `f` as `name`; fails if the name is taken (by this map or by a builtin).
    pub fn insert(&mut self, name: &str, f: Func) -> Result<(), String> {
        if is_builtin(name) {
            return Err(format!("template function {name} already exists (builtin)"));
        }
        if self.funcs.contains_key(name) {
            return Err(format!("template function {name} already exists"));
        }
        self.funcs.insert(name.to_owned(), f);
        Ok(())
    }

    /// Adds or replaces `name`. A builtin's name shadows the builtin, as in Go.
    pub fn insert_or_replace(&mut self, name: &str, f: Func) {
        self.funcs.insert(name.to_owned(), f);
    }

    /// Adds every function of `other`; fails on the first name that is taken.
    pub fn extend(&mut self, other: &FuncMap) -> Result<(), String> {
        for (name, f) in &other.funcs {
            self.insert(name, Arc::clone(f))?;
        }
        Ok(())
    }

    /// Whether `name` can be called: a function of this map or a builtin.
    pub fn contains(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || is_builtin(name)
    }

    /// The function stored as `name` (builtins are not returned).
    pub fn get(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }

    /// Names of the stored functions, sorted (builtins excluded).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.funcs.keys().map(String::as_str)
    }

    /// Number of stored functions (builtins excluded).
    pub fn len(&self) -> usize {
        self.funcs.len()
    }

    /// Whether no function is stored.
    pub fn is_empty(&self) -> bool {
        self.funcs.is_empty()
    }
}

/// A template error, positioned at the action or the function call responsible.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct TemplateError {
    /// Source name given to [`Template::parse`] / [`render`].
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Short human message, e.g. `function "foo" not defined`.
    pub message: String,
}

impl TemplateError {
    /// Builds an error at byte offset `pos` of `src`.
    fn at(file: &str, src: &str, pos: usize, message: String) -> Self {
        let (line, column) = line_col(src, pos);
        TemplateError { file: file.to_owned(), line, column, message }
    }
}

/// 1-based line and column (in characters) of byte offset `pos`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(src.len());
    while pos > 0 && !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = 1 + src[line_start..pos].chars().count();
    (line, column)
}

/// Position-carrying error used inside the engine, turned into a [`TemplateError`] at the API.
#[derive(Debug, Clone)]
struct PosError {
    pos: usize,
    msg: String,
}

impl PosError {
    fn new(pos: usize, msg: impl Into<String>) -> Self {
        PosError { pos, msg: msg.into() }
    }
}

/// A parsed template: reusable, cheap to execute, `Send + Sync`.
pub struct Template {
    name: String,
    src: String,
    root: Vec<parse::Node>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template").field("name", &self.name).field("len", &self.src.len()).finish_non_exhaustive()
    }
}

impl Template {
    /// Parses `text`. Every function name used must be in `funcs` or be a builtin, even in
    /// branches that will never execute (as in Go).
    pub fn parse(source_name: &str, text: &str, funcs: &FuncMap) -> Result<Template, TemplateError> {
        let root = parse::parse(text, funcs).map_err(|e| TemplateError::at(source_name, text, e.pos, e.msg))?;
        Ok(Template { name: source_name.to_owned(), src: text.to_owned(), root })
    }

    /// Renders the template with nil data. `funcs` supplies the functions by name; it is normally
    /// the map given to [`Template::parse`].
    pub fn execute(&self, funcs: &FuncMap) -> Result<String, TemplateError> {
        exec::execute(&self.src, &self.root, funcs).map_err(|e| TemplateError::at(&self.name, &self.src, e.pos, e.msg))
    }

    /// The source name given to [`Template::parse`].
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Parses and executes `text` in one go.
pub fn render(source_name: &str, text: &str, funcs: &FuncMap) -> Result<String, TemplateError> {
    if !text.contains("{{") {
        return Ok(text.to_owned());
    }
    let root = parse::parse(text, funcs).map_err(|e| TemplateError::at(source_name, text, e.pos, e.msg))?;
    exec::execute(text, &root, funcs).map_err(|e| TemplateError::at(source_name, text, e.pos, e.msg))
}
