//! The registry broker (WIT 0.4.0 `registry`): image manifests and blobs the host reads on a
//! plugin's behalf, only for repositories its `registry:Read` grants match (`REGISTRY/REPOSITORY`,
//! globs), so a signature gate needs no network and never sees a credential.
//!
//! - ECR repositories (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO`): manifests through
//!   BatchGetImage, blobs through GetDownloadUrlForLayer and one GET of the URL ECR hands out, with
//!   the host's credentials in the registry's region.
//! - Any other registry: the OCI distribution API ([`crate::aws::registry::OciClient`]), anonymous or
//!   with the operator's docker credentials (`~/.docker/config.json`, credential helpers), which the
//!   plugin never sees; plain HTTP to loopback only.
//!
//! Every answer is bounded by the plugin's `limits.max_object` and checked against its digest
//! (a manifest asked for by digest must hash to it; a blob always), so a plugin judging bytes judges
//! the bytes the digest names.

use std::time::Duration;

use aws_config::Region;
use aws_sdk_ecr::types::ImageIdentifier;

use super::bindings::cortado::plugin::aws as wit;
use super::bindings::cortado::plugin::registry as wit_registry;
use super::broker::{Broker, bounded};
use super::grants::{self, REGISTRY_READ};
use crate::aws::describe_error;
use crate::aws::http::HttpClient;
use crate::aws::registry::{INDEX_TYPES, ImageRef, MANIFEST_TYPES, OciClient, sha256_digest};

const TIMEOUT: Duration = Duration::from_secs(30);

impl Broker {
    /// The manifest `reference` names, when a `registry:Read` grant covers its repository.
    pub fn registry_manifest(&self, reference: &str) -> Result<wit_registry::ImageManifest, wit::AwsError> {
        let image = ImageRef::parse(reference).map_err(|e| wit::AwsError::Failed(format!("registry-manifest: {e}")))?;
        self.authorize_repository(&image)?;
        let m = match image.ecr() {
            Some((registry_id, region)) => self.ecr_manifest(&image, &registry_id, &region)?,
            None => {
                let oci = OciClient::new(TIMEOUT, self.max_object_bytes);
                let failed = |e: String| not_found_or_failed(format!("{}/{}: {e}", image.registry, image.repository));
                match referrers_subject(&image) {
                    // The referrers tag schema: answered from the referrers API where the
                    // registry has one, so a plugin needs only `registry-manifest` (no WIT change).
                    Some(subject) => bounded(oci.referrers(&image, &subject))?
                        .map_err(failed)?
                        .ok_or_else(|| wit::AwsError::NotFound(format!("{}/{}: no referrers of {subject} (HTTP 404)", image.registry, image.repository)))?,
                    None => bounded(oci.manifest(&image))?.map_err(failed)?,
                }
            }
        };
        Ok(wit_registry::ImageManifest { digest: m.digest, media_type: m.media_type, body: m.body })
    }

    /// A blob of `repository` (`REGISTRY/REPOSITORY`) by its `sha256:` digest, checked.
    pub fn registry_blob(&self, repository: &str, digest: &str) -> Result<Vec<u8>, wit::AwsError> {
        if !digest.starts_with("sha256:") || digest.len() != 71 || !digest[7..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(wit::AwsError::Failed(format!("registry-blob: {digest:?} is not a sha256:<64 hex> digest")));
        }
        let image = ImageRef::parse(&format!("{repository}@{digest}")).map_err(|e| wit::AwsError::Failed(format!("registry-blob: {e}")))?;
        self.authorize_repository(&image)?;
        let bytes = match image.ecr() {
            Some((registry_id, region)) => self.ecr_blob(&image, &registry_id, &region, digest)?,
            None => {
                let oci = OciClient::new(TIMEOUT, self.max_object_bytes);
                bounded(oci.blob(&image.base_url(), &image.repository, digest))?
                    .map_err(|e| not_found_or_failed(format!("{}/{}: {e}", image.registry, image.repository)))?
            }
        };
        Ok(bytes)
    }

    /// `registry:Read` on `REGISTRY/REPOSITORY`, or `denied` naming the grant to add.
    fn authorize_repository(&self, image: &ImageRef) -> Result<(), wit::AwsError> {
        let target = format!("{}/{}", image.registry, image.repository);
        if grants::allows(&self.grants, REGISTRY_READ, &target) {
            return Ok(());
        }
        let msg = format!("plugin {:?} has no grant for {REGISTRY_READ} on {target}; add it to the plugin's `grants:` to allow it", self.plugin);
        tracing::warn!("{msg}");
        if let Ok(mut d) = self.denials.lock() {
            d.push(msg.clone());
        }
        Err(wit::AwsError::Denied(msg))
    }

    fn ecr(&self, region: &str) -> Result<aws_sdk_ecr::Client, wit::AwsError> {
        let sdk = self.aws()?.sdk.clone().into_builder().region(Region::new(region.to_owned())).build();
        Ok(aws_sdk_ecr::Client::new(&sdk))
    }

    /// BatchGetImage by tag or digest; the manifest text ECR returns, with its digest computed.
    fn ecr_manifest(&self, image: &ImageRef, registry_id: &str, region: &str) -> Result<crate::aws::registry::Manifest, wit::AwsError> {
        let ecr = self.ecr(region)?;
        let id = match &image.digest {
            Some(d) => ImageIdentifier::builder().image_digest(d).build(),
            None => ImageIdentifier::builder().image_tag(image.reference()).build(),
        };
        let mut call = ecr.batch_get_image().registry_id(registry_id).repository_name(&image.repository).image_ids(id);
        for t in INDEX_TYPES.iter().chain(MANIFEST_TYPES) {
            call = call.accepted_media_types(*t);
        }
        let out = bounded(call.send())?.map_err(|e| wit::AwsError::Failed(format!("ecr BatchGetImage {}: {}", image.repository, describe_error(&e))))?;
        let Some(found) = out.images().first() else {
            let why = out.failures().first().and_then(|f| f.failure_reason()).unwrap_or("not found");
            return Err(wit::AwsError::NotFound(format!("{} {} in ECR repository {}: {why}", image.reference(), image.registry, image.repository)));
        };
        let body = found.image_manifest().unwrap_or_default().as_bytes().to_vec();
        if body.len() > self.max_object_bytes {
            return Err(wit::AwsError::Failed(format!("manifest of {} bytes is above the plugin's limit (limits.max_object)", body.len())));
        }
        let digest = sha256_digest(&body);
        if let Some(want) = image.digest.as_deref().filter(|w| *w != digest) {
            return Err(wit::AwsError::Failed(format!("asked ECR for {want}, the manifest served is {digest}")));
        }
        Ok(crate::aws::registry::Manifest { digest, media_type: found.image_manifest_media_type().unwrap_or_default().to_owned(), body })
    }

    /// GetDownloadUrlForLayer, then one GET of that URL (no credentials: it is pre-signed).
    fn ecr_blob(&self, image: &ImageRef, registry_id: &str, region: &str, digest: &str) -> Result<Vec<u8>, wit::AwsError> {
        let ecr = self.ecr(region)?;
        let call = ecr.get_download_url_for_layer().registry_id(registry_id).repository_name(&image.repository).layer_digest(digest);
        let out =
            bounded(call.send())?.map_err(|e| wit::AwsError::Failed(format!("ecr GetDownloadUrlForLayer {}: {}", image.repository, describe_error(&e))))?;
        let url = out.download_url().ok_or_else(|| wit::AwsError::Failed(format!("ECR gave no download URL for {digest}")))?.to_owned();
        let http = HttpClient::new(TIMEOUT, self.max_object_bytes);
        let resp = bounded(http.send("GET", &url, &[]))?.map_err(wit::AwsError::Failed)?;
        if resp.status != 200 {
            return Err(wit::AwsError::Failed(format!("ECR layer {digest}: HTTP {}", resp.status)));
        }
        if sha256_digest(&resp.body) != digest {
            return Err(wit::AwsError::Failed(format!("ECR layer {digest}: the bytes served have another digest")));
        }
        Ok(resp.body)
    }
}

/// `sha256:<hex>` when `image` is asked for by the OCI referrers tag `sha256-<64 hex>`.
fn referrers_subject(image: &ImageRef) -> Option<String> {
    let hex = image.tag.as_deref()?.strip_prefix("sha256-")?;
    (image.digest.is_none() && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// A registry error as the plugin sees it: `not-found` for a 404, `failed` otherwise.
fn not_found_or_failed(msg: String) -> wit::AwsError {
    if msg.contains("(HTTP 404)") { wit::AwsError::NotFound(msg) } else { wit::AwsError::Failed(msg) }
}
