//! Passing definitions to ECS as JSON, untouched.
//!
//! The SDK's typed shapes lag behind ECS (ecspresso issue #757 lost `restartPolicy` that way), and
//! a typed round trip would drop whatever the SDK does not know. The [`RawJson`] interceptor lets an
//! SDK operation keep everything the SDK is good at (credentials, signing, retries, endpoints) while
//! the request body is our JSON and the response is read back as JSON.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Default)]
pub struct RawJson {
    request: Option<Arc<Vec<u8>>>,
    /// The operation the body is for: a request whose `X-Amz-Target` names another is refused.
    operation: Option<&'static str>,
    response: Arc<Mutex<Option<Vec<u8>>>>,
}

impl RawJson {
    /// Captures the response body only.
    pub fn capture() -> Self {
        RawJson::default()
    }

    /// Replaces the request body of `operation` with exactly `body` and captures the response.
    pub fn exact(body: &[u8], operation: &'static str) -> Self {
        RawJson { request: Some(Arc::new(body.to_vec())), operation: Some(operation), response: Arc::default() }
    }

    /// The response body as JSON, once the call has returned (`{}` for an empty body).
    pub fn response_json(&self) -> anyhow::Result<serde_json::Value> {
        let guard = self.response.lock().map_err(|_| anyhow::anyhow!("response capture poisoned"))?;
        let bytes = guard.as_deref().ok_or_else(|| anyhow::anyhow!("no response body captured"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        Ok(serde_json::from_slice(bytes)?)
    }
}

impl Intercept for RawJson {
    fn name(&self) -> &'static str {
        "cortado-raw-json"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(body) = &self.request {
            let req = context.request_mut();
            if let Some(op) = self.operation {
                let target = req.headers().get("x-amz-target").unwrap_or("");
                if target.rsplit('.').next() != Some(op) {
                    return Err(format!("refused: the request is {target:?}, but the approved step is {op}").into());
                }
            }
            *req.body_mut() = SdkBody::from(body.as_slice().to_vec());
            req.headers_mut().insert("content-length", body.len().to_string());
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes()
            && let Ok(mut slot) = self.response.lock()
        {
            *slot = Some(bytes.to_vec());
        }
        Ok(())
    }
}
