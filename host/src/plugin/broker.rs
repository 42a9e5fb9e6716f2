//! Brokered AWS reads: the host makes the call with its own credentials, only when the plugin's
//! grants cover it. A denied call never leaves the host; it is logged and the plugin gets
//! `aws-error::denied` naming the missing grant.
//!
//! What is matched, and what is sent:
//! - A full ARN from the plugin is parsed into partition, service, region, account and resource,
//!   and all five are matched against each grant's ARN pattern (IAM-style `*`/`?` per field, see
//!   [`super::arn`]). Its partition and region must be the caller's own (requests go to that
//!   region's endpoint), its service the call's, and no field but the resource may hold a
//!   wildcard. A cross-account ARN passes only a grant that covers that account.
//! - A bare name (an SSM parameter name, a secret or stack name) is expanded to the caller's own
//!   partition, region and account: `/app/db` → `arn:aws:ssm:REGION:ACCOUNT:parameter/app/db`,
//!   secret `db` → `…:secret:db` (a grant `secret:db-*` or `secret:db*` covers it, as in IAM where
//!   the ARN carries a random suffix), stack `app` → `…:stack/app/*`.
//! - S3 objects are `arn:PARTITION:s3:::BUCKET/KEY`.
//! - The request then carries exactly the string the plugin passed (name or ARN), unchanged: AWS
//!   resolves SSM names, secret ids and S3 keys literally (no `..` or `//` folding), so the text
//!   matched is the resource AWS reads. An ARN that does not parse is denied.
//! - CloudWatch `GetMetricData` and ELBv2 `DescribeTargetHealth` have no IAM resource-level
//!   permissions (the role's policy says `"Resource": "*"`), so the broker is the only narrowing:
//!   each metric query is matched as `arn:PARTITION:cloudwatch:REGION:ACCOUNT:metric/NAMESPACE/METRIC`
//!   (dimensions are not narrowed), a target group by its full ARN.
//! - An S3 object larger than `limits.max_object` (default 16 MiB) is refused from its
//!   content-length before the body is read, and bounded while reading.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_ssm::types::ParameterType;

use super::arn::{self, Arn, Match};
use super::bindings::cortado::plugin::aws as wit;
use super::bindings::cortado::plugin::metrics as wit_metrics;
use super::cassette::{self, Cassette, Mode};
use super::grants;
use crate::aws::{Aws, describe_error};
use crate::config::{Effect, Grant};

/// AWS access shared by every plugin of a run, created on the first brokered call.
pub struct AwsSlot {
    region: Option<String>,
    assume_role_arn: Option<String>,
    /// The config's `retry_max_attempts`, so brokered reads retry as the host's own calls do.
    max_attempts: Option<u32>,
    aws: OnceLock<Result<Aws, String>>,
    account: OnceLock<String>,
    /// `cortado plugin test`: brokered answers are recorded to or replayed from it.
    pub cassette: Option<Arc<Cassette>>,
}

impl AwsSlot {
    pub fn new(region: Option<String>, assume_role_arn: Option<String>) -> Arc<Self> {
        Arc::new(AwsSlot { region, assume_role_arn, max_attempts: None, aws: OnceLock::new(), account: OnceLock::new(), cassette: None })
    }

    /// [`AwsSlot::new`] with the config's `retry_max_attempts`, so brokered reads retry as the
    /// host's own calls do.
    pub fn with_retries(region: Option<String>, assume_role_arn: Option<String>, max_attempts: Option<u32>) -> Arc<Self> {
        Arc::new(AwsSlot { region, assume_role_arn, max_attempts, aws: OnceLock::new(), account: OnceLock::new(), cassette: None })
    }

    /// The partition of the configured region, without loading AWS: implied grants are written in
    /// it. `aws` when no region is configured (the SDK's chain then picks one, most often there).
    pub fn configured_partition(&self) -> super::arn::Partition {
        super::arn::Partition::of_region(self.region.as_deref().unwrap_or(""))
    }

    /// A slot whose brokered calls go through `cassette` (see [`super::cassette`]).
    pub fn with_cassette(region: Option<String>, cassette: Arc<Cassette>) -> Arc<Self> {
        Arc::new(AwsSlot { region, assume_role_arn: None, max_attempts: None, aws: OnceLock::new(), account: OnceLock::new(), cassette: Some(cassette) })
    }

    fn aws(&self) -> Result<&Aws, String> {
        if self.cassette.as_ref().is_some_and(|c| c.mode == Mode::Replay) {
            return Err(cassette::REPLAYING.into());
        }
        self.aws
            .get_or_init(|| block_on(Aws::load_with(self.region.as_deref(), self.assume_role_arn.as_deref(), self.max_attempts)).map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The caller's account (one STS call per run), for building resource ARNs.
    fn account(&self) -> Result<String, String> {
        if let Some(a) = self.cassette.as_ref().and_then(|c| c.replayed_account()) {
            return Ok(a);
        }
        if let Some(a) = self.account.get() {
            return Ok(a.clone());
        }
        let aws = self.aws()?;
        let out = block_on(aws.sts().get_caller_identity().send()).map_err(|e| describe_error(&e))?;
        let account = out.account().unwrap_or("*").to_owned();
        if let Some(c) = &self.cassette {
            c.note_location(Some(aws.region()), Some(&account));
        }
        Ok(self.account.get_or_init(|| account).clone())
    }

    fn region(&self) -> Result<String, String> {
        if let Some(r) = self.cassette.as_ref().and_then(|c| c.replayed_region()) {
            return Ok(r);
        }
        Ok(self.aws()?.region().to_owned())
    }
}

thread_local! {
    /// The deadline of the plugin call running on this thread, if any (see [`with_deadline`]).
    static DEADLINE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (a plugin call) with brokered requests bounded by `deadline`.
pub fn with_deadline<R>(deadline: std::time::Instant, f: impl FnOnce() -> R) -> R {
    let before = DEADLINE.with(|d| d.replace(Some(deadline)));
    let out = f();
    DEADLINE.with(|d| d.set(before));
    out
}

/// The log prefix a plugin uses to report an accepted signature: `signature-verified {JSON}` at
/// info level (`image`, `digest`, `key_id`, `format`), as `image-signature` does. Kept by the host
/// and written into the gate's audit record, under that plugin's name (what it claims, not what
/// the host checked), without a WIT change.
pub const VERIFIED_PREFIX: &str = "signature-verified ";

/// At most this many reports are kept per call (a plugin cannot grow the audit record unbounded).
const MAX_VERIFIED: usize = 256;

impl Broker {
    /// Keeps a `signature-verified {…}` log line's object; other lines are ignored.
    pub fn note(&self, message: &str) {
        let Some(json) = message.strip_prefix(VERIFIED_PREFIX) else { return };
        let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(json) else { return };
        if let Ok(mut list) = self.verified.lock()
            && list.len() < MAX_VERIFIED
        {
            list.push(v);
        }
    }

    /// The reports of the call just made, emptied.
    pub fn take_verified(&self) -> Vec<serde_json::Value> {
        self.verified.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

/// Runs a brokered request to completion from synchronous plugin code; during a plugin call it
/// gives up at the call's deadline (the guest gets `failed`, then traps on the deadline).
pub fn bounded<F: Future>(fut: F) -> Result<F::Output, wit::AwsError> {
    match DEADLINE.with(|d| d.get()) {
        Some(deadline) => block_on(tokio::time::timeout_at(deadline.into(), fut))
            .map_err(|_| wit::AwsError::Failed("the plugin's call deadline passed during the request; abandoned".into())),
        None => Ok(block_on(fut)),
    }
}

/// Runs a future to completion from synchronous plugin code.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(fut)),
        Err(_) => tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a current-thread runtime builds").block_on(fut),
    }
}

/// The largest S3 object the broker reads for a plugin unless its `limits.max_object` says otherwise.
pub const DEFAULT_MAX_OBJECT: usize = 16 << 20;

/// One plugin's view of the broker: its name and grants.
pub struct Broker {
    pub plugin: String,
    pub grants: Vec<Grant>,
    pub slot: Arc<AwsSlot>,
    /// Denied requests, kept so that an error surfacing later can name the missing grant.
    pub denials: Mutex<Vec<String>>,
    /// Signatures the plugin reported accepting during the current call (see [`Broker::note`]),
    /// for the gate's audit record and evidence.
    pub verified: Mutex<Vec<serde_json::Value>>,
    /// Brokered S3 objects above this size are refused from their content-length, unread.
    pub max_object_bytes: usize,
}

/// What a brokered call names.
enum Target<'a> {
    /// The plugin passed a full ARN: matched as it is, field by field.
    Arn(Arn),
    /// A bare name: its ARN is the caller's own partition, region and account, and this resource.
    Name(&'a str),
    /// A resource with no region or account (S3 objects): `arn:PARTITION:s3:::RESOURCE`.
    Global(&'a str),
}

impl Broker {
    /// A broker for `plugin` with `grants` and the default limits.
    pub fn new(plugin: impl Into<String>, grants: Vec<Grant>, slot: Arc<AwsSlot>) -> Broker {
        Broker { plugin: plugin.into(), grants, slot, denials: Mutex::default(), verified: Mutex::default(), max_object_bytes: DEFAULT_MAX_OBJECT }
    }

    /// Checks the grants for `action` on `target` (see the module docs for what is matched): an
    /// `effect: Deny` grant that matches refuses the call whatever Allow grants say, as in IAM.
    ///
    /// A call no grant could cover is denied before anything else happens: no credentials are
    /// loaded and no request (not even STS) leaves the host. The caller's account is looked up
    /// (one STS call) only when a bare name is matched against a grant naming a concrete account.
    fn authorize(&self, action: &str, service: &str, target: Target) -> Result<(), wit::AwsError> {
        let patterns = |effect: Effect| -> Vec<&str> {
            self.grants.iter().filter(|g| g.effect == effect && grants::action_matches(g, action)).map(|g| g.resource.as_str()).collect()
        };
        let (allow, deny) = (patterns(Effect::Allow), patterns(Effect::Deny));
        let guess = || match &target {
            Target::Arn(a) => a.to_string(),
            Target::Name(r) => format!("arn:*:{service}:*:*:{r}"),
            Target::Global(r) => format!("arn:*:{service}:::{r}"),
        };
        const DENIED: &str = " (an `effect: Deny` grant covers it)";
        if allow.is_empty() {
            return Err(self.deny(action, &guess(), ""));
        }
        if deny.contains(&"*") {
            return Err(self.deny(action, &guess(), DENIED));
        }
        if deny.is_empty() && allow.contains(&"*") {
            return Ok(());
        }
        let region = self.slot.region().map_err(wit::AwsError::Failed)?;
        let partition = arn::partition_of(&region).to_owned();
        let (p, s, r, mut account, resource) = match target {
            Target::Arn(a) => {
                if a.service != service || a.has_wildcard_location() {
                    return Err(self.deny(action, &a.to_string(), &format!(" (not a concrete {service} ARN)")));
                }
                // The request goes to this region's endpoint with these credentials: an ARN elsewhere
                // would be answered (or refused) by AWS as a different resource than the one matched.
                if a.partition != partition || a.region != region {
                    return Err(self.deny(action, &a.to_string(), &format!(" (the broker sends requests to {region} in partition {partition} only)")));
                }
                (a.partition, a.service, a.region, Some(a.account), a.resource)
            }
            Target::Name(resource) => (partition, service.to_owned(), region, None, resource.to_owned()),
            Target::Global(resource) => (partition, service.to_owned(), String::new(), Some(String::new()), resource.to_owned()),
        };
        let shown = |account: &Option<String>| format!("arn:{p}:{s}:{r}:{}:{resource}", account.as_deref().unwrap_or("*"));
        // Whether any of `patterns` matches, looking the account up once if a pattern needs it.
        let any = |patterns: &[&str], account: &mut Option<String>| -> Result<bool, wit::AwsError> {
            loop {
                let m: Vec<Match> = patterns.iter().map(|g| arn::matches(g, &p, &s, &r, account.as_deref(), &resource)).collect();
                if m.contains(&Match::Yes) {
                    return Ok(true);
                }
                if !m.contains(&Match::NeedsAccount) || account.is_some() {
                    return Ok(false);
                }
                *account = Some(self.slot.account().map_err(wit::AwsError::Failed)?);
            }
        };
        if !deny.is_empty() && any(&deny, &mut account)? {
            return Err(self.deny(action, &shown(&account), DENIED));
        }
        if allow.contains(&"*") || any(&allow, &mut account)? {
            return Ok(());
        }
        Err(self.deny(action, &shown(&account), ""))
    }

    /// Logs and remembers a denial, and returns the error the plugin gets.
    fn deny(&self, action: &str, shown: &str, why: &str) -> wit::AwsError {
        let msg = format!("plugin {:?} has no grant for {action} on {shown}{why}; add it to the plugin's `grants:` to allow it", self.plugin);
        tracing::warn!("{msg}");
        if let Ok(mut d) = self.denials.lock() {
            d.push(msg.clone());
        }
        wit::AwsError::Denied(msg)
    }

    /// Authorizes a call on a resource named either by name or by full ARN.
    fn authorize_named(&self, action: &str, service: &str, name_or_arn: &str, tail_for_name: impl FnOnce(&str) -> String) -> Result<(), wit::AwsError> {
        if name_or_arn.starts_with("arn:") {
            let Some(a) = Arn::parse(name_or_arn) else {
                return Err(self.deny(action, name_or_arn, " (not a valid ARN)"));
            };
            return self.authorize(action, service, Target::Arn(a));
        }
        let tail = tail_for_name(name_or_arn);
        self.authorize(action, service, Target::Name(&tail))
    }

    /// SSM answers `/aws/reference/secretsmanager/SECRET` with the secret's value: such a name also
    /// needs a `secretsmanager:GetSecretValue` grant covering the secret (as IAM requires both).
    fn authorize_secret_reference(&self, name_or_arn: &str) -> Result<(), wit::AwsError> {
        let Some(secret) = secret_reference(name_or_arn) else { return Ok(()) };
        self.authorize_named("secretsmanager:GetSecretValue", "secretsmanager", secret, |n| format!("secret:{n}"))
    }

    /// The host's AWS access (loaded on first use); also used by the registry broker for ECR.
    pub(super) fn aws(&self) -> Result<&Aws, wit::AwsError> {
        self.slot.aws().map_err(wit::AwsError::Failed)
    }

    pub fn ssm_get_parameter(&self, name: String, with_decryption: bool) -> Result<wit::Parameter, wit::AwsError> {
        self.authorize_named("ssm:GetParameter", "ssm", &name, ssm_tail)?;
        self.authorize_secret_reference(&name)?;
        let aws = self.aws()?;
        let client = aws_sdk_ssm::Client::new(&aws.sdk);
        let out = bounded(client.get_parameter().name(&name).with_decryption(with_decryption).send())?.map_err(|e| {
            aws_error(e.as_service_error().is_some_and(|s| s.is_parameter_not_found()), format!("ssm GetParameter {name}: {}", describe_error(&e)))
        })?;
        let p = out.parameter().ok_or_else(|| wit::AwsError::NotFound(format!("parameter {name} not found")))?;
        Ok(parameter(p))
    }

    pub fn ssm_get_parameters(&self, names: Vec<String>, with_decryption: bool) -> Result<(Vec<wit::Parameter>, Vec<String>), wit::AwsError> {
        for n in &names {
            self.authorize_named("ssm:GetParameters", "ssm", n, ssm_tail)?;
            self.authorize_secret_reference(n)?;
        }
        let aws = self.aws()?;
        let client = aws_sdk_ssm::Client::new(&aws.sdk);
        let out = bounded(client.get_parameters().set_names(Some(names)).with_decryption(with_decryption).send())?
            .map_err(|e| wit::AwsError::Failed(format!("ssm GetParameters: {}", describe_error(&e))))?;
        Ok((out.parameters().iter().map(parameter).collect(), out.invalid_parameters().to_vec()))
    }

    pub fn secretsmanager_describe_secret(&self, id: String) -> Result<wit::SecretDescription, wit::AwsError> {
        self.authorize_named("secretsmanager:DescribeSecret", "secretsmanager", &id, |n| format!("secret:{n}"))?;
        let aws = self.aws()?;
        let client = aws_sdk_secretsmanager::Client::new(&aws.sdk);
        let out = bounded(client.describe_secret().secret_id(&id).send())?.map_err(|e| {
            aws_error(
                e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()),
                format!("secretsmanager DescribeSecret {id}: {}", describe_error(&e)),
            )
        })?;
        Ok(wit::SecretDescription { arn: out.arn().unwrap_or_default().to_owned(), name: out.name().unwrap_or_default().to_owned() })
    }

    pub fn secretsmanager_get_secret_value(&self, id: String) -> Result<wit::SecretValue, wit::AwsError> {
        self.authorize_named("secretsmanager:GetSecretValue", "secretsmanager", &id, |n| format!("secret:{n}"))?;
        let aws = self.aws()?;
        let client = aws_sdk_secretsmanager::Client::new(&aws.sdk);
        let out = bounded(client.get_secret_value().secret_id(&id).send())?.map_err(|e| {
            aws_error(
                e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()),
                format!("secretsmanager GetSecretValue {id}: {}", describe_error(&e)),
            )
        })?;
        Ok(wit::SecretValue {
            arn: out.arn().unwrap_or_default().to_owned(),
            name: out.name().unwrap_or_default().to_owned(),
            secret_string: out.secret_string().map(str::to_owned),
            version_id: out.version_id().unwrap_or_default().to_owned(),
        })
    }

    pub fn s3_get_object(&self, bucket: String, key: String) -> Result<Vec<u8>, wit::AwsError> {
        self.authorize("s3:GetObject", "s3", Target::Global(&format!("{bucket}/{key}")))?;
        let aws = self.aws()?;
        let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws.sdk).force_path_style(true).build());
        bounded(async {
            let out = client.get_object().bucket(&bucket).key(&key).send().await.map_err(|e| {
                aws_error(e.as_service_error().is_some_and(|s| s.is_no_such_key()), format!("s3 GetObject s3://{bucket}/{key}: {}", describe_error(&e)))
            })?;
            let cap = self.max_object_bytes;
            let too_big = |size: String| {
                wit::AwsError::Failed(format!("s3://{bucket}/{key} is {size} bytes, above the plugin's limit of {cap} bytes (limits.max_object); not read"))
            };
            // Refused from the header, before any of the body is read.
            if let Some(len) = out.content_length()
                && u64::try_from(len).unwrap_or(u64::MAX) > cap as u64
            {
                return Err(too_big(len.to_string()));
            }
            // And bounded while reading, for an answer without (or lying about) its length.
            let mut body = out.body;
            let mut bytes = Vec::new();
            while let Some(chunk) = body.try_next().await.map_err(|e| wit::AwsError::Failed(format!("reading s3://{bucket}/{key}: {e}")))? {
                if bytes.len() + chunk.len() > cap {
                    return Err(too_big(format!("more than {cap}")));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        })?
    }

    pub fn cloudformation_describe_stack_outputs(&self, stack: String) -> Result<Vec<wit::StackOutput>, wit::AwsError> {
        self.authorize_named("cloudformation:DescribeStacks", "cloudformation", &stack, |n| format!("stack/{n}/*"))?;
        let aws = self.aws()?;
        let client = aws_sdk_cloudformation::Client::new(&aws.sdk);
        let out = bounded(client.describe_stacks().stack_name(&stack).send())?.map_err(|e| {
            let msg = format!("cloudformation DescribeStacks {stack}: {}", describe_error(&e));
            if msg.contains("does not exist") { wit::AwsError::NotFound(msg) } else { wit::AwsError::Failed(msg) }
        })?;
        let s = out.stacks().first().ok_or_else(|| wit::AwsError::NotFound(format!("stack {stack} not found")))?;
        Ok(s.outputs()
            .iter()
            .map(|o| wit::StackOutput {
                key: o.output_key().unwrap_or_default().to_owned(),
                value: o.output_value().unwrap_or_default().to_owned(),
                export_name: o.export_name().map(str::to_owned),
            })
            .collect())
    }

    pub fn cloudformation_list_exports(&self) -> Result<Vec<wit::StackExport>, wit::AwsError> {
        self.authorize("cloudformation:ListExports", "cloudformation", Target::Name("*"))?;
        let aws = self.aws()?;
        let client = aws_sdk_cloudformation::Client::new(&aws.sdk);
        bounded(async {
            let mut out = Vec::new();
            let mut pages = client.list_exports().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| wit::AwsError::Failed(format!("cloudformation ListExports: {}", describe_error(&e))))?;
                out.extend(page.exports().iter().map(|e| wit::StackExport {
                    name: e.name().unwrap_or_default().to_owned(),
                    value: e.value().unwrap_or_default().to_owned(),
                    exporting_stack_id: e.exporting_stack_id().unwrap_or_default().to_owned(),
                }));
            }
            Ok(out)
        })?
    }
}

/// The most metric queries one brokered GetMetricData may carry, and the most pages read.
pub const MAX_METRIC_QUERIES: usize = 50;
const MAX_METRIC_PAGES: usize = 10;

impl Broker {
    pub fn cloudwatch_get_metric_data(
        &self,
        queries: Vec<wit_metrics::MetricQuery>,
        start: i64,
        end: i64,
    ) -> Result<Vec<wit_metrics::MetricResult>, wit::AwsError> {
        if queries.is_empty() || queries.len() > MAX_METRIC_QUERIES {
            return Err(wit::AwsError::Failed(format!("cloudwatch GetMetricData: {} queries (1 to {MAX_METRIC_QUERIES} allowed)", queries.len())));
        }
        for q in &queries {
            self.authorize("cloudwatch:GetMetricData", "cloudwatch", Target::Name(&metric_resource(q)))?;
        }
        let client = aws_sdk_cloudwatch::Client::new(&self.aws()?.sdk);
        let request = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.iter().map(metric_query).collect()))
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(start))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(end));
        bounded(async {
            let mut results: Vec<wit_metrics::MetricResult> = Vec::new();
            let mut pages = request.into_paginator().send();
            for _ in 0..MAX_METRIC_PAGES {
                let Some(page) = pages.next().await else { break };
                let page = page.map_err(|e| wit::AwsError::Failed(format!("cloudwatch GetMetricData: {}", describe_error(&e))))?;
                for r in page.metric_data_results() {
                    merge_metric_result(&mut results, r);
                }
            }
            Ok(results)
        })?
    }

    pub fn elbv2_describe_target_health(&self, arn: String) -> Result<Vec<wit_metrics::TargetHealth>, wit::AwsError> {
        const ACTION: &str = "elasticloadbalancing:DescribeTargetHealth";
        let Some(parsed) = Arn::parse(&arn).filter(|a| a.resource.starts_with("targetgroup/")) else {
            return Err(self.deny(ACTION, &arn, " (not a target group ARN)"));
        };
        self.authorize(ACTION, "elasticloadbalancing", Target::Arn(parsed))?;
        let client = aws_sdk_elasticloadbalancingv2::Client::new(&self.aws()?.sdk);
        let out = bounded(client.describe_target_health().target_group_arn(&arn).send())?.map_err(|e| {
            aws_error(
                e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()),
                format!("elbv2 DescribeTargetHealth {arn}: {}", describe_error(&e)),
            )
        })?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let target = d.target();
                let health = d.target_health();
                wit_metrics::TargetHealth {
                    id: target.and_then(|t| t.id()).unwrap_or_default().to_owned(),
                    port: target.and_then(|t| t.port()),
                    availability_zone: target.and_then(|t| t.availability_zone()).map(str::to_owned),
                    state: health.and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                }
            })
            .collect())
    }
}

/// What a metric query is matched as: `metric/NAMESPACE/METRIC`.
pub fn metric_resource(q: &wit_metrics::MetricQuery) -> String {
    format!("metric/{}/{}", q.namespace, q.metric_name)
}

fn metric_query(q: &wit_metrics::MetricQuery) -> aws_sdk_cloudwatch::types::MetricDataQuery {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StandardUnit};
    let dimensions = q.dimensions.iter().map(|d| Dimension::builder().name(&d.name).value(&d.value).build()).collect();
    let metric = Metric::builder().namespace(&q.namespace).metric_name(&q.metric_name).set_dimensions(Some(dimensions)).build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(i32::try_from(q.period_seconds).unwrap_or(i32::MAX))
        .stat(&q.stat)
        .set_unit(q.unit.as_deref().map(StandardUnit::from))
        .build();
    MetricDataQuery::builder().id(&q.id).metric_stat(stat).return_data(true).build()
}

/// Adds a page's result to the one with its id (a long window spans pages).
fn merge_metric_result(results: &mut Vec<wit_metrics::MetricResult>, r: &aws_sdk_cloudwatch::types::MetricDataResult) {
    let id = r.id().unwrap_or_default();
    let idx = match results.iter().position(|x| x.id == id) {
        Some(i) => i,
        None => {
            results.push(wit_metrics::MetricResult {
                id: id.to_owned(),
                label: r.label().unwrap_or_default().to_owned(),
                timestamps: Vec::new(),
                values: Vec::new(),
                status_code: String::new(),
            });
            results.len() - 1
        }
    };
    let into = &mut results[idx];
    into.timestamps.extend(r.timestamps().iter().map(|t| t.secs()));
    into.values.extend_from_slice(r.values());
    into.status_code = r.status_code().map(|s| s.as_str().to_owned()).unwrap_or_default();
}

fn parameter(p: &aws_sdk_ssm::types::Parameter) -> wit::Parameter {
    wit::Parameter {
        name: p.name().unwrap_or_default().to_owned(),
        type_: p.r#type().map(ParameterType::as_str).unwrap_or("String").to_owned(),
        value: p.value().unwrap_or_default().to_owned(),
        arn: p.arn().unwrap_or_default().to_owned(),
        version: p.version(),
    }
}

/// The secret an SSM parameter name refers to (`/aws/reference/secretsmanager/SECRET`, as a name
/// or inside a parameter ARN), matched case-insensitively so that no spelling slips past.
pub fn secret_reference(name_or_arn: &str) -> Option<&str> {
    const PREFIX: &str = "aws/reference/secretsmanager/";
    let name = match name_or_arn.strip_prefix("arn:") {
        Some(_) => name_or_arn.split_once(":parameter")?.1,
        None => name_or_arn,
    };
    let name = name.trim_start_matches('/');
    let head = name.get(..PREFIX.len())?;
    head.eq_ignore_ascii_case(PREFIX).then(|| &name[PREFIX.len()..])
}

/// `parameter/NAME` for `/NAME` or `NAME`.
fn ssm_tail(name: &str) -> String {
    format!("parameter/{}", name.trim_start_matches('/'))
}

/// A failed brokered call: NotFound when the service says the resource is missing, else Failed.
fn aws_error(not_found: bool, msg: String) -> wit::AwsError {
    if not_found { wit::AwsError::NotFound(msg) } else { wit::AwsError::Failed(msg) }
}
