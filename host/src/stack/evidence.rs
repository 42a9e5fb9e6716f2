//! The signed statement of a release (issue 25, semantics 8): when the stack (or every member)
//! has `signing:`, `stack deploy` writes ONE statement, the stack's, instead of one per member.
//! Its subject: every task definition the release registered and every image those run; its
//! predicate: the stack's decision and outcome (as for any gated command, with the chain head)
//! plus each member's decision and outcome (run id, plan digest, record hashes, result), so that
//! `cortado evidence verify` can check every member's records too.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::apply::Applied;
use crate::gate::evidence;

/// One member as the release statement records it.
pub struct MemberEvidence<'a> {
    pub name: &'a str,
    pub config: &'a std::path::Path,
    pub cluster: &'a str,
    pub service: Option<&'a str>,
    /// The member's decision ([`crate::gate::Approval::decision_ref`]).
    pub decision: Value,
    pub state: Option<&'a str>,
    /// Whether its apply failed (its state may since read "rolled back").
    pub failed: bool,
    pub applied: Option<&'a Applied>,
}

/// Adds the release's subjects and members to the stack's statement (before it is signed).
pub fn amend(statement: &mut Value, stack: &std::path::Path, members: &[MemberEvidence<'_>]) {
    let mut subject = Vec::new();
    let mut listed = BTreeMap::new();
    for m in members {
        if let Some(a) = m.applied
            && let (Some(arn), Some(body)) = (&a.registered, &a.registered_definition)
        {
            subject.extend(evidence::release_subjects(m.name, arn, body));
        }
        listed.insert(m.name.to_owned(), member_json(m));
    }
    statement["subject"] = json!(subject);
    statement["predicate"]["stack"] = json!(stack.display().to_string());
    statement["predicate"]["members"] = json!(listed);
}

/// A member's entry: where it is, its decision, what it did.
fn member_json(m: &MemberEvidence<'_>) -> Value {
    let a = m.applied;
    json!({
        "config": m.config.display().to_string(),
        "cluster": m.cluster,
        "service": m.service,
        "state": m.state.unwrap_or("not started"),
        // The member's outcome record's own word (`ok`, `failed`; none when it never started).
        "result": a.and_then(|a| a.outcome_record.as_ref()).map(|_| if m.failed { "failed" } else { "ok" }),
        "run_id": m.decision["run_id"],
        "plan_digest": m.decision["plan_digest"],
        "audit": {"log": m.decision["audit_log"], "decision": m.decision["decision"], "outcome": a.and_then(|a| a.outcome_record.clone())},
        "registered": a.and_then(|a| a.registered.clone()),
        "task_definition": a.and_then(|a| a.service.as_ref()).and_then(|s| s.get("taskDefinition")).cloned(),
        "deployment_id": a.and_then(|a| a.deployment_id.clone().or_else(|| a.codedeploy_deployment.clone())),
        "changed": a.map(|a| a.done.clone()).unwrap_or_default(),
    })
}
