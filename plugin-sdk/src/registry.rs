//! Container registry reads (WIT `cortado:plugin@0.4.0`), made by the host on the plugin's behalf
//! within the operator's `registry:Read` grants (resource `REGISTRY/REPOSITORY`, globs): the plugin
//! holds no network and never sees a registry credential. ECR is read with the host's credentials.
//! Answers are size-capped by `limits.max_object` and checked against their digests by the host.

pub use crate::aws::AwsError;
pub use crate::bindings::cortado::plugin::registry::ImageManifest;

/// The manifest `reference` names (`REGISTRY/REPOSITORY:TAG` or `…@sha256:…`, Docker's defaults).
pub fn manifest(reference: &str) -> Result<ImageManifest, AwsError> {
    crate::sys::registry_manifest(reference)
}

/// A blob of `repository` (`REGISTRY/REPOSITORY`) by its `sha256:` digest.
pub fn blob(repository: &str, digest: &str) -> Result<Vec<u8>, AwsError> {
    crate::sys::registry_blob(repository, digest)
}
