//! Host services every plugin may use: logging and the plugin's own `config:` block.

use serde::de::DeserializeOwned;

pub use crate::Level;

/// Writes a line to cortado's log, attributed to this plugin.
pub fn log(level: Level, message: &str) {
    crate::sys::log(level, message)
}

pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref())
}

pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref())
}

pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref())
}

pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref())
}

/// The plugin's `config:` block as JSON text, exactly as the host passed it (`null` when absent).
pub fn config_json() -> String {
    crate::sys::config()
}

/// The plugin's `config:` block as a JSON value (`Value::Null` when absent).
pub fn config_value() -> Result<serde_json::Value, String> {
    let raw = config_json();
    if raw.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&raw).map_err(|e| format!("the plugin config is not valid JSON: {e}"))
}

/// The plugin's `config:` block deserialized into `T`.
///
/// An absent block (`null`) deserializes as `T` from `null` if `T` accepts it (an `Option`, `()`),
/// else as `T` from `{}`, so a struct whose fields all have `#[serde(default)]` works without a
/// config. Errors name the offending field.
pub fn config<T: DeserializeOwned>() -> Result<T, String> {
    parse_config(config_value()?)
}

pub(crate) fn parse_config<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    if value.is_null() {
        if let Ok(t) = serde_json::from_value::<T>(serde_json::Value::Null) {
            return Ok(t);
        }
        return serde_json::from_value::<T>(serde_json::Value::Object(Default::default())).map_err(|e| format!("the plugin needs a config: {e}"));
    }
    serde_json::from_value::<T>(value).map_err(|e| format!("invalid plugin config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    struct Defaults {
        #[serde(default)]
        flag: bool,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[allow(dead_code)]
    struct Required {
        path: String,
    }

    #[test]
    fn null_config_uses_defaults() {
        assert_eq!(parse_config::<Defaults>(serde_json::Value::Null).unwrap(), Defaults { flag: false });
        assert_eq!(parse_config::<Option<Defaults>>(serde_json::Value::Null).unwrap(), None);
    }

    #[test]
    fn null_config_with_required_field_says_so() {
        let err = parse_config::<Required>(serde_json::Value::Null).unwrap_err();
        assert!(err.contains("missing field `path`"), "{err}");
    }

    #[test]
    fn wrong_type_is_reported() {
        let err = parse_config::<Defaults>(serde_json::json!({"flag": "yes"})).unwrap_err();
        assert!(err.starts_with("invalid plugin config: "), "{err}");
    }

    #[test]
    fn config_comes_from_the_host() {
        crate::testing::MockHost::new().with_config(serde_json::json!({"flag": true})).install();
        assert_eq!(config::<Defaults>().unwrap(), Defaults { flag: true });
        crate::testing::MockHost::new().install();
        assert_eq!(config::<Defaults>().unwrap(), Defaults { flag: false });
    }
}
