//! First-party plugins bundled with cortado (ecspresso's four), and the template functions each one
//! registers. `(name, required args, optional args)` also gives the Jsonnet native signature.

pub struct FirstParty {
    pub name: &'static str,
    pub functions: &'static [&'static str],
    pub signatures: &'static [(&'static str, usize, usize)],
    /// Implements the verifier hook.
    pub verifier: bool,
    /// Implements the gate hook.
    pub gate: bool,
}

/// ecspresso's `external` plugin: a host command, not a component (see [`super::external`]).
pub const EXTERNAL: &str = "external";

/// Loaded for every config, before the configured plugins (as ecspresso does).
pub const DEFAULT_PLUGINS: &[&str] = &["ssm", "secretsmanager"];

/// First-party plugins whose manifest declares the gate hook but which gate only when their config
/// sets `enforcement:` (image-policy: a verifier first, so configs using it that way keep their
/// behaviour).
pub const OPT_IN_GATES: &[&str] = &["image-policy"];

pub const FIRST_PARTY: &[FirstParty] = &[
    FirstParty { name: "ssm", functions: &["ssm"], signatures: &[("ssm", 1, 1)], verifier: false, gate: false },
    FirstParty { name: "secretsmanager", functions: &["secretsmanager_arn"], signatures: &[("secretsmanager_arn", 1, 0)], verifier: false, gate: false },
    FirstParty { name: "tfstate", functions: &["tfstate", "tfstatef"], signatures: &[("tfstate", 1, 0), ("tfstatef", 1, 8)], verifier: false, gate: false },
    FirstParty {
        name: "cloudformation",
        functions: &["cfn_output", "cfn_export"],
        signatures: &[("cfn_output", 2, 0), ("cfn_export", 1, 0)],
        verifier: false,
        gate: false,
    },
    FirstParty { name: "image-policy", functions: &[], signatures: &[], verifier: true, gate: false },
    FirstParty { name: "change-freeze", functions: &[], signatures: &[], verifier: false, gate: true },
    // A stage gate: judges a canary from CloudWatch metrics (plugins/canary-analysis).
    FirstParty { name: "canary-analysis", functions: &[], signatures: &[], verifier: false, gate: true },
    // Supply chain (issue 26): cosign signatures of the images a plan runs (plugins/image-signature).
    FirstParty { name: "image-signature", functions: &[], signatures: &[], verifier: false, gate: true },
    // Its function is named by its config; no hooks, never a component.
    FirstParty { name: EXTERNAL, functions: &[], signatures: &[], verifier: false, gate: false },
];

/// Does this first-party function also answer as `NAME#json` (the value as typed JSON)? Jsonnet's
/// native then gets numbers, booleans, lists and objects with their types.
pub fn has_json_form(plugin: &str, function: &str) -> bool {
    plugin.eq_ignore_ascii_case("tfstate") && matches!(function, "tfstate" | "tfstatef")
}

/// Looks a first-party plugin up by name, case-insensitively as ecspresso does.
pub fn first_party(name: &str) -> Option<&'static FirstParty> {
    FIRST_PARTY.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

pub fn names() -> Vec<&'static str> {
    FIRST_PARTY.iter().map(|p| p.name).collect()
}
