//! ecspresso's template functions `env`, `must_env` and `json_escape` (kayac/go-config).

use std::sync::Arc;

use super::value::Value;
use super::{EnvLookup, FuncMap, FuncResult};

type Lookup = EnvLookup;

/// `env`, `must_env` and `json_escape` over `lookup` (cortado's environment: the process
/// environment overlaid with `--envfile` files).
///
/// * `env K1 [K2 …]`: the first argument naming a set, non-empty variable gives its value;
///   otherwise the last argument itself (`env "TAG" "latest"`; `env "UNSET"` is `UNSET`).
/// * `must_env K`: the value of `K` (empty allowed); unset is an error.
/// * `json_escape S`: `S` escaped as the inside of a JSON string, like Go's `encoding/json`.
pub fn env_funcs(lookup: EnvLookup) -> FuncMap {
    let mut map = FuncMap::new();
    let l = Arc::clone(&lookup);
    map.insert_or_replace("env", Arc::new(move |args: &[Value]| env(&l, args)));
    let l = Arc::clone(&lookup);
    map.insert_or_replace("must_env", Arc::new(move |args: &[Value]| must_env(&l, args)));
    map.insert_or_replace("json_escape", Arc::new(|args: &[Value]| json_escape_func(args)));
    map
}

fn string_arg(v: &Value) -> Result<&str, String> {
    match v {
        Value::String(s) => Ok(s),
        Value::Nil => Err("invalid value; expected string".into()),
        other => Err(format!("wrong type for value; expected string; got {}", other.type_name())),
    }
}

fn env(lookup: &Lookup, args: &[Value]) -> FuncResult {
    let mut last = "";
    for a in args {
        let key = string_arg(a)?;
        if let Some(v) = lookup(key)
            && !v.is_empty()
        {
            return Ok(Value::String(v));
        }
        last = key;
    }
    Ok(Value::String(last.to_owned()))
}

fn must_env(lookup: &Lookup, args: &[Value]) -> FuncResult {
    let [arg] = args else {
        return Err(format!("wrong number of args: want 1 got {}", args.len()));
    };
    let key = string_arg(arg)?;
    match lookup(key) {
        Some(v) => Ok(Value::String(v)),
        None => Err(format!("environment variable {key} is not set")),
    }
}

fn json_escape_func(args: &[Value]) -> FuncResult {
    let [arg] = args else {
        return Err(format!("wrong number of args: want 1 got {}", args.len()));
    };
    // Go's `func(s string) string`: anything but a string is an error, as in ecspresso.
    Ok(Value::String(json_escape(string_arg(arg)?)))
}

/// The inside of Go's `json.Marshal(s)` (HTML-safe, Go ≥ 1.22 escapes).
pub(super) fn json_escape(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out
}
