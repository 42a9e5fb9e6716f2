//! Plans for an ECS Managed Daemon (`daemon_definition` in the config): deploy (register the daemon
//! task definition unless the family's newest ACTIVE revision has the same body, then CreateDaemon
//! or UpdateDaemon), rollback (UpdateDaemon back to the daemon task definition the daemon ran
//! before) and delete (DeleteDaemon). Each is a plan of exact requests, gated and applied like a
//! service's.

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};

use super::step::{self, Step};
use super::{Plan, PlannedTd, Role};
use crate::aws::{Aws, daemon};
use crate::context::Context;
use crate::error::InputError;

/// The members of UpdateDaemon's input that a daemon definition can carry (daemonName, clusterArn,
/// tags and clientToken cannot change after CreateDaemon).
const UPDATABLE: &[&str] = &["capacityProviderArns", "deploymentConfiguration", "propagateTags", "enableECSManagedTags", "enableExecuteCommand", "critical"];

/// The daemon's files, rendered.
pub struct Local {
    pub name: String,
    pub definition: Value,
    pub task_definition: Value,
}

/// What runs: the daemon (None when missing or being deleted) and its current daemon task definition.
pub struct Remote {
    pub cluster_arn: String,
    pub arn: String,
    pub daemon: Option<Value>,
    pub task_definition_arn: Option<String>,
    /// The daemon as its newest deployment and revision describe it, in CreateDaemon's terms.
    pub definition: Option<Value>,
}

pub struct DaemonPlan {
    pub plan: Plan,
    pub remote: Remote,
    /// The daemon task definition that will run (None: registered by the plan).
    pub task_definition_arn: Option<String>,
}

/// Renders the daemon's files (bad input fails before any AWS call).
pub fn local(app: &Context) -> Result<Local> {
    let d = app.config.daemon.as_ref().ok_or_else(|| InputError::in_file(&app.config.path, "daemon_definition is not defined"))?;
    let definition = app.renderer().daemon_definition(&d.definition, d.name.as_deref())?;
    let task_definition = app.renderer().daemon_task_definition(&d.task_definition)?;
    let name = definition.get("daemonName").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(Local { name, definition, task_definition })
}

/// Reads the daemon named `name` in the config's cluster.
pub async fn remote(app: &Context, aws: &Aws, name: &str) -> Result<Remote> {
    let ecs = aws.ecs();
    let cluster_arn = daemon::cluster_arn(&ecs, &app.config.cluster).await?;
    let arn = daemon::daemon_arn(&cluster_arn, name)?;
    let found = daemon::describe_daemon(&ecs, &arn).await?.filter(|d| d.get("status").and_then(Value::as_str) == Some("ACTIVE"));
    let (task_definition_arn, definition) = match &found {
        Some(d) => described(&ecs, d, name, &cluster_arn).await?,
        None => (None, None),
    };
    Ok(Remote { cluster_arn, arn, daemon: found, task_definition_arn, definition })
}

/// The daemon's current daemon task definition and its definition as CreateDaemon would take it:
/// capacity providers and deployment configuration from its newest deployment, the flags from that
/// deployment's revision.
async fn described(ecs: &aws_sdk_ecs::Client, d: &Value, name: &str, cluster_arn: &str) -> Result<(Option<String>, Option<Value>)> {
    let td = daemon::current_task_definition(ecs, d).await?;
    let Some(dep_arn) = d.get("deploymentArn").and_then(Value::as_str) else { return Ok((td, None)) };
    let Some(dep) = daemon::describe_deployment(ecs, dep_arn, 3).await? else { return Ok((td, None)) };
    let mut def = Map::new();
    def.insert("daemonName".into(), json!(name));
    def.insert("clusterArn".into(), json!(cluster_arn));
    let cps: Vec<Value> =
        dep.pointer("/targetDaemonRevision/capacityProviders").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("arn").cloned()).collect();
    def.insert("capacityProviderArns".into(), Value::Array(cps));
    if let Some(c) = dep.get("deploymentConfiguration") {
        def.insert("deploymentConfiguration".into(), c.clone());
    }
    if let Some(rev_arn) = dep.pointer("/targetDaemonRevision/arn").and_then(Value::as_str)
        && let Some(rev) = daemon::describe_revision(ecs, rev_arn).await?
    {
        for k in ["propagateTags", "enableECSManagedTags", "enableExecuteCommand", "critical"] {
            if let Some(v) = rev.get(k) {
                def.insert(k.into(), v.clone());
            }
        }
    }
    Ok((td, Some(Value::Object(def))))
}

/// A daemon definition for comparison: what ECS fills in when it is absent equals its absence
/// (propagateTags NONE, false flags, a bake time of 0, alarms off and unnamed), tags and the client
/// token are not compared (neither can change after creation), and `clusterArn` is the config's.
pub fn normalise(def: &Value, cluster_arn: &str, local: Option<&Value>) -> Value {
    let mut d = def.as_object().cloned().unwrap_or_default();
    d.remove("tags");
    d.remove("clientToken");
    d.insert("clusterArn".into(), json!(cluster_arn));
    if d.get("propagateTags").and_then(Value::as_str) == Some("NONE") {
        d.remove("propagateTags");
    }
    for k in ["enableECSManagedTags", "enableExecuteCommand", "critical"] {
        if d.get(k) == Some(&json!(false)) {
            d.remove(k);
        }
    }
    if let Some(Value::Object(c)) = d.get_mut("deploymentConfiguration") {
        if c.get("bakeTimeInMinutes").and_then(Value::as_f64) == Some(0.0) {
            c.remove("bakeTimeInMinutes");
        }
        if let Some(Value::Object(a)) = c.get("alarms")
            && a.get("enable") != Some(&json!(true))
            && a.get("alarmNames").and_then(Value::as_array).is_none_or(Vec::is_empty)
        {
            c.remove("alarms");
        }
        // The drain percentage ECS fills in when the file leaves it out.
        let local_sets_drain = local.and_then(|l| l.pointer("/deploymentConfiguration/drainPercent")).is_some();
        if !local_sets_drain && local.is_some() {
            c.remove("drainPercent");
        }
        if let Some(p) = c.get("drainPercent").and_then(Value::as_f64) {
            c.insert("drainPercent".into(), json!(p));
        }
        if c.is_empty() {
            d.remove("deploymentConfiguration");
        }
    }
    Value::Object(d)
}

/// A described daemon task definition as RegisterDaemonTaskDefinition takes it (read-only members
/// dropped; tags are not described, so not compared).
pub fn registerable(described: &Value) -> Value {
    let mut d = described.as_object().cloned().unwrap_or_default();
    for k in ["daemonTaskDefinitionArn", "revision", "status", "registeredAt", "registeredBy", "deleteRequestedAt"] {
        d.remove(k);
    }
    crate::definitions::keys::normalise(Value::Object(d))
}

fn without_tags(td: &Value) -> Value {
    let mut t = td.clone();
    if let Value::Object(o) = &mut t {
        o.remove("tags");
    }
    t
}

/// The family's newest ACTIVE revision when its body equals the local one (nothing to register).
async fn same_revision(aws: &Aws, local_td: &Value) -> Result<Option<String>> {
    let family = local_td.get("family").and_then(Value::as_str).unwrap_or_default();
    let ecs = aws.ecs();
    let Some(latest) = daemon::active_revisions(&ecs, family).await?.into_iter().next() else { return Ok(None) };
    let described = registerable(&daemon::describe_task_definition(&ecs, &latest).await?);
    Ok((described == without_tags(local_td)).then_some(latest))
}

/// `deploy`: register (unless unchanged), then create or update the daemon.
pub async fn deploy(app: &Context, aws: &Aws, force: bool) -> Result<DaemonPlan> {
    let local = local(app)?;
    let remote = remote(app, aws, &local.name).await?;
    let mut plan = Plan::new("deploy", &app.config.cluster, Some(&format!("daemon/{}", local.name)));
    let existing = if force { None } else { same_revision(aws, &local.task_definition).await? };
    let td_member = match &existing {
        Some(arn) => json!(arn),
        None => {
            let family = local.task_definition.get("family").and_then(Value::as_str).unwrap_or_default();
            let i = plan.push(Step::ecs("RegisterDaemonTaskDefinition", local.task_definition.clone(), format!("daemon task definition {family}")));
            step::reference(i, "daemonTaskDefinitionArn")
        }
    };
    plan.task_definitions.push(PlannedTd { arn: existing.clone(), body: local.task_definition.clone(), role: Role::Runs });
    let local_view = normalise(&local.definition, &remote.cluster_arn, None);
    let remote_view = remote.definition.as_ref().map(|r| normalise(r, &remote.cluster_arn, Some(&local.definition)));
    plan.diff = crate::diff::unified(remote_view.as_ref(), &local_view, &remote.arn, "daemon_definition");
    plan.service_before = remote.daemon.clone();
    let unchanged = existing.is_some() && existing == remote.task_definition_arn && remote_view.as_ref() == Some(&local_view);
    if remote.daemon.is_none() {
        let mut input = local.definition.as_object().cloned().unwrap_or_default();
        input.entry("clusterArn").or_insert_with(|| json!(remote.cluster_arn));
        input.insert("daemonTaskDefinitionArn".into(), td_member);
        let mut input = Value::Object(input);
        step::with_client_token(&mut input, "CreateDaemon");
        plan.service_after = Some(input.clone());
        plan.push(Step::ecs("CreateDaemon", input, format!("daemon {}", local.name)));
    } else if !unchanged {
        let mut input = Map::new();
        input.insert("daemonArn".into(), json!(remote.arn));
        input.insert("daemonTaskDefinitionArn".into(), td_member);
        for k in UPDATABLE {
            if let Some(v) = local.definition.get(*k) {
                input.insert((*k).into(), v.clone());
            }
        }
        plan.service_after = Some(Value::Object(input.clone()));
        plan.push(Step::ecs("UpdateDaemon", Value::Object(input), format!("daemon {}", local.name)));
    }
    let task_definition_arn = existing;
    Ok(DaemonPlan { plan, remote, task_definition_arn })
}

/// `rollback`: UpdateDaemon back to the daemon task definition revision before the current one
/// (the family's next lower ACTIVE revision), the rest of the daemon unchanged.
pub async fn rollback(app: &Context, aws: &Aws) -> Result<(DaemonPlan, String, String)> {
    let local = local(app)?;
    let remote = remote(app, aws, &local.name).await?;
    if remote.daemon.is_none() {
        anyhow::bail!("daemon {} is not found in cluster {}: nothing to roll back", local.name, app.config.cluster);
    }
    let from = remote.task_definition_arn.clone().with_context(|| format!("daemon {}: its current daemon task definition cannot be read", local.name))?;
    let family = daemon::family_of(&from).unwrap_or_default().to_owned();
    let ecs = aws.ecs();
    let to = daemon::active_revisions(&ecs, &family)
        .await?
        .into_iter()
        .find(|a| daemon::revision_of(a) < daemon::revision_of(&from))
        .with_context(|| format!("daemon {}: no ACTIVE revision of {family} older than {} to roll back to", local.name, daemon::short(&from)))?;
    let body = registerable(&daemon::describe_task_definition(&ecs, &to).await?);
    let mut plan = Plan::new("rollback", &app.config.cluster, Some(&format!("daemon/{}", local.name)));
    plan.task_definitions.push(PlannedTd { arn: Some(to.clone()), body, role: Role::Runs });
    let mut input = Map::new();
    input.insert("daemonArn".into(), json!(remote.arn));
    input.insert("daemonTaskDefinitionArn".into(), json!(to));
    // The daemon's own settings, as it runs them (not the local file's: a rollback changes one thing).
    let current = remote.definition.clone().unwrap_or_default();
    for k in UPDATABLE {
        if let Some(v) = current.get(*k) {
            input.insert((*k).into(), integral(v));
        }
    }
    plan.service_before = remote.daemon.clone();
    plan.service_after = Some(Value::Object(input.clone()));
    plan.push(Step::ecs("UpdateDaemon", Value::Object(input), format!("daemon {}", local.name)));
    let to_arn = to.clone();
    Ok((DaemonPlan { plan, remote, task_definition_arn: Some(to) }, from, to_arn))
}

/// `v` with every whole float written as an integer (`50.0` → `50`): ECS answers doubles such as
/// `drainPercent` as `50.0`, and the audit log's canonical JSON (RFC 8785) writes that number as
/// `50`, so a request rebuilt from the log must carry the same text as the one sent.
fn integral(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
            _ => v.clone(),
        },
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), integral(x))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(integral).collect()),
        _ => v.clone(),
    }
}

/// `delete`: DeleteDaemon (ECS drains its tasks).
pub async fn delete(app: &Context, aws: &Aws) -> Result<DaemonPlan> {
    let local = local(app)?;
    let remote = remote(app, aws, &local.name).await?;
    if remote.daemon.is_none() {
        anyhow::bail!("daemon {} is not found in cluster {}", local.name, app.config.cluster);
    }
    let mut plan = Plan::new("delete", &app.config.cluster, Some(&format!("daemon/{}", local.name)));
    plan.service_before = remote.daemon.clone();
    plan.push(Step::ecs("DeleteDaemon", json!({"daemonArn": remote.arn}), format!("daemon {}", local.name)));
    Ok(DaemonPlan { plan, remote, task_definition_arn: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_equal_their_absence() {
        let local = json!({"daemonName": "agent", "capacityProviderArns": ["cp"], "tags": [{"key": "a", "value": "b"}]});
        let remote = json!({"daemonName": "agent", "clusterArn": "c", "capacityProviderArns": ["cp"], "propagateTags": "NONE",
            "enableExecuteCommand": false, "deploymentConfiguration": {"drainPercent": 25.0, "bakeTimeInMinutes": 0, "alarms": {"enable": false}}});
        assert_eq!(normalise(&remote, "c", Some(&local)), normalise(&local, "c", None));
        let drained = json!({"daemonName": "agent", "capacityProviderArns": ["cp"], "deploymentConfiguration": {"drainPercent": 50}});
        assert_ne!(normalise(&remote, "c", Some(&drained)), normalise(&drained, "c", None), "a drain percentage the file sets is compared");
    }
}
