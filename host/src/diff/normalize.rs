//! What both sides of a diff go through so that only real changes show (ecspresso §8.2/§8.3, plus
//! the defaults ECS fills in that ecspresso's Go zero values hid).

use serde_json::{Map, Value, json};

use crate::definitions::keys;

/// Task definition: sort what ECS does not order, fill what ECS defaults, convert cpu/memory units.
pub fn task_definition(td: &Value) -> Value {
    let mut td = keys::normalise(td.clone());
    let Value::Object(obj) = &mut td else { return td };
    let awsvpc = obj.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    if let Some(Value::Array(containers)) = obj.get_mut("containerDefinitions") {
        for c in containers.iter_mut() {
            let Value::Object(c) = c else { continue };
            sort_by_key(c, "environment", "name");
            sort_by_key(c, "secrets", "name");
            sort_by_json(c, "mountPoints");
            sort_by_json(c, "volumesFrom");
            if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
                for p in ports.iter_mut() {
                    let Value::Object(p) = p else { continue };
                    if awsvpc
                        && !p.contains_key("hostPort")
                        && let Some(cp) = p.get("containerPort").cloned()
                    {
                        p.insert("hostPort".into(), cp);
                    }
                    if p.get("protocol").and_then(Value::as_str) == Some("tcp") {
                        p.remove("protocol");
                    }
                }
            }
            sort_by_json(c, "portMappings");
            // ECS reports these defaults on describe; a file that omits them means the same.
            if c.get("cpu").and_then(Value::as_i64) == Some(0) {
                c.remove("cpu");
            }
            if c.get("essential").and_then(Value::as_bool) == Some(true) {
                c.remove("essential");
            }
            health_check_defaults(c);
        }
        containers.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    }
    sort_by_json(obj, "placementConstraints");
    if let Some(Value::Array(rc)) = obj.get_mut("requiresCompatibilities") {
        rc.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    if let Some(Value::Array(volumes)) = obj.get_mut("volumes") {
        volumes.iter_mut().filter_map(Value::as_object_mut).for_each(volume_defaults);
    }
    sort_by_json(obj, "volumes");
    sort_by_key(obj, "tags", "key");
    if let Some(Value::Object(proxy)) = obj.get_mut("proxyConfiguration") {
        sort_by_key(proxy, "properties", "name");
        proxy.entry("type").or_insert(json!("APPMESH"));
    }
    for (key, unit) in [("cpu", Unit::Cpu), ("memory", Unit::Memory)] {
        if let Some(v) = obj.get(key).cloned() {
            match convert_unit(&v, unit) {
                Some(s) => {
                    obj.insert(key.into(), Value::String(s));
                }
                None => {
                    obj.remove(key);
                }
            }
        }
    }
    td
}

/// The Service Connect namespace of a normalised service, if any.
pub fn namespace(sv: &Value) -> Option<&str> {
    sv.pointer("/serviceConnectConfiguration/namespace").and_then(Value::as_str)
}

/// ECS answers the Service Connect namespace as an ARN where a definition names it; the name is
/// not in the ARN (`…:namespace/ns-…`), and cortado does not call Cloud Map to resolve it. When the
/// local side names the namespace and the remote side has an ARN, the remote side takes the
/// local name, so only the other Service Connect fields are compared.
pub fn reconcile_namespace(local: &Value, remote: &mut Value) {
    let Some(name) = namespace(local).filter(|n| !n.starts_with("arn:")) else { return };
    if namespace(remote).is_some_and(|n| n.starts_with("arn:"))
        && let Some(ns) = remote.pointer_mut("/serviceConnectConfiguration/namespace")
    {
        *ns = Value::String(name.to_owned());
    }
}

/// Service definition as compared: the updatable fields with ECS defaults filled in. `ignore_tags`
/// are tag keys other tools own. `local_has_desired` is false when the file omits desiredCount, in
/// which case the remote count is not compared (autoscaled services).
pub fn service(sv: &Value, ignore_tags: &[String], local_has_desired: bool) -> Value {
    let sv = keys::normalise(from_primary_deployment(sv));
    let empty = Map::new();
    let src = sv.as_object().unwrap_or(&empty);
    // What `deploy` can change (an UpdateService input), plus desired count and tags.
    let mut out = Map::new();
    for f in crate::definitions::UPDATABLE.iter().chain(&["desiredCount", "tags"]) {
        if let Some(v) = src.get(*f) {
            out.insert((*f).to_owned(), v.clone());
        }
    }
    if !local_has_desired {
        out.remove("desiredCount");
    }
    let daemon = src.get("schedulingStrategy").and_then(Value::as_str) == Some("DAEMON");
    // Deployment configuration defaults.
    let dc = out.entry("deploymentConfiguration").or_insert_with(|| json!({}));
    if let Value::Object(dc) = dc {
        let (max, min) = if daemon { (100, 0) } else { (200, 100) };
        dc.entry("maximumPercent").or_insert(json!(max));
        dc.entry("minimumHealthyPercent").or_insert(json!(min));
        if !daemon {
            // ECS reports the strategy (and a rolling bake time of 0) since blue/green arrived
            // (2025); a file that omits them means the same (ecspresso #861, #1082).
            let rolling = dc.entry("strategy").or_insert(json!("ROLLING")) == "ROLLING";
            if rolling {
                dc.entry("bakeTimeInMinutes").or_insert(json!(0));
            }
            let cb = dc.entry("deploymentCircuitBreaker").or_insert_with(|| json!({}));
            if let Value::Object(cb) = cb {
                circuit_breaker_defaults(cb);
            }
            early_success_defaults(dc);
            if let Some(Value::Array(hooks)) = dc.get_mut("lifecycleHooks") {
                hooks.iter_mut().filter_map(Value::as_object_mut).for_each(lifecycle_hook_defaults);
            }
        }
        let alarms_off = dc.get("alarms").is_some_and(|a| {
            a.get("enable").and_then(Value::as_bool) != Some(true)
                && a.get("rollback").and_then(Value::as_bool) != Some(true)
                && a.get("alarmNames").and_then(Value::as_array).is_none_or(|n| n.is_empty())
        });
        if alarms_off {
            dc.remove("alarms");
        }
    }
    out.entry("enableECSManagedTags").or_insert(json!(false));
    out.entry("enableExecuteCommand").or_insert(json!(false));
    out.entry("propagateTags").or_insert(json!("NONE"));
    if out.get("healthCheckGracePeriodSeconds").and_then(Value::as_i64) == Some(0) {
        out.remove("healthCheckGracePeriodSeconds");
    }
    let fargate = src.get("launchType").and_then(Value::as_str) == Some("FARGATE");
    if fargate && !out.contains_key("platformVersion") {
        out.insert("platformVersion".into(), json!("LATEST"));
    }
    if daemon {
        out.remove("placementStrategy");
    }
    if let Some(Value::Object(nc)) = out.get_mut("networkConfiguration")
        && let Some(Value::Object(aws)) = nc.get_mut("awsvpcConfiguration")
    {
        aws.entry("assignPublicIp").or_insert(json!("DISABLED"));
        for k in ["subnets", "securityGroups"] {
            if let Some(Value::Array(a)) = aws.get_mut(k) {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            }
        }
    }
    if let Some(Value::Array(cps)) = out.get_mut("capacityProviderStrategy") {
        // ECS reports `base: 0` for a strategy item that omits it.
        for item in cps.iter_mut().filter_map(Value::as_object_mut) {
            if item.get("base").and_then(Value::as_i64) == Some(0) {
                item.remove("base");
            }
        }
    }
    if let Some(Value::Object(sc)) = out.get_mut("serviceConnectConfiguration") {
        service_connect_defaults(sc);
    }
    sort_by_json(&mut out, "placementConstraints");
    sort_by_json(&mut out, "placementStrategy");
    if let Some(Value::Array(tags)) = out.get_mut("tags") {
        tags.retain(|t| t.get("key").and_then(Value::as_str).is_none_or(|k| !ignore_tags.iter().any(|i| i == k)));
    }
    sort_by_key(&mut out, "tags", "key");
    if matches!(out.get("tags"), Some(Value::Array(a)) if a.is_empty()) {
        out.remove("tags");
    }
    Value::Object(out)
}

/// The circuit breaker as ECS reports it (2026): `resetOnHealthyTask` true and a threshold of
/// BOUNDED_PERCENT 50 are its defaults, so a file that omits them means the same (ecspresso #1082).
fn circuit_breaker_defaults(cb: &mut Map<String, Value>) {
    cb.entry("enable").or_insert(json!(false));
    cb.entry("rollback").or_insert(json!(false));
    if cb.get("resetOnHealthyTask").and_then(Value::as_bool) == Some(true) {
        cb.remove("resetOnHealthyTask");
    }
    let default_threshold = cb.get("thresholdConfiguration").is_some_and(|t| {
        t.get("type").and_then(Value::as_str).unwrap_or("BOUNDED_PERCENT") == "BOUNDED_PERCENT" && t.get("value").and_then(Value::as_i64).unwrap_or(50) == 50
    });
    if default_threshold {
        cb.remove("thresholdConfiguration");
    }
}

/// Early success criteria that are not enabled change nothing (ECS ignores `healthyPercent` and
/// `sourceServiceRevisionCleanup` then): ECS answers `{enable: false}` for a service without them.
fn early_success_defaults(dc: &mut Map<String, Value>) {
    let disabled = dc.get("earlySuccessCriteria").is_some_and(|e| e.get("enable").and_then(Value::as_bool) != Some(true));
    if disabled {
        dc.remove("earlySuccessCriteria");
    }
}

/// A lifecycle hook as ECS reports it: `targetType` AWS_LAMBDA, and a timeout of 1440 minutes with
/// action ROLLBACK (the API reference's defaults) mean the same as their absence.
fn lifecycle_hook_defaults(hook: &mut Map<String, Value>) {
    if hook.get("targetType").and_then(Value::as_str) == Some("AWS_LAMBDA") {
        hook.remove("targetType");
    }
    let default_timeout = hook.get("timeoutConfiguration").is_some_and(|t| {
        t.get("timeoutInMinutes").and_then(Value::as_i64).unwrap_or(1440) == 1440 && t.get("action").and_then(Value::as_str).unwrap_or("ROLLBACK") == "ROLLBACK"
    });
    if default_timeout {
        hook.remove("timeoutConfiguration");
    }
}

/// DescribeServices does not answer `serviceConnectConfiguration` or `volumeConfigurations` at the
/// top level: they live in the deployments, and what runs is the PRIMARY one's (as ecspresso
/// reads them). A local definition has no deployments and is returned as is.
fn from_primary_deployment(sv: &Value) -> Value {
    let mut sv = sv.clone();
    let primary =
        sv.get("deployments").and_then(Value::as_array).and_then(|d| d.iter().find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"))).cloned();
    if let (Some(primary), Value::Object(o)) = (primary, &mut sv) {
        for key in ["serviceConnectConfiguration", "volumeConfigurations"] {
            match primary.get(key) {
                Some(v) => o.insert(key.to_owned(), v.clone()),
                None => o.remove(key),
            };
        }
    }
    sv
}

/// Service Connect as ECS reports it: a service's `discoveryName` defaults to its `portName`.
fn service_connect_defaults(sc: &mut Map<String, Value>) {
    if let Some(Value::Array(services)) = sc.get_mut("services") {
        for s in services.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(port) = s.get("portName").cloned() {
                s.entry("discoveryName").or_insert(port);
            }
        }
    }
}

/// A container health check with the intervals ECS fills in (30 s, 5 s, 3 retries).
fn health_check_defaults(c: &mut Map<String, Value>) {
    if let Some(Value::Object(hc)) = c.get_mut("healthCheck") {
        hc.entry("interval").or_insert(json!(30));
        hc.entry("timeout").or_insert(json!(5));
        hc.entry("retries").or_insert(json!(3));
    }
}

/// A volume with what ECS fills in: EFS `rootDirectory` `/`, Docker volume `scope` `task`, and no
/// empty `host` of a bind mount.
fn volume_defaults(v: &mut Map<String, Value>) {
    if let Some(Value::Object(efs)) = v.get_mut("efsVolumeConfiguration") {
        efs.entry("rootDirectory").or_insert(json!("/"));
    }
    if let Some(Value::Object(docker)) = v.get_mut("dockerVolumeConfiguration") {
        docker.entry("scope").or_insert(json!("task"));
    }
    if v.get("host").and_then(Value::as_object).is_some_and(Map::is_empty) {
        v.remove("host");
    }
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or("")
}

fn sort_by_key(obj: &mut Map<String, Value>, field: &str, key: &str) {
    if let Some(Value::Array(a)) = obj.get_mut(field) {
        a.sort_by(|x, y| x.get(key).and_then(Value::as_str).cmp(&y.get(key).and_then(Value::as_str)));
    }
}

fn sort_by_json(obj: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(a)) = obj.get_mut(field) {
        a.sort_by_cached_key(|v| v.to_string());
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Cpu,
    Memory,
}

/// `"0.25 vCPU"` → `"256"`, `"1GB"` → `"1024"`, `512` → `"512"`; unparseable ⇒ None.
fn convert_unit(v: &Value, unit: Unit) -> Option<String> {
    let s = match v {
        Value::Number(n) => return Some(n.as_f64().map(|f| (f as i64).to_string()).unwrap_or_else(|| n.to_string())),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return None,
    };
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
        return Some(s);
    }
    let suffix = match unit {
        Unit::Cpu => "vcpu",
        Unit::Memory => "gb",
    };
    let num = s.strip_suffix(suffix)?.trim();
    let f: f64 = num.parse().ok()?;
    Some(((f * 1024.0) as i64).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_units() {
        assert_eq!(convert_unit(&json!("0.25 vCPU"), Unit::Cpu).as_deref(), Some("256"));
        assert_eq!(convert_unit(&json!("0.5vcpu"), Unit::Cpu).as_deref(), Some("512"));
        assert_eq!(convert_unit(&json!("0.5 GB"), Unit::Memory).as_deref(), Some("512"));
        assert_eq!(convert_unit(&json!("4GB"), Unit::Memory).as_deref(), Some("4096"));
        assert_eq!(convert_unit(&json!(1024), Unit::Memory).as_deref(), Some("1024"));
        assert_eq!(convert_unit(&json!("lots"), Unit::Memory), None);
    }

    #[test]
    fn task_definition_permutations_compare_equal() {
        let a = json!({"family": "f", "networkMode": "awsvpc", "cpu": "0.25 vCPU", "containerDefinitions": [
            {"name": "b", "image": "x", "environment": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}]},
            {"name": "a", "image": "y", "portMappings": [{"containerPort": 80}], "essential": true, "cpu": 0}]});
        let b = json!({"family": "f", "networkMode": "awsvpc", "cpu": "256", "containerDefinitions": [
            {"name": "a", "image": "y", "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}], "mountPoints": []},
            {"name": "b", "image": "x", "environment": [{"name": "A", "value": "2"}, {"name": "Z", "value": "1"}]}]});
        assert_eq!(task_definition(&a), task_definition(&b));
    }

    #[test]
    fn sparse_and_explicit_services_compare_equal() {
        let sparse = json!({"launchType": "FARGATE", "desiredCount": 1,
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["b", "a"]}}});
        let explicit = json!({"launchType": "FARGATE", "desiredCount": 1, "platformVersion": "LATEST",
            "enableECSManagedTags": false, "enableExecuteCommand": false, "propagateTags": "NONE",
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                "deploymentCircuitBreaker": {"enable": false, "rollback": false},
                "alarms": {"alarmNames": [], "enable": false, "rollback": false}},
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["a", "b"], "assignPublicIp": "DISABLED"}},
            "events": [{"message": "ignored"}], "runningCount": 3});
        assert_eq!(service(&sparse, &[], true), service(&explicit, &[], true));
    }

    #[test]
    fn strategy_and_bake_time_defaults_compare_equal() {
        let sparse = json!({"deploymentConfiguration": {"maximumPercent": 200}});
        let reported = json!({"deploymentConfiguration": {"maximumPercent": 200, "strategy": "ROLLING", "bakeTimeInMinutes": 0}});
        assert_eq!(service(&sparse, &[], true), service(&reported, &[], true));
        let blue_green = json!({"deploymentConfiguration": {"strategy": "BLUE_GREEN"}});
        assert_ne!(service(&sparse, &[], true), service(&blue_green, &[], true));
        assert!(service(&blue_green, &[], true)["deploymentConfiguration"].get("bakeTimeInMinutes").is_none());
    }

    #[test]
    fn disabled_early_success_criteria_is_its_absence() {
        let sparse = json!({"deploymentConfiguration": {"maximumPercent": 200}});
        let reported = json!({"deploymentConfiguration": {"maximumPercent": 200, "earlySuccessCriteria": {"enable": false}}});
        assert_eq!(service(&sparse, &[], true), service(&reported, &[], true));
        let enabled = json!({"deploymentConfiguration": {"maximumPercent": 200,
            "earlySuccessCriteria": {"enable": true, "healthyPercent": 100, "sourceServiceRevisionCleanup": "DEFERRED"}}});
        assert_ne!(service(&sparse, &[], true), service(&enabled, &[], true));
    }

    #[test]
    fn circuit_breaker_defaults_are_their_absence() {
        let cb = |v: Value| service(&json!({"deploymentConfiguration": {"deploymentCircuitBreaker": v}}), &[], true);
        let sparse = cb(json!({"enable": true, "rollback": true}));
        let reported = cb(json!({"enable": true, "rollback": true, "resetOnHealthyTask": true,
            "thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 50}}));
        assert_eq!(sparse, reported);
        assert_ne!(sparse, cb(json!({"enable": true, "rollback": true, "resetOnHealthyTask": false})));
        assert_ne!(sparse, cb(json!({"enable": true, "rollback": true, "thresholdConfiguration": {"type": "COUNT", "value": 50}})));
    }

    fn with_hook(hook: Value) -> Value {
        service(&json!({"deploymentConfiguration": {"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]}}), &[], true)
    }

    #[test]
    fn lifecycle_hook_target_type_defaults_to_lambda() {
        let sparse = with_hook(json!({"hookTargetArn": "arn:fn", "lifecycleStages": ["POST_SCALE_UP"]}));
        let reported = with_hook(json!({"hookTargetArn": "arn:fn", "lifecycleStages": ["POST_SCALE_UP"], "targetType": "AWS_LAMBDA"}));
        assert_eq!(sparse, reported);
        assert_ne!(sparse, with_hook(json!({"hookTargetArn": "arn:fn", "lifecycleStages": ["POST_SCALE_UP"], "targetType": "PAUSE"})));
    }

    #[test]
    fn lifecycle_hook_timeout_defaults_to_a_day_and_rollback() {
        let sparse = with_hook(json!({"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}));
        let reported = with_hook(json!({"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
            "timeoutConfiguration": {"timeoutInMinutes": 1440, "action": "ROLLBACK"}}));
        assert_eq!(sparse, reported);
        let shorter = with_hook(json!({"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"], "timeoutConfiguration": {"timeoutInMinutes": 30}}));
        assert_ne!(sparse, shorter);
    }

    fn td_with_volume(volume: Value) -> Value {
        json!({"family": "f", "containerDefinitions": [{"name": "a"}], "volumes": [volume]})
    }

    #[test]
    fn efs_root_directory_defaults_to_slash() {
        let sparse = td_with_volume(json!({"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}));
        let reported = td_with_volume(json!({"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/"}}));
        assert_eq!(task_definition(&sparse), task_definition(&reported));
        let other = td_with_volume(json!({"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/data"}}));
        assert_ne!(task_definition(&sparse), task_definition(&other));
    }

    #[test]
    fn docker_volume_scope_defaults_to_task() {
        let sparse = td_with_volume(json!({"name": "v", "dockerVolumeConfiguration": {"driver": "local"}}));
        let reported = td_with_volume(json!({"name": "v", "dockerVolumeConfiguration": {"driver": "local", "scope": "task"}}));
        assert_eq!(task_definition(&sparse), task_definition(&reported));
        let shared = td_with_volume(json!({"name": "v", "dockerVolumeConfiguration": {"driver": "local", "scope": "shared"}}));
        assert_ne!(task_definition(&sparse), task_definition(&shared));
    }

    #[test]
    fn an_empty_bind_mount_host_is_no_host() {
        let sparse = td_with_volume(json!({"name": "v"}));
        let reported = td_with_volume(json!({"name": "v", "host": {}}));
        assert_eq!(task_definition(&sparse), task_definition(&reported));
        let path = td_with_volume(json!({"name": "v", "host": {"sourcePath": "/x"}}));
        assert_ne!(task_definition(&sparse), task_definition(&path));
    }

    #[test]
    fn health_check_intervals_default() {
        let hc = |v: Value| json!({"family": "f", "containerDefinitions": [{"name": "a", "healthCheck": v}]});
        let sparse = hc(json!({"command": ["CMD", "true"]}));
        let reported = hc(json!({"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3}));
        assert_eq!(task_definition(&sparse), task_definition(&reported));
        assert_ne!(task_definition(&sparse), task_definition(&hc(json!({"command": ["CMD", "true"], "retries": 5}))));
    }

    #[test]
    fn proxy_type_defaults_to_appmesh() {
        let proxy = |v: Value| json!({"family": "f", "containerDefinitions": [{"name": "a"}], "proxyConfiguration": v});
        assert_eq!(task_definition(&proxy(json!({"containerName": "envoy"}))), task_definition(&proxy(json!({"containerName": "envoy", "type": "APPMESH"}))));
    }

    #[test]
    fn capacity_provider_base_zero_is_its_absence() {
        let sparse = json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]});
        let reported = json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]});
        assert_eq!(service(&sparse, &[], true), service(&reported, &[], true));
        let based = json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}]});
        assert_ne!(service(&sparse, &[], true), service(&based, &[], true));
    }

    #[test]
    fn service_connect_and_volumes_come_from_the_primary_deployment() {
        let sc = json!({"enabled": true, "namespace": "arn:aws:servicediscovery:r:1:namespace/ns-1", "services": [{"portName": "web", "clientAliases": [{"port": 80}]}]});
        let local = json!({"serviceConnectConfiguration": sc, "volumeConfigurations": [{"name": "ebs", "managedEBSVolume": {"roleArn": "r"}}]});
        let mut reported_sc = sc.clone();
        reported_sc["services"][0]["discoveryName"] = json!("web");
        let remote = json!({"deployments": [
            {"status": "ACTIVE", "serviceConnectConfiguration": {"enabled": false}},
            {"status": "PRIMARY", "serviceConnectConfiguration": reported_sc, "volumeConfigurations": local["volumeConfigurations"]}]});
        assert_eq!(service(&local, &[], true), service(&remote, &[], true));
        let without = json!({"deployments": [{"status": "PRIMARY"}], "serviceConnectConfiguration": sc});
        assert_ne!(service(&local, &[], true), service(&without, &[], true), "the top level of a describe answer is not what runs");
    }

    #[test]
    fn a_namespace_name_matches_the_arn_ecs_answers() {
        let local = service(&json!({"serviceConnectConfiguration": {"enabled": true, "namespace": "internal"}}), &[], true);
        let mut remote =
            service(&json!({"serviceConnectConfiguration": {"enabled": true, "namespace": "arn:aws:servicediscovery:r:1:namespace/ns-1"}}), &[], true);
        reconcile_namespace(&local, &mut remote);
        assert_eq!(local, remote);
        let mut other_arn =
            service(&json!({"serviceConnectConfiguration": {"enabled": true, "namespace": "arn:aws:servicediscovery:r:1:namespace/ns-2"}}), &[], true);
        let by_arn = service(&json!({"serviceConnectConfiguration": {"enabled": true, "namespace": "arn:aws:servicediscovery:r:1:namespace/ns-1"}}), &[], true);
        reconcile_namespace(&by_arn, &mut other_arn);
        assert_ne!(by_arn, other_arn, "two ARNs are compared as they are");
    }

    #[test]
    fn remote_desired_count_is_ignored_when_local_omits_it() {
        let remote = json!({"desiredCount": 5});
        assert!(service(&remote, &[], false).get("desiredCount").is_none());
        assert_eq!(service(&remote, &[], true)["desiredCount"], json!(5));
    }

    #[test]
    fn ignored_tags_are_not_compared() {
        let v = json!({"tags": [{"key": "b", "value": "1"}, {"key": "owner", "value": "x"}]});
        assert_eq!(service(&v, &["owner".into()], true)["tags"], json!([{"key": "b", "value": "1"}]));
    }
}
