//! cortado's first-party `cloudformation` plugin: `{{ cfn_output "stack" "Key" }}` and
//! `{{ cfn_export "Name" }}`, with ecspresso's (cfn-lookup's) semantics and error texts.
//!
//! - `cfn_output STACK KEY`: the output KEY of STACK (`DescribeStacks`, cached per stack).
//! - `cfn_export NAME`: the value of the export NAME (`ListExports`, all pages, cached once).
//! - Capabilities: `cloudformation:DescribeStacks` and `cloudformation:ListExports` on `*`.
//! - No config.
use std::collections::HashMap;

use cortado_plugin_sdk::aws::{self, StackExport, StackOutput};
use cortado_plugin_sdk::{Manifest, Plugin, register_plugin};

struct CloudFormation {
    stacks: HashMap<String, Vec<StackOutput>>,
    exports: Option<Vec<StackExport>>,
}

impl CloudFormation {
    fn output(&mut self, stack: &str, key: &str) -> Result<String, String> {
        if !self.stacks.contains_key(stack) {
            let outputs = aws::cloudformation_describe_stack_outputs(stack).map_err(|e| format!("failed to describe stacks {stack}: {}", e.message()))?;
            self.stacks.insert(stack.to_owned(), outputs);
        }
        self.stacks[stack].iter().find(|o| o.key == key).map(|o| o.value.clone()).ok_or_else(|| format!("outputKey {key} is not found in stack {stack}"))
    }

    fn export(&mut self, name: &str) -> Result<String, String> {
        if self.exports.is_none() {
            let exports = aws::cloudformation_list_exports().map_err(|e| format!("failed to list exports: {}", e.message()))?;
            self.exports = Some(exports);
        }
        self.exports.as_ref().into_iter().flatten().find(|e| e.name == name).map(|e| e.value.clone()).ok_or_else(|| format!("{name} is not found in exports"))
    }
}

impl Plugin for CloudFormation {
    fn new() -> Self {
        CloudFormation { stacks: HashMap::new(), exports: None }
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("cloudformation", env!("CARGO_PKG_VERSION"))
            .description("CloudFormation stack outputs and exports (ecspresso's cloudformation plugin)")
            .function("cfn_output", 2, 2, "cfn_output STACK KEY: an output value of a stack")
            .function("cfn_export", 1, 1, "cfn_export NAME: the value of an exported output")
            .capability("cloudformation:DescribeStacks", "*")
            .capability("cloudformation:ListExports", "*")
    }

    fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
        match function {
            "cfn_output" => {
                let (stack, key) = (&args[0], &args[1]);
                self.output(stack, key).map_err(|e| format!("failed to lookup {key} in stack {stack}: {e}"))
            }
            "cfn_export" => {
                let name = &args[0];
                self.export(name).map_err(|e| format!("failed to lookup {name} in exports: {e}"))
            }
            other => Err(format!("function {other} is not provided by this plugin")),
        }
    }
}

register_plugin!(CloudFormation);

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::testing::{Harness, MockHost, calls};

    fn host() -> MockHost {
        MockHost::new()
            .with_stack("network", &[("VpcId", "vpc-123"), ("SubnetA", "subnet-a")])
            .with_export("network-VpcId", "vpc-123")
            .with_export("other", "x")
    }

    #[test]
    fn outputs_cached_per_stack() {
        host().install();
        let mut h = Harness::<CloudFormation>::new();
        assert_eq!(h.call("cfn_output", &["network", "VpcId"]).unwrap(), "vpc-123");
        assert_eq!(h.call("cfn_output", &["network", "SubnetA"]).unwrap(), "subnet-a");
        assert_eq!(
            h.call("cfn_output", &["network", "Nope"]).unwrap_err(),
            "failed to lookup Nope in stack network: outputKey Nope is not found in stack network"
        );
        assert_eq!(calls(), vec!["cloudformation:DescribeStacks network"]);
        let err = h.call("cfn_output", &["missing", "VpcId"]).unwrap_err();
        assert!(err.starts_with("failed to lookup VpcId in stack missing: failed to describe stacks missing: "), "{err}");
    }

    #[test]
    fn exports_listed_once() {
        host().install();
        let mut h = Harness::<CloudFormation>::new();
        assert_eq!(h.call("cfn_export", &["network-VpcId"]).unwrap(), "vpc-123");
        assert_eq!(h.call("cfn_export", &["other"]).unwrap(), "x");
        assert_eq!(h.call("cfn_export", &["nope"]).unwrap_err(), "failed to lookup nope in exports: nope is not found in exports");
        assert_eq!(calls(), vec!["cloudformation:ListExports"]);
    }

    #[test]
    fn list_failure_is_retried_next_time() {
        MockHost::new().failing("cloudformation:ListExports").install();
        let mut h = Harness::<CloudFormation>::new();
        let err = h.call("cfn_export", &["x"]).unwrap_err();
        assert!(err.starts_with("failed to lookup x in exports: failed to list exports: "), "{err}");
        h.call("cfn_export", &["x"]).unwrap_err();
        assert_eq!(calls().len(), 2);
    }

    #[test]
    fn arity() {
        let mut h = Harness::<CloudFormation>::new();
        assert_eq!(h.call("cfn_output", &["only"]).unwrap_err(), "cfn_output template function requires at least 2 parameters, but got 1");
    }
}
