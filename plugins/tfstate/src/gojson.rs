//! JSON text exactly as Go's `encoding/json.Marshal` writes it, which is what ecspresso's tfstate
//! function returns for non-string values: compact, object keys sorted, `<` `>` `&` U+2028 U+2029
//! escaped as `\u....`, numbers as float64 (`1e+21`, `1e-7`).

use std::fmt::Write;

use serde_json::Value;

pub fn encode(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n.as_f64().unwrap_or(0.0), out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(&o[k], out);
            }
            out.push('}');
        }
    }
}

/// Go's float64 encoding: the shortest representation that round-trips, in plain notation, except
/// below 1e-6 and from 1e21 up, where it uses an exponent without leading zeros (`1e+21`, `5e-7`).
pub fn write_number(f: f64, out: &mut String) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}"); // "1e21", "1.5e-7"
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&s),
        }
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    } else {
        let _ = write!(out, "{f}");
    }
}

pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_and_sorted() {
        let v: Value = serde_json::from_str(r#"{"b": [1, 2.5, "x"], "a": {"z": null, "y": true}}"#).unwrap();
        assert_eq!(encode(&v), r#"{"a":{"y":true,"z":null},"b":[1,2.5,"x"]}"#);
    }

    #[test]
    fn html_escaping_like_go() {
        assert_eq!(encode(&json!("a<b>&c")), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(encode(&json!("l\u{2028}p\u{2029}")), r#""l\u2028p\u2029""#);
        assert_eq!(encode(&json!("q\"b\\n\nt\tc\u{1}")), r#""q\"b\\n\nt\tc\u0001""#);
        assert_eq!(encode(&json!("日本")), "\"日本\"");
    }

    #[test]
    fn numbers_like_go() {
        let n = |f: f64| {
            let mut s = String::new();
            write_number(f, &mut s);
            s
        };
        assert_eq!(n(30.0), "30");
        assert_eq!(n(-2.0), "-2");
        assert_eq!(n(1.5), "1.5");
        assert_eq!(n(0.1), "0.1");
        assert_eq!(n(1e20), "100000000000000000000");
        assert_eq!(n(1e21), "1e+21");
        assert_eq!(n(1.5e300), "1.5e+300");
        assert_eq!(n(0.000001), "0.000001");
        assert_eq!(n(5e-7), "5e-7");
        assert_eq!(n(0.0), "0");
        assert_eq!(encode(&json!(12345678901234567890u64)), "12345678901234567000");
    }
}
