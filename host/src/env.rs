//! cortado's view of the environment: the process environment overlaid with `--envfile` files.
//!
//! Template functions read an immutable snapshot, one consistent map. The envfiles' entries are also
//! put into the process environment once, before any thread starts ([`export_envfiles`]), because
//! ecspresso does so (it calls `setenv`) and users rely on it: the AWS SDK reads `AWS_PROFILE`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL` and credentials from there, and child processes inherit them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::InputError;

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env { vars: std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect() }
    }

    /// An environment with exactly these variables (tests, and `init`, which renders nothing).
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Env { vars: pairs.into_iter().collect() }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(key.into(), value.into());
    }

    /// Reads an envfile (go-envparse syntax) and overrides variables with its entries.
    pub fn load_envfile(&mut self, path: &Path) -> Result<(), InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| InputError::new(format!("{}: cannot read envfile: {e}", path.display())))?;
        for (key, value) in parse_envfile(&text).map_err(|(line, msg)| InputError::at(path, line, msg))? {
            self.vars.insert(key, value);
        }
        Ok(())
    }

    pub fn lookup_fn(self: &Arc<Self>) -> crate::template::EnvLookup {
        let env = Arc::clone(self);
        Arc::new(move |k: &str| env.get(k).map(str::to_owned))
    }
}

/// Sets every envfile entry (later files win) in the process environment, as ecspresso does.
///
/// Must be called before any other thread exists: `main` calls it before starting the runtime.
pub fn export_envfiles(paths: &[std::path::PathBuf]) -> Result<(), InputError> {
    let mut env = Env::default();
    for path in paths {
        env.load_envfile(path)?;
    }
    for (key, value) in env.vars {
        // SAFETY: called from `main` while the process is single-threaded (no runtime, no logging
        // or SDK threads yet), so no other thread can read the environment concurrently.
        unsafe { std::env::set_var(key, value) };
    }
    Ok(())
}

/// Parses `KEY=value` lines: optional `export ` prefix, `#` comments, single-quoted literal values,
/// double-quoted values with backslash escapes, no `${VAR}` interpolation (as hashicorp/go-envparse).
/// Errors carry the 1-based line number.
pub fn parse_envfile(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err((lineno, format!("expected KEY=value, found {line:?}")));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || key.starts_with(|c: char| c.is_ascii_digit()) {
            return Err((lineno, format!("invalid variable name {key:?}")));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let Some(end) = body.find('\'') else { return Err((lineno, "unterminated single-quoted value".into())) };
            check_trailing(&body[end + 1..], lineno)?;
            body[..end].to_owned()
        } else if let Some(body) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = body.char_indices();
            let mut closed = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = Some(i);
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, 'r')) => value.push('\r'),
                        Some((_, c @ ('"' | '\\' | '$' | '`'))) => value.push(c),
                        Some((_, c)) => {
                            value.push('\\');
                            value.push(c)
                        }
                        None => break,
                    },
                    c => value.push(c),
                }
            }
            let Some(end) = closed else { return Err((lineno, "unterminated double-quoted value".into())) };
            check_trailing(&body[end + 1..], lineno)?;
            value
        } else {
            // Unquoted: an inline comment starts at " #".
            let v = match rest.find(" #") {
                Some(i) => &rest[..i],
                None => rest,
            };
            v.trim_end().to_owned()
        };
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn check_trailing(rest: &str, lineno: usize) -> Result<(), (usize, String)> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') { Ok(()) } else { Err((lineno, format!("unexpected text after quoted value: {rest:?}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_envparse_syntax() {
        let text = "# comment\nexport FOO=bar\nA='x y # z'\nB=\"a\\nb\\\"c\"\nC=plain # note\n\nD=\n";
        let got = parse_envfile(text).unwrap();
        assert_eq!(
            got,
            vec![
                ("FOO".into(), "bar".into()),
                ("A".into(), "x y # z".into()),
                ("B".into(), "a\nb\"c".into()),
                ("C".into(), "plain".into()),
                ("D".into(), "".into()),
            ]
        );
    }

    #[test]
    fn reports_the_line_of_a_bad_entry() {
        assert_eq!(parse_envfile("A=1\nnot a pair\n").unwrap_err().0, 2);
        assert_eq!(parse_envfile("A='open\n").unwrap_err().0, 1);
        assert_eq!(parse_envfile("1A=x\n").unwrap_err().0, 1);
    }
}
