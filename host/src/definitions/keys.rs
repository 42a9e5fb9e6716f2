//! Key and value normalisation shared by files and API responses.
//!
//! ecspresso decodes definition files case-insensitively into Go structs; we keep JSON, so we bring
//! keys to the API's lowerCamelCase instead, and drop what ECS treats as absent (null, empty lists).
//! Keys inside free-form string maps keep their case: docker labels, log and FireLens options, Docker
//! volume driver options and labels (ecspresso mangles the last two; its known bug).

use serde_json::{Map, Value};

/// Object keys whose values are user maps: their keys are data, not field names.
const STRING_MAPS: &[&str] = &["dockerLabels", "options", "driverOpts", "labels"];

/// Fields of DescribeTaskDefinition output that RegisterTaskDefinition does not take.
pub const TASK_DEFINITION_OUTPUT_ONLY: &[&str] =
    &["taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt", "registeredBy", "deregisteredAt"];

/// Lower-cases the first letter of field names, drops nulls and empty lists (recursively).
pub fn normalise(v: Value) -> Value {
    normalise_inner(v, false)
}

fn normalise_inner(v: Value, keep_keys: bool) -> Value {
    match v {
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, val) in obj {
                if val.is_null() || matches!(&val, Value::Array(a) if a.is_empty()) {
                    continue;
                }
                let key = if keep_keys { k } else { lower_first(&k) };
                let child_keeps = !keep_keys && STRING_MAPS.iter().any(|m| m.eq_ignore_ascii_case(&key));
                let val = normalise_inner(val, child_keeps);
                if matches!(&val, Value::Array(a) if a.is_empty()) {
                    continue;
                }
                out.insert(key, val);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().filter(|i| !i.is_null()).map(|i| normalise_inner(i, false)).collect()),
        other => other,
    }
}

fn lower_first(k: &str) -> String {
    let mut chars = k.chars();
    match chars.next() {
        Some(c) if c.is_ascii_uppercase() => {
            let mut s = String::with_capacity(k.len());
            s.push(c.to_ascii_lowercase());
            s.push_str(chars.as_str());
            s
        }
        _ => k.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_camel_cased_except_in_string_maps() {
        let v = json!({
            "Family": "app",
            "ContainerDefinitions": [{
                "Name": "app", "MountPoints": [], "Cpu": null,
                "DockerLabels": {"Name": "katsubushi"},
                "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": "g", "Mode": "x"}}
            }],
            "Volumes": [{"Name": "v", "DockerVolumeConfiguration": {"DriverOpts": {"Type": "nfs"}, "Labels": {"Team": "a"}}}]
        });
        assert_eq!(
            normalise(v),
            json!({
                "family": "app",
                "containerDefinitions": [{
                    "name": "app",
                    "dockerLabels": {"Name": "katsubushi"},
                    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "Mode": "x"}}
                }],
                "volumes": [{"name": "v", "dockerVolumeConfiguration": {"driverOpts": {"Type": "nfs"}, "labels": {"Team": "a"}}}]
            })
        );
    }
}
