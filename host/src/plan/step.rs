//! One step of a plan: an exact AWS request. A step names the service and the operation and holds
//! the complete input as JSON, built before any gate runs; `apply/` sends that input and nothing
//! else. So what a gate approves (and the plan digest covers) is what AWS receives.
//!
//! A value known only once an earlier step has answered is an explicit reference in the input:
//! `{"$ref": "steps[0].taskDefinition.taskDefinitionArn"}` (an index into the plan's steps, then a
//! path into that step's response). `{"$text": "...${steps[0].a.b}..."}` stands for that string
//! with each `${REF}` replaced by the (string) member REF names: a CodeDeploy AppSpec's content,
//! whose exact text is approved. Both are printed as such by `--dry-run` and resolved by apply,
//! which checks the result against the approved input before anything leaves.

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

/// The AWS service a step calls, by its signing name (what IAM actions and the call log use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ecs,
    CodeDeploy,
    AutoScaling,
    Logs,
    Ssm,
    S3,
}

impl Service {
    /// The service id in IAM actions (`ecs:UpdateService`) and in the plan's steps.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ecs => "ecs",
            Service::CodeDeploy => "codedeploy",
            Service::AutoScaling => "application-autoscaling",
            Service::Logs => "logs",
            Service::Ssm => "ssm",
            Service::S3 => "s3",
        }
    }
}

/// What a failed step means for the steps after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnError {
    /// The apply stops (the default).
    Stop,
    /// The failure is reported after the wait; the steps go on (a tag change).
    Report,
    /// The failure is a finding under this key; later steps with the same key are skipped and the
    /// others go on (`verify --put-logs`: one log group's writes).
    Finding(String),
}

/// One exact AWS request. See the module documentation for references in `input`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub service: Service,
    /// The API operation (`RegisterTaskDefinition`).
    pub operation: &'static str,
    /// The complete request input, exactly as it is sent once references are resolved.
    pub input: Value,
    /// What the step acts on, as a person reads it.
    pub resource: String,
    /// The region it is sent to when not the command's (`verify --put-logs` to another region).
    pub region: Option<String>,
    /// Sent with the task execution role's credentials (what the ECS agent would use), not the
    /// caller's: `verify --put-logs`.
    pub as_execution_role: bool,
    /// An error code meaning the step's effect is already there (CreateLogGroup's
    /// ResourceAlreadyExistsException): the step counts as done.
    pub already_done: Option<&'static str>,
    pub on_error: OnError,
}

impl Step {
    pub fn new(service: Service, operation: &'static str, input: Value, resource: impl Into<String>) -> Step {
        Step { service, operation, input, resource: resource.into(), region: None, as_execution_role: false, already_done: None, on_error: OnError::Stop }
    }

    pub fn ecs(operation: &'static str, input: Value, resource: impl Into<String>) -> Step {
        Step::new(Service::Ecs, operation, input, resource)
    }

    /// `ecs:UpdateService`: the IAM action this step calls.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service.as_str(), self.operation)
    }

    pub fn is(&self, service: Service, operation: &str) -> bool {
        self.service == service && self.operation == operation
    }

    /// A string member of the input (`cluster`, `service`).
    pub fn str(&self, key: &str) -> Option<&str> {
        self.input.get(key).and_then(Value::as_str)
    }

    /// The step as gates, the audit log and `--output json` see it.
    pub fn to_json(&self, phase: &str) -> Value {
        let mut m = Map::new();
        m.insert("service".into(), json!(self.service.as_str()));
        m.insert("operation".into(), json!(self.operation));
        m.insert("resource".into(), json!(self.resource));
        m.insert("phase".into(), json!(phase));
        m.insert("input".into(), self.input.clone());
        if let Some(r) = &self.region {
            m.insert("region".into(), json!(r));
        }
        if self.as_execution_role {
            m.insert("credentials".into(), json!("task execution role"));
        }
        if let Some(code) = self.already_done {
            m.insert("already_done_if".into(), json!(code));
        }
        match &self.on_error {
            OnError::Stop => {}
            OnError::Report => {
                m.insert("on_error".into(), json!("report"));
            }
            OnError::Finding(k) => {
                m.insert("on_error".into(), json!({"finding": k}));
            }
        }
        Value::Object(m)
    }
}

/// A reference to a member of step `index`'s response.
pub fn reference(index: usize, path: &str) -> Value {
    json!({"$ref": format!("steps[{index}].{path}")})
}

/// The ARN of the task definition that step `index` (a RegisterTaskDefinition) registers.
pub fn registered_arn(index: usize) -> Value {
    reference(index, "taskDefinition.taskDefinitionArn")
}

/// `value` serialised as compact JSON text: a plain string, or (when `value` holds references) a
/// `$text` template with each reference written as `${REF}`. Text that already holds `${` is
/// refused, so a template never reads a literal as a reference.
pub fn json_text(value: &Value) -> Result<Value> {
    // A private-use character: JSON leaves it unescaped, and no definition carries it.
    const MARK: &str = "\u{E000}";
    fn mark(v: &Value) -> Value {
        match (as_ref(v), v) {
            (Some(r), _) => Value::String(format!("{MARK}{r}{MARK}")),
            (None, Value::Object(o)) => Value::Object(o.iter().map(|(k, x)| (k.clone(), mark(x))).collect()),
            (None, Value::Array(a)) => Value::Array(a.iter().map(mark).collect()),
            (None, other) => other.clone(),
        }
    }
    let plain = value.to_string();
    if plain.contains("${") || plain.contains(MARK) {
        bail!("the text holds \"${{\", which a request template cannot carry literally");
    }
    let marked = mark(value).to_string();
    if marked == plain {
        return Ok(Value::String(plain));
    }
    // A reference was a JSON string ("…"): its quotes stay, its content becomes ${REF}.
    let mut text = String::new();
    let mut parts = marked.split(MARK);
    text.push_str(parts.next().unwrap_or(""));
    while let (Some(r), Some(rest)) = (parts.next(), parts.next()) {
        text.push_str(&format!("${{{r}}}"));
        text.push_str(rest);
    }
    Ok(json!({"$text": text}))
}

/// The reference a value is, if it is one.
fn as_ref(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    o.get("$ref")?.as_str()
}

fn as_text_template(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    o.get("$text")?.as_str()
}

/// A `$text` template with each `${REF}` replaced by the string REF names.
fn fill(template: &str, responses: &[Option<Value>]) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').with_context(|| format!("unterminated reference in {template:?}"))? + start;
        let value = lookup(&rest[start + 2..end], responses)?;
        let text = value.as_str().with_context(|| format!("reference {:?} in a text is not a string", &rest[start + 2..end]))?;
        // Inside JSON text, the value is escaped as a JSON string's content.
        let quoted = Value::String(text.to_owned()).to_string();
        out.push_str(&quoted[1..quoted.len() - 1]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `input` holds any reference (a step that can be sent only after earlier ones).
pub fn has_refs(input: &Value) -> bool {
    match input {
        Value::Object(o) => as_ref(input).is_some() || as_text_template(input).is_some() || o.values().any(has_refs),
        Value::Array(a) => a.iter().any(has_refs),
        _ => false,
    }
}

/// The response member a reference names: `steps[N].a.b` → responses[N] / a / b.
fn lookup(reference: &str, responses: &[Option<Value>]) -> Result<Value> {
    let rest = reference.strip_prefix("steps[").with_context(|| format!("malformed reference {reference:?}"))?;
    let (index, path) = rest.split_once(']').with_context(|| format!("malformed reference {reference:?}"))?;
    let index: usize = index.parse().with_context(|| format!("malformed reference {reference:?}"))?;
    let response = responses.get(index).and_then(Option::as_ref).with_context(|| format!("reference {reference:?}: step {index} has not answered"))?;
    let mut v = response;
    for part in path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()) {
        v = v.get(part).with_context(|| format!("reference {reference:?}: the response of step {index} has no {part:?}"))?;
    }
    if v.is_null() {
        bail!("reference {reference:?}: the response of step {index} holds null there");
    }
    Ok(v.clone())
}

/// The input with every reference replaced by the response member it names, and every `$text`
/// template by its text. `responses[i]` is step i's response (None: not sent).
pub fn resolve(input: &Value, responses: &[Option<Value>]) -> Result<Value> {
    if let Some(r) = as_ref(input) {
        return lookup(r, responses);
    }
    if let Some(template) = as_text_template(input) {
        return Ok(Value::String(fill(template, responses)?));
    }
    Ok(match input {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| Ok((k.clone(), resolve(v, responses)?))).collect::<Result<_>>()?),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, responses)).collect::<Result<_>>()?),
        other => other.clone(),
    })
}

/// The references in `input` with the values they resolve to (what the outcome record keeps, so
/// that an auditor can rebuild every request that was sent from the approved steps).
pub fn resolutions(input: &Value, responses: &[Option<Value>], out: &mut Map<String, Value>) {
    if let Some(r) = as_ref(input) {
        if let Ok(v) = lookup(r, responses) {
            out.insert(r.to_owned(), v);
        }
        return;
    }
    if let Some(template) = as_text_template(input) {
        for r in template.split("${").skip(1).filter_map(|p| p.split_once('}')).map(|(r, _)| r) {
            if let Ok(v) = lookup(r, responses) {
                out.insert(r.to_owned(), v);
            }
        }
        return;
    }
    match input {
        Value::Object(o) => o.values().for_each(|v| resolutions(v, responses, out)),
        Value::Array(a) => a.iter().for_each(|v| resolutions(v, responses, out)),
        _ => {}
    }
}

/// Whether `sent` is exactly `approved` with its references resolved from `responses`: the last
/// check before a request leaves. It re-derives nothing from the plan's other fields, so a request
/// that is not an approved step (or a resolution that put anything else in) is refused.
pub fn matches_approved(approved: &Value, sent: &Value, responses: &[Option<Value>]) -> bool {
    if let Some(r) = as_ref(approved) {
        return lookup(r, responses).is_ok_and(|v| &v == sent);
    }
    if let Some(template) = as_text_template(approved) {
        return fill(template, responses).is_ok_and(|text| sent.as_str() == Some(text.as_str()));
    }
    match (approved, sent) {
        (Value::Object(a), Value::Object(s)) => a.len() == s.len() && a.iter().all(|(k, v)| s.get(k).is_some_and(|sv| matches_approved(v, sv, responses))),
        (Value::Array(a), Value::Array(s)) => a.len() == s.len() && a.iter().zip(s).all(|(x, y)| matches_approved(x, y, responses)),
        (a, s) => a == s,
    }
}

/// A client token for an idempotent ECS request (CreateService, RunTask): fixed in the plan, so
/// that the SDK's retries and a retry after a lost answer send the same request, and ECS
/// recognises it instead of starting a second task or failing on an existing service. 32 hex
/// characters (within ECS's 36), unique per plan (time, process, a counter).
pub fn client_token(operation: &str) -> String {
    crate::util::unique_hex(operation, 32)
}

/// Sets a `clientToken` unless the input has one (`run --client-token`).
pub fn with_client_token(input: &mut Value, operation: &str) {
    if input.get("clientToken").and_then(Value::as_str).is_some_and(|t| !t.is_empty()) {
        return;
    }
    input["clientToken"] = json!(client_token(operation));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responses() -> Vec<Option<Value>> {
        vec![Some(json!({"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/app:2"}})), None]
    }

    #[test]
    fn references_resolve_into_values_and_json_strings() {
        let content = json_text(&json!({"TaskDefinition": registered_arn(0), "version": 0.0})).unwrap();
        assert_eq!(content, json!({"$text": r#"{"TaskDefinition":"${steps[0].taskDefinition.taskDefinitionArn}","version":0.0}"#}));
        let input = json!({"service": "web", "taskDefinition": registered_arn(0), "content": content});
        assert!(has_refs(&input));
        let r = resolve(&input, &responses()).unwrap();
        assert_eq!(r["taskDefinition"], "arn:aws:ecs:r:1:task-definition/app:2");
        assert_eq!(r["content"], r#"{"TaskDefinition":"arn:aws:ecs:r:1:task-definition/app:2","version":0.0}"#, "the float's text is kept");
        assert_eq!(json_text(&json!({"a": "x"})).unwrap(), json!(r#"{"a":"x"}"#), "no reference: plain text");
        assert!(json_text(&json!({"a": "${HOME}"})).is_err(), "a literal ${{ is refused");
        assert!(matches_approved(&input, &r, &responses()));
        let mut found = Map::new();
        resolutions(&input, &responses(), &mut found);
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn a_request_that_differs_from_the_approved_step_is_refused() {
        let input = json!({"service": "web", "taskDefinition": registered_arn(0), "desiredCount": 1});
        let mut r = resolve(&input, &responses()).unwrap();
        r["desiredCount"] = json!(0);
        assert!(!matches_approved(&input, &r, &responses()), "a changed value");
        let mut r = resolve(&input, &responses()).unwrap();
        r["assignPublicIp"] = json!("ENABLED");
        assert!(!matches_approved(&input, &r, &responses()), "an added member");
        let mut r = resolve(&input, &responses()).unwrap();
        r["taskDefinition"] = json!("arn:aws:ecs:r:1:task-definition/evil:1");
        assert!(!matches_approved(&input, &r, &responses()), "a reference resolved to something else");
    }

    #[test]
    fn unresolvable_references_fail() {
        assert!(resolve(&reference(1, "x"), &responses()).is_err(), "step 1 has not answered");
        assert!(resolve(&reference(0, "taskDefinition.nope"), &responses()).is_err());
        assert!(resolve(&json!({"$ref": "step0"}), &responses()).is_err());
        // An object with more members than the marker is data, not a reference.
        let data = json!({"$ref": "steps[9].x", "other": 1});
        assert_eq!(resolve(&data, &responses()).unwrap(), data);
    }

    #[test]
    fn a_client_token_is_set_once_and_a_given_one_kept() {
        let mut body = json!({"cluster": "c"});
        with_client_token(&mut body, "RunTask");
        let t = body["clientToken"].as_str().unwrap().to_owned();
        assert_eq!(t.len(), 32);
        with_client_token(&mut body, "RunTask");
        assert_eq!(body["clientToken"], json!(t), "kept, not replaced");
        let mut given = json!({"clientToken": "mine"});
        with_client_token(&mut given, "RunTask");
        assert_eq!(given["clientToken"], json!("mine"));
        assert_ne!(client_token("RunTask"), client_token("RunTask"));
    }
}
