//! "What the gate approved is what AWS received", checked from the outside: the exact requests a
//! project's audit log approved (each decision's `steps`, their references resolved with the
//! outcome's `resolved` values) against the request bodies the simulator received.

use serde_json::{Map, Value};

/// One approved request: `service:Operation` and its body as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Approved {
    pub action: String,
    pub body: Value,
}

/// Every request the audit records approved, references resolved. A step whose references were
/// never resolved (its run stopped before it) is left out: it was never sent.
pub fn approved_requests(records: &[Value]) -> Vec<Approved> {
    let mut out = Vec::new();
    for decision in records.iter().filter(|r| r["kind"] == "decision" || r["kind"] == "stage-decision") {
        let run_id = &decision["run_id"];
        let resolved: Map<String, Value> =
            records.iter().filter(|r| r["kind"] == "outcome" && &r["run_id"] == run_id).filter_map(|r| r["resolved"].as_object().cloned()).flatten().collect();
        for step in decision["steps"].as_array().into_iter().flatten() {
            if let Some(body) = resolve(&step["input"], &resolved) {
                let action = format!("{}:{}", step["service"].as_str().unwrap_or(""), step["operation"].as_str().unwrap_or(""));
                out.push(Approved { action, body });
            }
        }
    }
    out
}

/// The input with `{"$ref": R}` replaced by `resolved[R]`, and `{"$text": T}` by T with each
/// `${R}` replaced by the string `resolved[R]` (escaped as JSON string content).
fn resolve(input: &Value, resolved: &Map<String, Value>) -> Option<Value> {
    if let Some(o) = input.as_object().filter(|o| o.len() == 1) {
        if let Some(r) = o.get("$ref").and_then(Value::as_str) {
            return resolved.get(r).cloned();
        }
        if let Some(template) = o.get("$text").and_then(Value::as_str) {
            let mut text = template.to_owned();
            for (r, v) in resolved {
                let pattern = format!("${{{r}}}");
                if text.contains(&pattern) {
                    let quoted = Value::String(v.as_str()?.to_owned()).to_string();
                    text = text.replace(&pattern, &quoted[1..quoted.len() - 1]);
                }
            }
            return (!text.contains("${")).then_some(Value::String(text));
        }
    }
    Some(match input {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| Some((k.clone(), resolve(v, resolved)?))).collect::<Option<_>>()?),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, resolved)).collect::<Option<_>>()?),
        other => other.clone(),
    })
}

/// The mutating requests in `received` (`{service, action, body}` from the simulator's call log)
/// that no approved request matches exactly: what reached AWS without a gate having seen it.
/// S3 objects (the deploy lock, the audit chain) are infrastructure, not steps, and STS
/// (AssumeRole: credentials for `verify`'s log writes as the execution role) changes nothing: neither
/// is compared.
pub fn unapproved<'a>(received: &'a [Value], approved: &[Approved]) -> Vec<&'a Value> {
    received
        .iter()
        .filter(|c| c["service"] != "s3" && c["service"] != "sts")
        .filter(|c| {
            let action = format!("{}:{}", c["service"].as_str().unwrap_or(""), c["action"].as_str().unwrap_or(""));
            !approved.iter().any(|a| a.action == action && a.body == c["body"])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_resolve_and_a_changed_body_is_unapproved() {
        let records = vec![
            json!({"kind": "decision", "run_id": "r1", "steps": [
                {"service": "ecs", "operation": "RegisterTaskDefinition", "input": {"family": "app"}},
                {"service": "ecs", "operation": "UpdateService", "input": {"service": "web", "taskDefinition": {"$ref": "steps[0].taskDefinition.taskDefinitionArn"}}},
                {"service": "codedeploy", "operation": "CreateDeployment", "input": {"c": {"$text": "{\"td\":\"${steps[0].taskDefinition.taskDefinitionArn}\",\"version\":0.0}"}}},
            ]}),
            json!({"kind": "outcome", "run_id": "r1", "resolved": {"steps[0].taskDefinition.taskDefinitionArn": "arn:td:2"}}),
        ];
        let approved = approved_requests(&records);
        assert_eq!(approved.len(), 3);
        assert_eq!(approved[1].body, json!({"service": "web", "taskDefinition": "arn:td:2"}));
        assert_eq!(approved[2].body, json!({"c": "{\"td\":\"arn:td:2\",\"version\":0.0}"}));
        let received = vec![
            json!({"service": "ecs", "action": "UpdateService", "body": {"service": "web", "taskDefinition": "arn:td:2"}}),
            json!({"service": "ecs", "action": "UpdateService", "body": {"service": "web", "taskDefinition": "arn:td:2", "desiredCount": 0}}),
            json!({"service": "s3", "action": "PutObject", "body": null}),
        ];
        let bad = unapproved(&received, &approved);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0]["body"]["desiredCount"], 0);
    }
}
