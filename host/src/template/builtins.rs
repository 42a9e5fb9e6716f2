//! Go text/template builtin functions (text/template/funcs.go).

use std::cmp::Ordering;

use super::gofmt;
use super::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Call,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Builtin {
    pub(super) fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "and" => Builtin::And,
            "or" => Builtin::Or,
            "not" => Builtin::Not,
            "len" => Builtin::Len,
            "index" => Builtin::Index,
            "slice" => Builtin::Slice,
            "print" => Builtin::Print,
            "printf" => Builtin::Printf,
            "println" => Builtin::Println,
            "html" => Builtin::Html,
            "js" => Builtin::Js,
            "urlquery" => Builtin::Urlquery,
            "call" => Builtin::Call,
            "eq" => Builtin::Eq,
            "ne" => Builtin::Ne,
            "lt" => Builtin::Lt,
            "le" => Builtin::Le,
            "gt" => Builtin::Gt,
            "ge" => Builtin::Ge,
            _ => return None,
        })
    }
}

/// How a builtin failed.
#[derive(Debug)]
pub(super) enum CallError {
    /// Reported as is (argument count or type problems, as Go reports them).
    Plain(String),
    /// Reported as `error calling NAME: …`.
    Failed(String),
}

/// Checks the argument count the way Go's evalCall does.
pub(super) fn check_arity(name: &str, got: usize, want: usize, variadic: bool) -> Result<(), CallError> {
    if variadic && got < want {
        return Err(CallError::Plain(format!("wrong number of args for {name}: want at least {want} got {got}")));
    }
    if !variadic && got != want {
        return Err(CallError::Plain(format!("wrong number of args for {name}: want {want} got {got}")));
    }
    Ok(())
}

fn failed<T>(msg: impl Into<String>) -> Result<T, CallError> {
    Err(CallError::Failed(msg.into()))
}

/// Calls a builtin other than `and`/`or` (those short-circuit, see exec).
pub(super) fn call(b: Builtin, name: &str, mut args: Vec<Value>) -> Result<Value, CallError> {
    let n = args.len();
    match b {
        Builtin::And | Builtin::Or => {
            check_arity(name, n, 1, true)?;
            let want = b == Builtin::Or;
            let last = args.len() - 1;
            let idx = args.iter().position(|a| a.is_true() == want).unwrap_or(last);
            Ok(args.swap_remove(idx))
        }
        Builtin::Not => {
            check_arity(name, n, 1, false)?;
            Ok(Value::Bool(!args[0].is_true()))
        }
        Builtin::Len => {
            check_arity(name, n, 1, false)?;
            let len = match &args[0] {
                Value::String(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                Value::Nil => return failed("len of nil pointer"),
                other => return failed(format!("len of type {}", other.type_name())),
            };
            Ok(Value::Int(len as i64))
        }
        Builtin::Index => {
            check_arity(name, n, 1, true)?;
            let mut it = args.into_iter();
            let item = it.next().unwrap_or_default();
            index(item, it)
        }
        Builtin::Slice => {
            check_arity(name, n, 1, true)?;
            slice(&args[0], &args[1..])
        }
        Builtin::Print => Ok(Value::String(gofmt::sprint(&args))),
        Builtin::Println => Ok(Value::String(gofmt::sprintln(&args))),
        Builtin::Printf => {
            check_arity(name, n, 1, true)?;
            let format = match &args[0] {
                Value::String(s) => s.as_str(),
                Value::Nil => {
                    return Err(CallError::Plain("invalid value; expected string".into()));
                }
                other => {
                    return Err(CallError::Plain(format!("wrong type for value; expected string; got {}", other.type_name())));
                }
            };
            Ok(Value::String(gofmt::sprintf(format, &args[1..])))
        }
        Builtin::Html => Ok(Value::String(html_escape(&eval_args(&args)))),
        Builtin::Js => Ok(Value::String(js_escape(&eval_args(&args)))),
        Builtin::Urlquery => Ok(Value::String(query_escape(&eval_args(&args)))),
        Builtin::Call => {
            check_arity(name, n, 1, true)?;
            match &args[0] {
                Value::Nil => failed("call of nil"),
                other => failed(format!("non-function of type {} (cortado templates have no function values)", other.type_name())),
            }
        }
        Builtin::Eq => {
            check_arity(name, n, 1, true)?;
            eq(&args[0], &args[1..]).map(Value::Bool)
        }
        Builtin::Ne => {
            check_arity(name, n, 2, false)?;
            eq(&args[0], &args[1..]).map(|e| Value::Bool(!e))
        }
        Builtin::Lt => {
            check_arity(name, n, 2, false)?;
            lt(&args[0], &args[1]).map(Value::Bool)
        }
        Builtin::Le => {
            check_arity(name, n, 2, false)?;
            le(&args[0], &args[1]).map(Value::Bool)
        }
        Builtin::Gt => {
            check_arity(name, n, 2, false)?;
            le(&args[0], &args[1]).map(|x| Value::Bool(!x))
        }
        Builtin::Ge => {
            check_arity(name, n, 2, false)?;
            lt(&args[0], &args[1]).map(|x| Value::Bool(!x))
        }
    }
}

// ---- comparison ----------------------------------------------------------------------------

const BAD_TYPE: &str = "invalid type for comparison";
const INCOMPATIBLE: &str = "incompatible types for comparison";

/// Numeric/string/bool ordering of two basic values; Int and Float compare numerically.
fn compare_basic(a: &Value, b: &Value) -> Option<Option<Ordering>> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => return None,
    })
}

fn incompatible<T>(a: &Value, b: &Value) -> Result<T, CallError> {
    failed(format!("{INCOMPATIBLE}: {} and {}", a.type_name(), b.type_name()))
}

/// `eq a b c…`: a == b || a == c …
fn eq(a: &Value, others: &[Value]) -> Result<bool, CallError> {
    if others.is_empty() {
        return failed("missing argument for comparison");
    }
    for b in others {
        let truth = match (a, b) {
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, _) | (_, Value::Nil) => false,
            (Value::List(_), Value::List(_)) | (Value::Map(_), Value::Map(_)) => {
                return failed(format!("non-comparable type {b}: {}", b.type_name()));
            }
            (Value::List(_) | Value::Map(_), Value::List(_) | Value::Map(_)) => {
                return failed(format!("non-comparable types {a}: {}, {}: {b}", a.type_name(), b.type_name()));
            }
            _ => match compare_basic(a, b) {
                Some(ord) => ord == Some(Ordering::Equal),
                None => return incompatible(a, b),
            },
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_basic(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::String(_))
}

fn lt(a: &Value, b: &Value) -> Result<bool, CallError> {
    if !is_basic(a) || !is_basic(b) {
        return failed(BAD_TYPE);
    }
    match compare_basic(a, b) {
        None => incompatible(a, b),
        Some(_) if matches!(a, Value::Bool(_)) => failed(BAD_TYPE),
        Some(ord) => Ok(ord == Some(Ordering::Less)),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, CallError> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

// ---- index / slice -------------------------------------------------------------------------

fn index_arg(index: &Value, cap: usize) -> Result<usize, CallError> {
    let x = match index {
        Value::Int(x) => *x,
        Value::Nil => return failed("cannot index slice/array with nil"),
        other => {
            return failed(format!("cannot index slice/array with type {}", other.type_name()));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return failed(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(mut item: Value, indexes: impl Iterator<Item = Value>) -> Result<Value, CallError> {
    if matches!(item, Value::Nil) {
        return failed("index of untyped nil");
    }
    for idx in indexes {
        item = match item {
            Value::List(mut l) => {
                let x = index_arg(&idx, l.len())?;
                if x >= l.len() {
                    return failed(format!("index out of range: {x}"));
                }
                l.swap_remove(x)
            }
            Value::String(s) => {
                let x = index_arg(&idx, s.len())?;
                match s.as_bytes().get(x) {
                    Some(&byte) => Value::Int(i64::from(byte)),
                    None => return failed(format!("index out of range: {x}")),
                }
            }
            Value::Map(mut m) => match idx {
                Value::String(k) => m.remove(&k).unwrap_or(Value::Nil),
                Value::Nil => return failed("value is nil; should be of type string"),
                other => {
                    return failed(format!("value has type {}; should be string", other.type_name()));
                }
            },
            Value::Nil => return failed("index of nil pointer"),
            other => return failed(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, CallError> {
    if indexes.len() > 3 {
        return failed(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::Nil => return failed("slice of untyped nil"),
        Value::String(s) => {
            if indexes.len() == 3 {
                return failed("cannot 3-index slice a string");
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return failed(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, len];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return failed(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return failed(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => Value::String(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        Value::List(l) => Value::List(l[idx[0]..idx[1]].to_vec()),
        _ => Value::Nil,
    })
}

// ---- escapers ------------------------------------------------------------------------------

/// Go's evalArgs: a lone string as is, otherwise `fmt.Sprint` with nil as `<no value>`.
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.clone();
    }
    if args.iter().any(|a| matches!(a, Value::Nil)) {
        let replaced: Vec<Value> = args.iter().map(|a| if matches!(a, Value::Nil) { Value::String("<no value>".into()) } else { a.clone() }).collect();
        return gofmt::sprint(&replaced);
    }
    gofmt::sprint(args)
}

/// Go's `template.HTMLEscapeString`.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(super) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if gofmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(super) fn query_escape(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
    }
    out
}
