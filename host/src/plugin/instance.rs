//! One loaded plugin: its compiled component, its manifest, and one store holding its instance.
//!
//! Each store carries exactly one [`HostState`] (wasmtime's and Zed's pattern): the WASI context
//! with only the operator's preopens, the memory limiter, the plugin's config and its broker. Every
//! hook call runs under an epoch deadline; a trap, timeout or limit hit poisons the instance, which
//! is dropped and instantiated afresh for the next call, so the host keeps working.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Store, StoreContextMut, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::bindings::cortado::plugin::{aws as wit_aws, host as wit_host, metrics as wit_metrics, registry as wit_registry, types as wit_types};
use super::bindings::v0_1::cortado::plugin::{aws as v1_aws, host as v1_host, types as v1_types};
use super::bindings::v0_2::cortado::plugin::{aws as v2_aws, host as v2_host, metrics as v2_metrics, types as v2_types};
use super::bindings::v0_3::cortado::plugin::{aws as v3_aws, host as v3_host, metrics as v3_metrics, types as v3_types};
use super::bindings::{self, Check, Decision, Manifest, Plan, Plugin, PluginPre, v0_1, v0_2, v0_3};
use super::broker::{self, Broker};
use super::cassette::Body;
use super::runtime::{self, EPOCH_TICK};
use super::seal_retry;

/// Explicit limits for one plugin (the `limits:` block of its config overrides the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
    pub call_timeout: Duration,
    pub max_output_bytes: usize,
    /// The largest S3 object the broker reads for this plugin.
    pub max_object_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 64 << 20, call_timeout: Duration::from_secs(5), max_output_bytes: 1 << 20, max_object_bytes: super::broker::DEFAULT_MAX_OBJECT }
    }
}

/// A directory the plugin may read: host path → path seen by the guest.
#[derive(Debug, Clone)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
}

/// Everything the host knows about a plugin before instantiating it.
pub struct PluginSpec {
    pub name: String,
    pub digest: String,
    pub config_json: String,
    pub preopens: Vec<Preopen>,
    pub limits: Limits,
    pub broker: Arc<Broker>,
}

/// The state of one store.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    plugin: String,
    config_json: String,
    broker: Arc<Broker>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    logged: [usize; 2],
    /// When the current call must end (wall clock); see [`arm_deadline`].
    deadline: Instant,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit_types::Host for HostState {}

impl wit_host::Host for HostState {
    fn log(&mut self, level: wit_types::Level, message: String) {
        let p = &self.plugin;
        match level {
            wit_types::Level::Debug => tracing::debug!("[{p}] {message}"),
            wit_types::Level::Info => {
                self.broker.note(&message);
                tracing::info!("[{p}] {message}")
            }
            wit_types::Level::Warn => tracing::warn!("[{p}] {message}"),
            wit_types::Level::Error => tracing::error!("[{p}] {message}"),
        }
    }

    fn config(&mut self) -> String {
        self.config_json.clone()
    }
}

impl HostState {
    /// A brokered call, through the cassette when `cortado plugin test` set one.
    fn brokered<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        call: &str,
        request: serde_json::Value,
        live: impl FnOnce(&Broker) -> Result<T, wit_aws::AwsError>,
    ) -> Result<T, wit_aws::AwsError> {
        match &self.broker.slot.cassette {
            Some(c) => c.call(call, request, || live(&self.broker)),
            None => live(&self.broker),
        }
    }
}

impl wit_aws::Host for HostState {
    fn ssm_get_parameter(&mut self, name: String, with_decryption: bool) -> Result<wit_aws::Parameter, wit_aws::AwsError> {
        self.brokered("ssm:GetParameter", json!({"name": name, "with_decryption": with_decryption}), |b| b.ssm_get_parameter(name, with_decryption))
    }
    fn ssm_get_parameters(&mut self, names: Vec<String>, with_decryption: bool) -> Result<(Vec<wit_aws::Parameter>, Vec<String>), wit_aws::AwsError> {
        self.brokered("ssm:GetParameters", json!({"names": names, "with_decryption": with_decryption}), |b| b.ssm_get_parameters(names, with_decryption))
    }
    fn secretsmanager_describe_secret(&mut self, id: String) -> Result<wit_aws::SecretDescription, wit_aws::AwsError> {
        self.brokered("secretsmanager:DescribeSecret", json!({"secret_id": id}), |b| b.secretsmanager_describe_secret(id))
    }
    fn secretsmanager_get_secret_value(&mut self, id: String) -> Result<wit_aws::SecretValue, wit_aws::AwsError> {
        self.brokered("secretsmanager:GetSecretValue", json!({"secret_id": id}), |b| b.secretsmanager_get_secret_value(id))
    }
    fn s3_get_object(&mut self, bucket: String, key: String) -> Result<Vec<u8>, wit_aws::AwsError> {
        // No S3 bucket has an empty name: the SDK's `fetch_state` uses one to reach the URL broker
        // until the WIT contract has an import of its own for it.
        if bucket.is_empty() {
            let request = json!({"url": key});
            return self.brokered("fetch:State", request, |b| b.fetch_state(key).map(Body::from_bytes)).map(Body::into_bytes);
        }
        let request = json!({"bucket": bucket, "key": key});
        self.brokered("s3:GetObject", request, |b| b.s3_get_object(bucket, key).map(Body::from_bytes)).map(Body::into_bytes)
    }
    fn cloudformation_describe_stack_outputs(&mut self, stack: String) -> Result<Vec<wit_aws::StackOutput>, wit_aws::AwsError> {
        self.brokered("cloudformation:DescribeStacks", json!({"stack_name": stack}), |b| b.cloudformation_describe_stack_outputs(stack))
    }
    fn cloudformation_list_exports(&mut self) -> Result<Vec<wit_aws::StackExport>, wit_aws::AwsError> {
        self.brokered("cloudformation:ListExports", json!({}), |b| b.cloudformation_list_exports())
    }
}

impl wit_metrics::Host for HostState {
    fn cloudwatch_get_metric_data(
        &mut self,
        queries: Vec<wit_metrics::MetricQuery>,
        start: i64,
        end: i64,
    ) -> Result<Vec<wit_metrics::MetricResult>, wit_aws::AwsError> {
        let request = json!({"queries": queries, "start": start, "end": end});
        self.brokered("cloudwatch:GetMetricData", request, |b| b.cloudwatch_get_metric_data(queries, start, end))
    }
    fn elbv2_describe_target_health(&mut self, arn: String) -> Result<Vec<wit_metrics::TargetHealth>, wit_aws::AwsError> {
        self.brokered("elasticloadbalancing:DescribeTargetHealth", json!({"target_group_arn": arn}), |b| b.elbv2_describe_target_health(arn))
    }
}

impl wit_registry::Host for HostState {
    fn registry_manifest(&mut self, reference: String) -> Result<wit_registry::ImageManifest, wit_aws::AwsError> {
        self.brokered("registry:Manifest", json!({"reference": reference}), |b| b.registry_manifest(&reference))
    }
    fn registry_blob(&mut self, repository: String, digest: String) -> Result<Vec<u8>, wit_aws::AwsError> {
        let request = json!({"repository": repository, "digest": digest});
        self.brokered("registry:Blob", request, |b| b.registry_blob(&repository, &digest).map(Body::from_bytes)).map(Body::into_bytes)
    }
}

/// An older version's imports: the same calls, answered by the current implementation and
/// converted (`older` turns a current answer into its twin of that version).
macro_rules! older_imports {
    ($types:ident, $host:ident, $aws:ident) => {
        impl $types::Host for HostState {}

        impl $host::Host for HostState {
            fn log(&mut self, level: $types::Level, message: String) {
                let level = bindings::convert(&level).unwrap_or(wit_types::Level::Info);
                wit_host::Host::log(self, level, message)
            }
            fn config(&mut self) -> String {
                self.config_json.clone()
            }
        }

        impl $aws::Host for HostState {
            fn ssm_get_parameter(&mut self, name: String, with_decryption: bool) -> Result<$aws::Parameter, $aws::AwsError> {
                older(wit_aws::Host::ssm_get_parameter(self, name, with_decryption), $aws::AwsError::Failed)
            }
            fn ssm_get_parameters(&mut self, names: Vec<String>, with_decryption: bool) -> Result<(Vec<$aws::Parameter>, Vec<String>), $aws::AwsError> {
                older(wit_aws::Host::ssm_get_parameters(self, names, with_decryption), $aws::AwsError::Failed)
            }
            fn secretsmanager_describe_secret(&mut self, id: String) -> Result<$aws::SecretDescription, $aws::AwsError> {
                older(wit_aws::Host::secretsmanager_describe_secret(self, id), $aws::AwsError::Failed)
            }
            fn secretsmanager_get_secret_value(&mut self, id: String) -> Result<$aws::SecretValue, $aws::AwsError> {
                older(wit_aws::Host::secretsmanager_get_secret_value(self, id), $aws::AwsError::Failed)
            }
            fn s3_get_object(&mut self, bucket: String, key: String) -> Result<Vec<u8>, $aws::AwsError> {
                older(wit_aws::Host::s3_get_object(self, bucket, key), $aws::AwsError::Failed)
            }
            fn cloudformation_describe_stack_outputs(&mut self, stack: String) -> Result<Vec<$aws::StackOutput>, $aws::AwsError> {
                older(wit_aws::Host::cloudformation_describe_stack_outputs(self, stack), $aws::AwsError::Failed)
            }
            fn cloudformation_list_exports(&mut self) -> Result<Vec<$aws::StackExport>, $aws::AwsError> {
                older(wit_aws::Host::cloudformation_list_exports(self), $aws::AwsError::Failed)
            }
        }
    };
}

older_imports!(v1_types, v1_host, v1_aws);
older_imports!(v2_types, v2_host, v2_aws);
older_imports!(v3_types, v3_host, v3_aws);

impl v2_metrics::Host for HostState {
    fn cloudwatch_get_metric_data(
        &mut self,
        queries: Vec<v2_metrics::MetricQuery>,
        start: i64,
        end: i64,
    ) -> Result<Vec<v2_metrics::MetricResult>, v2_aws::AwsError> {
        let queries = match bindings::convert(&queries) {
            Ok(q) => q,
            Err(e) => return Err(v2_aws::AwsError::Failed(e)),
        };
        older(wit_metrics::Host::cloudwatch_get_metric_data(self, queries, start, end), v2_aws::AwsError::Failed)
    }
    fn elbv2_describe_target_health(&mut self, arn: String) -> Result<Vec<v2_metrics::TargetHealth>, v2_aws::AwsError> {
        older(wit_metrics::Host::elbv2_describe_target_health(self, arn), v2_aws::AwsError::Failed)
    }
}

impl v3_metrics::Host for HostState {
    fn cloudwatch_get_metric_data(
        &mut self,
        queries: Vec<v3_metrics::MetricQuery>,
        start: i64,
        end: i64,
    ) -> Result<Vec<v3_metrics::MetricResult>, v3_aws::AwsError> {
        let queries = match bindings::convert(&queries) {
            Ok(q) => q,
            Err(e) => return Err(v3_aws::AwsError::Failed(e)),
        };
        older(wit_metrics::Host::cloudwatch_get_metric_data(self, queries, start, end), v3_aws::AwsError::Failed)
    }
    fn elbv2_describe_target_health(&mut self, arn: String) -> Result<Vec<v3_metrics::TargetHealth>, v3_aws::AwsError> {
        older(wit_metrics::Host::elbv2_describe_target_health(self, arn), v3_aws::AwsError::Failed)
    }
}

/// A current answer as its twin of an older version; a failed conversion is that version's
/// `failed` error (`failed` builds it).
fn older<T: serde::Serialize, U: serde::de::DeserializeOwned, E: serde::de::DeserializeOwned>(
    answer: Result<T, wit_aws::AwsError>,
    failed: fn(String) -> E,
) -> Result<U, E> {
    bindings::convert(&answer).unwrap_or_else(|e| Err(failed(e)))
}

/// A linked component, by the contract version it was built against (newest tried first).
enum Pre {
    Current(PluginPre<HostState>),
    V0_3(v0_3::PluginPre<HostState>),
    V0_2(v0_2::PluginPre<HostState>),
    V0_1(v0_1::PluginPre<HostState>),
}

/// An instance of either version; each hook call matches on it.
enum Bound {
    Current(Plugin),
    V0_3(v0_3::Plugin),
    V0_2(v0_2::Plugin),
    V0_1(v0_1::Plugin),
}

impl Pre {
    fn new(linked: wasmtime::component::InstancePre<HostState>) -> Result<Pre, String> {
        let current = match PluginPre::new(linked.clone()) {
            Ok(p) => return Ok(Pre::Current(p)),
            Err(e) => e,
        };
        let v3 = match v0_3::PluginPre::new(linked.clone()) {
            Ok(p) => return Ok(Pre::V0_3(p)),
            Err(e) => e,
        };
        let v2 = match v0_2::PluginPre::new(linked.clone()) {
            Ok(p) => return Ok(Pre::V0_2(p)),
            Err(e) => e,
        };
        v0_1::PluginPre::new(linked).map(Pre::V0_1).map_err(|v1| {
            let [c, three, two, one] = bindings::VERSIONS;
            format!("it does not implement {c} ({current:#}), {three} ({v3:#}), {two} ({v2:#}) nor {one} ({v1:#})")
        })
    }

    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Bound> {
        match self {
            Pre::Current(p) => p.instantiate(store).map(Bound::Current),
            Pre::V0_3(p) => p.instantiate(store).map(Bound::V0_3),
            Pre::V0_2(p) => p.instantiate(store).map(Bound::V0_2),
            Pre::V0_1(p) => p.instantiate(store).map(Bound::V0_1),
        }
    }

    fn engine(&self) -> &wasmtime::Engine {
        match self {
            Pre::Current(p) => p.engine(),
            Pre::V0_3(p) => p.engine(),
            Pre::V0_2(p) => p.engine(),
            Pre::V0_1(p) => p.engine(),
        }
    }
}

/// A plugin failure, named after the plugin and the hook (and what happened).
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin:?} {hook}: {message}")]
pub struct PluginError {
    pub plugin: String,
    pub hook: String,
    pub message: String,
}

pub struct LoadedPlugin {
    pub spec: PluginSpec,
    pub manifest: Manifest,
    pre: Pre,
    live: Mutex<Option<(Store<HostState>, Bound)>>,
}

/// The linker every plugin is instantiated with: WASI p2 (sockets denied, no env, no preopens
/// beyond the grant) plus cortado's own imports.
fn linker(engine: &wasmtime::Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("linking WASI: {e:#}"))?;
    Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| anyhow::anyhow!("linking cortado imports: {e:#}"))?;
    v0_3::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| anyhow::anyhow!("linking cortado 0.3.0 imports: {e:#}"))?;
    v0_2::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| anyhow::anyhow!("linking cortado 0.2.0 imports: {e:#}"))?;
    v0_1::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| anyhow::anyhow!("linking cortado 0.1.0 imports: {e:#}"))?;
    clamp_clocks(&mut linker).map_err(|e| anyhow::anyhow!("linking the deadline-bounded clock: {e:#}"))?;
    Ok(linker)
}

/// The most elements one table may hold: a component's function tables hold a few thousand; a
/// table is host memory outside the guest's `memory` limit, so its growth is bounded too.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 18;

/// The store limits of every plugin: one linear memory (so `memory` is the whole budget, not one of
/// sixteen), at most `MAX_TABLE_ELEMENTS` per table, and a failed grow traps rather than returning
/// -1 to a guest that might ignore it.
pub fn store_limits(limits: &Limits) -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(limits.memory_bytes)
        .memories(1)
        .table_elements(MAX_TABLE_ELEMENTS)
        .tables(64)
        .instances(16)
        .trap_on_grow_failure(true)
        .build()
}

impl LoadedPlugin {
    /// Compiles (or loads from cache) and links a component, then reads its manifest.
    pub fn load(bytes: &[u8], spec: PluginSpec) -> Result<LoadedPlugin> {
        let engine = runtime::engine()?;
        let component: Component = runtime::load_component(engine, bytes, &spec.digest).with_context(|| format!("plugin {:?}", spec.name))?;
        let linked = linker(engine)?.instantiate_pre(&component).map_err(|e| anyhow::anyhow!("plugin {:?}: linking: {e:#}", spec.name))?;
        let pre = Pre::new(linked).map_err(|e| anyhow::anyhow!("plugin {:?} is not a cortado plugin: {e}", spec.name))?;
        let mut loaded = LoadedPlugin {
            spec,
            manifest: Manifest {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                functions: vec![],
                hooks: vec![],
                capabilities: vec![],
            },
            pre,
            live: Mutex::new(None),
        };
        let manifest = loaded.with_instance("manifest", |store, b| match b {
            Bound::Current(p) => p.call_manifest(store),
            Bound::V0_3(p) => p.call_manifest(store).and_then(|m| bindings::convert(&m).map_err(wasmtime::Error::msg)),
            Bound::V0_2(p) => p.call_manifest(store).and_then(|m| bindings::convert(&m).map_err(wasmtime::Error::msg)),
            Bound::V0_1(p) => p.call_manifest(store).and_then(|m| bindings::convert(&m).map_err(wasmtime::Error::msg)),
        })?;
        loaded.cap("manifest", manifest_size(&manifest))?;
        loaded.manifest = manifest;
        Ok(loaded)
    }

    fn new_store(&self) -> Store<HostState> {
        let stdout = MemoryOutputPipe::new(4 << 20);
        let stderr = MemoryOutputPipe::new(4 << 20);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone()).stderr(stderr.clone()).allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        wasi.socket_addr_check(|_, _| Box::pin(async { false }));
        for p in &self.spec.preopens {
            if let Err(e) = wasi.preopened_dir(&p.host, &p.guest, FsPerms::ReadOnly) {
                tracing::warn!("plugin {:?}: cannot preopen {}: {e:#}", self.spec.name, p.host.display());
            }
        }
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: store_limits(&self.spec.limits),
            plugin: self.spec.name.clone(),
            config_json: self.spec.config_json.clone(),
            broker: self.spec.broker.clone(),
            stdout,
            stderr,
            logged: [0, 0],
            deadline: Instant::now(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        // Checked every tick while wasm runs: the deadline is wall-clock time, so a call that
        // spent its time blocked in a host call traps as soon as it is back in wasm.
        store.epoch_deadline_callback(|ctx| Ok(if Instant::now() >= ctx.data().deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Continue(1) }));
        store
    }

    /// Runs `f` on the live instance (instantiating it if needed) under the call deadline.
    ///
    /// WASI's synchronous bindings block on tokio themselves, which a runtime worker thread may
    /// only do inside `block_in_place`; outside a runtime the call runs as is.
    fn with_instance<R>(&self, hook: &str, f: impl FnOnce(&mut Store<HostState>, &Bound) -> wasmtime::Result<R>) -> Result<R, PluginError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(|| self.with_instance_blocking(hook, f))
        } else {
            self.with_instance_blocking(hook, f)
        }
    }

    fn with_instance_blocking<R>(&self, hook: &str, f: impl FnOnce(&mut Store<HostState>, &Bound) -> wasmtime::Result<R>) -> Result<R, PluginError> {
        let err = |message: String| PluginError { plugin: self.spec.name.clone(), hook: hook.to_owned(), message };
        let mut live = self.live.lock().map_err(|_| err("instance lock poisoned".into()))?;
        if live.is_none() {
            *live = Some(self.fresh_instance().map_err(|e| err(describe_trap(&e, &self.spec.limits)))?);
        }
        let Some((store, instance)) = live.as_mut() else { return Err(err("no instance".into())) };
        arm_deadline(store, self.spec.limits.call_timeout);
        // Brokered requests made during the call time out at the same deadline.
        let mut result = broker::with_deadline(store.data().deadline, || f(store, instance));
        // An answer that arrives after the deadline is not taken, whether or not the guest hit
        // an epoch check on its way out (a clamped clock wait ends just past the deadline).
        if result.is_ok() && Instant::now() > store.data().deadline {
            result = Err(wasmtime::Error::new(Trap::Interrupt));
        }
        drain_output(&self.spec.name, store.data_mut());
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                // A trapped instance cannot be entered again: drop it, instantiate afresh next time.
                *live = None;
                Err(err(describe_trap(&e, &self.spec.limits)))
            }
        }
    }

    /// Calls a template function.
    pub fn resolve(&self, function: &str, args: &[String]) -> Result<String, PluginError> {
        let max = self.spec.limits.max_output_bytes;
        let out = self.with_instance(&format!("resolver {function}"), |store, b| match b {
            Bound::Current(p) => p.cortado_plugin_resolver().call_call(store, function, args),
            Bound::V0_3(p) => p.cortado_plugin_resolver().call_call(store, function, args),
            Bound::V0_2(p) => p.cortado_plugin_resolver().call_call(store, function, args),
            Bound::V0_1(p) => p.cortado_plugin_resolver().call_call(store, function, args),
        })?;
        match out {
            Ok(s) if s.len() > max => Err(PluginError {
                plugin: self.spec.name.clone(),
                hook: format!("resolver {function}"),
                message: format!("result of {} bytes exceeds the limit of {max} bytes", s.len()),
            }),
            Ok(s) => Ok(s),
            Err(msg) => Err(PluginError { plugin: self.spec.name.clone(), hook: format!("resolver {function}"), message: self.with_denials(msg) }),
        }
    }

    pub fn verify(&self, task_definition: &str, service_definition: Option<&str>) -> Result<Vec<Check>, PluginError> {
        let checks = self.with_instance("verifier", |store, b| match b {
            Bound::Current(p) => p.cortado_plugin_verifier().call_verify(store, task_definition, service_definition),
            Bound::V0_3(p) => {
                let old = p.cortado_plugin_verifier().call_verify(store, task_definition, service_definition)?;
                bindings::convert(&old).map_err(wasmtime::Error::msg)
            }
            Bound::V0_2(p) => {
                let old = p.cortado_plugin_verifier().call_verify(store, task_definition, service_definition)?;
                bindings::convert(&old).map_err(wasmtime::Error::msg)
            }
            Bound::V0_1(p) => {
                let old = p.cortado_plugin_verifier().call_verify(store, task_definition, service_definition)?;
                bindings::convert(&old).map_err(wasmtime::Error::msg)
            }
        })?;
        self.cap("verifier", checks.iter().map(|c| ITEM + c.name.len() + c.message.len()).sum())?;
        Ok(checks)
    }

    /// A gate's decision; one above `max_output` is an error (which [`super::gate_outcome`] turns
    /// into a short deny), so neither stderr nor the audit log ever holds the oversized text.
    pub fn evaluate(&self, plan: &Plan) -> Result<Decision, PluginError> {
        let d = self.with_instance("gate", |store, b| match b {
            Bound::Current(p) => p.cortado_plugin_gate().call_evaluate(store, plan),
            Bound::V0_3(p) => {
                // A 0.3.0 plan has the same shape as the current one.
                let old: v0_3::cortado::plugin::types::Plan = bindings::convert(plan).map_err(wasmtime::Error::msg)?;
                let d = p.cortado_plugin_gate().call_evaluate(store, &old)?;
                bindings::convert(&d).map_err(wasmtime::Error::msg)
            }
            Bound::V0_2(p) => {
                // A 0.2.0 gate sees the steps as JSON in `overrides`.
                let old: v0_2::cortado::plugin::types::Plan = bindings::convert(&steps_in_overrides(plan)).map_err(wasmtime::Error::msg)?;
                let d = p.cortado_plugin_gate().call_evaluate(store, &old)?;
                bindings::convert(&d).map_err(wasmtime::Error::msg)
            }
            Bound::V0_1(p) => {
                // A 0.1.0 gate sees a stage only as `command: stage:NAME` and its JSON in
                // `overrides`, where the steps are too.
                let old: v0_1::cortado::plugin::types::Plan = bindings::convert(&steps_in_overrides(plan)).map_err(wasmtime::Error::msg)?;
                let d = p.cortado_plugin_gate().call_evaluate(store, &old)?;
                bindings::convert(&d).map_err(wasmtime::Error::msg)
            }
        })?;
        let size = match &d {
            Decision::Allow => 0,
            Decision::Warn(r) | Decision::Deny(r) | Decision::Inconclusive(r) => r.iter().map(|s| ITEM + s.len()).sum(),
        };
        self.cap("gate", size)?;
        Ok(d)
    }

    /// Refuses a hook result of `size` bytes above the plugin's `max_output`.
    fn cap(&self, hook: &str, size: usize) -> Result<(), PluginError> {
        let max = self.spec.limits.max_output_bytes;
        if size <= max {
            return Ok(());
        }
        Err(PluginError {
            plugin: self.spec.name.clone(),
            hook: hook.to_owned(),
            message: format!("result of {size} bytes exceeds the limit of {max} bytes (limits.max_output)"),
        })
    }

    /// The contract version the component was built against (`cortado:plugin@0.4.0`).
    pub fn wit_version(&self) -> &'static str {
        match self.pre {
            Pre::Current(_) => bindings::VERSIONS[0],
            Pre::V0_3(_) => bindings::VERSIONS[1],
            Pre::V0_2(_) => bindings::VERSIONS[2],
            Pre::V0_1(_) => bindings::VERSIONS[3],
        }
    }

    /// Appends the grant the plugin lacked, when a brokered call was denied during the call.
    fn with_denials(&self, msg: String) -> String {
        let denied = self.spec.broker.denials.lock().map(|mut d| std::mem::take(&mut *d)).unwrap_or_default();
        match denied.last() {
            Some(d) if !msg.contains(d.as_str()) => format!("{msg} ({d})"),
            _ => msg,
        }
    }
}

/// The plan an older gate gets, which has no `steps` field: the steps go into `overrides` as JSON
/// (each input parsed back into a value), `{"steps": [...]}` when the plan has no overrides, else
/// added to the overrides object. An override value that is not an object (never produced by the
/// host) is left as it is, rather than changing its shape under the gate.
fn steps_in_overrides(plan: &Plan) -> Plan {
    let steps: Vec<serde_json::Value> = plan.steps.iter().map(step_json).collect();
    let overrides = match plan.overrides.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => Some(json!({ "steps": steps }).to_string()),
        Some(Ok(serde_json::Value::Object(mut o))) => {
            o.insert("steps".into(), steps.into());
            Some(serde_json::Value::Object(o).to_string())
        }
        Some(_) => plan.overrides.clone(),
    };
    Plan { overrides, ..plan.clone() }
}

/// One step as JSON, its input a JSON value again (a string if it is not JSON).
fn step_json(s: &bindings::Step) -> serde_json::Value {
    let input = serde_json::from_str(&s.input).unwrap_or_else(|_| serde_json::Value::String(s.input.clone()));
    json!({"service": s.service, "operation": s.operation, "resource": s.resource, "phase": s.phase, "input": input})
}

/// What each list item counts for on top of its text, so a million empty strings are not free.
const ITEM: usize = 16;

/// A manifest's size as the host keeps it.
fn manifest_size(m: &Manifest) -> usize {
    let f: usize = m.functions.iter().map(|f| ITEM + f.name.len() + f.description.len()).sum();
    let c: usize = m.capabilities.iter().map(|c| ITEM + c.action.len() + c.resource.len()).sum();
    m.name.len() + m.version.len() + m.description.len() + f + c + ITEM * m.hooks.len()
}

/// Starts a call's deadline: `timeout` of wall-clock time from now, whether the time goes to wasm
/// (the epoch callback checks it every tick) or to host calls (clock waits are clamped to it,
/// brokered requests time out at it).
fn arm_deadline(store: &mut Store<HostState>, timeout: Duration) {
    store.data_mut().deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
}

/// Waits a guest asks of `wasi:clocks/monotonic-clock` end at the call's deadline (plus two ticks,
/// so the epoch callback has run by then and traps the guest on its way back): with sockets off
/// and stdin empty, a clock is the only thing a WASI guest can block on.
fn clamp_clocks(linker: &mut Linker<HostState>) -> Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::clocks::WasiClocksView;
    use wasmtime_wasi::p2::DynPollable;
    use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as _;
    fn remaining(deadline: Instant) -> u64 {
        (deadline + 2 * EPOCH_TICK).saturating_duration_since(Instant::now()).as_nanos().try_into().unwrap_or(u64::MAX)
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clock.func_wrap("subscribe-duration", |mut store: StoreContextMut<'_, HostState>, (nanos,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
        let nanos = nanos.min(remaining(store.data().deadline));
        Ok((store.data_mut().clocks().subscribe_duration(nanos)?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store: StoreContextMut<'_, HostState>, (when,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
        let mut view = store.data_mut().clocks();
        let now = view.now()?;
        let nanos = when.saturating_sub(now).min(remaining(store.data().deadline));
        Ok((store.data_mut().clocks().subscribe_duration(nanos)?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A short reason for a failed call: deadline, memory limit, or the trap and its message.
fn describe_trap(e: &wasmtime::Error, limits: &Limits) -> String {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt => format!("timed out after {:?} (deadline)", limits.call_timeout),
            Trap::StackOverflow => "stack overflow (trap)".into(),
            Trap::UnreachableCodeReached => format!("trapped: the plugin panicked or aborted ({})", root(e)),
            other => format!("trapped: {other}"),
        };
    }
    let text = format!("{e:#}");
    if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
        return format!("exceeded its memory limit of {} MiB", limits.memory_bytes >> 20);
    }
    text
}

fn root(e: &wasmtime::Error) -> String {
    e.chain().last().map(|c| c.to_string()).unwrap_or_default()
}

/// Plugin stdout/stderr go to cortado's log, one line each, never to cortado's stdout. The pipes
/// keep everything written (up to their capacity, an explicit limit); `logged` remembers how far
/// each has been logged.
fn drain_output(plugin: &str, state: &mut HostState) {
    for (i, stream) in ["stdout", "stderr"].into_iter().enumerate() {
        let bytes = if i == 0 { state.stdout.contents() } else { state.stderr.contents() };
        let from = state.logged[i].min(bytes.len());
        let new = &bytes[from..];
        let Some(end) = new.iter().rposition(|b| *b == b'\n').map(|p| p + 1) else { continue };
        for line in String::from_utf8_lossy(&new[..end]).lines() {
            tracing::info!("[{plugin} {stream}] {line}");
        }
        state.logged[i] = from + end;
    }
}

impl LoadedPlugin {
    /// Creates and drops a fresh store and instance: what recovering from a trap costs (and what
    /// the benchmarks measure as "instantiate").
    pub fn instantiate_fresh(&self) -> Result<(), PluginError> {
        self.fresh_instance().map(drop).map_err(|e| PluginError {
            plugin: self.spec.name.clone(),
            hook: "instantiate".into(),
            message: describe_trap(&e, &self.spec.limits),
        })
    }

    /// A new store and an instance in it, within the call deadline: brokered requests a start
    /// function makes time out at it too. Each attempt gets a fresh store (seal_retry: a transient
    /// kernel refusal is tried again).
    fn fresh_instance(&self) -> wasmtime::Result<(Store<HostState>, Bound)> {
        seal_retry::instantiate(|| {
            let mut store = self.new_store();
            arm_deadline(&mut store, self.spec.limits.call_timeout);
            let deadline = store.data().deadline;
            let instance = broker::with_deadline(deadline, || self.pre.instantiate(&mut store))?;
            Ok((store, instance))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Plan, steps_in_overrides};
    use crate::plugin::bindings::Step;

    fn plan(overrides: Option<&str>) -> Plan {
        Plan {
            command: "run".into(),
            cluster: "c".into(),
            service: None,
            region: "r".into(),
            account: "a".into(),
            caller: "arn".into(),
            time: "t".into(),
            task_definition: None,
            task_definition_arn: None,
            service_definition: None,
            diff: String::new(),
            desired_count: None,
            overrides: overrides.map(str::to_owned),
            stage: None,
            steps: vec![Step {
                service: "ecs".into(),
                operation: "RunTask".into(),
                resource: "1 task(s)".into(),
                phase: "apply".into(),
                input: r#"{"count":1}"#.into(),
            }],
        }
    }

    fn overrides(p: &Plan) -> Value {
        serde_json::from_str(steps_in_overrides(p).overrides.as_deref().unwrap_or("null")).unwrap_or_default()
    }

    #[test]
    fn older_gates_get_the_steps_in_overrides() {
        let step = json!({"service": "ecs", "operation": "RunTask", "resource": "1 task(s)", "phase": "apply", "input": {"count": 1}});
        assert_eq!(overrides(&plan(None)), json!({"steps": [step]}));
        assert_eq!(overrides(&plan(Some(r#"{"containerOverrides":[]}"#))), json!({"containerOverrides": [], "steps": [step]}));
        // Not an object (the host never makes one): left as it is.
        assert_eq!(steps_in_overrides(&plan(Some("[1]"))).overrides.as_deref(), Some("[1]"));
        // The older twin has no `steps` field: converting drops it and keeps the rest.
        let old: crate::plugin::bindings::v0_2::cortado::plugin::types::Plan = crate::plugin::bindings::convert(&steps_in_overrides(&plan(None))).unwrap();
        assert_eq!(old.command, "run");
    }
}
