//! Brokered AWS reads: the host makes the call with its own credentials, only when the plugin's
//! grants cover it. A denied call never leaves the host; it is logged and the plugin gets
//! `aws-error::denied` naming the missing grant.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_ssm::types::ParameterType;

use super::bindings::cortado::plugin::aws as wit;
use super::cassette::{self, Cassette, Mode};
use super::grants;
use crate::aws::{Aws, describe_error};
use crate::config::Grant;

/// AWS access shared by every plugin of a run, created on the first brokered call.
pub struct AwsSlot {
    region: Option<String>,
    assume_role_arn: Option<String>,
    aws: OnceLock<Result<Aws, String>>,
    account: OnceLock<String>,
    /// `cortado plugin test`: brokered answers are recorded to or replayed from it.
    pub cassette: Option<Arc<Cassette>>,
}

impl AwsSlot {
    pub fn new(region: Option<String>, assume_role_arn: Option<String>) -> Arc<Self> {
        Arc::new(AwsSlot { region, assume_role_arn, aws: OnceLock::new(), account: OnceLock::new(), cassette: None })
    }

    /// A slot whose brokered calls go through `cassette` (see [`super::cassette`]).
    pub fn with_cassette(region: Option<String>, cassette: Arc<Cassette>) -> Arc<Self> {
        Arc::new(AwsSlot { region, assume_role_arn: None, aws: OnceLock::new(), account: OnceLock::new(), cassette: Some(cassette) })
    }

    fn aws(&self) -> Result<&Aws, String> {
        if self.cassette.as_ref().is_some_and(|c| c.mode == Mode::Replay) {
            return Err(cassette::REPLAYING.into());
        }
        self.aws
            .get_or_init(|| block_on(Aws::load(self.region.as_deref(), self.assume_role_arn.as_deref())).map_err(|e| format!("{e:#}")))
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

/// Runs a future to completion from synchronous plugin code.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(fut)),
        Err(_) => tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a current-thread runtime builds").block_on(fut),
    }
}

/// One plugin's view of the broker: its name and grants.
pub struct Broker {
    pub plugin: String,
    pub grants: Vec<Grant>,
    pub slot: Arc<AwsSlot>,
    /// Denied requests, kept so that an error surfacing later can name the missing grant.
    pub denials: Mutex<Vec<String>>,
}

impl Broker {
    /// Checks the grants for `action` on the resource `arn:aws:{service}:{region}:{account}:{tail}`.
    ///
    /// A call no grant could cover is denied before anything else happens: no credentials are
    /// loaded and no request (not even STS) leaves the host. The caller's account is looked up only
    /// when a grant names a concrete region or account.
    fn authorize(&self, action: &str, service: &str, tail: &str, scoped: bool) -> Result<(), wit::AwsError> {
        let candidates: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|g| grants::glob_match(&g.action.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            .filter(|g| grants::resource_could_match(&g.resource, service, tail))
            .collect();
        if candidates.iter().any(|g| g.resource == "*" || grants::region_account_wildcard(&g.resource)) {
            return Ok(());
        }
        if !candidates.is_empty() && scoped {
            let region = self.slot.region().map_err(wit::AwsError::Failed)?;
            let account = self.slot.account().map_err(wit::AwsError::Failed)?;
            let arn = format!("arn:aws:{service}:{region}:{account}:{tail}");
            if candidates.iter().any(|g| grants::glob_match(&g.resource, &arn)) {
                return Ok(());
            }
        }
        let shown = if scoped { format!("arn:aws:{service}:*:*:{tail}") } else { format!("arn:aws:{service}:::{tail}") };
        let msg = format!("plugin {:?} has no grant for {action} on {shown}; add it to the plugin's `grants:` to allow it", self.plugin);
        tracing::warn!("{msg}");
        if let Ok(mut d) = self.denials.lock() {
            d.push(msg.clone());
        }
        Err(wit::AwsError::Denied(msg))
    }

    /// Authorizes a call on a resource named either by name or by full ARN.
    fn authorize_named(&self, action: &str, service: &str, name_or_arn: &str, tail_for_name: impl FnOnce(&str) -> String) -> Result<(), wit::AwsError> {
        let tail = match name_or_arn.strip_prefix("arn:") {
            // arn:partition:service:region:account:tail
            Some(rest) => rest.splitn(5, ':').nth(4).unwrap_or("").to_owned(),
            None => tail_for_name(name_or_arn),
        };
        self.authorize(action, service, &tail, true)
    }

    fn aws(&self) -> Result<&Aws, wit::AwsError> {
        self.slot.aws().map_err(wit::AwsError::Failed)
    }

    pub fn ssm_get_parameter(&self, name: String, with_decryption: bool) -> Result<wit::Parameter, wit::AwsError> {
        self.authorize_named("ssm:GetParameter", "ssm", &name, ssm_tail)?;
        let aws = self.aws()?;
        let client = aws_sdk_ssm::Client::new(&aws.sdk);
        let out = block_on(client.get_parameter().name(&name).with_decryption(with_decryption).send()).map_err(|e| {
            aws_error(e.as_service_error().is_some_and(|s| s.is_parameter_not_found()), format!("ssm GetParameter {name}: {}", describe_error(&e)))
        })?;
        let p = out.parameter().ok_or_else(|| wit::AwsError::NotFound(format!("parameter {name} not found")))?;
        Ok(parameter(p))
    }

    pub fn ssm_get_parameters(&self, names: Vec<String>, with_decryption: bool) -> Result<(Vec<wit::Parameter>, Vec<String>), wit::AwsError> {
        for n in &names {
            self.authorize_named("ssm:GetParameters", "ssm", n, ssm_tail)?;
        }
        let aws = self.aws()?;
        let client = aws_sdk_ssm::Client::new(&aws.sdk);
        let out = block_on(client.get_parameters().set_names(Some(names)).with_decryption(with_decryption).send())
            .map_err(|e| wit::AwsError::Failed(format!("ssm GetParameters: {}", describe_error(&e))))?;
        Ok((out.parameters().iter().map(parameter).collect(), out.invalid_parameters().to_vec()))
    }

    pub fn secretsmanager_describe_secret(&self, id: String) -> Result<wit::SecretDescription, wit::AwsError> {
        self.authorize_named("secretsmanager:DescribeSecret", "secretsmanager", &id, |n| format!("secret:{n}"))?;
        let aws = self.aws()?;
        let client = aws_sdk_secretsmanager::Client::new(&aws.sdk);
        let out = block_on(client.describe_secret().secret_id(&id).send()).map_err(|e| {
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
        let out = block_on(client.get_secret_value().secret_id(&id).send()).map_err(|e| {
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
        self.authorize("s3:GetObject", "s3", &format!("{bucket}/{key}"), false)?;
        let aws = self.aws()?;
        let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&aws.sdk).force_path_style(true).build());
        block_on(async {
            let out = client.get_object().bucket(&bucket).key(&key).send().await.map_err(|e| {
                aws_error(e.as_service_error().is_some_and(|s| s.is_no_such_key()), format!("s3 GetObject s3://{bucket}/{key}: {}", describe_error(&e)))
            })?;
            let bytes = out.body.collect().await.map_err(|e| wit::AwsError::Failed(format!("reading s3://{bucket}/{key}: {e}")))?;
            Ok(bytes.into_bytes().to_vec())
        })
    }

    pub fn cloudformation_describe_stack_outputs(&self, stack: String) -> Result<Vec<wit::StackOutput>, wit::AwsError> {
        self.authorize_named("cloudformation:DescribeStacks", "cloudformation", &stack, |n| format!("stack/{n}/*"))?;
        let aws = self.aws()?;
        let client = aws_sdk_cloudformation::Client::new(&aws.sdk);
        let out = block_on(client.describe_stacks().stack_name(&stack).send()).map_err(|e| {
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
        self.authorize("cloudformation:ListExports", "cloudformation", "*", true)?;
        let aws = self.aws()?;
        let client = aws_sdk_cloudformation::Client::new(&aws.sdk);
        block_on(async {
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
        })
    }
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

/// `parameter/NAME` for `/NAME` or `NAME`.
fn ssm_tail(name: &str) -> String {
    format!("parameter/{}", name.trim_start_matches('/'))
}

/// A failed brokered call: NotFound when the service says the resource is missing, else Failed.
fn aws_error(not_found: bool, msg: String) -> wit::AwsError {
    if not_found { wit::AwsError::NotFound(msg) } else { wit::AwsError::Failed(msg) }
}
