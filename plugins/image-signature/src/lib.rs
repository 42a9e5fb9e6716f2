//! First-party gate `image-signature`: every container image the plan would run whose name matches
//! one of `images` must be pinned to a digest and carry a cosign signature (classic format, see
//! [`cosign`]) made by one of `keys` for exactly that digest. Other images pass.
//!
//! ```yaml
//! plugins:
//!   - name: image-signature
//!     enforcement: hard-mandatory
//!     preopens: [keys]                     # when keys are files: the directory holding them
//!     grants:
//!       - {action: "registry:Read", resource: "127.0.0.1:*/shop/*"}
//!     config:
//!       keys: [keys/release.pub]           # PEM public keys (ECDSA P-256, Ed25519): paths or inline PEM
//!       images: ["127.0.0.1:*/shop/**"]    # `*` within a path segment, `**` across segments
//! pin_image_digests: true                  # so the gate sees, and approves, the digest registered
//! ```
//!
//! The plugin holds no network: the signature manifests and blobs are read through the host's
//! `registry` broker (WIT 0.4.0), only within the `registry:Read` grants.
//!
//! Formats (verified by the `cortado-cosign` crate, the same code the host verifies plugins pulled
//! from a registry with): cosign's classic `sha256-<hex>.sig` tag, then cosign v3 Sigstore bundles
//! found through the referrers tag fallback `sha256-<hex>` (an OCI image index of referrers;
//! the host answers that tag from the registry's referrers API when it has one).
//!
//! Verdicts, per container: allow (signed by a listed key for this digest; the image, digest, key
//! id and format are logged, and the host records them in the audit record); deny with the reason —
//! not pinned to a digest, no signature, signed by no listed key (another key, or the payload was
//! altered after signing), signed for another digest, not a cosign payload, or unreadable.
//! Not supported: keyless (Fulcio/Rekor) signatures.

use cortado_plugin_sdk::registry::{self, AwsError};
use cortado_plugin_sdk::{Decision, Manifest, Plan, Plugin, host, register_plugin};
use serde::Deserialize;

use cortado_cosign::{Format, TrustedKey, Verdict, bundle, classic};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    keys: Vec<String>,
    /// Globs over `REGISTRY/REPOSITORY` as written (tag and digest dropped); absent: every image.
    images: Option<Vec<String>>,
}

struct Loaded {
    keys: Vec<TrustedKey>,
    images: Option<Vec<String>>,
}

struct ImageSignature {
    loaded: Result<Loaded, String>,
}

/// Reads the config and its keys (a key is inline PEM, or a path read through the preopens).
fn load() -> Result<Loaded, String> {
    let c: Config = host::config::<Option<Config>>()?.unwrap_or_default();
    if c.keys.is_empty() {
        return Err("`keys` lists no public key".into());
    }
    let mut keys = Vec::new();
    for k in &c.keys {
        let pem = if k.trim_start().starts_with("-----BEGIN") {
            k.clone()
        } else {
            std::fs::read_to_string(k).map_err(|e| format!("key {k}: {e} (is its directory in `preopens`?)"))?
        };
        keys.push(TrustedKey::from_pem(&pem).map_err(|e| format!("key {}: {e}", if k.len() > 60 { "(inline PEM)" } else { k }))?);
    }
    Ok(Loaded { keys, images: c.images })
}

/// `*` matches within one path segment, `**` across segments.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p {
            [] => t.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
            [b'*', rest @ ..] => (0..=t.len()).take_while(|&i| i == 0 || t[i - 1] != b'/').any(|i| go(rest, &t[i..])),
            [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// `(name, digest)` of an image text: `name` without tag or digest, as written.
pub fn split_image(image: &str) -> (String, Option<String>) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d.to_owned())),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let name = match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };
    (name.to_owned(), digest)
}

impl Loaded {
    fn must_be_signed(&self, name: &str) -> bool {
        self.images.as_ref().is_none_or(|globs| globs.iter().any(|g| glob(g, name)))
    }

    /// None when the image may run; otherwise why not.
    fn judge(&self, image: &str) -> Option<String> {
        let (name, digest) = split_image(image);
        if !self.must_be_signed(&name) {
            return None;
        }
        let Some(digest) = digest else { return Some(format!("{image} is not pinned to a digest (set `pin_image_digests: true`)")) };
        let mut reasons = Vec::new();
        let mut found = false;
        for search in [classic_verdicts, bundle_verdicts] {
            match search(&name, &digest, &self.keys) {
                Ok(verdicts) => {
                    for v in verdicts {
                        found = true;
                        if let Verdict::Signed { key_id, kind, format } = &v {
                            record(&name, &digest, key_id, kind, *format);
                            return None;
                        }
                        reasons.push(v.reason());
                    }
                }
                Err(e) => reasons.push(e),
            }
        }
        if !found && reasons.is_empty() {
            return Some(format!("{name}@{digest} has no signature"));
        }
        Some(format!("{name}@{digest}: {}", reasons.join("; ")))
    }
}

/// Logs an accepted signature as one JSON object the host keeps for the audit record and evidence.
fn record(name: &str, digest: &str, key_id: &str, kind: &str, format: Format) {
    let line = serde_json::json!({"image": name, "digest": digest, "key_id": key_id, "key_type": kind, "format": format.as_str()});
    host::log(cortado_plugin_sdk::Level::Info, &format!("signature-verified {line}"));
}

/// The classic `.sig` signatures of `name@digest`, each judged (none: an empty list).
fn classic_verdicts(name: &str, digest: &str, keys: &[TrustedKey]) -> Result<Vec<Verdict>, String> {
    let sig_manifest = match registry::manifest(&classic::signature_tag(name, digest)) {
        Ok(m) => m,
        Err(AwsError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(format!("signature unreadable: {}", error_text(&e))),
    };
    let layers = classic::signature_layers(&sig_manifest.body)?;
    let mut out = Vec::new();
    for layer in layers {
        match registry::blob(name, &layer.payload_digest) {
            Ok(payload) => out.push(classic::check(&payload, &layer.signature, keys, digest)),
            Err(e) => out.push(Verdict::BadPayload(format!("payload {} unreadable: {}", layer.payload_digest, error_text(&e)))),
        }
    }
    Ok(out)
}

/// The cosign v3 bundles referring to `name@digest` (through the referrers tag), each judged.
fn bundle_verdicts(name: &str, digest: &str, keys: &[TrustedKey]) -> Result<Vec<Verdict>, String> {
    let index = match registry::manifest(&format!("{name}:{}", cortado_cosign::digest_tag(digest))) {
        Ok(m) => m,
        Err(AwsError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(format!("referrers unreadable: {}", error_text(&e))),
    };
    let mut out = Vec::new();
    for referrer in bundle::bundle_referrers(&index.body)? {
        let manifest = match registry::manifest(&format!("{name}@{referrer}")) {
            Ok(m) => m,
            Err(e) => return Err(format!("referrer {referrer} unreadable: {}", error_text(&e))),
        };
        let Some(layer) = bundle::bundle_layer(&manifest.body, digest)? else { continue };
        match registry::blob(name, &layer) {
            Ok(b) => out.push(bundle::check(&b, keys, digest)),
            Err(e) => out.push(Verdict::BadPayload(format!("bundle {layer} unreadable: {}", error_text(&e)))),
        }
    }
    Ok(out)
}

fn error_text(e: &AwsError) -> String {
    match e {
        AwsError::Denied(m) | AwsError::NotFound(m) | AwsError::Failed(m) => m.clone(),
    }
}

impl Plugin for ImageSignature {
    fn new() -> Self {
        ImageSignature { loaded: load() }
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("image-signature", env!("CARGO_PKG_VERSION"))
            .description("container images must carry a cosign signature by a listed key for exactly their digest")
            .gate()
    }

    fn evaluate(&mut self, plan: &Plan) -> Decision {
        let loaded = match &self.loaded {
            Ok(l) => l,
            Err(e) => return Decision::Deny(vec![format!("image-signature config: {e}")]),
        };
        match plan.containers() {
            Err(e) => Decision::Deny(vec![format!("cannot check images: {e}")]),
            Ok(cs) => {
                let denials = cs.iter().filter_map(|c| loaded.judge(&c.image).map(|why| format!("{}: {why}", c.name))).collect();
                Decision::from_findings(denials, Vec::new())
            }
        }
    }
}

register_plugin!(ImageSignature);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_names() {
        assert!(glob("127.0.0.1:*/shop/**", "127.0.0.1:5000/shop/web"));
        assert!(glob("127.0.0.1:*/shop/**", "127.0.0.1:5000/shop/a/b"));
        assert!(!glob("127.0.0.1:*/shop/*", "127.0.0.1:5000/shop/a/b"));
        assert!(glob("*.dkr.ecr.*.amazonaws.com/shop/**", "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web"));
        assert!(!glob("*.dkr.ecr.*.amazonaws.com/shop/**", "nginx"));
        assert_eq!(split_image("127.0.0.1:5000/shop/web:v1"), ("127.0.0.1:5000/shop/web".into(), None));
        assert_eq!(split_image("h:1/a@sha256:ab"), ("h:1/a".into(), Some("sha256:ab".into())));
        assert_eq!(classic::signature_tag("h:1/a", "sha256:ab"), "h:1/a:sha256-ab.sig");
    }
}
