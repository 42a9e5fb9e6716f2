//! # cortado-plugin-sdk
//!
//! Write plugins for cortado (an ECS deploy tool, a successor of ecspresso) — template functions,
//! extra `verify` checks and deploy gates — as sandboxed WebAssembly components. The SDK owns the component glue generated
//! from `wit/plugin.wit` (the contract with the host); a plugin author implements one trait,
//! [`Plugin`], with only the methods the plugin needs, and registers the type with
//! [`register_plugin!`].
//!
//! ## A resolver (template functions)
//!
//! ```
//! use cortado_plugin_sdk::{host, register_plugin, Manifest, Plugin};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Default)]
//! struct Config {
//!     #[serde(default)]
//!     greeting: Option<String>,
//! }
//!
//! struct Hello {
//!     greeting: String,
//!     calls: u32, // state lives as long as the plugin instance: one per cortado run
//! }
//!
//! impl Plugin for Hello {
//!     fn new() -> Self {
//!         let config: Config = host::config().unwrap_or_default();
//!         Hello { greeting: config.greeting.unwrap_or_else(|| "hello".into()), calls: 0 }
//!     }
//!
//!     fn manifest(&self) -> Manifest {
//!         Manifest::new("hello", env!("CARGO_PKG_VERSION"))
//!             .description("greets people")
//!             // {{ hello "world" }} or {{ hello "world" "!" }}: one required argument, at most two.
//!             .function("hello", 1, 2, "greets its first argument")
//!     }
//!
//!     fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
//!         // The SDK has already checked that `function` is declared and that `args.len()` is
//!         // within its [min, max], so indexing up to `min - 1` cannot panic.
//!         self.calls += 1;
//!         host::debug(format!("{function} called {} times", self.calls));
//!         let suffix = args.get(1).map(String::as_str).unwrap_or("");
//!         Ok(format!("{} {}{suffix}", self.greeting, args[0]))
//!     }
//! }
//!
//! register_plugin!(Hello);
//! ```
//!
//! ## A verifier and a gate
//!
//! ```
//! use cortado_plugin_sdk::{register_plugin, taskdef, Check, Decision, Manifest, Plan, Plugin};
//!
//! struct Policy;
//!
//! impl Plugin for Policy {
//!     fn new() -> Self {
//!         Policy
//!     }
//!
//!     fn manifest(&self) -> Manifest {
//!         Manifest::new("policy", "0.1.0").verifier().gate()
//!     }
//!
//!     // `cortado verify` shows these checks under the plugin's name.
//!     fn verify(&mut self, task_definition: &str, _service_definition: Option<&str>) -> Vec<Check> {
//!         match taskdef::containers(task_definition) {
//!             Err(e) => vec![Check::ng("TaskDefinition", e)],
//!             Ok(containers) => containers
//!                 .iter()
//!                 .map(|c| match c.image.contains(":latest") {
//!                     true => Check::ng(format!("image[{}]", c.name), "the latest tag is not allowed"),
//!                     false => Check::ok(format!("image[{}]", c.name), ""),
//!                 })
//!                 .collect(),
//!         }
//!     }
//!
//!     // Asked before anything changes (deploy, scale, rollback, delete, run, ...). `plan.steps`
//!     // are the exact requests that will be sent (see the `steps` module).
//!     fn evaluate(&mut self, plan: &Plan) -> Decision {
//!         for run in plan.steps_for("ecs", "RunTask") {
//!             if run.input().pointer("/networkConfiguration/awsvpcConfiguration/assignPublicIp") == Some(&"ENABLED".into()) {
//!                 return Decision::Deny(vec!["tasks get no public IP".into()]);
//!             }
//!         }
//!         match (plan.command.as_str(), plan.desired_count) {
//!             ("delete", _) => Decision::Deny(vec!["services are not deleted from CI".into()]),
//!             (_, Some(0)) => Decision::Warn(vec!["scaling to zero".into()]),
//!             _ => Decision::Allow,
//!         }
//!     }
//! }
//!
//! register_plugin!(Policy);
//! ```
//!
//! ## Building
//!
//! A plugin is an ordinary library crate compiled as a `cdylib` for the `wasm32-wasip2` target;
//! rustc's wasm32-wasip2 linker already emits a **component**, so there is no extra
//! `wasm-tools component new` step:
//!
//! ```toml
//! [package]
//! name = "my-plugin"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]      # a .wasm component, not an rlib
//!
//! [dependencies]
//! cortado-plugin-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }   # only if you read a config
//!
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! codegen-units = 1
//! panic = "abort"
//! strip = true
//! ```
//!
//! `rustup target add wasm32-wasip2` once, then
//! `cargo build --target wasm32-wasip2 --release` is all an author runs; the component is
//! `target/wasm32-wasip2/release/my_plugin.wasm`. Point cortado at it with `path:` and pin it with
//! `sha256:` in the `plugins:` list, and grant it what its manifest asks for in `grants:`.
//!
//! ## What a plugin can reach
//!
//! Nothing but its own memory and what the host hands it: [`host::log`], its [`host::config`]
//! block, directories the operator preopened read-only (through `std::fs`), and brokered read-only
//! AWS calls in [`aws`] and [`metrics`], each checked against the operator's grants (a call outside them returns
//! [`aws::AwsError::Denied`] without reaching AWS). No network, no environment variables, no clock
//! beyond what WASI gives, and CPU time and memory are limited. A panic traps the instance: prefer
//! returning `Err`.
//!
//! ## Testing natively
//!
//! The bindings build on any target. Outside wasm32, host calls go to the [`testing`] mock, so the
//! plugin's logic can be unit-tested with a plain `cargo test` on the build machine (see
//! [`testing::MockHost`] and [`testing::Harness`]).

// Lets the generated bindings name this crate the same way from inside and from a plugin crate.
extern crate self as cortado_plugin_sdk;

/// The component glue, generated from `wit/plugin.wit` by `scripts/gen-sdk-bindings.sh` (the
/// wit-bindgen CLI): ahead of time, so that no build compiles wit-bindgen's generator.
#[doc(hidden)]
#[rustfmt::skip]
#[allow(clippy::all)] // generated: clippy never saw the macro's expansion either
pub mod bindings;

/// Re-exported for parsing the JSON documents verifiers and gates receive.
pub use serde_json;

pub mod aws;
pub mod host;
pub mod metrics;
pub mod registry;
pub mod steps;
pub mod taskdef;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod time;

mod runtime;
mod sys;

pub use bindings::cortado::plugin::types::{Capability, Check, CheckStatus, Decision, FunctionSpec, Hook, Level, Manifest, Plan, Stage, Step};

/// A cortado plugin. Implement [`Plugin::new`] and [`Plugin::manifest`], and whichever of the
/// hooks the manifest declares; then `register_plugin!(YourType)`.
///
/// The host keeps one instance per plugin for a whole cortado run, and the SDK creates your value
/// lazily on the first call into the component, so state (caches, a parsed state file) persists
/// across calls. Calls never overlap.
pub trait Plugin: 'static {
    /// Creates the plugin. Called once per instance, before the first export runs; host imports
    /// ([`host::config`], [`aws`]) may be used here.
    fn new() -> Self
    where
        Self: Sized;

    /// What the plugin provides and asks for. Called once; the SDK caches the result and uses it
    /// to check calls (unknown function, argument count) before they reach [`Plugin::call`].
    fn manifest(&self) -> Manifest;

    /// A template function call (`{{ name "arg" ... }}` or a Jsonnet native function). `function`
    /// is declared in the manifest and `args.len()` is within its `min_args..=max_args`.
    fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {
        let _ = args;
        Err(format!("function {function} is not provided by this plugin"))
    }

    /// Extra `verify` checks for the rendered task definition (and service definition, when the
    /// config has one), both as JSON.
    fn verify(&mut self, task_definition: &str, service_definition: Option<&str>) -> Vec<Check> {
        let _ = (task_definition, service_definition);
        Vec::new()
    }

    /// A policy decision before anything changes.
    fn evaluate(&mut self, plan: &Plan) -> Decision {
        let _ = plan;
        Decision::Allow
    }
}

/// Registers the type implementing [`Plugin`] as the component's implementation of the contract.
/// Use it exactly once per plugin crate, at module level.
///
/// On wasm32 it exports the world's functions (`manifest`, `resolver`, `verifier`, `gate`); on
/// other targets it only checks that the type implements [`Plugin`], so the crate still builds for
/// native unit tests.
#[macro_export]
macro_rules! register_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __CortadoPluginComponent = $crate::__private::Component<$plugin>;
    $crate::bindings::__export_plugin_world!(__CortadoPluginComponent with_types_in $crate::bindings);
        };
        const _: fn() -> $plugin = <$plugin as $crate::Plugin>::new;
    };
}

/// Logs at debug level through the host: `cortado_plugin_sdk::debug!("x = {x}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs at info level through the host: `cortado_plugin_sdk::info!("read {n} resources")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs at warn level through the host.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs at error level through the host.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::host::log($crate::Level::Error, &::std::format!($($arg)*)) };
}

impl Manifest {
    /// A manifest with a name and version (use `env!("CARGO_PKG_VERSION")`), no functions, hooks or
    /// capabilities yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Manifest { name: name.into(), version: version.into(), description: String::new(), functions: Vec::new(), hooks: Vec::new(), capabilities: Vec::new() }
    }

    /// A one-line description shown by the host.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Declares a template function taking at least `min_args` and at most `max_args` arguments
    /// (both counts include every argument). Declaring a function declares the resolver hook.
    pub fn function(mut self, name: impl Into<String>, min_args: u32, max_args: u32, description: impl Into<String>) -> Self {
        self.functions.push(FunctionSpec { name: name.into(), min_args, max_args, description: description.into() });
        self.hook(Hook::Resolver)
    }

    /// Declares the verifier hook: [`Plugin::verify`] is called by `cortado verify`.
    pub fn verifier(self) -> Self {
        self.hook(Hook::Verifier)
    }

    /// Declares the gate hook: [`Plugin::evaluate`] is asked before mutating commands.
    pub fn gate(self) -> Self {
        self.hook(Hook::Gate)
    }

    /// Asks for an IAM-style capability, e.g. `("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/app/*")`.
    /// The operator grants it (or not) in the config; a brokered call outside the grants fails
    /// with [`aws::AwsError::Denied`].
    pub fn capability(mut self, action: impl Into<String>, resource: impl Into<String>) -> Self {
        let cap = Capability { action: action.into(), resource: resource.into() };
        if !self.capabilities.contains(&cap) {
            self.capabilities.push(cap);
        }
        self
    }

    fn hook(mut self, hook: Hook) -> Self {
        if !self.hooks.contains(&hook) {
            self.hooks.push(hook);
        }
        self
    }

    /// The declared function called `name`, if any.
    pub fn find_function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Whether the manifest declares `hook`.
    pub fn has_hook(&self, hook: Hook) -> bool {
        self.hooks.contains(&hook)
    }
}

impl Check {
    pub fn new(name: impl Into<String>, status: CheckStatus, message: impl Into<String>) -> Self {
        Check { name: name.into(), status, message: message.into() }
    }
    /// A passing check; `message` may be empty.
    pub fn ok(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CheckStatus::Ok, message)
    }
    /// A failing check; `message` says why.
    pub fn ng(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CheckStatus::Ng, message)
    }
    /// A check that was not performed; `message` says why.
    pub fn skip(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(name, CheckStatus::Skip, message)
    }
}

impl Decision {
    /// `Deny` with the given reasons if there are any, else `Warn` with the warnings if there are
    /// any, else `Allow`. Warnings are dropped when denying (log them if they matter).
    pub fn from_findings(denials: Vec<String>, warnings: Vec<String>) -> Self {
        if !denials.is_empty() {
            Decision::Deny(denials)
        } else if !warnings.is_empty() {
            Decision::Warn(warnings)
        } else {
            Decision::Allow
        }
    }

    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow)
    }
    pub fn is_deny(&self) -> bool {
        matches!(self, Decision::Deny(_))
    }
    /// Not enough evidence yet (at a lifecycle stage the host asks again at its next poll).
    pub fn is_inconclusive(&self) -> bool {
        matches!(self, Decision::Inconclusive(_))
    }
}

impl Plan {
    /// A plan for `command` with every other field empty; handy in tests. The host fills real
    /// plans.
    pub fn new(command: impl Into<String>) -> Self {
        Plan {
            command: command.into(),
            cluster: String::new(),
            service: None,
            region: String::new(),
            account: String::new(),
            caller: String::new(),
            time: String::new(),
            task_definition: None,
            task_definition_arn: None,
            service_definition: None,
            diff: String::new(),
            desired_count: None,
            overrides: None,
            stage: None,
            steps: Vec::new(),
        }
    }
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    use std::marker::PhantomData;

    use crate::bindings::exports::cortado::plugin::{gate, resolver, verifier};
    use crate::{Check, Decision, Manifest, Plan, Plugin, runtime};

    /// The component's implementation of the contract: every export forwards to the registered
    /// plugin through the SDK runtime.
    pub struct Component<P>(PhantomData<P>);

    impl<P: Plugin> crate::bindings::Guest for Component<P> {
        fn manifest() -> Manifest {
            runtime::with::<P, _>(|rt| rt.manifest().clone())
        }
    }

    impl<P: Plugin> resolver::Guest for Component<P> {
        fn call(function: String, args: Vec<String>) -> Result<String, String> {
            runtime::with::<P, _>(|rt| rt.call(&function, &args))
        }
    }

    impl<P: Plugin> verifier::Guest for Component<P> {
        fn verify(task_definition: String, service_definition: Option<String>) -> Vec<Check> {
            runtime::with::<P, _>(|rt| rt.verify(&task_definition, service_definition.as_deref()))
        }
    }

    impl<P: Plugin> gate::Guest for Component<P> {
        fn evaluate(plan: Plan) -> Decision {
            runtime::with::<P, _>(|rt| rt.evaluate(&plan))
        }
    }
}
