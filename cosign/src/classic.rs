//! cosign's classic format: the signature manifest tagged `sha256-<hex>.sig` in the image's
//! repository has one layer per signature, of media type
//! `application/vnd.dev.cosign.simplesigning.v1+json`, whose bytes are the simple-signing payload
//! and whose annotation `dev.cosignproject.cosign/signature` holds base64 of the signature over
//! exactly those bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Format, TrustedKey, Verdict};

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// One signature layer of a `.sig` manifest: the payload's digest and the decoded signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    pub payload_digest: String,
    pub signature: Vec<u8>,
}

/// The simple-signing layers of a `.sig` manifest (layers of other types are ignored).
pub fn signature_layers(manifest: &[u8]) -> Result<Vec<SignatureLayer>, String> {
    let m: Value = serde_json::from_slice(manifest).map_err(|e| format!("the signature manifest is not JSON: {e}"))?;
    let mut out = Vec::new();
    for layer in m.get("layers").and_then(Value::as_array).into_iter().flatten() {
        if layer.get("mediaType").and_then(Value::as_str) != Some(SIMPLE_SIGNING) {
            continue;
        }
        let digest = layer.get("digest").and_then(Value::as_str).ok_or("a signature layer has no digest")?;
        let Some(b64) = layer.pointer(&format!("/annotations/{}", SIGNATURE_ANNOTATION.replace('/', "~1"))).and_then(Value::as_str) else { continue };
        let signature = STANDARD.decode(b64.trim()).map_err(|e| format!("signature annotation is not base64: {e}"))?;
        out.push(SignatureLayer { payload_digest: digest.to_owned(), signature });
    }
    Ok(out)
}

/// Checks one signature over `payload` against `keys`, then that the payload names `digest`. The
/// caller has checked that `payload` hashes to the layer's digest (registry reads are
/// digest-checked).
pub fn check(payload: &[u8], signature: &[u8], keys: &[TrustedKey], digest: &str) -> Verdict {
    let Some(key) = super::keys::signer(keys, payload, signature) else { return Verdict::NoKey };
    let doc: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return Verdict::BadPayload(format!("payload is not JSON: {e}")),
    };
    if doc.pointer("/critical/type").and_then(Value::as_str) != Some(SIGNATURE_TYPE) {
        return Verdict::BadPayload(format!("payload type is not {SIGNATURE_TYPE:?}"));
    }
    match doc.pointer("/critical/image/docker-manifest-digest").and_then(Value::as_str) {
        Some(d) if d == digest => Verdict::Signed { key_id: key.id.clone(), kind: key.kind(), format: Format::Classic },
        Some(d) => Verdict::OtherDigest(d.to_owned()),
        None => Verdict::BadPayload("payload has no critical.image.docker-manifest-digest".into()),
    }
}

/// `REGISTRY/REPO:sha256-<hex>.sig`: where cosign stores the signatures of `repo@digest`.
pub fn signature_tag(repo: &str, digest: &str) -> String {
    format!("{repo}:{}.sig", super::digest_tag(digest))
}

/// cosign's simple-signing payload for `repo` at `digest` (what `cosign sign` signs).
pub fn payload(repo: &str, digest: &str) -> Vec<u8> {
    let doc = serde_json::json!({
        "critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest}, "type": SIGNATURE_TYPE},
        "optional": null
    });
    doc.to_string().into_bytes()
}
