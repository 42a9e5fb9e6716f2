//! Custom plugins pulled from an OCI registry (`oci:` in a plugin's config), as wasm artifacts
//! (wasm-pkg-tools' layout: config `application/vnd.wasm.config.v0+json`, exactly one
//! `application/wasm` layer).
//!
//! Every blob is digest-checked; the layer must equal the config's `sha256` pin when there is one;
//! with `verify: {keys: [...]}` a cosign signature of the manifest digest by one of the keys (the
//! classic `.sig` tag or a v3 bundle referrer, verified by `cortado-cosign`) is required before the
//! bytes are handed to the compiler.
//!
//! The cache (`$CORTADO_PLUGIN_CACHE`, else `~/.cache/cortado/plugins`) keeps each pulled component
//! by its layer sha256 beside a record of its manifest and the signature material found, so a
//! pinned plugin loads offline and is re-verified from the record at every load (a cache file edited
//! by hand does not verify).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cortado_cosign::{Format, TrustedKey, Verdict, bundle, classic};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::broker::block_on;
use crate::aws::registry::{ImageRef, OciClient, sha256_digest};
use crate::config::OciSource;

pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER: &str = "application/wasm";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Largest component pulled (a JavaScript component is ~40 MB).
const MAX_COMPONENT: usize = 256 << 20;
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where a pulled plugin came from and who signed it: for `plugin pull`, the audit record and the
/// signed evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub reference: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    /// sha256 of the signing key's SPKI DER, hex; None when no `verify.keys` were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// Loaded from the cache without asking the registry.
    #[serde(skip)]
    pub cached: bool,
}

/// A component's bytes, checked and (when keys are given) verified.
pub struct Pulled {
    pub bytes: Vec<u8>,
    pub provenance: Provenance,
}

/// Signature material found for a manifest, kept in the cache record (hex, exact bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
enum Evidence {
    CosignClassic { payload: String, signature: String },
    CosignBundle { bundle: String },
}

/// The cache record beside a component.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    reference: String,
    manifest_digest: String,
    /// The manifest's bytes, hex.
    manifest: String,
    signatures: Vec<Evidence>,
}

/// The component of a configured `oci:` plugin: from the cache when pinned and present, else
/// pulled; errors say why it is refused (the caller names the plugin).
pub fn load(source: &OciSource, pin: Option<&str>) -> Result<Pulled, String> {
    let keys = read_keys(&source.keys)?;
    let pin = pin.map(|p| p.trim().trim_start_matches("sha256:").to_ascii_lowercase());
    if let Some(layer) = &pin
        && let Some(p) = cached(&source.reference, layer, &keys)
    {
        return Ok(p);
    }
    pull(&source.reference, pin.as_deref(), &keys)
}

/// PEM public keys, each error naming its file.
pub fn read_keys(paths: &[PathBuf]) -> Result<Vec<TrustedKey>, String> {
    let mut keys = Vec::new();
    for p in paths {
        let pem = std::fs::read_to_string(p).map_err(|e| format!("verify.keys: cannot read {}: {e}", p.display()))?;
        keys.push(TrustedKey::from_pem(&pem).map_err(|e| format!("verify.keys: {}: {e}", p.display()))?);
    }
    Ok(keys)
}

/// The plugin cache directory.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CORTADO_PLUGIN_CACHE") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("cortado/plugins"))
}

/// A cached component whose bytes hash to `layer` and whose record still verifies; None sends the
/// caller to the registry.
fn cached(reference: &str, layer: &str, keys: &[TrustedKey]) -> Option<Pulled> {
    let dir = cache_dir()?;
    let bytes = std::fs::read(dir.join(format!("{layer}.wasm"))).ok()?;
    if crate::util::sha256_hex(&bytes) != layer {
        tracing::warn!("plugin cache: {layer}.wasm does not hash to its name; pulling again");
        return None;
    }
    let record: Record = serde_json::from_slice(&std::fs::read(dir.join(format!("{layer}.json"))).ok()?).ok()?;
    let manifest = hex::decode(&record.manifest).ok()?;
    if sha256_digest(&manifest) != record.manifest_digest || wasm_layer(&manifest).ok()?.0 != format!("sha256:{layer}") {
        tracing::warn!("plugin cache: the record of {layer} does not match its manifest; pulling again");
        return None;
    }
    if let Ok(image) = ImageRef::parse(reference)
        && image.digest.as_ref().is_some_and(|d| *d != record.manifest_digest)
    {
        return None;
    }
    let signed = if keys.is_empty() { None } else { verify(&record.signatures, keys, &record.manifest_digest).ok() };
    if !keys.is_empty() && signed.is_none() {
        return None;
    }
    let (key_id, format) = signed.map(|(k, f)| (Some(k), Some(f.as_str()))).unwrap_or((None, None));
    let provenance = Provenance {
        reference: reference.to_owned(),
        manifest_digest: record.manifest_digest,
        layer_digest: format!("sha256:{layer}"),
        key_id,
        format,
        cached: true,
    };
    Some(Pulled { bytes, provenance })
}

/// Pulls `reference`, checks every digest (and `pin`), verifies a signature by `keys` when there
/// are any, and fills the cache.
pub fn pull(reference: &str, pin: Option<&str>, keys: &[TrustedKey]) -> Result<Pulled, String> {
    let image = ImageRef::parse(reference).map_err(|e| format!("oci: {e}"))?;
    let oci = OciClient::new(TIMEOUT, MAX_COMPONENT);
    let manifest = block_on(oci.manifest(&image)).map_err(|e| format!("oci: {}/{}: {e}", image.registry, image.repository))?;
    let (layer, config) = wasm_layer(&manifest.body).map_err(|e| format!("oci: {reference} ({}) {e}", manifest.digest))?;
    if let Some(p) = pin
        && layer != format!("sha256:{p}")
    {
        return Err(format!("sha256: the wasm layer of {reference} is {layer} but the config pins sha256:{p}"));
    }
    let base = image.base_url();
    let config_bytes = block_on(oci.blob(&base, &image.repository, &config)).map_err(|e| format!("oci: {reference}: config {e}"))?;
    if !serde_json::from_slice::<Value>(&config_bytes).is_ok_and(|v| v.is_object()) {
        return Err(format!("oci: {reference}: the wasm config {config} is not a JSON object"));
    }
    let bytes = block_on(oci.blob(&base, &image.repository, &layer)).map_err(|e| format!("oci: {reference}: layer {e}"))?;
    let signatures = block_on(signatures(&oci, &image, &manifest.digest))?;
    let (key_id, format) = if keys.is_empty() {
        (None, None)
    } else {
        let (k, f) = verify(&signatures, keys, &manifest.digest).map_err(|why| format!("verify: {reference} ({}): {why}", manifest.digest))?;
        (Some(k), Some(f.as_str()))
    };
    let record = Record { reference: reference.to_owned(), manifest_digest: manifest.digest.clone(), manifest: hex::encode(&manifest.body), signatures };
    let layer_hex = layer.trim_start_matches("sha256:").to_owned();
    if let Some(dir) = cache_dir()
        && let Err(e) = store(&dir, &layer_hex, &bytes, &record)
    {
        tracing::warn!("plugin cache {}: {e} (the plugin is used, not cached)", dir.display());
    }
    let provenance = Provenance { reference: reference.to_owned(), manifest_digest: manifest.digest, layer_digest: layer, key_id, format, cached: false };
    Ok(Pulled { bytes, provenance })
}

/// `(layer digest, config digest)` of a wasm artifact manifest, or why it is not one.
fn wasm_layer(manifest: &[u8]) -> Result<(String, String), String> {
    let m: Value = serde_json::from_slice(manifest).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let media = m.get("mediaType").and_then(Value::as_str).unwrap_or(OCI_MANIFEST);
    if media != OCI_MANIFEST {
        return Err(format!("is not an OCI image manifest ({media})"));
    }
    let config_type = m.pointer("/config/mediaType").and_then(Value::as_str).unwrap_or("");
    if config_type != WASM_CONFIG {
        return Err(format!("is not a wasm component artifact: config media type {config_type:?}, expected {WASM_CONFIG}"));
    }
    let config = m.pointer("/config/digest").and_then(Value::as_str).ok_or("has no config digest")?;
    let layers = m.get("layers").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let [layer] = layers else { return Err(format!("has {} layers; a wasm artifact has exactly one {WASM_LAYER} layer", layers.len())) };
    if layer.get("mediaType").and_then(Value::as_str) != Some(WASM_LAYER) {
        return Err(format!("layer media type is {}, expected {WASM_LAYER}", layer.get("mediaType").unwrap_or(&Value::Null)));
    }
    let digest = layer.get("digest").and_then(Value::as_str).filter(|d| d.starts_with("sha256:")).ok_or("the layer has no sha256 digest")?;
    Ok((digest.to_owned(), config.to_owned()))
}

/// Every cosign signature of `repo@digest` the registry holds: the classic `.sig` tag's layers
/// and the bundle referrers (referrers API or its tag fallback).
async fn signatures(oci: &OciClient, image: &ImageRef, digest: &str) -> Result<Vec<Evidence>, String> {
    let mut out = Vec::new();
    let base = image.base_url();
    let sig_tag = ImageRef { tag: Some(format!("{}.sig", cortado_cosign::digest_tag(digest))), digest: None, ..image.clone() };
    match oci.manifest(&sig_tag).await {
        Ok(m) => {
            for layer in classic::signature_layers(&m.body)? {
                let payload = oci.blob(&base, &image.repository, &layer.payload_digest).await.map_err(|e| format!("signature payload {e}"))?;
                out.push(Evidence::CosignClassic { payload: hex::encode(payload), signature: hex::encode(&layer.signature) });
            }
        }
        Err(e) if e.contains("(HTTP 404)") => {}
        Err(e) => return Err(format!("signature {e}")),
    }
    if let Some(index) = oci.referrers(image, digest).await.map_err(|e| format!("referrers: {e}"))? {
        for referrer in bundle::bundle_referrers(&index.body)? {
            let r = ImageRef { tag: None, digest: Some(referrer.clone()), ..image.clone() };
            let m = oci.manifest(&r).await.map_err(|e| format!("referrer {e}"))?;
            if let Some(layer) = bundle::bundle_layer(&m.body, digest)? {
                let b = oci.blob(&base, &image.repository, &layer).await.map_err(|e| format!("bundle {e}"))?;
                out.push(Evidence::CosignBundle { bundle: hex::encode(b) });
            }
        }
    }
    Ok(out)
}

/// The first signature a listed key made for exactly `digest`, or every reason none did.
fn verify(signatures: &[Evidence], keys: &[TrustedKey], digest: &str) -> Result<(String, Format), String> {
    if signatures.is_empty() {
        return Err("no signature (no cosign `.sig` tag and no bundle referrer)".into());
    }
    let mut reasons = Vec::new();
    for s in signatures {
        let verdict = match s {
            Evidence::CosignClassic { payload, signature } => match (hex::decode(payload), hex::decode(signature)) {
                (Ok(p), Ok(sig)) => classic::check(&p, &sig, keys, digest),
                _ => Verdict::BadPayload("unreadable cached signature".into()),
            },
            Evidence::CosignBundle { bundle: b } => match hex::decode(b) {
                Ok(b) => bundle::check(&b, keys, digest),
                Err(_) => Verdict::BadPayload("unreadable cached bundle".into()),
            },
        };
        if let Verdict::Signed { key_id, format, .. } = verdict {
            return Ok((key_id, format));
        }
        reasons.push(verdict.reason());
    }
    Err(reasons.join("; "))
}

/// Writes the component and its record (each through a temporary file, then renamed).
fn store(dir: &Path, layer: &str, bytes: &[u8], record: &Record) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write = |name: String, data: &[u8]| -> std::io::Result<()> {
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        std::fs::write(&tmp, data)?;
        std::fs::rename(&tmp, dir.join(name))
    };
    write(format!("{layer}.wasm"), bytes)?;
    write(format!("{layer}.json"), &serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wasm_artifact_has_one_wasm_layer() {
        let m = |config: &str, layers: &str| format!(r#"{{"schemaVersion":2,"config":{{"mediaType":"{config}","digest":"sha256:c"}},"layers":[{layers}]}}"#);
        let one = r#"{"mediaType":"application/wasm","digest":"sha256:aa"}"#;
        assert_eq!(wasm_layer(m(WASM_CONFIG, one).as_bytes()).unwrap(), ("sha256:aa".into(), "sha256:c".into()));
        assert!(wasm_layer(m("application/vnd.oci.image.config.v1+json", one).as_bytes()).unwrap_err().contains("not a wasm component"));
        assert!(wasm_layer(m(WASM_CONFIG, &format!("{one},{one}")).as_bytes()).unwrap_err().contains("has 2 layers"));
    }
}
