//! ECS lifecycle hook stages: where a hook (and so a stage gate) can stop a service deployment.

/// The stages a lifecycle hook can be bound to (PRE_PRODUCTION_TRAFFIC_SHIFT is a hook stage, not
/// a deployment stage; it runs while the deployment reports PRODUCTION_TRAFFIC_SHIFT).
pub const HOOK_STAGES: [&str; 8] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// Hook stages where ECS refuses PAUSE hooks (they also run during a rollback).
pub const NO_PAUSE: [&str; 2] = ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"];
