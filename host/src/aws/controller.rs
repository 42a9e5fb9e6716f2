//! How a service deploys: its deployment controller (`deploymentController.type`) and, under the
//! ECS controller, its strategy (`deploymentConfiguration.strategy`). Read here once, typed, instead
//! of comparing strings wherever a command branches on them.

use std::fmt;

use serde_json::Value;

/// `deploymentController.type`; ECS when unset, as ECS itself defaults it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Controller {
    Ecs,
    CodeDeploy,
    External,
    /// A controller this build does not know; kept by name so that messages can show it.
    Other(String),
}

impl Controller {
    /// The controller of a service (as ECS returns it, or a service definition).
    pub fn of(service: &Value) -> Controller {
        match service.pointer("/deploymentController/type").and_then(Value::as_str) {
            None | Some("ECS") => Controller::Ecs,
            Some("CODE_DEPLOY") => Controller::CodeDeploy,
            Some("EXTERNAL") => Controller::External,
            Some(other) => Controller::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Controller::Ecs => "ECS",
            Controller::CodeDeploy => "CODE_DEPLOY",
            Controller::External => "EXTERNAL",
            Controller::Other(s) => s,
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `deploymentConfiguration.strategy`; ROLLING when unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
    /// A strategy this build does not know; treated as neither rolling nor native.
    Other(String),
}

impl Strategy {
    /// The strategy of a service, or of a service deployment (DescribeServiceDeployments carries
    /// the same `deploymentConfiguration`).
    pub fn of(service: &Value) -> Strategy {
        match service.pointer("/deploymentConfiguration/strategy").and_then(Value::as_str) {
            None | Some("ROLLING") => Strategy::Rolling,
            Some("BLUE_GREEN") => Strategy::BlueGreen,
            Some("LINEAR") => Strategy::Linear,
            Some("CANARY") => Strategy::Canary,
            Some(other) => Strategy::Other(other.to_owned()),
        }
    }

    /// The native strategies: ECS shifts traffic and reports lifecycle stages for these.
    pub fn is_native(&self) -> bool {
        matches!(self, Strategy::BlueGreen | Strategy::Linear | Strategy::Canary)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Linear => "LINEAR",
            Strategy::Canary => "CANARY",
            Strategy::Other(s) => s,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn controllers_default_to_ecs() {
        assert_eq!(Controller::of(&json!({})), Controller::Ecs);
        assert_eq!(Controller::of(&json!({"deploymentController": {"type": "ECS"}})), Controller::Ecs);
        assert_eq!(Controller::of(&json!({"deploymentController": {"type": "CODE_DEPLOY"}})), Controller::CodeDeploy);
        assert_eq!(Controller::of(&json!({"deploymentController": {"type": "EXTERNAL"}})), Controller::External);
        assert_eq!(Controller::of(&json!({"deploymentController": {"type": "NEW"}})).to_string(), "NEW");
    }

    #[test]
    fn strategies_default_to_rolling_and_three_are_native() {
        assert_eq!(Strategy::of(&json!({})), Strategy::Rolling);
        assert!(!Strategy::of(&json!({"deploymentConfiguration": {"maximumPercent": 200}})).is_native());
        for (s, native) in [("ROLLING", false), ("BLUE_GREEN", true), ("LINEAR", true), ("CANARY", true), ("FUTURE", false)] {
            let st = Strategy::of(&json!({"deploymentConfiguration": {"strategy": s}}));
            assert_eq!(st.is_native(), native, "{s}");
            assert_eq!(st.to_string(), s);
        }
    }
}
