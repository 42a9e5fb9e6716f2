//! AWS access. One `SdkConfig` per run (region from the config, else the usual chain; endpoint from
//! `AWS_ENDPOINT_URL`, which is how tests reach the local simulator), one rustls HTTPS client, and
//! thin clients made from it on demand.

pub mod codedeploy;
pub mod deployments;
pub mod ecs;
pub mod http;
pub mod raw;
pub mod task;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};

#[derive(Clone, Debug)]
pub struct Aws {
    pub sdk: SdkConfig,
}

impl Aws {
    /// Loads credentials and region. `region` wins over the environment when set; an
    /// `assume_role_arn` wraps the credentials for every client cortado makes (plugins included,
    /// since they never hold credentials of their own).
    pub async fn load(region: Option<&str>, assume_role_arn: Option<&str>) -> Result<Aws> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(r) = region {
            loader = loader.region(Region::new(r.to_owned()));
        }
        let mut sdk = loader.load().await;
        if sdk.region().is_none() {
            anyhow::bail!("no AWS region: set `region` in the config, AWS_REGION, or a profile region");
        }
        if let Some(arn) = assume_role_arn {
            let provider = aws_config::sts::AssumeRoleProvider::builder(arn).session_name("cortado").configure(&sdk).build().await;
            sdk = sdk.into_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider)).build();
        }
        Ok(Aws { sdk })
    }

    pub fn region(&self) -> &str {
        self.sdk.region().map(|r| r.as_ref()).unwrap_or("")
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk)
    }
    pub fn autoscaling(&self) -> aws_sdk_applicationautoscaling::Client {
        aws_sdk_applicationautoscaling::Client::new(&self.sdk)
    }
    pub fn codedeploy(&self) -> aws_sdk_codedeploy::Client {
        aws_sdk_codedeploy::Client::new(&self.sdk)
    }
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }
}

/// Formats an SDK error with its service message (the SDK's Display only says "service error").
pub fn describe_error<E: std::error::Error + 'static>(err: &E) -> String {
    use std::fmt::Write;
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(e) = src {
        let s = e.to_string();
        if !out.contains(&s) {
            let _ = write!(out, ": {s}");
        }
        src = e.source();
    }
    out
}

/// Adds context to an SDK result: `what` failed, with the service's own message.
pub trait SdkContext<T> {
    fn sdk_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> SdkContext<T> for std::result::Result<T, E> {
    fn sdk_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let msg = describe_error(&e);
            anyhow::anyhow!(msg)
        })
        .with_context(what)
    }
}
