//! cosign v3's signature format: a Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//! attached to the image as an OCI 1.1 referrer. The bundle holds a DSSE envelope whose payload is
//! an in-toto statement; its subject's sha256 must be the image's manifest digest, and the
//! signature is over DSSE's pre-authentication encoding (PAE) of the payload type and payload.
//!
//! Finding it: the referrers API (`GET /v2/REPO/referrers/DIGEST`) or, where the registry has none
//! (docker-registry 2.8 answers 404), the tag fallback `REPO:sha256-<hex>`; both give an OCI image
//! index whose `manifests` name the referrer manifests, and a bundle referrer's one layer is the
//! bundle JSON.
//!
//! Only key-signed bundles are verified. A bundle carrying a Fulcio certificate (keyless) is
//! reported as unsupported; transparency-log entries are neither required nor checked.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Format, TrustedKey, Verdict};

pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The predicate type `cosign sign` (v3) writes.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// DSSE's pre-authentication encoding: `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The digests of the referrer manifests in an OCI image index (the referrers API's answer or
/// the tag fallback's manifest) that may be bundles: those whose `artifactType` is a Sigstore
/// bundle, or that do not say.
pub fn bundle_referrers(index: &[u8]) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_slice(index).map_err(|e| format!("the referrers index is not JSON: {e}"))?;
    let mut out = Vec::new();
    for m in v.get("manifests").and_then(Value::as_array).into_iter().flatten() {
        let artifact = m.get("artifactType").and_then(Value::as_str);
        if artifact.is_some_and(|a| a != BUNDLE_V03) {
            continue;
        }
        if let Some(d) = m.get("digest").and_then(Value::as_str) {
            out.push(d.to_owned());
        }
    }
    Ok(out)
}

/// The digest of a referrer manifest's bundle layer, if it has one; also checks the manifest's
/// `subject`, when present, names `digest` (a referrer of another image is not evidence).
pub fn bundle_layer(manifest: &[u8], digest: &str) -> Result<Option<String>, String> {
    let v: Value = serde_json::from_slice(manifest).map_err(|e| format!("a referrer manifest is not JSON: {e}"))?;
    if let Some(subject) = v.pointer("/subject/digest").and_then(Value::as_str)
        && subject != digest
    {
        return Ok(None);
    }
    let layer = v
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|l| l.get("mediaType").and_then(Value::as_str) == Some(BUNDLE_V03))
        .and_then(|l| l.get("digest").and_then(Value::as_str));
    Ok(layer.map(str::to_owned))
}

/// Verifies a bundle's DSSE signature against `keys`, then that its in-toto statement's subject is
/// `digest` (`sha256:<hex>`).
pub fn check(bundle: &[u8], keys: &[TrustedKey], digest: &str) -> Verdict {
    let doc: Value = match serde_json::from_slice(bundle) {
        Ok(v) => v,
        Err(e) => return Verdict::BadPayload(format!("bundle is not JSON: {e}")),
    };
    let media = doc.get("mediaType").and_then(Value::as_str).unwrap_or("");
    if media != BUNDLE_V03 {
        return Verdict::Unsupported(format!("bundle media type {media:?} (only {BUNDLE_V03})"));
    }
    let material = doc.get("verificationMaterial");
    if material.is_some_and(|m| m.get("certificate").is_some() || m.get("x509CertificateChain").is_some()) {
        return Verdict::Unsupported("keyless (Fulcio certificate) bundles are not verified; sign with a key".into());
    }
    let Some(envelope) = doc.get("dsseEnvelope") else {
        return Verdict::Unsupported("the bundle has no DSSE envelope (a message signature is not an image signature)".into());
    };
    let (payload_type, payload, signatures) = match envelope_parts(envelope) {
        Ok(p) => p,
        Err(why) => return Verdict::BadPayload(why),
    };
    let signed = pae(&payload_type, &payload);
    let Some(key) = signatures.iter().find_map(|s| super::keys::signer(keys, &signed, s)) else { return Verdict::NoKey };
    if payload_type != IN_TOTO {
        return Verdict::BadPayload(format!("DSSE payload type is {payload_type:?}, not {IN_TOTO}"));
    }
    match statement_subject(&payload, digest) {
        Ok(true) => Verdict::Signed { key_id: key.id.clone(), kind: key.kind(), format: Format::Bundle },
        Ok(false) => Verdict::OtherDigest(statement_digests(&payload).join(", ")),
        Err(why) => Verdict::BadPayload(why),
    }
}

/// A DSSE envelope's `(payloadType, payload bytes, signatures)`.
type EnvelopeParts = (String, Vec<u8>, Vec<Vec<u8>>);

/// The parts of a DSSE envelope.
fn envelope_parts(envelope: &Value) -> Result<EnvelopeParts, String> {
    let payload_type = envelope.get("payloadType").and_then(Value::as_str).ok_or("the DSSE envelope has no payloadType")?.to_owned();
    let payload_b64 = envelope.get("payload").and_then(Value::as_str).ok_or("the DSSE envelope has no payload")?;
    let payload = STANDARD.decode(payload_b64.trim()).map_err(|e| format!("the DSSE payload is not base64: {e}"))?;
    let mut signatures = Vec::new();
    for s in envelope.get("signatures").and_then(Value::as_array).into_iter().flatten() {
        let b64 = s.get("sig").and_then(Value::as_str).ok_or("a DSSE signature has no sig")?;
        signatures.push(STANDARD.decode(b64.trim()).map_err(|e| format!("a DSSE signature is not base64: {e}"))?);
    }
    if signatures.is_empty() {
        return Err("the DSSE envelope has no signature".into());
    }
    Ok((payload_type, payload, signatures))
}

/// Whether the in-toto statement names `digest` among its subjects.
fn statement_subject(payload: &[u8], digest: &str) -> Result<bool, String> {
    let st: Value = serde_json::from_slice(payload).map_err(|e| format!("the in-toto statement is not JSON: {e}"))?;
    let kind = st.get("_type").and_then(Value::as_str).unwrap_or("");
    if kind != STATEMENT_V1 && kind != STATEMENT_V01 {
        return Err(format!("the DSSE payload is not an in-toto statement (_type {kind:?})"));
    }
    let Some(hex) = digest.strip_prefix("sha256:") else { return Err(format!("{digest} is not a sha256 digest")) };
    Ok(statement_digests(payload).iter().any(|d| d.strip_prefix("sha256:") == Some(hex)))
}

/// Every `sha256:<hex>` subject of a statement (for the mismatch message).
fn statement_digests(payload: &[u8]) -> Vec<String> {
    let st: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    st.get("subject")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.pointer("/digest/sha256").and_then(Value::as_str).map(|h| format!("sha256:{h}")))
        .collect()
}

/// The in-toto statement `cosign sign` (v3) makes for `name@digest`.
pub fn statement(name: &str, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let doc = serde_json::json!({
        "_type": STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": hex}}],
        "predicateType": COSIGN_SIGN_PREDICATE,
        "predicate": {}
    });
    doc.to_string().into_bytes()
}

/// A key-signed bundle around `statement`, given its signature over [`pae`]`(IN_TOTO, statement)`.
pub fn make(statement: &[u8], signature: &[u8], hint: &str) -> Vec<u8> {
    let doc = serde_json::json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": STANDARD.encode(statement),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": STANDARD.encode(signature), "keyid": ""}]
        }
    });
    doc.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dssev1() {
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab".to_vec());
    }

    #[test]
    fn referrers_index() {
        let idx = br#"{"manifests":[{"digest":"sha256:a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},{"digest":"sha256:b","artifactType":"x"},{"digest":"sha256:c"}]}"#;
        assert_eq!(bundle_referrers(idx).unwrap(), vec!["sha256:a".to_owned(), "sha256:c".to_owned()]);
    }
}
