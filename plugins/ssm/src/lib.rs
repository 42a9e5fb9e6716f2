//! cortado's first-party `ssm` plugin: `{{ ssm "/name" }}` and `{{ ssm "/list" 1 }}`, with
//! ecspresso's semantics.
//!
//! - `ssm NAME [INDEX]`: `GetParameter(NAME, WithDecryption)` through the host broker, cached per
//!   name for the whole run. `String`/`SecureString` → the value (an index is an error);
//!   `StringList` → the INDEX-th (0-based) element of the comma-separated value (an index is
//!   required; out of range is an error).
//! - Capability: `ssm:GetParameter` on `*` (the operator narrows it in `grants:`).
//! - No config.
mod lookup;

use std::collections::HashMap;

use cortado_plugin_sdk::aws::{self, Parameter};
use cortado_plugin_sdk::{Manifest, Plugin, register_plugin};

struct Ssm {
    cache: HashMap<String, Parameter>,
}

impl Ssm {
    fn parameter(&mut self, name: &str) -> Result<&Parameter, String> {
        if !self.cache.contains_key(name) {
            let p = aws::ssm_get_parameter(name, true).map_err(|e| format!("something went wrong calling get-parameter API: {}", e.message()))?;
            self.cache.insert(name.to_owned(), p);
        }
        Ok(&self.cache[name])
    }
}

impl Plugin for Ssm {
    fn new() -> Self {
        Ssm { cache: HashMap::new() }
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("ssm", env!("CARGO_PKG_VERSION"))
            .description("SSM Parameter Store values (ecspresso's ssm plugin)")
            .function("ssm", 1, 2, "ssm NAME [INDEX]: a parameter's value; INDEX picks an element of a StringList")
            .capability("ssm:GetParameter", "*")
    }

    fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
        if function != "ssm" {
            return Err(format!("function {function} is not provided by this plugin"));
        }
        if args.len() > 2 {
            return Err(format!("ssm template function accepts at most 2 parameters, but got {}", args.len()));
        }
        let p = self.parameter(&args[0])?;
        lookup::select(&p.name, &p.type_, &p.value, args.get(1).map(String::as_str))
    }
}

register_plugin!(Ssm);

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::testing::{Harness, MockHost, calls};

    fn host() -> MockHost {
        MockHost::new()
            .with_parameter("/string", "String", "string value")
            .with_parameter("/stringlist", "StringList", "stringlist value 1,stringlist value 2")
            .with_parameter("/securestring", "SecureString", "securestring value")
    }

    #[test]
    fn values_and_cache() {
        host().install();
        let mut h = Harness::<Ssm>::new();
        assert_eq!(h.call("ssm", &["/string"]).unwrap(), "string value");
        assert_eq!(h.call("ssm", &["/stringlist", "0"]).unwrap(), "stringlist value 1");
        assert_eq!(h.call("ssm", &["/stringlist", "1"]).unwrap(), "stringlist value 2");
        assert_eq!(h.call("ssm", &["/securestring"]).unwrap(), "securestring value");
        assert_eq!(h.call("ssm", &["/string"]).unwrap(), "string value");
        assert_eq!(calls(), vec!["ssm:GetParameter /string", "ssm:GetParameter /stringlist", "ssm:GetParameter /securestring"]);
    }

    #[test]
    fn ecspresso_error_texts() {
        host().install();
        let mut h = Harness::<Ssm>::new();
        assert_eq!(h.call("ssm", &["/stringlist", "0", "1"]).unwrap_err(), "ssm template function accepts at most 2 parameters, but got 3");
        assert_eq!(
            h.call("ssm", &["/string", "0"]).unwrap_err(),
            "the second argument is supported only for StringList type, but the parameter /string is of type String"
        );
        assert_eq!(h.call("ssm", &["/stringlist"]).unwrap_err(), "the second argument is required for StringList type parrameter to specify the index");
        assert_eq!(
            h.call("ssm", &["/stringlist", "2"]).unwrap_err(),
            "StringList values were [stringlist value 1 stringlist value 2], but the index 2 is out of range"
        );
    }

    #[test]
    fn aws_errors_are_not_cached() {
        MockHost::new().denying("ssm:GetParameter").install();
        let mut h = Harness::<Ssm>::new();
        let err = h.call("ssm", &["/x"]).unwrap_err();
        assert!(err.starts_with("something went wrong calling get-parameter API: "), "{err}");
        assert!(err.contains("not granted"), "{err}");
        let err = h.call("ssm", &["/x"]).unwrap_err();
        assert!(err.contains("not granted"), "{err}");
        assert_eq!(calls().len(), 2);
    }

    #[test]
    fn missing_parameter() {
        MockHost::new().install();
        let mut h = Harness::<Ssm>::new();
        let err = h.call("ssm", &["/nope"]).unwrap_err();
        assert!(err.starts_with("something went wrong calling get-parameter API: ParameterNotFound"), "{err}");
    }

    #[test]
    fn manifest() {
        let h = Harness::<Ssm>::new();
        let f = h.manifest().find_function("ssm").unwrap();
        assert_eq!((f.min_args, f.max_args), (1, 2));
        assert_eq!(h.manifest().capabilities[0].action, "ssm:GetParameter");
    }
}
