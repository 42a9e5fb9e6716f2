//! Where the state comes from: the plugin config (`path` or `url`), reading it (a file through
//! WASI, an S3 object or a Terraform Cloud / HTTP state through the host's brokers), and following a
//! local state's `backend "s3"` block.

use serde_json::{Map, Value};

use crate::state::{self, Parsed, State};

#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A path the guest can open (the host preopens its directory read-only).
    File(String),
    S3 {
        bucket: String,
        key: String,
    },
    /// `remote://HOST/ORG/WORKSPACE` or `http(s)://…`, fetched by the host (which holds any token).
    Url(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{p}"),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Url(u) => write!(f, "{u}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub location: Location,
    /// ecspresso's `optional: true`: a state that cannot be read is treated as empty.
    pub optional: bool,
    /// The Terraform workspace for a state reached through a backend block (default: the
    /// `environment` file next to a local state, else `default`). ecspresso reads `TF_WORKSPACE`,
    /// which a sandboxed plugin cannot see: set it here instead.
    pub workspace: Option<String>,
}

pub const SUPPORTED: &str = "s3://BUCKET/KEY, remote://HOST/ORG/WORKSPACE, http(s)://URL and file://PATH (or a plain path)";

/// The source from the plugin's config, with ecspresso's error texts.
pub fn from_config(config: &Value) -> Result<Source, String> {
    let empty = Map::new();
    let o = config.as_object().unwrap_or(&empty);
    let present = |k: &str| o.get(k).filter(|v| !v.is_null());
    let location = if let Some(p) = present("path") {
        let p = p.as_str().ok_or("tfstate plugin requires path for tfstate file as a string")?;
        Location::File(p.to_owned())
    } else if let Some(u) = present("url") {
        let u = u.as_str().ok_or("tfstate plugin requires url for tfstate URL as a string")?;
        parse_url(u)?
    } else {
        return Err("tfstate plugin requires path or url for tfstate location".into());
    };
    let optional = match present("optional") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("tfstate plugin: optional must be a bool, got {}", go_type(other))),
    };
    let workspace = match present("workspace") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("tfstate plugin: workspace must be a non-empty string".into()),
    };
    Ok(Source { location, optional, workspace })
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

pub fn parse_url(url: &str) -> Result<Location, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(Location::File(url.to_owned()));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "s3" => match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.trim_start_matches('/').is_empty() => {
                Ok(Location::S3 { bucket: bucket.to_owned(), key: key.trim_start_matches('/').to_owned() })
            }
            _ => Err(format!("invalid S3 URL {url}: expected s3://BUCKET/KEY")),
        },
        "file" => Ok(Location::File(rest.to_owned())),
        "remote" => match rest.split('/').filter(|p| !p.is_empty()).count() {
            3 => Ok(Location::Url(url.to_owned())),
            _ => Err(format!("invalid remote URL {url}: expected remote://HOST/ORGANIZATION/WORKSPACE")),
        },
        "http" | "https" => Ok(Location::Url(url.to_owned())),
        other => Err(format!("failed to read tfstate from {url}: URL scheme {other} is not supported by cortado's tfstate plugin (supported: {SUPPORTED})")),
    }
}

/// Reads one location's bytes.
pub fn read(location: &Location) -> Result<Vec<u8>, String> {
    match location {
        Location::File(path) => std::fs::read(path).map_err(|e| format!("failed to read tfstate from {path}: {e}")),
        Location::S3 { bucket, key } => {
            cortado_plugin_sdk::aws::s3_get_object(bucket, key).map_err(|e| format!("failed to read tfstate from s3://{bucket}/{key}: {}", e.message()))
        }
        Location::Url(url) => cortado_plugin_sdk::aws::fetch_state(url).map_err(|e| format!("failed to read tfstate from {url}: {}", e.message())),
    }
}

/// The workspace in effect for a state reached from `location`.
fn workspace_for(source: &Source, location: &Location) -> String {
    if let Some(ws) = &source.workspace {
        return ws.clone();
    }
    if let Location::File(path) = location {
        let dir = match path.rfind('/') {
            Some(i) => &path[..i],
            None => ".",
        };
        if let Ok(ws) = std::fs::read_to_string(format!("{dir}/environment")) {
            let ws = ws.trim();
            if !ws.is_empty() {
                return ws.to_owned();
            }
        }
    }
    "default".to_owned()
}

/// The object an `s3` backend block points at, for `workspace`.
pub fn s3_backend_location(config: &Map<String, Value>, workspace: &str) -> Result<Location, String> {
    let s = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (bucket, mut key) = (s("bucket"), s("key"));
    if bucket.is_empty() || key.is_empty() {
        return Err("the s3 backend block has no bucket or key".into());
    }
    if workspace != "default" {
        let prefix = config.get("workspace_key_prefix").and_then(Value::as_str).unwrap_or("env:");
        key = [prefix, workspace, key.as_str()].iter().flat_map(|p| p.split('/')).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/");
    }
    Ok(Location::S3 { bucket, key })
}

/// Reads and parses the state, following backend blocks (s3 only) up to a few hops.
pub fn load(source: &Source) -> Result<State, String> {
    let mut location = source.location.clone();
    let mut workspace = workspace_for(source, &location);
    for _ in 0..4 {
        let bytes = read(&location)?;
        match state::parse(&bytes).map_err(|e| format!("failed to read tfstate from {location}: {e}"))? {
            Parsed::State(s) => return Ok(s),
            Parsed::Backend { kind, config } => {
                if kind != "s3" {
                    return Err(format!(
                        "failed to read tfstate from {location}: backend type {kind} is not supported (cortado's tfstate plugin follows s3 backends)"
                    ));
                }
                if config.get("role_arn").and_then(Value::as_str).is_some_and(|r| !r.is_empty()) {
                    cortado_plugin_sdk::host::warn(
                        "tfstate: the s3 backend's role_arn is not assumed; the state is read with cortado's credentials, within this plugin's grants",
                    );
                }
                location = s3_backend_location(&config, &workspace).map_err(|e| format!("failed to read tfstate from {location}: {e}"))?;
                // A state reached through a backend is read for the default workspace, as
                // tfstate-lookup does.
                workspace = "default".to_owned();
            }
        }
    }
    Err(format!("failed to read tfstate from {}: too many backend hops", source.location))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_errors_are_ecspresso_texts() {
        assert_eq!(from_config(&Value::Null).unwrap_err(), "tfstate plugin requires path or url for tfstate location");
        assert_eq!(from_config(&json!({})).unwrap_err(), "tfstate plugin requires path or url for tfstate location");
        assert_eq!(from_config(&json!({"path": 1})).unwrap_err(), "tfstate plugin requires path for tfstate file as a string");
        assert_eq!(from_config(&json!({"url": true})).unwrap_err(), "tfstate plugin requires url for tfstate URL as a string");
        assert_eq!(from_config(&json!({"path": "x", "optional": "yes"})).unwrap_err(), "tfstate plugin: optional must be a bool, got string");
    }

    #[test]
    fn config_locations() {
        let s = from_config(&json!({"path": "/state/terraform.tfstate"})).unwrap();
        assert_eq!(s.location, Location::File("/state/terraform.tfstate".into()));
        assert!(!s.optional);
        let s = from_config(&json!({"url": "s3://my-bucket/path/to/terraform.tfstate", "optional": true})).unwrap();
        assert_eq!(s.location, Location::S3 { bucket: "my-bucket".into(), key: "path/to/terraform.tfstate".into() });
        assert!(s.optional);
        assert_eq!(from_config(&json!({"url": "file:///a/b"})).unwrap().location, Location::File("/a/b".into()));
        assert_eq!(from_config(&json!({"url": "rel/b.tfstate"})).unwrap().location, Location::File("rel/b.tfstate".into()));
        // path wins over url, as in ecspresso.
        assert_eq!(from_config(&json!({"path": "p", "url": "s3://b/k"})).unwrap().location, Location::File("p".into()));
    }

    #[test]
    fn unsupported_schemes_say_what_is() {
        for url in ["gs://b/k", "azurerm://rg/acct/c/blob"] {
            let err = from_config(&json!({ "url": url })).unwrap_err();
            assert!(err.contains("is not supported") && err.contains("s3://BUCKET/KEY") && err.contains(url), "{err}");
        }
        assert_eq!(parse_url("remote://app.terraform.io/org/ws").unwrap(), Location::Url("remote://app.terraform.io/org/ws".into()));
        assert_eq!(parse_url("https://example.com/t.tfstate").unwrap(), Location::Url("https://example.com/t.tfstate".into()));
        assert!(parse_url("remote://app.terraform.io/org").is_err());
        assert!(parse_url("s3://bucket").is_err());
        assert!(parse_url("s3:///key").is_err());
    }

    #[test]
    fn backend_keys_with_workspaces() {
        let cfg = json!({"bucket": "b", "key": "app/terraform.tfstate"});
        let cfg = cfg.as_object().unwrap();
        assert_eq!(s3_backend_location(cfg, "default").unwrap(), Location::S3 { bucket: "b".into(), key: "app/terraform.tfstate".into() });
        assert_eq!(s3_backend_location(cfg, "stg").unwrap(), Location::S3 { bucket: "b".into(), key: "env:/stg/app/terraform.tfstate".into() });
        let cfg = json!({"bucket": "b", "key": "t.tfstate", "workspace_key_prefix": "workspaces/"});
        assert_eq!(
            s3_backend_location(cfg.as_object().unwrap(), "prod").unwrap(),
            Location::S3 { bucket: "b".into(), key: "workspaces/prod/t.tfstate".into() }
        );
        assert!(s3_backend_location(json!({"bucket": "b"}).as_object().unwrap(), "default").is_err());
    }
}
