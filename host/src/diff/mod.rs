//! Stage 3: comparing what the files say with what runs, as a unified diff (the `similar` crate).

pub mod normalize;

use similar::TextDiff;

use crate::definitions::to_pretty_json;
use crate::style::Style;

/// A unified diff of two JSON documents (remote first), with ecspresso's headers. Empty when equal.
pub fn unified(remote: Option<&serde_json::Value>, local: &serde_json::Value, remote_name: &str, local_name: &str) -> String {
    let old = remote.map(to_pretty_json).unwrap_or_default();
    let new = to_pretty_json(local);
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(&old, &new);
    diff.unified_diff().context_radius(3).header(remote_name, local_name).to_string()
}

/// One comparison, both sides normalised: what runs (None when absent) and what the files say.
/// `cortado diff` prints these and every plan's `diff` is made of them, so both say the same.
#[derive(Debug, Clone)]
pub struct Pair {
    pub remote: Option<serde_json::Value>,
    pub local: serde_json::Value,
    pub remote_name: String,
    pub local_name: String,
}

impl Pair {
    /// The running service against a local service definition (tags in `ignore` left out;
    /// `desiredCount` compared only when the file sets one).
    pub fn service(local: &serde_json::Value, remote: Option<&serde_json::Value>, ignore: &[String], local_name: &str) -> Pair {
        let has_desired = local.get("desiredCount").is_some();
        let local_norm = normalize::service(local, ignore, has_desired);
        let remote_norm = remote.map(|r| {
            let mut r = normalize::service(r, ignore, has_desired);
            normalize::reconcile_namespace(&local_norm, &mut r);
            r
        });
        Pair {
            remote_name: remote.and_then(|r| r.get("serviceArn")).and_then(serde_json::Value::as_str).unwrap_or("").to_owned(),
            remote: remote_norm,
            local: local_norm,
            local_name: local_name.to_owned(),
        }
    }

    /// A task definition that runs (`remote`: registerable fields, by ARN) against another one.
    pub fn task_definition(local: &serde_json::Value, remote: Option<&serde_json::Value>, remote_arn: &str, local_name: &str) -> Pair {
        Pair {
            remote: remote.map(normalize::task_definition),
            local: normalize::task_definition(local),
            remote_name: remote_arn.to_owned(),
            local_name: local_name.to_owned(),
        }
    }

    pub fn differs(&self) -> bool {
        self.remote.as_ref() != Some(&self.local)
    }

    pub fn unified(&self) -> String {
        unified(self.remote.as_ref(), &self.local, &self.remote_name, &self.local_name)
    }
}

/// Colours `-` lines red and `+` lines green (headers too), as ecspresso does.
pub fn colorize(diff: &str, style: &Style) -> String {
    let mut out = String::with_capacity(diff.len() + 64);
    for line in diff.split_inclusive('\n') {
        if line.starts_with('-') {
            out.push_str(&style.red(line.trim_end_matches('\n')));
            out.push('\n');
        } else if line.starts_with('+') {
            out.push_str(&style.green(line.trim_end_matches('\n')));
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_documents_give_no_diff() {
        let v = json!({"a": 1});
        assert_eq!(unified(Some(&v), &v, "r", "l"), "");
    }

    #[test]
    fn a_change_shows_one_hunk_with_headers() {
        let d = unified(Some(&json!({"image": "a:v1", "name": "x"})), &json!({"image": "a:v2", "name": "x"}), "arn:r", "td.json");
        assert!(d.starts_with("--- arn:r\n+++ td.json\n"), "{d}");
        assert!(d.contains("-  \"image\": \"a:v1\",\n+  \"image\": \"a:v2\",\n"), "{d}");
    }

    #[test]
    fn missing_remote_is_all_additions() {
        let d = unified(None, &json!({"a": 1}), "", "td.json");
        assert!(d.lines().skip(3).all(|l| l.starts_with('+')), "{d}");
    }
}
