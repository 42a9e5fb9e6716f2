//! Recorded AWS answers for `cortado plugin test`: a cassette holds every brokered request a
//! plugin made and the answer it got, so a plugin's tests replay with no network and no
//! credentials.
//!
//! The hook sits between the plugin and the [`Broker`](super::broker::Broker): grants are still
//! checked on replay (a denied call is denied, and never recorded, since it never left the host).
//! **Record** makes the real call and keeps the answer; **replay** answers from the file and fails a
//! call that is not in it, naming it. Secret values (SecureString parameters, secret strings) are
//! redacted *before* the plugin sees them while recording, so record and replay behave the same and
//! no secret reaches the file; `keep` opts a parameter or secret out by name. S3 objects that are
//! Terraform state files keep their shape but lose their sensitive values: outputs marked
//! `sensitive`, attributes listed in an instance's `sensitive_attributes`, and attributes whose
//! name says secret (`password`, `private_key`, …), since older states do not mark those; `keep`
//! opts a state out as `s3://bucket/key`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::bindings::cortado::plugin::aws::AwsError;
use crate::error::InputError;

/// What a redacted secret is replaced with, in the cassette and in what the plugin sees.
pub const REDACTED: &str = "[redacted]";

/// Returned by the slot instead of an AWS client while replaying: the broker's grant check passed
/// and the call would now go out, so the cassette answers instead.
pub(crate) const REPLAYING: &str = "cortado: replaying from a cassette";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Record,
    Replay,
}

/// One brokered call and its answer (`{"Ok": …}` or `{"Err": {"NotFound": "…"}}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub call: String,
    pub request: Value,
    pub response: Value,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    /// Where it was recorded: grants naming a region or account are checked against these on replay.
    region: Option<String>,
    account: Option<String>,
    interactions: Vec<Interaction>,
}

pub struct Cassette {
    pub mode: Mode,
    pub path: PathBuf,
    /// Parameter names or secret ids whose values are recorded in clear.
    keep: Vec<String>,
    file: Mutex<File>,
    /// Calls made during replay that the cassette has no answer for.
    misses: Mutex<Vec<String>>,
}

impl Cassette {
    /// A cassette to record into (nothing is read; [`Cassette::save`] writes it).
    pub fn record(path: &Path, keep: Vec<String>) -> Cassette {
        Cassette::new(Mode::Record, path, keep, File { version: 1, ..File::default() })
    }

    /// A recorded cassette to answer from.
    pub fn replay(path: &Path) -> Result<Cassette> {
        let text =
            std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("cannot read the cassette: {e} (record it first with --record)")))?;
        let file: File =
            serde_json::from_str(&text).map_err(|e| InputError(format!("{}:{}:{}: invalid cassette: {e}", path.display(), e.line(), e.column())))?;
        Ok(Cassette::new(Mode::Replay, path, Vec::new(), file))
    }

    fn new(mode: Mode, path: &Path, keep: Vec<String>, file: File) -> Cassette {
        Cassette { mode, path: path.to_path_buf(), keep, file: Mutex::new(file), misses: Mutex::new(Vec::new()) }
    }

    /// Writes a recorded cassette.
    pub fn save(&self) -> Result<()> {
        let file = self.file.lock().map_err(|_| anyhow::anyhow!("cassette lock poisoned"))?;
        let text = serde_json::to_string_pretty(&*file)?;
        std::fs::write(&self.path, text + "\n").with_context(|| format!("writing the cassette {}", self.path.display()))
    }

    /// The unrecorded calls made since the last time this was asked.
    pub fn take_misses(&self) -> Vec<String> {
        self.misses.lock().map(|mut m| std::mem::take(&mut *m)).unwrap_or_default()
    }

    pub fn interactions(&self) -> Vec<Interaction> {
        self.file.lock().map(|f| f.interactions.clone()).unwrap_or_default()
    }

    /// The recorded region and account while replaying (the broker's scoped grant checks use them).
    pub(crate) fn replayed_region(&self) -> Option<String> {
        self.replaying(|f| f.region.clone())
    }

    pub(crate) fn replayed_account(&self) -> Option<String> {
        self.replaying(|f| f.account.clone())
    }

    fn replaying(&self, get: impl FnOnce(&File) -> Option<String>) -> Option<String> {
        if self.mode != Mode::Replay {
            return None;
        }
        Some(self.file.lock().ok().and_then(|f| get(&f)).unwrap_or_else(|| "*".into()))
    }

    /// Remembers where a recording was made.
    pub(crate) fn note_location(&self, region: Option<&str>, account: Option<&str>) {
        if let Ok(mut f) = self.file.lock() {
            if let Some(r) = region {
                f.region = Some(r.to_owned());
            }
            if let Some(a) = account {
                f.account = Some(a.to_owned());
            }
        }
    }

    /// Runs one brokered call through the cassette. `live` is the broker's own method: it checks
    /// the grants first, then (recording) calls AWS or (replaying) stops with [`REPLAYING`].
    pub fn call<T: Serialize + DeserializeOwned>(&self, call: &str, request: Value, live: impl FnOnce() -> Result<T, AwsError>) -> Result<T, AwsError> {
        let answer = live();
        match (self.mode, answer) {
            (_, Err(AwsError::Denied(m))) => Err(AwsError::Denied(m)),
            (Mode::Replay, Err(AwsError::Failed(m))) if m == REPLAYING => self.answer(call, &request),
            (Mode::Replay, other) => other,
            (Mode::Record, answer) => {
                let mut response = serde_json::to_value(&answer).map_err(|e| AwsError::Failed(format!("recording {call}: {e}")))?;
                redact(call, &request, &mut response, &self.keep);
                if let Ok(mut f) = self.file.lock() {
                    f.interactions.push(Interaction { call: call.to_owned(), request, response: response.clone() });
                }
                // The plugin sees what the cassette holds, so a replay behaves exactly the same.
                serde_json::from_value(response).map_err(|e| AwsError::Failed(format!("recording {call}: {e}")))?
            }
        }
    }

    fn answer<T: DeserializeOwned>(&self, call: &str, request: &Value) -> Result<T, AwsError> {
        let found = self.file.lock().ok().and_then(|f| f.interactions.iter().find(|i| i.call == call && &i.request == request).map(|i| i.response.clone()));
        match found {
            Some(response) => serde_json::from_value::<Result<T, AwsError>>(response)
                .map_err(|e| AwsError::Failed(format!("the cassette's answer to {call} {request} cannot be read: {e}")))?,
            None => {
                let what = format!("{call} {request}");
                if let Ok(mut m) = self.misses.lock() {
                    m.push(what.clone());
                }
                Err(AwsError::Failed(format!("unrecorded AWS call {what}: not in the cassette {} (re-record with --record)", self.path.display())))
            }
        }
    }
}

/// Replaces secret values in a recorded answer, unless the request named something in `keep`.
fn redact(call: &str, request: &Value, response: &mut Value, keep: &[String]) {
    let kept = |name: &str| keep.iter().any(|k| k == name || k.trim_start_matches('/') == name.trim_start_matches('/'));
    let Some(ok) = response.get_mut("Ok") else { return };
    match call {
        "ssm:GetParameter" => redact_parameter(ok, &kept),
        "ssm:GetParameters" => {
            if let Some(list) = ok.get_mut(0).and_then(Value::as_array_mut) {
                list.iter_mut().for_each(|p| redact_parameter(p, &kept));
            }
        }
        "secretsmanager:GetSecretValue" => {
            let id = request["secret_id"].as_str().unwrap_or_default();
            let name = ok["name"].as_str().unwrap_or_default().to_owned();
            if ok["secret_string"].is_string() && !kept(id) && !kept(&name) {
                ok["secret_string"] = json!(REDACTED);
            }
        }
        "s3:GetObject" => {
            let url = format!("s3://{}/{}", request["bucket"].as_str().unwrap_or_default(), request["key"].as_str().unwrap_or_default());
            if !kept(&url) {
                redact_state_body(ok);
            }
        }
        _ => {}
    }
}

/// Attribute names whose values are secrets whether or not the state marks them.
const SECRET_ATTRIBUTES: &[&str] =
    &["password", "master_password", "secret", "secret_string", "secret_binary", "private_key", "private_key_pem", "token", "auth_token", "secret_access_key"];

/// A recorded object body (`{"text": …}`) that is a Terraform state: its secrets replaced.
fn redact_state_body(body: &mut Value) {
    let Some(text) = body.get("text").and_then(Value::as_str) else { return };
    let Ok(mut state) = serde_json::from_str::<Value>(text) else { return };
    if state.get("terraform_version").is_none() || !state.is_object() {
        return;
    }
    redact_state(&mut state);
    if let Ok(text) = serde_json::to_string_pretty(&state) {
        body["text"] = json!(text);
    }
}

fn redact_state(state: &mut Value) {
    if let Some(outputs) = state.get_mut("outputs").and_then(Value::as_object_mut) {
        for o in outputs.values_mut().filter(|o| o["sensitive"] == true) {
            o["value"] = json!(REDACTED);
        }
    }
    let instances = state.get_mut("resources").and_then(Value::as_array_mut).into_iter().flatten().filter_map(|r| r.get_mut("instances")?.as_array_mut());
    for inst in instances.flatten() {
        let marked: Vec<Value> = inst.get("sensitive_attributes").and_then(Value::as_array).cloned().unwrap_or_default();
        let Some(attrs) = inst.get_mut("attributes") else { continue };
        for path in &marked {
            redact_path(attrs, path);
        }
        if let Some(map) = attrs.as_object_mut() {
            for (_, v) in map.iter_mut().filter(|(k, v)| SECRET_ATTRIBUTES.contains(&k.as_str()) && !v.is_null()) {
                *v = json!(REDACTED);
            }
        }
    }
}

/// Follows one `sensitive_attributes` path (`[{"type": "get_attr", "value": "password"}, {"type":
/// "index", "value": {"value": 0, …}}]`) and redacts what it reaches; a path that does not resolve
/// redacts nothing.
fn redact_path(attrs: &mut Value, path: &Value) {
    let steps = match path {
        Value::Array(steps) => steps.as_slice(),
        step @ Value::Object(_) => std::slice::from_ref(step),
        _ => return,
    };
    let mut at = attrs;
    for step in steps {
        let key = &step["value"];
        let next = match (step["type"].as_str(), key) {
            (Some("get_attr"), Value::String(k)) => at.get_mut(k.as_str()),
            (Some("index"), k) => match &k["value"] {
                Value::String(k) => at.get_mut(k.as_str()),
                Value::Number(n) => n.as_u64().and_then(|i| at.get_mut(i as usize)),
                _ => None,
            },
            _ => None,
        };
        let Some(next) = next else { return };
        at = next;
    }
    *at = json!(REDACTED);
}

fn redact_parameter(p: &mut Value, kept: &impl Fn(&str) -> bool) {
    // `type_`: the WIT field `type`, as the bindings name it.
    if p["type_"] == "SecureString" && !kept(p["name"].as_str().unwrap_or_default()) {
        p["value"] = json!(REDACTED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plugin::bindings::cortado::plugin::aws::{Parameter, SecretValue};

    /// An answer as the broker gives it, serialised as the cassette stores it.
    fn param(kind: &str) -> Value {
        let p = Parameter { name: "/app/db".into(), type_: kind.into(), value: "hunter2".into(), arn: "arn".into(), version: 1 };
        serde_json::to_value(Ok::<_, AwsError>(p)).unwrap()
    }

    #[test]
    fn secure_strings_and_secrets_are_redacted_unless_kept() {
        let req = json!({"name": "/app/db", "with_decryption": true});
        let mut r = param("SecureString");
        redact("ssm:GetParameter", &req, &mut r, &[]);
        assert_eq!(r["Ok"]["value"], REDACTED);
        let mut r = param("String");
        redact("ssm:GetParameter", &req, &mut r, &[]);
        assert_eq!(r["Ok"]["value"], "hunter2");
        let mut r = param("SecureString");
        redact("ssm:GetParameter", &req, &mut r, &["app/db".into()]);
        assert_eq!(r["Ok"]["value"], "hunter2");

        let mut r = json!({"Ok": [[param("SecureString")["Ok"].clone()], []]});
        redact("ssm:GetParameters", &json!({}), &mut r, &[]);
        assert_eq!(r["Ok"][0][0]["value"], REDACTED);

        let secret = SecretValue { arn: "a".into(), name: "db".into(), secret_string: Some("{\"password\":\"x\"}".into()), version_id: "v".into() };
        let mut r = serde_json::to_value(Ok::<_, AwsError>(secret)).unwrap();
        redact("secretsmanager:GetSecretValue", &json!({"secret_id": "db"}), &mut r, &[]);
        assert_eq!(r["Ok"]["secret_string"], REDACTED);
    }

    #[test]
    fn terraform_state_secrets_are_redacted_unless_kept() {
        let state = json!({
            "version": 4, "terraform_version": "1.9.8",
            "outputs": {"db_password": {"value": "s3cret-out", "sensitive": true}, "vpc_id": {"value": "vpc-1"}},
            "resources": [{"type": "aws_db_instance", "instances": [{
                "attributes": {"address": "db.example", "password": "s3cret-pw", "tags": {"api_key": "s3cret-tag"}, "users": ["a", "s3cret-idx"]},
                "sensitive_attributes": [
                    [{"type": "get_attr", "value": "tags"}, {"type": "index", "value": {"value": "api_key", "type": "string"}}],
                    [{"type": "get_attr", "value": "users"}, {"type": "index", "value": {"value": 1, "type": "number"}}],
                    [{"type": "get_attr", "value": "missing"}]
                ]}]}]
        });
        let recorded = |keep: &[String]| {
            let mut r = json!({"Ok": {"text": state.to_string()}});
            redact("s3:GetObject", &json!({"bucket": "b", "key": "k.tfstate"}), &mut r, keep);
            r["Ok"]["text"].as_str().unwrap().to_owned()
        };
        let text = recorded(&[]);
        assert!(!text.contains("s3cret"), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["outputs"]["vpc_id"]["value"], "vpc-1");
        assert_eq!(back["resources"][0]["instances"][0]["attributes"]["address"], "db.example");
        assert_eq!(back["resources"][0]["instances"][0]["attributes"]["users"][0], "a");
        assert!(recorded(&["s3://b/k.tfstate".into()]).contains("s3cret-pw"));
        // Not a state: left as it is.
        let mut r = json!({"Ok": {"text": "{\"password\": \"x\"}"}});
        redact("s3:GetObject", &json!({"bucket": "b", "key": "k"}), &mut r, &[]);
        assert_eq!(r["Ok"]["text"], "{\"password\": \"x\"}");
    }

    #[test]
    fn replay_answers_recorded_calls_and_names_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let rec = Cassette::record(&path, vec![]);
        let got: Result<String, AwsError> = rec.call("s3:GetObject", json!({"bucket": "b"}), || Ok("body".to_owned()));
        assert_eq!(got.unwrap(), "body");
        let denied: Result<String, AwsError> = rec.call("s3:GetObject", json!({"bucket": "x"}), || Err(AwsError::Denied("no".into())));
        assert!(matches!(denied, Err(AwsError::Denied(_))));
        rec.save().unwrap();

        let rep = Cassette::replay(&path).unwrap();
        assert_eq!(rep.interactions().len(), 1, "denied calls are not recorded");
        let live = || Err::<String, _>(AwsError::Failed(REPLAYING.into()));
        assert_eq!(rep.call("s3:GetObject", json!({"bucket": "b"}), live).unwrap(), "body");
        let Err(AwsError::Failed(m)) = rep.call("s3:GetObject", json!({"bucket": "c"}), live) else { panic!() };
        assert!(m.starts_with("unrecorded AWS call s3:GetObject {\"bucket\":\"c\"}"), "{m}");
        assert_eq!(rep.take_misses(), vec!["s3:GetObject {\"bucket\":\"c\"}".to_owned()]);
        assert!(rep.take_misses().is_empty());
    }
}

/// An S3 object as recorded: its text when it is UTF-8 (state files stay readable), else bytes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Body {
    Text { text: String },
    Bytes { bytes: Vec<u8> },
}

impl Body {
    pub fn from_bytes(b: Vec<u8>) -> Body {
        match String::from_utf8(b) {
            Ok(text) => Body::Text { text },
            Err(e) => Body::Bytes { bytes: e.into_bytes() },
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Body::Text { text } => text.into_bytes(),
            Body::Bytes { bytes } => bytes,
        }
    }
}
