//! Container image references, parsed as Docker does (ecspresso split at the first `:`, so digests
//! and `host:port/` registries broke: its issues #906 and #1053), and the ECR check.

use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::Value;

use super::tree::Outcome;
use crate::aws::describe_error;
pub use crate::aws::registry::{DOCKER_HUB, INDEX_TYPES, ImageRef, MANIFEST_TYPES};

/// The platform a task runs on, `(os, architecture)` in OCI terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)
    }
}

/// The platform images must provide: from `runtimePlatform`, else linux/amd64 for Fargate tasks;
/// None when it cannot be known (EC2 instances of any kind).
pub fn wanted_platform(td: &Value, sv: Option<&Value>) -> Option<Platform> {
    if let Some(rp) = td.get("runtimePlatform") {
        let arch = rp.get("cpuArchitecture").and_then(Value::as_str).unwrap_or("");
        let family = rp.get("operatingSystemFamily").and_then(Value::as_str).unwrap_or("");
        return Some(Platform {
            os: if family.is_empty() || family.eq_ignore_ascii_case("LINUX") { "linux" } else { "windows" }.into(),
            architecture: if arch.eq_ignore_ascii_case("ARM64") { "arm64" } else { "amd64" }.into(),
        });
    }
    let only_fargate = td.get("requiresCompatibilities").and_then(Value::as_array).is_some_and(|c| c.len() == 1 && c[0] == "FARGATE");
    let sv_fargate = sv.is_some_and(|sv| {
        sv.get("launchType").and_then(Value::as_str) == Some("FARGATE")
            || sv.get("platformVersion").is_some()
            || sv
                .get("capacityProviderStrategy")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|p| p.get("capacityProvider").and_then(Value::as_str).is_some_and(|c| c.starts_with("FARGATE"))))
    });
    (only_fargate || sv_fargate).then(|| Platform { os: "linux".into(), architecture: "amd64".into() })
}

/// Platform verdict from a manifest alone: Some for an index (OK when a variant matches or one has
/// no platform), None for a single manifest (its platform is in the config blob).
pub fn index_platform(media_type: &str, manifest: &Value, want: &Platform) -> Option<Outcome> {
    let is_index = INDEX_TYPES.contains(&media_type) || manifest.get("manifests").is_some();
    if !is_index {
        return None;
    }
    let entries = manifest.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut seen = Vec::new();
    for e in &entries {
        let Some(p) = e.get("platform") else { return Some(Outcome::ok()) };
        let os = p.get("os").and_then(Value::as_str).unwrap_or("");
        let arch = p.get("architecture").and_then(Value::as_str).unwrap_or("");
        if os == want.os && arch == want.architecture {
            return Some(Outcome::ok());
        }
        if os != "unknown" {
            seen.push(format!("{os}/{arch}"));
        }
    }
    Some(Outcome::ng(format!("the image has no {want} variant (it has {})", if seen.is_empty() { "none".into() } else { seen.join(", ") })))
}

/// Platform verdict from an image config blob (`architecture`, `os`).
pub fn config_platform(config: &Value, want: &Platform) -> Outcome {
    let os = config.get("os").and_then(Value::as_str).unwrap_or("");
    let arch = config.get("architecture").and_then(Value::as_str).unwrap_or("");
    if os == want.os && arch == want.architecture { Outcome::ok() } else { Outcome::ng(format!("the image is for {os}/{arch}, the task runs on {want}")) }
}

/// An ECR image: BatchGetImage with the credentials the ECS agent would use, in the image's region.
pub async fn check_ecr(ecr: &aws_sdk_ecr::Client, image: &ImageRef, registry_id: &str, want: Option<&Platform>) -> Outcome {
    let id = match &image.digest {
        Some(d) => ImageIdentifier::builder().image_digest(d).build(),
        None => ImageIdentifier::builder().image_tag(image.reference()).build(),
    };
    let out = ecr
        .batch_get_image()
        .registry_id(registry_id)
        .repository_name(&image.repository)
        .image_ids(id)
        .accepted_media_types(INDEX_TYPES[0])
        .accepted_media_types(INDEX_TYPES[1])
        .accepted_media_types(MANIFEST_TYPES[0])
        .accepted_media_types(MANIFEST_TYPES[1])
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            let msg = describe_error(&e);
            if msg.contains("RepositoryNotFound") || msg.contains("does not exist") {
                return Outcome::ng(format!("repository {} does not exist in registry {registry_id}", image.repository));
            }
            return Outcome::ng(format!("cannot read the image from ECR: {msg}"));
        }
    };
    let Some(found) = out.images().first() else {
        let why = out.failures().first().and_then(|f| f.failure_reason()).unwrap_or("not found");
        return Outcome::ng(format!(
            "{} {} not found in {}: {why}",
            if image.digest.is_some() { "digest" } else { "tag" },
            image.reference(),
            image.repository
        ));
    };
    let Some(want) = want else { return Outcome::ok() };
    let media = found.image_manifest_media_type().unwrap_or("");
    let manifest: Value = found.image_manifest().and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null);
    match index_platform(media, &manifest, want) {
        Some(o) => o,
        None => Outcome::ok_with(format!("single-platform manifest: {want} not checked")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_defaults() {
        assert_eq!(r("nginx"), ImageRef { registry: DOCKER_HUB.into(), repository: "library/nginx".into(), tag: Some("latest".into()), digest: None });
        assert_eq!(r("nginx:alpine").tag.as_deref(), Some("alpine"));
        assert_eq!(r("bitnami/redis:7").repository, "bitnami/redis");
        assert_eq!(r("docker.io/library/nginx:1").registry, DOCKER_HUB);
    }

    #[test]
    fn digests_ports_and_ecr() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let x = r(&format!("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app/web@{d}"));
        assert_eq!((x.tag.as_deref(), x.digest.as_deref(), x.repository.as_str()), (None, Some(d), "app/web"));
        assert_eq!(x.reference(), d);
        assert_eq!(x.ecr(), Some(("123456789012".into(), "ap-northeast-1".into())));
        let y = r(&format!("nginx:1.25@{d}"));
        assert_eq!((y.tag.as_deref(), y.reference()), (Some("1.25"), d));
        let z = r("localhost:5000/team/app:v1");
        assert_eq!((z.registry.as_str(), z.repository.as_str(), z.tag.as_deref()), ("localhost:5000", "team/app", Some("v1")));
        assert!(z.is_loopback() && z.ecr().is_none());
        let w = r("127.0.0.1:8080/app");
        assert_eq!((w.registry.as_str(), w.tag.as_deref()), ("127.0.0.1:8080", Some("latest")));
        assert!(!r("public.ecr.aws/nginx/nginx:1").is_loopback());
        assert_eq!(r("public.ecr.aws/nginx/nginx:1").ecr(), None);
        assert_eq!(r("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/a:b").ecr(), Some(("123456789012".into(), "cn-north-1".into())));
    }

    #[test]
    fn bad_references() {
        assert!(ImageRef::parse("").is_err());
        assert!(ImageRef::parse("nginx:").is_err());
        assert!(ImageRef::parse("nginx@sha256").is_err());
        assert!(ImageRef::parse("a b").is_err());
    }

    #[test]
    fn platforms() {
        let fargate = json!({"requiresCompatibilities": ["FARGATE"]});
        assert_eq!(wanted_platform(&fargate, None).unwrap().to_string(), "linux/amd64");
        let arm = json!({"runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}});
        assert_eq!(wanted_platform(&arm, None).unwrap().to_string(), "linux/arm64");
        assert_eq!(wanted_platform(&json!({}), None), None);
        assert!(wanted_platform(&json!({}), Some(&json!({"launchType": "FARGATE"}))).is_some());
        let want = wanted_platform(&arm, None).unwrap();
        let index = json!({"manifests": [{"platform": {"os": "linux", "architecture": "amd64"}}]});
        assert_eq!(index_platform(INDEX_TYPES[1], &index, &want).unwrap().status, super::super::tree::Status::Ng);
        let index = json!({"manifests": [{"platform": {"os": "linux", "architecture": "arm64"}}]});
        assert_eq!(index_platform(INDEX_TYPES[1], &index, &want), Some(Outcome::ok()));
        assert_eq!(index_platform(MANIFEST_TYPES[0], &json!({"config": {}}), &want), None);
        assert_eq!(config_platform(&json!({"os": "linux", "architecture": "amd64"}), &want).status, super::super::tree::Status::Ng);
    }
}
