//! cosign's classic key-based signature format, checked without any network: the signature
//! manifest tagged `sha256-<hex>.sig` in the image's repository has one layer per signature, of
//! media type `application/vnd.dev.cosign.simplesigning.v1+json`, whose bytes are the
//! simple-signing payload and whose annotation `dev.cosignproject.cosign/signature` holds base64 of
//! the signature over exactly those bytes (ECDSA P-256 with SHA-256, DER; or Ed25519).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::DecodePublicKey as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// A public key the operator trusts.
pub enum Key {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A trusted key and its id (the first 16 hex digits of the sha256 of its PEM's DER).
pub struct TrustedKey {
    pub id: String,
    pub key: Key,
}

impl TrustedKey {
    /// A `-----BEGIN PUBLIC KEY-----` PEM (SubjectPublicKeyInfo) of a P-256 or Ed25519 key.
    pub fn from_pem(pem: &str) -> Result<TrustedKey, String> {
        let key = match p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            Ok(k) => Key::P256(k),
            Err(_) => match ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
                Ok(k) => Key::Ed25519(k),
                Err(_) => return Err("not a PEM public key of type ECDSA P-256 or Ed25519".into()),
            },
        };
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
        let der = STANDARD.decode(body.as_bytes()).unwrap_or_default();
        let id = Sha256::digest(&der).iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(TrustedKey { id, key })
    }

    fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            Key::P256(k) => {
                use p256::ecdsa::signature::Verifier as _;
                let sig = p256::ecdsa::Signature::from_der(signature).or_else(|_| p256::ecdsa::Signature::from_slice(signature));
                sig.is_ok_and(|s| k.verify(payload, &s).is_ok())
            }
            Key::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature).is_ok_and(|s| k.verify_strict(payload, &s).is_ok()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.key {
            Key::P256(_) => "ecdsa-p256",
            Key::Ed25519(_) => "ed25519",
        }
    }
}

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

/// Why one signature does not vouch for `digest`, or the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by this key (id, kind) for exactly this digest.
    Signed { key_id: String, kind: &'static str },
    /// No listed key made this signature over these bytes.
    NoKey,
    /// A listed key signed it, but for another image.
    OtherDigest(String),
    /// A listed key signed it, but the payload is not a cosign image signature.
    BadPayload(String),
}

/// Checks one signature over `payload` against `keys`, then that the payload names `digest`.
pub fn check(payload: &[u8], signature: &[u8], keys: &[TrustedKey], digest: &str) -> Verdict {
    let Some(key) = keys.iter().find(|k| k.verifies(payload, signature)) else { return Verdict::NoKey };
    let doc: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return Verdict::BadPayload(format!("payload is not JSON: {e}")),
    };
    if doc.pointer("/critical/type").and_then(Value::as_str) != Some(SIGNATURE_TYPE) {
        return Verdict::BadPayload(format!("payload type is not {SIGNATURE_TYPE:?}"));
    }
    match doc.pointer("/critical/image/docker-manifest-digest").and_then(Value::as_str) {
        Some(d) if d == digest => Verdict::Signed { key_id: key.id.clone(), kind: key.kind() },
        Some(d) => Verdict::OtherDigest(d.to_owned()),
        None => Verdict::BadPayload("payload has no critical.image.docker-manifest-digest".into()),
    }
}

/// `REGISTRY/REPO:sha256-<hex>.sig`: where cosign stores the signatures of `repo@digest`.
pub fn signature_tag(repo: &str, digest: &str) -> String {
    format!("{repo}:{}.sig", digest.replace(':', "-"))
}
