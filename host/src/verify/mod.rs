//! `verify`: every resource the task and service definitions refer to, checked against AWS, plus
//! the checks of every verifier plugin, as one tree.
//!
//! Unlike ecspresso, which stops at the first NG, every check runs (concurrently: each AWS probe is
//! its own task) and is reported, so one run shows every problem. Like ecspresso, the execution
//! role is assumed first where possible, so image, secret and log checks see what the ECS agent
//! will see; role, target group, cluster and existence lookups use the caller's credentials.

pub mod deployment;
pub mod image;
pub mod logs;
pub mod registry;
pub mod role;
pub mod secrets;
pub mod service;
pub mod tree;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use serde_json::Value;
use tokio::task::JoinHandle;

use self::image::ImageRef;
use self::registry::RegistryClient;
use self::tree::{Node, Outcome};
use crate::aws::Aws;
use crate::plugin::PluginHost;
use crate::plugin::bindings::{CheckStatus, Hook};
use crate::plugin::catalog;

/// What `verify` does beyond reading.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read secret values with the execution role (otherwise only their existence is checked).
    pub get_secrets: bool,
    /// Create a log stream and write one event to each awslogs group.
    pub put_logs: bool,
    /// Evaluate a check with the same display name once (ecspresso's cache).
    pub cache: bool,
    /// `CORTADO_OFFLINE=1`: never contact a registry outside AWS.
    pub offline: bool,
    /// Per-request timeout for registries outside AWS.
    pub registry_timeout: Duration,
    /// `--put-logs`: what apply reported for each log group written (`group@region`).
    pub log_writes: Arc<HashMap<String, Result<(), String>>>,
}

/// What is verified.
pub struct Inputs<'a> {
    pub task_definition: &'a Value,
    pub service_definition: Option<&'a Value>,
    pub cluster: &'a str,
    pub plugins: &'a PluginHost,
    /// The ECS agent's credentials, when the caller already assumed the execution role.
    pub agent: Option<SdkConfig>,
}

/// Credentials for the checks: the caller's, and the ones the ECS agent would use.
struct Creds {
    caller: SdkConfig,
    agent: SdkConfig,
    region: String,
}

impl Creds {
    fn caller_in(&self, region: Option<&str>) -> SdkConfig {
        in_region(&self.caller, region.unwrap_or(&self.region))
    }
    fn agent_in(&self, region: Option<&str>) -> SdkConfig {
        in_region(&self.agent, region.unwrap_or(&self.region))
    }
}

fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    if sdk.region().map(|r| r.as_ref()) == Some(region) {
        return sdk.clone();
    }
    sdk.clone().into_builder().region(Region::new(region.to_owned())).build()
}

/// Assumes the execution role (session `cortado-verifier`); on failure, as ecspresso does,
/// continues with the caller's credentials and says so.
pub async fn agent_credentials(aws: &Aws, execution_role: Option<&str>) -> SdkConfig {
    let Some(arn) = execution_role.filter(|a| role::role_name(a).is_ok()) else { return aws.sdk.clone() };
    let provider = aws_config::sts::AssumeRoleProvider::builder(arn).session_name("cortado-verifier").configure(&aws.sdk).build().await;
    match provider.provide_credentials().await {
        Ok(creds) => {
            tracing::debug!("verifying as the execution role {arn}");
            aws.sdk.clone().into_builder().credentials_provider(SharedCredentialsProvider::new(creds)).build()
        }
        Err(e) => {
            tracing::info!("cannot assume the execution role {arn} ({}); verifying with the current credentials", crate::aws::describe_error(&e));
            aws.sdk.clone()
        }
    }
}

type Probe = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// The client for registries outside AWS, shared by the image checks of one run.
struct Registry {
    client: OnceLock<RegistryClient>,
    timeout: Duration,
}

impl Registry {
    fn get(&self) -> &RegistryClient {
        self.client.get_or_init(|| RegistryClient::new(self.timeout))
    }
}

/// A check's result: known now, running, or the same as an earlier check's.
enum Slot {
    Done(Outcome),
    Pending(usize),
    Cached(usize),
}

struct Planned {
    name: String,
    own: Option<Slot>,
    children: Vec<Planned>,
}

/// Starts probes as the tree is built, in tree order, so the first occurrence of a display name
/// is the one evaluated and later ones are marked `(cached)` deterministically.
struct Planner {
    handles: Vec<JoinHandle<Outcome>>,
    seen: HashMap<String, usize>,
    cache: bool,
}

impl Planner {
    fn probe(&mut self, name: String, fut: Probe) -> Planned {
        if self.cache
            && let Some(&i) = self.seen.get(&name)
        {
            return Planned { name, own: Some(Slot::Cached(i)), children: vec![] };
        }
        let i = self.handles.len();
        self.handles.push(tokio::spawn(fut));
        self.seen.insert(name.clone(), i);
        Planned { name, own: Some(Slot::Pending(i)), children: vec![] }
    }
}

fn done(name: impl Into<String>, o: Outcome) -> Planned {
    Planned { name: name.into(), own: Some(Slot::Done(o)), children: vec![] }
}

fn group(name: impl Into<String>, own: Option<Outcome>, children: Vec<Planned>) -> Planned {
    Planned { name: name.into(), own: own.map(Slot::Done), children }
}

fn resolve(p: Planned, results: &[Outcome]) -> Node {
    let (own, cached) = match p.own {
        Some(Slot::Done(o)) => (Some(o), false),
        Some(Slot::Pending(i)) => (results.get(i).cloned(), false),
        Some(Slot::Cached(i)) => (results.get(i).cloned(), true),
        None => (None, false),
    };
    if p.children.is_empty() {
        let mut n = Node::leaf(p.name, own.unwrap_or_else(Outcome::ok));
        n.cached = cached;
        return n;
    }
    let children = p.children.into_iter().map(|c| resolve(c, results)).collect();
    Node::parent(p.name, own, children)
}

/// Runs every check and returns the tree: TaskDefinition, ServiceDefinition, Cluster, then one
/// `Plugin[name]` node per verifier plugin.
pub async fn run(aws: &Aws, inputs: Inputs<'_>, opts: &Options) -> Vec<Node> {
    let td = inputs.task_definition;
    let exec_role = td.get("executionRoleArn").and_then(Value::as_str);
    let agent = match inputs.agent {
        Some(a) => a,
        None => agent_credentials(aws, exec_role).await,
    };
    let creds = Arc::new(Creds { caller: aws.sdk.clone(), agent, region: aws.region().to_owned() });
    // Made on first use: most task definitions only name ECR images.
    let registry = Arc::new(Registry { client: OnceLock::new(), timeout: opts.registry_timeout });
    let mut planner = Planner { handles: vec![], seen: HashMap::new(), cache: opts.cache };

    let mut roots = vec![
        task_definition(&mut planner, &creds, &registry, td, inputs.service_definition, opts),
        service_definition(&mut planner, &creds, td, inputs.service_definition),
    ];
    let ecs = aws.ecs();
    let cluster = inputs.cluster.to_owned();
    roots.push(planner.probe("Cluster".into(), Box::pin(async move { service::cluster(&ecs, &cluster).await })));
    // Plugins run here, in this task, while the AWS probes above are in flight.
    roots.extend(plugin_nodes(inputs.plugins, td, inputs.service_definition));

    let mut results = Vec::with_capacity(planner.handles.len());
    for h in planner.handles {
        results.push(h.await.unwrap_or_else(|e| Outcome::ng(format!("the check failed: {e}"))));
    }
    roots.into_iter().map(|p| resolve(p, &results)).collect()
}

fn task_definition(planner: &mut Planner, creds: &Arc<Creds>, registry: &Arc<Registry>, td: &Value, sv: Option<&Value>, opts: &Options) -> Planned {
    let mut children = Vec::new();
    for (key, label) in [("executionRoleArn", "ExecutionRole"), ("taskRoleArn", "TaskRole")] {
        if let Some(arn) = td.get(key).and_then(Value::as_str) {
            let iam = aws_sdk_iam::Client::new(&creds.caller);
            let arn = arn.to_owned();
            children.push(planner.probe(format!("{label}[{arn}]"), Box::pin(async move { role::check(&iam, &arn).await })));
        }
    }
    let awsvpc = service::is_awsvpc(td);
    let platform = image::wanted_platform(td, sv);
    for c in td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
        let mut items = vec![image_check(planner, creds, registry, c, platform.clone(), opts)];
        for s in c.get("secrets").and_then(Value::as_array).into_iter().flatten() {
            let sname = s.get("name").and_then(Value::as_str).unwrap_or("");
            let value_from = s.get("valueFrom").and_then(Value::as_str).unwrap_or("");
            let node = format!("Secret {sname}[{value_from}]");
            let parsed = match secrets::SecretRef::parse(value_from) {
                Ok(r) => r,
                Err(e) => {
                    items.push(done(node, Outcome::ng(e)));
                    continue;
                }
            };
            let (creds, get) = (creds.clone(), opts.get_secrets);
            items.push(planner.probe(
                node,
                Box::pin(async move {
                    let region = parsed.region().map(str::to_owned);
                    if get {
                        secrets::read(&creds.agent_in(region.as_deref()), &parsed).await
                    } else {
                        secrets::exists(&creds.caller_in(region.as_deref()), &parsed).await
                    }
                }),
            ));
        }
        if let Some(o) = logs::awslogs_options(c) {
            let (creds, put) = (creds.clone(), opts.put_logs);
            let node = logs::node_name(&o);
            let region = o.get("awslogs-region").filter(|r| !r.is_empty()).cloned();
            let write =
                opts.log_writes.get(&format!("{}@{}", o.get("awslogs-group").map(String::as_str).unwrap_or(""), region.as_deref().unwrap_or(""))).cloned();
            items.push(planner.probe(node, Box::pin(async move { logs::check(&creds.caller_in(region.as_deref()), &o, put, write).await })));
        }
        for f in c.get("environmentFiles").and_then(Value::as_array).into_iter().flatten() {
            let kind = f.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
            let value = f.get("value").and_then(Value::as_str).unwrap_or("").to_owned();
            let node = format!("EnvironmentFile[{kind} {value}]");
            if kind != "s3" {
                items.push(done(node, Outcome::skip(format!("environment files of type {kind:?} are not checked"))));
                continue;
            }
            let creds = creds.clone();
            items.push(planner.probe(node, Box::pin(async move { environment_file(&creds.agent_in(None), &value).await })));
        }
        children.push(group(format!("ContainerDefinition[{name}]"), service::port_mappings(c, awsvpc), items));
    }
    group("TaskDefinition", None, children)
}

fn image_check(planner: &mut Planner, creds: &Arc<Creds>, registry: &Arc<Registry>, c: &Value, platform: Option<image::Platform>, opts: &Options) -> Planned {
    let text = c.get("image").and_then(Value::as_str).unwrap_or("").to_owned();
    let node = format!("Image[{text}]");
    let parsed = match ImageRef::parse(&text) {
        Ok(r) => r,
        Err(e) => return done(node, Outcome::ng(e)),
    };
    if let Some((registry_id, region)) = parsed.ecr() {
        let ecr = aws_sdk_ecr::Client::new(&creds.agent_in(Some(&region)));
        return planner.probe(node, Box::pin(async move { image::check_ecr(&ecr, &parsed, &registry_id, platform.as_ref()).await }));
    }
    if opts.offline {
        return done(node, Outcome::skip(format!("CORTADO_OFFLINE is set: registry {} not contacted", parsed.registry)));
    }
    let registry = registry.clone();
    planner.probe(node, Box::pin(async move { registry.get().check(&parsed, platform.as_ref()).await }))
}

/// `arn:PARTITION:s3:::bucket/key` (any partition): HeadObject with the agent's credentials (the
/// agent fetches it).
async fn environment_file(sdk: &SdkConfig, arn: &str) -> Outcome {
    let Some((bucket, key)) = crate::aws::arn::Arn::s3_object(arn) else {
        return Outcome::ng(format!("{arn:?} is not an S3 object ARN (arn:aws:s3:::bucket/key)"));
    };
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    match s3.head_object().bucket(&bucket).key(&key).send().await {
        Ok(_) => Outcome::ok(),
        Err(e) => Outcome::ng(format!("cannot read s3://{bucket}/{key}: {}", crate::aws::describe_error(&e))),
    }
}

fn service_definition(planner: &mut Planner, creds: &Arc<Creds>, td: &Value, sv: Option<&Value>) -> Planned {
    let Some(sv) = sv else { return done("ServiceDefinition", Outcome::skip("no service_definition in the config")) };
    let mut children = Vec::new();
    if let Some(o) = service::network(td, sv) {
        children.push(done("NetworkConfiguration", o));
    }
    for lb in sv.get("loadBalancers").and_then(Value::as_array).into_iter().flatten() {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&creds.caller);
        let (lb, td) = (lb.clone(), td.clone());
        children.push(planner.probe(service::lb_name(&lb), Box::pin(async move { service::load_balancer(&elb, &lb, &td).await })));
    }
    if let Some(o) = deployment::metric_configurations(sv) {
        children.push(done("MonitoringConfiguration", o));
    }
    for cfg in sv.get("vpcLatticeConfigurations").and_then(Value::as_array).into_iter().flatten() {
        children.push(lattice(planner, creds, cfg, td));
    }
    for (i, hook) in sv.pointer("/deploymentConfiguration/lifecycleHooks").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = deployment::hook_name(i, hook);
        children.push(match deployment::hook_local(hook) {
            Err(o) => done(name, o),
            Ok((function, role)) => lambda_hook(planner, creds, name, function, role),
        });
    }
    let own = service::own(sv);
    if children.is_empty() {
        return done("ServiceDefinition", own.unwrap_or_else(Outcome::ok));
    }
    group("ServiceDefinition", own, children)
}

/// A Lambda lifecycle hook: its function exists (GetFunction in the function's region) and its role
/// is trusted by `ecs.amazonaws.com`, which assumes it to invoke the function.
fn lambda_hook(planner: &mut Planner, creds: &Arc<Creds>, name: String, function: String, role_arn: String) -> Planned {
    let region = deployment::lambda_arn(&function).ok().map(str::to_owned);
    let lambda = aws_sdk_lambda::Client::new(&creds.caller_in(region.as_deref()));
    let f = function.clone();
    let target = planner.probe(format!("Function[{function}]"), Box::pin(async move { deployment::lambda_function(&lambda, &f).await }));
    let iam = aws_sdk_iam::Client::new(&creds.caller);
    let r = role_arn.clone();
    let trust = planner.probe(format!("Role[{role_arn}]"), Box::pin(async move { role::check_trusted(&iam, &r, role::ECS).await }));
    group(name, None, vec![target, trust])
}

/// One `vpcLatticeConfigurations` entry: its port name (local), its target group and its role,
/// which ECS assumes (so trusted by `ecs.amazonaws.com`).
fn lattice(planner: &mut Planner, creds: &Arc<Creds>, cfg: &Value, td: &Value) -> Planned {
    let mut children = vec![done("PortName", deployment::lattice_port(cfg, td))];
    match cfg.get("targetGroupArn").and_then(Value::as_str) {
        Some(arn) => {
            let elb = aws_sdk_elasticloadbalancingv2::Client::new(&creds.caller);
            let arn = arn.to_owned();
            children.push(planner.probe(format!("TargetGroup[{arn}]"), Box::pin(async move { deployment::lattice_target_group(&elb, &arn).await })));
        }
        None => children.push(done("TargetGroup", Outcome::ng("targetGroupArn is required"))),
    }
    match cfg.get("roleArn").and_then(Value::as_str) {
        Some(arn) => {
            let iam = aws_sdk_iam::Client::new(&creds.caller);
            let arn = arn.to_owned();
            children.push(planner.probe(format!("Role[{arn}]"), Box::pin(async move { role::check_trusted(&iam, &arn, role::ECS).await })));
        }
        None => children.push(done("Role", Outcome::ng("roleArn is required (a role trusted by ecs.amazonaws.com)"))),
    }
    group(deployment::lattice_name(cfg), None, children)
}

/// One node per verifier plugin, its checks as children. A plugin that cannot be loaded or traps
/// is an NG (a broken verifier must not pass silently).
fn plugin_nodes(plugins: &PluginHost, td: &Value, sv: Option<&Value>) -> Vec<Planned> {
    let td_json = td.to_string();
    let sv_json = sv.map(Value::to_string);
    let mut out = Vec::new();
    for lp in &plugins.plugins {
        let first_party = match (lp.config.is_custom().then_some(()), catalog::first_party(&lp.config.name)) {
            (None, Some(fp)) => Some(fp.verifier),
            _ => None,
        };
        if first_party == Some(false) {
            continue;
        }
        let node = format!("Plugin[{}]", lp.config.name);
        let loaded = match lp.get() {
            Ok(l) => l,
            Err(e) => {
                out.push(done(node, Outcome::ng(format!("cannot load the plugin: {e}"))));
                continue;
            }
        };
        if first_party.is_none() && !loaded.manifest.hooks.contains(&Hook::Verifier) {
            continue;
        }
        let checks = match loaded.verify(&td_json, sv_json.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                out.push(done(node, Outcome::ng(e.to_string())));
                continue;
            }
        };
        if checks.is_empty() {
            out.push(done(node, Outcome::skip("the plugin reported no checks")));
            continue;
        }
        let children = checks
            .into_iter()
            .map(|c| {
                let o = match c.status {
                    CheckStatus::Ok => Outcome::ok_with(c.message),
                    CheckStatus::Ng => Outcome::ng(c.message),
                    CheckStatus::Skip => Outcome::skip(c.message),
                };
                done(c.name, o)
            })
            .collect();
        out.push(group(node, None, children));
    }
    out
}
