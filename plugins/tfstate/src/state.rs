//! A Terraform state (v4) indexed by address, and lookups with tfstate-lookup's semantics:
//!
//! - Every instance gets an address: `[module.a.module.b.][data.]TYPE.NAME[INDEX]`, where INDEX is
//!   the instance's `index_key` as JSON (`[0]`, `["first"]`); outputs are `output.NAME` (their
//!   `value`); a `terraform_remote_state` data source maps to its attributes with every output
//!   unwrapped to its value.
//! - A lookup takes the longest address that prefixes the key, and evaluates the rest as a path
//!   into the instance's attributes (`.tags.Name`, `[0]`, `["k"]`); no rest means the whole object.
//!
//! tfstate-lookup compares the key with every address; here only the prefixes that end where an
//! address can end (before `.` or `[`, or the whole key) are looked up in a hash map, which gives
//! the same answer for every address Terraform can produce and costs a handful of hash lookups.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{gojson, query};

pub const STATE_VERSION: i64 = 4;

#[derive(Debug, Default)]
pub struct State {
    index: HashMap<String, Value>,
}

/// What a state file says: either resources and outputs, or a `backend` block pointing elsewhere
/// (a local `.terraform/terraform.tfstate`).
#[derive(Debug)]
pub enum Parsed {
    State(State),
    Backend { kind: String, config: Map<String, Value> },
}

#[derive(Deserialize)]
struct RawState {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    resources: Vec<RawResource>,
    #[serde(default)]
    outputs: Map<String, Value>,
    #[serde(default)]
    backend: Option<RawBackend>,
}

#[derive(Deserialize)]
struct RawBackend {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    config: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    module: String,
    #[serde(default)]
    mode: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    index_key: Option<Value>,
    #[serde(default)]
    attributes: Option<Value>,
    #[serde(default)]
    attributes_flat: Option<Value>,
}

/// An output as stored (`{"value": ..., "type": ...}`) → its value; anything else as is.
fn output_value(v: Value) -> Value {
    match v {
        Value::Object(mut m) if m.get("value").is_some_and(|x| !x.is_null()) && m.get("type").is_some_and(|x| !x.is_null()) => {
            m.remove("value").unwrap_or(Value::Null)
        }
        other => other,
    }
}

pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let raw: RawState = serde_json::from_slice(bytes).map_err(|e| format!("invalid json: {e}"))?;
    if let Some(b) = raw.backend {
        return Ok(Parsed::Backend { kind: b.kind, config: b.config.unwrap_or_default() });
    }
    let version = raw.version.unwrap_or(0);
    if version != STATE_VERSION {
        return Err(format!("unsupported state version {version}"));
    }
    let mut index = HashMap::with_capacity(raw.outputs.len() + raw.resources.len());
    for (name, v) in raw.outputs {
        index.insert(format!("output.{name}"), output_value(v));
    }
    for r in raw.resources {
        let prefix = match r.mode.as_str() {
            "managed" => "",
            "data" => "data.",
            _ => continue,
        };
        let module = if r.module.is_empty() { String::new() } else { format!("{}.", r.module) };
        let base = format!("{module}{prefix}{}.{}", r.kind, r.name);
        if r.mode == "data" && r.kind == "terraform_remote_state" {
            if let Some(Value::Object(attrs)) = r.instances.into_iter().next().and_then(|i| i.attributes) {
                let data: Map<String, Value> = attrs.into_iter().map(|(k, v)| (k, output_value(v))).collect();
                index.insert(base, Value::Object(data));
            }
            continue;
        }
        for ins in r.instances {
            let key = match &ins.index_key {
                None => base.clone(),
                Some(k) => format!("{base}[{}]", serde_json::to_string(k).unwrap_or_default()),
            };
            let data = match (ins.attributes, ins.attributes_flat) {
                (Some(a), _) if !a.is_null() => a,
                (_, Some(f)) => f,
                _ => Value::Null,
            };
            index.insert(key, data);
        }
    }
    Ok(Parsed::State(State { index }))
}

impl State {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The addresses in the state, sorted.
    #[cfg(test)]
    pub fn addresses(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.index.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The instance whose address is the longest prefix of `key` ending at an address boundary,
    /// and the rest of the key.
    fn find<'k>(&self, key: &'k str) -> Option<(&Value, &'k str)> {
        if let Some(v) = self.index.get(key) {
            return Some((v, ""));
        }
        for (i, c) in key.char_indices().rev() {
            if (c == '.' || c == '[')
                && let Some(v) = self.index.get(&key[..i])
            {
                return Some((v, &key[i..]));
            }
        }
        None
    }

    /// The value at `key` (single quotes already turned into double ones): `Ok(None)` when it is
    /// not in the state, an error when the attribute path is invalid for the value found.
    pub fn lookup(&self, key: &str) -> Result<Option<&Value>, String> {
        let Some((value, rest)) = self.find(key) else { return Ok(None) };
        let path = query::parse(rest)?;
        query::eval(value, &path)
    }
}

/// The template function's result: a string as is, anything else as Go's compact JSON.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => gojson::encode(other),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A state with the shapes that matter: counts, for_each, modules (nested, counted), data
    /// sources, remote state, outputs, attributes_flat, hyphenated names.
    pub const STATE: &str = r#"{
      "version": 4,
      "terraform_version": "1.9.0",
      "serial": 7,
      "lineage": "x",
      "outputs": {
        "vpc_id": {"value": "vpc-1", "type": "string"},
        "subnets": {"value": ["subnet-a", "subnet-b"], "type": ["list", "string"]},
        "config": {"value": {"a": {"b": 1}, "url": "https://x/?a=1&b=2"}, "type": ["object", {}]},
        "repository-arn": {"value": "arn:aws:ecr:repo", "type": "string"}
      },
      "resources": [
        {"mode": "data", "type": "aws_caller_identity", "name": "current", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"account_id": "123456789012", "id": "123456789012"}}]},
        {"mode": "managed", "type": "aws_acm_certificate", "name": "main", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"id": "arn:cert", "validation_method": "DNS",
            "subject_alternative_names": ["*.example.com"], "tags": {"Name": "main", "my-tag": "v"}, "retention": 30, "nothing": null}}]},
        {"module": "module.logs", "mode": "managed", "type": "aws_cloudwatch_log_group", "name": "main", "each": "map", "provider": "p",
         "instances": [
           {"index_key": "app", "schema_version": 0, "attributes": {"id": "/main/app", "retention_in_days": 30}},
           {"index_key": "web", "schema_version": 0, "attributes": {"id": "/main/web", "retention_in_days": 7}}]},
        {"mode": "managed", "type": "aws_iam_role_policy_attachment", "name": "ec2", "each": "list", "provider": "p",
         "instances": [
           {"index_key": 0, "schema_version": 0, "attributes": {"id": "ec2-0"}},
           {"index_key": 1, "schema_version": 0, "attributes": {"id": "ec2-1"}}]},
        {"mode": "data", "type": "aws_security_group", "name": "default", "each": "map", "provider": "p",
         "instances": [{"index_key": "first", "schema_version": 0, "attributes": {"id": "sg-1"}}]},
        {"module": "module.a.module.b", "mode": "managed", "type": "aws_subnet", "name": "private-a", "provider": "p",
         "instances": [{"schema_version": 1, "attributes": {"id": "subnet-nested", "cidr_block": "10.0.0.0/24"}}]},
        {"module": "module.svc[0]", "mode": "data", "type": "aws_vpc", "name": "this", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"id": "vpc-counted-module"}}]},
        {"module": "module.svc[\"blue\"]", "mode": "managed", "type": "aws_ecs_service", "name": "this", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"id": "svc-blue"}}]},
        {"mode": "managed", "type": "aws_subnet", "name": "a", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"id": "subnet-short"}}]},
        {"mode": "managed", "type": "aws_subnet", "name": "ab", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"id": "subnet-long"}}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "dots", "each": "map", "provider": "p",
         "instances": [{"index_key": "a.b[c]", "schema_version": 0, "attributes": {"id": "bucket-dots"}}]},
        {"mode": "managed", "type": "legacy_thing", "name": "flat", "provider": "p",
         "instances": [{"schema_version": 0, "attributes_flat": {"id": "flat-1"}}]},
        {"mode": "data", "type": "terraform_remote_state", "name": "net", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"backend": "s3",
            "outputs": {"value": {"vpc_id": "vpc-remote", "ids": ["a", "b"]}, "type": ["object", {}]}}}]}
      ]
    }"#;

    pub fn state() -> State {
        match parse(STATE.as_bytes()).unwrap() {
            Parsed::State(s) => s,
            Parsed::Backend { .. } => panic!("backend"),
        }
    }

    fn get(s: &State, key: &str) -> Option<String> {
        s.lookup(key).unwrap().map(render)
    }

    #[test]
    fn addresses_like_tfstate_lookup() {
        let s = state();
        let addrs = s.addresses();
        for want in [
            "data.aws_caller_identity.current",
            "aws_acm_certificate.main",
            r#"module.logs.aws_cloudwatch_log_group.main["app"]"#,
            "aws_iam_role_policy_attachment.ec2[1]",
            r#"data.aws_security_group.default["first"]"#,
            "module.a.module.b.aws_subnet.private-a",
            "module.svc[0].data.aws_vpc.this",
            r#"module.svc["blue"].aws_ecs_service.this"#,
            "output.vpc_id",
            "data.terraform_remote_state.net",
        ] {
            assert!(addrs.contains(&want), "{want} missing from {addrs:?}");
        }
    }

    #[test]
    fn resources() {
        let s = state();
        assert_eq!(get(&s, "data.aws_caller_identity.current.account_id").as_deref(), Some("123456789012"));
        assert_eq!(get(&s, "data.aws_caller_identity.xxxx.account_id"), None);
        assert_eq!(get(&s, "aws_acm_certificate.main.validation_method").as_deref(), Some("DNS"));
        assert_eq!(get(&s, "aws_acm_certificate.main.validation_method_xxx"), None);
        assert_eq!(get(&s, "aws_acm_certificate.main.subject_alternative_names").as_deref(), Some(r#"["*.example.com"]"#));
        assert_eq!(get(&s, "aws_acm_certificate.main.subject_alternative_names[0]").as_deref(), Some("*.example.com"));
        assert_eq!(get(&s, "aws_acm_certificate.main.subject_alternative_names[2]"), None);
        assert_eq!(get(&s, "aws_acm_certificate.main.tags.Name").as_deref(), Some("main"));
        assert_eq!(get(&s, "aws_acm_certificate.main.tags.my-tag").as_deref(), Some("v"));
        assert_eq!(get(&s, r#"aws_acm_certificate.main.tags["my-tag"]"#).as_deref(), Some("v"));
        assert_eq!(get(&s, "aws_acm_certificate.main.retention").as_deref(), Some("30"));
        assert_eq!(get(&s, "aws_acm_certificate.main.nothing"), None);
        assert_eq!(
            get(&s, "aws_acm_certificate.main").as_deref(),
            Some(
                r#"{"id":"arn:cert","nothing":null,"retention":30,"subject_alternative_names":["*.example.com"],"tags":{"Name":"main","my-tag":"v"},"validation_method":"DNS"}"#
            )
        );
    }

    #[test]
    fn for_each_count_and_modules() {
        let s = state();
        assert_eq!(get(&s, r#"module.logs.aws_cloudwatch_log_group.main["app"].id"#).as_deref(), Some("/main/app"));
        assert_eq!(get(&s, r#"module.xxx.aws_cloudwatch_log_group.main["app"].id"#), None);
        assert_eq!(get(&s, r#"module.logs.aws_cloudwatch_log_group.main["app"].retention_in_days"#).as_deref(), Some("30"));
        // The resource without an index key is not an address when it has for_each instances.
        assert_eq!(get(&s, "module.logs.aws_cloudwatch_log_group.main"), None);
        assert_eq!(get(&s, "aws_iam_role_policy_attachment.ec2[1].id").as_deref(), Some("ec2-1"));
        assert_eq!(get(&s, "aws_iam_role_policy_attachment.ec2[2].id"), None);
        assert_eq!(get(&s, r#"data.aws_security_group.default["first"].id"#).as_deref(), Some("sg-1"));
        assert_eq!(get(&s, "module.a.module.b.aws_subnet.private-a.id").as_deref(), Some("subnet-nested"));
        assert_eq!(get(&s, "module.a.aws_subnet.private-a.id"), None);
        assert_eq!(get(&s, "module.svc[0].data.aws_vpc.this.id").as_deref(), Some("vpc-counted-module"));
        assert_eq!(get(&s, r#"module.svc["blue"].aws_ecs_service.this.id"#).as_deref(), Some("svc-blue"));
        assert_eq!(get(&s, r#"aws_s3_bucket.dots["a.b[c]"].id"#).as_deref(), Some("bucket-dots"));
        assert_eq!(get(&s, "legacy_thing.flat.id").as_deref(), Some("flat-1"));
    }

    #[test]
    fn longest_prefix() {
        let s = state();
        assert_eq!(get(&s, "aws_subnet.a.id").as_deref(), Some("subnet-short"));
        assert_eq!(get(&s, "aws_subnet.ab.id").as_deref(), Some("subnet-long"));
        assert_eq!(get(&s, "aws_subnet.abc.id"), None);
        assert_eq!(get(&s, "aws_subnet.a_id"), None);
    }

    #[test]
    fn outputs() {
        let s = state();
        assert_eq!(get(&s, "output.vpc_id").as_deref(), Some("vpc-1"));
        assert_eq!(get(&s, "output.subnets").as_deref(), Some(r#"["subnet-a","subnet-b"]"#));
        assert_eq!(get(&s, "output.subnets[1]").as_deref(), Some("subnet-b"));
        assert_eq!(get(&s, "output.config.a.b").as_deref(), Some("1"));
        assert_eq!(get(&s, "output.config.a").as_deref(), Some(r#"{"b":1}"#));
        assert_eq!(get(&s, "output.config").as_deref(), Some(r#"{"a":{"b":1},"url":"https://x/?a=1\u0026b=2"}"#));
        assert_eq!(get(&s, "output.repository-arn").as_deref(), Some("arn:aws:ecr:repo"));
        assert_eq!(get(&s, "output.nope"), None);
        assert_eq!(get(&s, "data.terraform_remote_state.net.outputs.vpc_id").as_deref(), Some("vpc-remote"));
        assert_eq!(get(&s, "data.terraform_remote_state.net.outputs.ids[0]").as_deref(), Some("a"));
        assert_eq!(get(&s, "data.terraform_remote_state.net.backend").as_deref(), Some("s3"));
    }

    #[test]
    fn type_errors() {
        let s = state();
        assert!(s.lookup("aws_acm_certificate.main.validation_method.x").is_err());
        assert!(s.lookup("aws_acm_certificate.main.tags[0]").is_err());
        assert!(s.lookup("aws_acm_certificate.main.tags[").is_err());
    }

    #[test]
    fn versions_and_backends() {
        assert_eq!(parse(br#"{"version": 3, "resources": []}"#).unwrap_err(), "unsupported state version 3");
        assert!(parse(b"{").unwrap_err().starts_with("invalid json: "));
        match parse(br#"{"version": 3, "backend": {"type": "s3", "config": {"bucket": "b", "key": "k"}}}"#).unwrap() {
            Parsed::Backend { kind, config } => {
                assert_eq!(kind, "s3");
                assert_eq!(config["bucket"], "b");
            }
            Parsed::State(_) => panic!("expected a backend"),
        }
        match parse(br#"{"version": 4}"#).unwrap() {
            Parsed::State(s) => assert_eq!(s.len(), 0),
            Parsed::Backend { .. } => panic!(),
        }
    }
}
