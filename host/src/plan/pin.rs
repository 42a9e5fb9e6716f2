//! `pin_image_digests: true`: every container image given by tag is replaced by
//! `REPO@sha256:DIGEST` before the plan is built, so the diff, the gates, the audit record and the
//! RegisterTaskDefinition request all name the manifest that was resolved — a tag moved after the
//! plan cannot change what runs. ECR images are resolved with BatchGetImage (the caller's
//! credentials, in the image's region); any other registry through the OCI distribution API
//! ([`crate::aws::registry::OciClient`], anonymous or with the registry's anonymous bearer token).
//!
//! A tag that cannot be resolved is an error naming the container: nothing is registered.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_config::Region;
use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::Value;

use crate::aws::registry::{INDEX_TYPES, ImageRef, MANIFEST_TYPES, MAX_BODY, OciClient};
use crate::aws::{Aws, describe_error};

/// How long one registry request may take.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(20);

/// One image pinned: `(container, from, to)`.
pub type Pinned = (String, String, String);

/// Rewrites every `containerDefinitions[].image` given by tag to its digest form, in place, and
/// returns what changed. Images already naming a digest are left as written. The same image text
/// in two containers is resolved once.
pub async fn pin_images(aws: &Aws, td: &mut Value) -> Result<Vec<Pinned>> {
    let oci = OciClient::new(REGISTRY_TIMEOUT, MAX_BODY);
    let mut resolved: BTreeMap<String, String> = BTreeMap::new();
    let mut pinned = Vec::new();
    let Some(containers) = td.get_mut("containerDefinitions").and_then(Value::as_array_mut) else { return Ok(pinned) };
    for c in containers.iter_mut() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
        let Some(text) = c.get("image").and_then(Value::as_str).map(str::to_owned) else { continue };
        let image = ImageRef::parse(&text).map_err(|e| anyhow!("container {name}: image {text:?}: {e}"))?;
        if image.digest.is_some() {
            continue;
        }
        let digest = match resolved.get(&text) {
            Some(d) => d.clone(),
            None => {
                let d = resolve(aws, &oci, &image)
                    .await
                    .map_err(|e| anyhow!("container {name}: cannot pin image {text} to a digest: {e}; nothing was registered"))?;
                resolved.insert(text.clone(), d.clone());
                d
            }
        };
        let to = ImageRef::pinned_text(&text, &digest);
        c["image"] = Value::String(to.clone());
        pinned.push((name, text, to));
    }
    Ok(pinned)
}

/// The manifest digest `image`'s tag names now.
pub async fn resolve(aws: &Aws, oci: &OciClient, image: &ImageRef) -> Result<String, String> {
    match image.ecr() {
        Some((registry_id, region)) => ecr_digest(aws, image, &registry_id, &region).await,
        None => Ok(oci.manifest(image).await.map_err(|e| format!("registry {}: {e}", image.registry))?.digest),
    }
}

/// BatchGetImage by tag in the image's own registry and region: the `imageDigest` ECR reports.
async fn ecr_digest(aws: &Aws, image: &ImageRef, registry_id: &str, region: &str) -> Result<String, String> {
    let sdk = aws.sdk.clone().into_builder().region(Region::new(region.to_owned())).build();
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let mut call = ecr
        .batch_get_image()
        .registry_id(registry_id)
        .repository_name(&image.repository)
        .image_ids(ImageIdentifier::builder().image_tag(image.reference()).build());
    for t in INDEX_TYPES.iter().chain(MANIFEST_TYPES) {
        call = call.accepted_media_types(*t);
    }
    let out = call.send().await.map_err(|e| format!("ECR BatchGetImage in {registry_id}/{}: {}", image.repository, describe_error(&e)))?;
    let found = out.images().first().ok_or_else(|| {
        let why = out.failures().first().and_then(|f| f.failure_reason()).unwrap_or("not found");
        format!("tag {} not found in ECR repository {}: {why}", image.reference(), image.repository)
    })?;
    found
        .image_id()
        .and_then(|id| id.image_digest())
        .map(str::to_owned)
        .ok_or_else(|| format!("ECR returned tag {} of {} without a digest", image.reference(), image.repository))
}
