//! cortado's first-party `tfstate` plugin: `{{ tfstate "aws_subnet.private-a.id" }}` and
//! `{{ tfstatef "aws_subnet.private[%d].id" 0 }}`, with ecspresso's (tfstate-lookup's) semantics.
//!
//! - `tfstate ADDR`: the value at ADDR in a Terraform state (v4): managed resources
//!   (`aws_subnet.a.id`), data sources (`data.aws_vpc.main.id`), modules (`module.a.module.b.…`),
//!   `count` (`[0]`) and `for_each` (`["k"]`, or `['k']`) instances, nested attributes
//!   (`.tags.Name`, `.list[1]`, `.map["k"]`), outputs (`output.NAME…`) and remote-state outputs.
//!   A string is returned as is, anything else as compact JSON (as Go writes it). A missing
//!   address is the error `ADDR is not found in tfstate`; a bad attribute path is
//!   `failed to lookup ADDR in tfstate: …`.
//! - `tfstatef FORMAT ARGS…`: Go's `fmt.Sprintf(FORMAT, ARGS…)`, then `tfstate`.
//!
//! Config: `{"path": "/guest/visible/terraform.tfstate"}` (read through WASI; the host preopens its
//! directory read-only, and does the same for a `url` that is a plain path or `file://PATH`),
//! `{"url": "s3://bucket/key"}` (the host's `s3:GetObject` broker), or `remote://HOST/ORG/WORKSPACE`
//! and `http(s)://…` (fetched by the host's URL broker, which holds any token). A local state holding an s3 `backend` block is followed
//! to the bucket (workspace from the `environment` file next to it, or `"workspace"` in the
//! config). `"optional": true` treats an unreadable state as empty. The state is read and indexed
//! once, on the first lookup, and kept for the instance's life.
//!
//! Capability: `s3:GetObject` on the object of an `s3://` url, `tfc:ReadState` / `http:Get` on a
//! remote or HTTP url, else `s3:GetObject` on `*` (only used when a local state points at an s3
//! backend).
//!
//! `tfstate#json` / `tfstatef#json` (not listed; the host's Jsonnet natives call them) return every
//! value as JSON, so Jsonnet can tell the number `80` from the string `"80"`. With `optional: true`
//! and no state, lookups are empty (`""`, or `null` as JSON), as ecspresso #1017.
mod gojson;
mod query;
mod source;
mod sprintf;
mod state;

use cortado_plugin_sdk::{Manifest, Plugin, host, register_plugin};

use source::{Location, Source};
use state::State;

struct TfState {
    source: Result<Source, String>,
    state: Option<Result<State, String>>,
    /// An `optional: true` state could not be read: every lookup is empty (ecspresso #1017).
    absent: bool,
}

/// How a looked-up value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// As the template function returns it: a string as is, anything else as Go's compact JSON.
    Template,
    /// Always JSON, so that a string `"800"` and a number `800` stay apart (the host's Jsonnet
    /// natives call `tfstate#json` and keep the value's type).
    Json,
}

/// The suffix of the unlisted function names that return [`Form::Json`].
const JSON_SUFFIX: &str = "#json";

impl TfState {
    fn state(&mut self) -> Result<&State, String> {
        if self.state.is_none() {
            let loaded = match &self.source {
                Err(e) => Err(e.clone()),
                Ok(src) => match source::load(src) {
                    Ok(s) => {
                        host::debug(format!("tfstate: read {} addresses from {}", s.len(), src.location));
                        Ok(s)
                    }
                    Err(e) if src.optional => {
                        host::warn(format!("tfstate: {e}; the state is optional, so every lookup is empty"));
                        self.absent = true;
                        Ok(State::default())
                    }
                    Err(e) => Err(e),
                },
            };
            self.state = Some(loaded);
        }
        self.state.as_ref().expect("just set").as_ref().map_err(Clone::clone)
    }

    fn lookup(&mut self, addr: &str, form: Form) -> Result<String, String> {
        let addr = if addr.contains('\'') { addr.replace('\'', "\"") } else { addr.to_owned() };
        self.state()?;
        if self.absent {
            return Ok(if form == Form::Json { "null".to_owned() } else { String::new() });
        }
        let state = self.state()?;
        match state.lookup(&addr) {
            Err(e) => Err(format!("failed to lookup {addr} in tfstate: {e}")),
            Ok(None) => Err(format!("{addr} is not found in tfstate")),
            Ok(Some(v)) if form == Form::Json => Ok(gojson::encode(v)),
            Ok(Some(v)) => Ok(state::render(v)),
        }
    }
}

impl Plugin for TfState {
    fn new() -> Self {
        let source = host::config_value().and_then(|c| source::from_config(&c));
        TfState { source, state: None, absent: false }
    }

    fn manifest(&self) -> Manifest {
        let (action, object) = match &self.source {
            Ok(Source { location: Location::S3 { bucket, key }, .. }) => ("s3:GetObject", format!("arn:aws:s3:::{bucket}/{key}")),
            Ok(Source { location: Location::Url(url), .. }) => (url_action(url), url.clone()),
            _ => ("s3:GetObject", "*".to_owned()),
        };
        Manifest::new("tfstate", env!("CARGO_PKG_VERSION"))
            .description("values from a Terraform state (ecspresso's tfstate plugin)")
            .function("tfstate", 1, 1, "tfstate ADDR: the value at a resource, data source or output address")
            .function("tfstatef", 1, 9, "tfstatef FORMAT ARGS...: tfstate of fmt.Sprintf(FORMAT, ARGS...)")
            .capability(action, object)
    }

    fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
        let (name, form) = match function.strip_suffix(JSON_SUFFIX) {
            Some(name) => (name, Form::Json),
            None => (function, Form::Template),
        };
        match name {
            "tfstate" => self.lookup(&args[0], form),
            "tfstatef" => {
                let addr = sprintf::sprintf(&args[0], &args[1..]);
                self.lookup(&addr, form)
            }
            other => Err(format!("function {other} is not provided by this plugin")),
        }
    }
}

/// The grant a URL state needs: `tfc:ReadState` for Terraform Cloud, `http:Get` otherwise.
fn url_action(url: &str) -> &'static str {
    if url.starts_with("remote://") { "tfc:ReadState" } else { "http:Get" }
}

register_plugin!(TfState);

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::testing::{Harness, MockHost, calls, logs};
    use serde_json::json;
    use std::time::Instant;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("cortado-tfstate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn with_file_state(name: &str) -> Harness<TfState> {
        let dir = temp_dir(name);
        let path = dir.join("terraform.tfstate");
        std::fs::write(&path, state::tests::STATE).unwrap();
        MockHost::new().with_config(json!({ "path": path })).install();
        Harness::new()
    }

    #[test]
    fn reads_a_file_once_and_looks_up() {
        let mut h = with_file_state("file");
        assert_eq!(h.call("tfstate", &["aws_acm_certificate.main.validation_method"]).unwrap(), "DNS");
        assert_eq!(h.call("tfstate", &["data.aws_security_group.default['first'].id"]).unwrap(), "sg-1");
        assert_eq!(h.call("tfstate", &["output.subnets"]).unwrap(), r#"["subnet-a","subnet-b"]"#);
        assert_eq!(h.call("tfstatef", &["aws_iam_role_policy_attachment.ec2[%d].id", "1"]).unwrap(), "ec2-1");
        assert_eq!(h.call("tfstatef", &["module.logs.aws_cloudwatch_log_group.main[%q].id", "web"]).unwrap(), "/main/web");
        assert_eq!(h.call("tfstatef", &["module.%s.aws_subnet.%s.id", "a.module.b", "private-a"]).unwrap(), "subnet-nested");
        assert!(calls().is_empty(), "a local state needs no AWS call");
        assert_eq!(logs().iter().filter(|(_, m)| m.starts_with("tfstate: read")).count(), 1);
    }

    #[test]
    fn json_form_keeps_types() {
        let mut h = with_file_state("json");
        assert_eq!(h.call("tfstate#json", &["aws_acm_certificate.main.validation_method"]).unwrap(), r#""DNS""#);
        assert_eq!(h.call("tfstate#json", &["output.subnets"]).unwrap(), r#"["subnet-a","subnet-b"]"#);
        assert_eq!(h.call("tfstate#json", &["output.config.a.b"]).unwrap(), "1");
        assert_eq!(h.call("tfstate", &["output.config.a.b"]).unwrap(), "1");
    }

    #[test]
    fn error_texts() {
        let mut h = with_file_state("errors");
        assert_eq!(h.call("tfstate", &["aws_subnet.nope.id"]).unwrap_err(), "aws_subnet.nope.id is not found in tfstate");
        assert_eq!(h.call("tfstate", &["data.x['k'].id"]).unwrap_err(), r#"data.x["k"].id is not found in tfstate"#);
        let err = h.call("tfstate", &["aws_acm_certificate.main.validation_method.x"]).unwrap_err();
        assert!(err.starts_with("failed to lookup aws_acm_certificate.main.validation_method.x in tfstate: expected an object"), "{err}");
        assert_eq!(h.call("tfstate", &[]).unwrap_err(), "tfstate template function requires at least 1 parameters, but got 0");
    }

    #[test]
    fn missing_file_and_optional() {
        MockHost::new().with_config(json!({"path": "/nonexistent/terraform.tfstate"})).install();
        let mut h = Harness::<TfState>::new();
        let err = h.call("tfstate", &["output.x"]).unwrap_err();
        assert!(err.starts_with("failed to read tfstate from /nonexistent/terraform.tfstate: "), "{err}");

        MockHost::new().with_config(json!({"path": "/nonexistent/terraform.tfstate", "optional": true})).install();
        let mut h = Harness::<TfState>::new();
        assert_eq!(h.call("tfstate", &["output.x"]).unwrap(), "");
        assert_eq!(h.call("tfstatef#json", &["output.%s", "x"]).unwrap(), "null");
        assert!(logs().iter().any(|(_, m)| m.contains("optional")));
    }

    #[test]
    fn bad_config_surfaces_on_call() {
        MockHost::new().install();
        let mut h = Harness::<TfState>::new();
        assert_eq!(h.call("tfstate", &["output.x"]).unwrap_err(), "tfstate plugin requires path or url for tfstate location");
        MockHost::new().with_config(json!({"url": "gs://bucket/x.tfstate"})).install();
        let mut h = Harness::<TfState>::new();
        assert!(h.call("tfstate", &["output.x"]).unwrap_err().contains("URL scheme gs is not supported"));
    }

    #[test]
    fn s3_url_through_the_broker_once() {
        MockHost::new()
            .with_config(json!({"url": "s3://states/app/terraform.tfstate"}))
            .with_object("states", "app/terraform.tfstate", state::tests::STATE)
            .install();
        let mut h = Harness::<TfState>::new();
        assert_eq!(h.manifest().capabilities[0].resource, "arn:aws:s3:::states/app/terraform.tfstate");
        assert_eq!(h.call("tfstate", &["output.vpc_id"]).unwrap(), "vpc-1");
        assert_eq!(h.call("tfstate", &["aws_subnet.ab.id"]).unwrap(), "subnet-long");
        assert_eq!(calls(), vec!["s3:GetObject s3://states/app/terraform.tfstate"]);
    }

    #[test]
    fn s3_errors_are_cached_and_reported() {
        MockHost::new().with_config(json!({"url": "s3://states/missing.tfstate"})).install();
        let mut h = Harness::<TfState>::new();
        let err = h.call("tfstate", &["output.x"]).unwrap_err();
        assert!(err.starts_with("failed to read tfstate from s3://states/missing.tfstate: NoSuchKey"), "{err}");
        h.call("tfstate", &["output.y"]).unwrap_err();
        assert_eq!(calls().len(), 1);
    }

    #[test]
    fn follows_an_s3_backend_with_workspace() {
        let dir = temp_dir("backend");
        std::fs::write(
            dir.join("terraform.tfstate"),
            r#"{"version": 3, "backend": {"type": "s3", "config": {"bucket": "states", "key": "app.tfstate", "region": "us-east-1"}}}"#,
        )
        .unwrap();
        std::fs::write(dir.join("environment"), "stg").unwrap();
        MockHost::new()
            .with_config(json!({"path": dir.join("terraform.tfstate")}))
            .with_object("states", "env:/stg/app.tfstate", state::tests::STATE)
            .install();
        let mut h = Harness::<TfState>::new();
        assert_eq!(h.manifest().capabilities[0].resource, "*");
        assert_eq!(h.call("tfstate", &["output.vpc_id"]).unwrap(), "vpc-1");
        assert_eq!(calls(), vec!["s3:GetObject s3://states/env:/stg/app.tfstate"]);

        std::fs::write(dir.join("terraform.tfstate"), r#"{"version": 3, "backend": {"type": "gcs", "config": {}}}"#).unwrap();
        MockHost::new().with_config(json!({"path": dir.join("terraform.tfstate")})).install();
        let mut h = Harness::<TfState>::new();
        assert!(h.call("tfstate", &["output.vpc_id"]).unwrap_err().contains("backend type gcs is not supported"));
    }

    #[test]
    fn unsupported_version() {
        MockHost::new().with_config(json!({"url": "s3://b/k"})).with_object("b", "k", r#"{"version": 3, "resources": []}"#).install();
        let mut h = Harness::<TfState>::new();
        assert_eq!(h.call("tfstate", &["output.x"]).unwrap_err(), "failed to read tfstate from s3://b/k: unsupported state version 3");
    }

    /// A big state (2 000 resources × 5 instances) read once; 10 000 lookups must be fast.
    #[test]
    fn ten_thousand_lookups_are_fast() {
        let mut resources = Vec::new();
        for r in 0..2000 {
            let instances: Vec<_> = (0..5)
                .map(|i| json!({"index_key": i, "schema_version": 0, "attributes": {"id": format!("id-{r}-{i}"), "tags": {"Name": format!("n{r}")}, "list": [1, 2, 3]}}))
                .collect();
            resources.push(json!({"module": format!("module.m{}", r % 10), "mode": "managed", "type": "aws_thing", "name": format!("r{r}"), "each": "list", "instances": instances}));
        }
        let big = json!({"version": 4, "outputs": {}, "resources": resources}).to_string();
        MockHost::new().with_config(json!({"url": "s3://b/big"})).with_object("b", "big", big).install();
        let mut h = Harness::<TfState>::new();
        let t = Instant::now();
        assert_eq!(h.call("tfstate", &["module.m3.aws_thing.r3[4].id"]).unwrap(), "id-3-4");
        let load = t.elapsed();
        let t = Instant::now();
        for n in 0..10_000 {
            let r = n % 2000;
            let addr = format!("module.m{}.aws_thing.r{r}[{}].tags.Name", r % 10, n % 5);
            assert_eq!(h.call("tfstate", &[&addr]).unwrap(), format!("n{r}"));
        }
        let lookups = t.elapsed();
        eprintln!("load {load:?}, 10k lookups {lookups:?}");
        // The budget is for optimised code (the guest is built with opt-level "s"); an
        // unoptimised test build is about 10x slower.
        let budget = if cfg!(debug_assertions) { 1000 } else { 100 };
        assert!(lookups.as_millis() < budget, "10k lookups took {lookups:?}");
    }
}
