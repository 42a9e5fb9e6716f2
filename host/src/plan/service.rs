//! Building CreateService/UpdateService bodies from a service definition, and the desired-count
//! rules (ecspresso §6.3).

use serde_json::{Map, Value, json};

pub use crate::definitions::UPDATABLE;

/// Fields CodeDeploy owns: they reach the new task set through the AppSpec, not UpdateService.
const NOT_UPDATABLE_WITH_CODEDEPLOY: &[&str] = &["networkConfiguration", "platformVersion", "loadBalancers", "serviceRegistries", "capacityProviderStrategy"];

/// Fields CreateService takes beside the updatable ones.
const CREATE_ONLY: &[&str] = &["launchType", "schedulingStrategy", "deploymentController", "tags", "platformFamily", "role"];

pub fn is_daemon(sv: &Value) -> bool {
    sv.get("schedulingStrategy").and_then(Value::as_str) == Some("DAEMON")
}

/// ecspresso's desired-count rules: DAEMON never sends one; `--tasks N` wins; otherwise the source
/// (the local file, or the running service without one); `refresh` leaves it unchanged.
pub fn desired_count(sv: &Value, tasks: Option<i64>, unchanged: bool, source: Option<i64>) -> Option<i64> {
    if is_daemon(sv) || unchanged {
        return None;
    }
    match tasks {
        Some(n) if n >= 0 => Some(n),
        _ => source,
    }
}

/// The UpdateService attributes of a local service definition.
pub fn update_attributes(local: &Value, codedeploy: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for f in UPDATABLE {
        if codedeploy && NOT_UPDATABLE_WITH_CODEDEPLOY.contains(f) {
            continue;
        }
        if *f == "placementStrategy" && is_daemon(local) {
            continue;
        }
        if let Some(v) = local.get(*f) {
            out.insert((*f).to_owned(), v.clone());
        }
    }
    out
}

/// The CreateService body for a service definition.
pub fn create_body(local: &Value, cluster: &str, service: &str, task_definition: &str, desired: Option<i64>) -> Value {
    let mut body = update_attributes(local, false);
    for f in CREATE_ONLY {
        if let Some(v) = local.get(*f) {
            body.insert((*f).to_owned(), v.clone());
        }
    }
    if is_daemon(local)
        && let Some(v) = local.get("placementStrategy")
    {
        body.remove("placementStrategy");
        let _ = v;
    }
    body.insert("cluster".into(), json!(cluster));
    body.insert("serviceName".into(), json!(service));
    body.insert("taskDefinition".into(), json!(task_definition));
    let desired = desired.or_else(|| (local.get("schedulingStrategy").and_then(Value::as_str) == Some("REPLICA")).then_some(0));
    if let Some(n) = desired {
        body.insert("desiredCount".into(), json!(n));
    }
    Value::Object(body)
}

/// (keys to add or update with values, keys to remove), ignoring tags other tools own.
pub fn tag_changes(local: Option<&Value>, remote: Option<&Value>, ignore: &[String]) -> (Vec<(String, String)>, Vec<String>) {
    let l = crate::definitions::tags_map(local);
    let r = crate::definitions::tags_map(remote);
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for (k, v) in &l {
        if !ignore.contains(k) && r.get(k) != Some(v) {
            set.push((k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())));
        }
    }
    if local.is_some() {
        for k in r.keys() {
            if !ignore.contains(k) && !l.contains_key(k) {
                remove.push(k.clone());
            }
        }
    }
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_count_table() {
        let replica = json!({});
        let daemon = json!({"schedulingStrategy": "DAEMON"});
        assert_eq!(desired_count(&daemon, Some(3), false, Some(2)), None);
        assert_eq!(desired_count(&replica, None, true, Some(2)), None);
        assert_eq!(desired_count(&replica, None, false, Some(2)), Some(2));
        assert_eq!(desired_count(&replica, Some(-1), false, Some(2)), Some(2));
        assert_eq!(desired_count(&replica, None, false, None), None);
        assert_eq!(desired_count(&replica, Some(5), false, Some(2)), Some(5));
        assert_eq!(desired_count(&replica, Some(0), false, None), Some(0));
    }

    #[test]
    fn codedeploy_services_do_not_update_network_or_load_balancers() {
        let sv = json!({"networkConfiguration": {}, "loadBalancers": [], "propagateTags": "SERVICE"});
        let attrs = update_attributes(&sv, true);
        assert!(attrs.contains_key("propagateTags") && !attrs.contains_key("networkConfiguration"));
    }
}
