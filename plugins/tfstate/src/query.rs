//! The attribute path after a resource address (`.tags.Name`, `.list[1]`, `.map["k"]`,
//! `[0].id`), evaluated with the semantics of the jq subset ecspresso's tfstate lookup uses:
//! a missing key or an index past the end gives null (→ "not found"), indexing null gives null,
//! and indexing a value of the wrong type is an error.
//!
//! Names may contain `-` (`.repository-arn`), as tfstate-lookup quotes them before handing the
//! query to jq.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(i64),
}

/// Parses a path such as `.a.b[0]["c"].d`. The empty path and `.` are the identity.
pub fn parse(path: &str) -> Result<Vec<Segment>, String> {
    let b = path.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    if path == "." {
        return Ok(out);
    }
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                if i >= b.len() {
                    return Err(format!("unexpected end of query {path:?}"));
                }
                match b[i] {
                    b'[' => {} // `.[0]`, `.["k"]`: handled by the next turn
                    b'"' => {
                        let (s, next) = parse_string(path, i)?;
                        out.push(Segment::Key(s));
                        i = next;
                    }
                    _ => {
                        let start = i;
                        while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                            if b[i] == b']' || b[i] == b'"' || b[i] == b' ' {
                                return Err(format!("unexpected {:?} in query {path:?}", b[i] as char));
                            }
                            i += 1;
                        }
                        if i == start {
                            return Err(format!("empty name in query {path:?}"));
                        }
                        out.push(Segment::Key(path[start..i].to_owned()));
                    }
                }
            }
            b'[' => {
                i += 1;
                if i < b.len() && b[i] == b'"' {
                    let (s, next) = parse_string(path, i)?;
                    out.push(Segment::Key(s));
                    i = next;
                } else {
                    let start = i;
                    while i < b.len() && b[i] != b']' {
                        i += 1;
                    }
                    let text = path[start..i].trim();
                    let n: i64 = text.parse().map_err(|_| format!("invalid index {text:?} in query {path:?}"))?;
                    out.push(Segment::Index(n));
                }
                if i >= b.len() || b[i] != b']' {
                    return Err(format!("missing ] in query {path:?}"));
                }
                i += 1;
            }
            c => return Err(format!("unexpected {:?} in query {path:?}", c as char)),
        }
    }
    Ok(out)
}

/// A JSON string literal starting at `b[start] == '"'`; returns it and the index after it.
fn parse_string(path: &str, start: usize) -> Result<(String, usize), String> {
    let b = path.as_bytes();
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => {
                let s: String = serde_json::from_str(&path[start..=i]).map_err(|e| format!("invalid string in query {path:?}: {e}"))?;
                return Ok((s, i + 1));
            }
            _ => i += 1,
        }
    }
    Err(format!("unterminated string in query {path:?}"))
}

/// Follows `path` into `v`. `Ok(None)` is jq's null: not found.
pub fn eval<'a>(v: &'a Value, path: &[Segment]) -> Result<Option<&'a Value>, String> {
    let mut cur = v;
    for seg in path {
        cur = match (seg, cur) {
            (_, Value::Null) => return Ok(None),
            (Segment::Key(k), Value::Object(o)) => match o.get(k) {
                Some(v) => v,
                None => return Ok(None),
            },
            (Segment::Index(n), Value::Array(a)) => {
                let i = if *n < 0 { a.len() as i64 + n } else { *n };
                match (i >= 0).then(|| a.get(i as usize)).flatten() {
                    Some(v) => v,
                    None => return Ok(None),
                }
            }
            (Segment::Key(k), other) => return Err(format!("expected an object but got: {} ({}) while looking up {k:?}", kind(other), preview(other))),
            (Segment::Index(n), other) => return Err(format!("expected an array but got: {} ({}) while looking up [{n}]", kind(other), preview(other))),
        };
    }
    Ok(if cur.is_null() { None } else { Some(cur) })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn preview(v: &Value) -> String {
    let s = crate::gojson::encode(v);
    if s.len() <= 30 {
        return s;
    }
    let mut end = 27;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Index, Key};
    use serde_json::json;

    #[test]
    fn parses_paths() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(".").unwrap(), vec![]);
        assert_eq!(parse(".id").unwrap(), vec![Key("id".into())]);
        assert_eq!(parse(".tags.Name").unwrap(), vec![Key("tags".into()), Key("Name".into())]);
        assert_eq!(parse(".list[1]").unwrap(), vec![Key("list".into()), Index(1)]);
        assert_eq!(parse(".list[-1]").unwrap(), vec![Key("list".into()), Index(-1)]);
        assert_eq!(parse(r#".map["k.with.dots"]"#).unwrap(), vec![Key("map".into()), Key("k.with.dots".into())]);
        assert_eq!(parse(r#".["a"].[0]"#).unwrap(), vec![Key("a".into()), Index(0)]);
        assert_eq!(parse(r#"."quoted key".x"#).unwrap(), vec![Key("quoted key".into()), Key("x".into())]);
        assert_eq!(parse(".repository-arn").unwrap(), vec![Key("repository-arn".into())]);
        assert_eq!(parse("[0].id").unwrap(), vec![Index(0), Key("id".into())]);
        assert_eq!(parse(r#"["a\"b"]"#).unwrap(), vec![Key("a\"b".into())]);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [".", "..", ".a[", ".a[x]", ".a[\"x]", "a", ".a]", ".a b", ".a.", "[\"x\""] {
            if bad == "." {
                continue;
            }
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn evaluates_like_jq() {
        let v = json!({"id": "x", "tags": {"Name": "n"}, "list": [1, 2], "nul": null, "s": "str"});
        let q = |p: &str| eval(&v, &parse(p).unwrap()).map(|o| o.cloned());
        assert_eq!(q(".id").unwrap(), Some(json!("x")));
        assert_eq!(q(".tags.Name").unwrap(), Some(json!("n")));
        assert_eq!(q(".list[1]").unwrap(), Some(json!(2)));
        assert_eq!(q(".list[-1]").unwrap(), Some(json!(2)));
        assert_eq!(q(".list[2]").unwrap(), None);
        assert_eq!(q(".list[-3]").unwrap(), None);
        assert_eq!(q(".missing").unwrap(), None);
        assert_eq!(q(".missing.deeper[0]").unwrap(), None);
        assert_eq!(q(".nul").unwrap(), None);
        assert_eq!(q("").unwrap(), Some(v.clone()));
        assert!(q(".s.x").unwrap_err().starts_with("expected an object but got: string (\"str\")"));
        assert!(q(".tags[0]").unwrap_err().starts_with("expected an array but got: object"));
        assert!(q(".list.x").unwrap_err().starts_with("expected an object but got: array ([1,2])"));
    }
}
