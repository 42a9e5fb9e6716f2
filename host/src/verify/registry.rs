//! Images outside ECR: the Docker Registry HTTP API v2, anonymously, as ecspresso does. A manifest
//! `HEAD` (a `GET` when the platform is checked), answering a `401 Bearer` challenge once with an
//! anonymous token, through [`crate::aws::registry::OciClient`].
//!
//! A registry that cannot be reached, rate-limits, or wants credentials gives a SKIP with the
//! reason, never an NG: only "the registry says this image does not exist" (404) is a failure.

use std::time::Duration;

use serde_json::Value;

use super::image::{INDEX_TYPES, ImageRef, MANIFEST_TYPES, Platform, config_platform, index_platform};
use super::tree::Outcome;
use crate::aws::registry::{Access, MAX_BODY, OciClient};

pub struct RegistryClient {
    oci: OciClient,
}

impl RegistryClient {
    /// `timeout` bounds each request (connect included).
    pub fn new(timeout: Duration) -> Self {
        RegistryClient { oci: OciClient::new(timeout, MAX_BODY) }
    }

    /// Does the image exist (and, when `want` is given, does it run on that platform)?
    pub async fn check(&self, image: &ImageRef, want: Option<&Platform>) -> Outcome {
        let base = image.base_url();
        let url = format!("{base}/v2/{}/manifests/{}", image.repository, image.reference());
        let accept = INDEX_TYPES.iter().chain(MANIFEST_TYPES).copied().collect::<Vec<_>>().join(", ");
        let method = if want.is_some() { "GET" } else { "HEAD" };
        let resp = match self.oci.send_authorized(method, &url, &[("accept", accept)], &image.repository, Access::Pull).await {
            Ok(r) => r,
            Err(e) => return Outcome::skip(format!("registry {} unreachable: {e}", image.registry)),
        };
        match resp.status {
            200 => {}
            404 => return Outcome::ng(format!("{} not found in {}/{}", image.reference(), image.registry, image.repository)),
            401 | 403 => {
                return Outcome::skip(format!(
                    "registry {} refused anonymous access (HTTP {}): private or missing repository, not checked",
                    image.registry, resp.status
                ));
            }
            429 => return Outcome::skip(format!("registry {} rate-limited the check (HTTP 429)", image.registry)),
            s => return Outcome::skip(format!("registry {} answered HTTP {s}", image.registry)),
        }
        let Some(want) = want else { return Outcome::ok() };
        let media = resp.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
        let manifest: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) => v,
            Err(_) => return Outcome::ok_with(format!("manifest is not JSON: {want} not checked")),
        };
        if manifest.get("schemaVersion").and_then(Value::as_i64) == Some(1) {
            return Outcome::ok_with(format!("schema 1 manifest: {want} not checked"));
        }
        if let Some(o) = index_platform(&media, &manifest, want) {
            return o;
        }
        if let Some(p) = manifest.pointer("/config/platform") {
            return config_platform(p, want);
        }
        let Some(digest) = manifest.pointer("/config/digest").and_then(Value::as_str) else {
            return Outcome::ok_with(format!("manifest has no config: {want} not checked"));
        };
        let config = self
            .oci
            .blob(&base, &image.repository, digest)
            .await
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| format!("config blob is not JSON: {e}")));
        match config {
            Ok(config) => config_platform(&config, want),
            Err(e) => Outcome::ok_with(format!("{want} not checked: {e}")),
        }
    }
}
