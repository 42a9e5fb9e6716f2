//! AWS access. One `SdkConfig` per run (region from the config, else the usual chain; endpoint from
//! `AWS_ENDPOINT_URL`, which is how tests reach the local simulator), one rustls HTTPS client, and
//! thin clients made from it on demand.
//!
//! Retries and timeouts are set here, for every client cortado makes (plugins' brokered reads
//! included): see [`retry_config`] and [`timeout_config`].

pub mod arn;
pub mod codedeploy;
pub mod controller;
pub mod daemon;
pub mod deployments;
pub mod docker_auth;
pub mod ecs;
pub mod error;
pub mod express;
pub mod http;
pub mod logs;
pub mod raw;
pub mod registry;
pub mod task;

use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use error::AwsError;

/// The SDK behaviour cortado was tested with; a newer SDK changes nothing until this is moved.
pub fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::v2026_01_12()
}

/// Standard retry mode, 8 attempts, back-off from 1 s (full jitter) up to 5 s between attempts.
///
/// Eight attempts make a call that 30 % of requests throttle fail only 0.007 % of the time (three
/// attempts: 2.7 %, which a deploy of a dozen calls meets one time in three). The back-off stays
/// short so that a real outage still surfaces within ~30 s a call. `AWS_MAX_ATTEMPTS` or
/// `AWS_RETRY_MODE` in the environment replace this with the SDK's own reading of them.
/// (Adaptive mode was not chosen: its client-side rate limiter is shared per region and, at
/// cortado's rate of a call every 2 s, would delay calls by seconds after one throttle.)
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(8).with_initial_backoff(Duration::from_secs(1)).with_max_backoff(Duration::from_secs(5))
}

/// Connect 5 s, first byte 20 s, one attempt 25 s, one call with all its retries 90 s. A hung
/// request is abandoned (and retried) instead of outliving the command's deadline; the waits also
/// bound each poll by what is left of the deadline.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(20))
        .operation_attempt_timeout(Duration::from_secs(25))
        .operation_timeout(Duration::from_secs(90))
        .build()
}

/// The one HTTPS client shape cortado uses (rustls, ring).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// Runs `f` (given an S3 client of its own) to completion on a thread with its own runtime and
/// HTTP client, from sync or async code alike. The audit sink and the lock release need this:
/// they run from `Drop` and other sync paths inside the main runtime, where `block_on` panics,
/// and a connection pooled by the main runtime must not be driven by another one.
pub fn blocking_s3<T, F, Fut>(sdk: &SdkConfig, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce(aws_sdk_s3::Client) -> Fut + Send,
    Fut: std::future::Future<Output = Result<T>>,
{
    blocking(sdk, move |sdk| f(aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())))
}

/// [`blocking_s3`] for any client: `f` gets the config with an HTTP client of its own.
pub fn blocking<T, F, Fut>(sdk: &SdkConfig, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce(SdkConfig) -> Fut + Send,
    Fut: std::future::Future<Output = Result<T>>,
{
    let sdk = sdk.to_builder().http_client(https_client()).build();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting a runtime for AWS")?;
                rt.block_on(f(sdk))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("internal error: the S3 thread panicked"))?
    })
}

/// `AWS_REGION` from the process environment, for the commands that run without a config
/// (`audit`, `evidence`); with a config, the region is the context's (`Context::region`).
pub fn region_from_env() -> Option<String> {
    std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty())
}

#[derive(Clone, Debug)]
pub struct Aws {
    pub sdk: SdkConfig,
}

impl Aws {
    /// Loads credentials and region. `region` wins over the environment when set; an
    /// `assume_role_arn` wraps the credentials for every client cortado makes (plugins included,
    /// since they never hold credentials of their own).
    pub async fn load(region: Option<&str>, assume_role_arn: Option<&str>) -> Result<Aws> {
        Aws::load_with(region, assume_role_arn, None).await
    }

    /// [`Aws::load`] with the config's `retry_max_attempts`: when set, it is the max attempts of
    /// every client made from this config (cortado's back-off kept), whatever `AWS_MAX_ATTEMPTS`
    /// says, as ecspresso passes it to the SDK as an explicit option.
    pub async fn load_with(region: Option<&str>, assume_role_arn: Option<&str>, max_attempts: Option<u32>) -> Result<Aws> {
        let mut loader = aws_config::defaults(behavior_version()).http_client(https_client()).timeout_config(timeout_config());
        if let Some(n) = max_attempts {
            loader = loader.retry_config(retry_config().with_max_attempts(n.max(1)));
        } else if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() && std::env::var_os("AWS_RETRY_MODE").is_none() {
            loader = loader.retry_config(retry_config());
        }
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
    /// Path-style, so that an `AWS_ENDPOINT_URL` simulator serves every bucket.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(true).build())
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

impl<T, E> SdkContext<T> for std::result::Result<T, aws_sdk_ecs::error::SdkError<E, aws_smithy_runtime_api::http::Response>>
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    /// The error keeps its code, status and kind ([`AwsError`]) under the context.
    fn sdk_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| anyhow::Error::new(AwsError::from_sdk(&e))).with_context(what)
    }
}
