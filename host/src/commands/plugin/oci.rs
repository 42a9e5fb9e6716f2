//! `cortado plugin pull REF` and `cortado plugin push FILE.wasm REF [--sign-key KEY]`: plugins
//! distributed through an OCI registry as wasm artifacts (see [`crate::plugin::pull`]), signed the
//! way cosign signs with a key so `verify: {keys: [...]}` (and `cosign verify --key`) accept them:
//! the classic `sha256-<hex>.sig` tag (the default, readable by every cosign and by cortado before
//! bundles), or with `--format bundle` cosign v3's Sigstore bundle attached as an OCI 1.1 referrer
//! (through the referrers API where the registry has one, else its `sha256-<hex>` tag fallback).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use cortado_cosign::{bundle, classic, keys::SigningKey};
use serde_json::json;

use crate::aws::registry::{ImageRef, OciClient, sha256_digest};
use crate::error::InputError;
use crate::plugin::broker::block_on;
use crate::plugin::pull::{self, OCI_MANIFEST, WASM_CONFIG, WASM_LAYER};

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:MANIFEST
    pub reference: String,
    /// A PEM public key one of which must have signed the artifact (repeatable)
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The component (.wasm)
    pub file: PathBuf,
    /// REGISTRY/REPOSITORY:TAG to publish it as
    pub reference: String,
    /// Sign it with this PKCS#8 PEM private key (ECDSA P-256 or Ed25519)
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// The signature format with --sign-key: `classic` (the `sha256-<hex>.sig` tag) or `bundle`
    /// (cosign v3's Sigstore bundle v0.3, an OCI referrer of the manifest)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = SignFormat::Classic)]
    pub format: SignFormat,
}

/// How `plugin push --sign-key` signs. Classic stays the default: every cosign (v2 and v3) and
/// every registry read it, and a pin published before bundles keeps its meaning.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignFormat {
    Classic,
    Bundle,
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Pulls into the cache (verifying when keys are given) and prints the digests to pin.
pub fn pull(args: &PullArgs) -> Result<()> {
    let keys = pull::read_keys(&args.keys).map_err(InputError)?;
    let p = pull::pull(&args.reference, None, &keys).map_err(|e| InputError::new(format!("{}: {e}", args.reference)))?;
    let v = &p.provenance;
    println!("pulled {} ({} bytes)", v.reference, p.bytes.len());
    println!("  manifest: {}", v.manifest_digest);
    println!("  layer:    {}", v.layer_digest);
    if let (Some(k), Some(f)) = (&v.key_id, v.format) {
        println!("  signed by key {k} ({f})");
    }
    let name = v.reference.split('@').next().unwrap_or(&v.reference);
    let name = ImageRef::pinned_text(name, &v.manifest_digest);
    println!("pin it in the config:\n  oci: {name}\n  sha256: {}", v.layer_digest.trim_start_matches("sha256:"));
    Ok(())
}

/// Publishes a component as a wasm artifact, and its signature when a key is given.
pub fn push(args: &PushArgs) -> Result<()> {
    let bytes = std::fs::read(&args.file).map_err(|e| InputError::in_file(&args.file, format!("cannot read component: {e}")))?;
    if !bytes.starts_with(b"\0asm") {
        return Err(InputError::in_file(&args.file, "not a wasm component (no \\0asm header)").into());
    }
    let image = ImageRef::parse(&args.reference).map_err(|e| InputError::new(format!("{}: {e}", args.reference)))?;
    let Some(tag) = image.tag.clone().filter(|_| image.digest.is_none()) else {
        return Err(InputError::new(format!("{}: push needs a tag (REGISTRY/REPOSITORY:TAG)", args.reference)).into());
    };
    let key = args.sign_key.as_deref().map(read_signing_key).transpose()?;
    if key.is_none() && args.format == SignFormat::Bundle {
        return Err(InputError::new("--format bundle: give --sign-key KEY to sign with").into());
    }
    let oci = OciClient::new(Duration::from_secs(60), 1 << 20);
    let failed = |e: String| anyhow::anyhow!("push to {}: {e}", args.reference);
    let (manifest_digest, manifest_size, layer) = block_on(push_artifact(&oci, &image, &tag, &bytes)).map_err(failed)?;
    println!("pushed {}/{}:{tag}", image.registry, image.repository);
    println!("  manifest: {manifest_digest}");
    println!("  layer:    {layer}");
    if let Some(key) = key {
        let repo = format!("{}/{}", image.registry, image.repository);
        let id = key.public().map(|k| k.id).unwrap_or_default();
        match args.format {
            SignFormat::Classic => {
                block_on(push_signature(&oci, &image, &repo, &manifest_digest, &key)).map_err(failed)?;
                println!("  signed:   {repo}:{}.sig (cosign-classic, key {id})", cortado_cosign::digest_tag(&manifest_digest));
            }
            SignFormat::Bundle => {
                let subject = Subject { digest: &manifest_digest, size: manifest_size };
                let (referrer, through) = block_on(push_bundle(&oci, &image, &repo, subject, &key, &id)).map_err(failed)?;
                println!("  signed:   {repo}@{referrer} (cosign-bundle, key {id}), found through {through}");
            }
        }
    }
    println!("pin it in the config:\n  oci: {}\n  sha256: {}", ImageRef::pinned_text(&args.reference, &manifest_digest), layer.trim_start_matches("sha256:"));
    Ok(())
}

fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let pem = std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("--sign-key: {e}")))?;
    Ok(SigningKey::from_pkcs8_pem(&pem).map_err(|e| InputError::in_file(path, format!("--sign-key: {e}")))?)
}

/// The config, the layer, then the manifest under `tag`; `(manifest digest, manifest size, layer
/// digest)`.
async fn push_artifact(oci: &OciClient, image: &ImageRef, tag: &str, bytes: &[u8]) -> Result<(String, usize, String), String> {
    let layer = oci.push_blob(image, bytes).await?;
    let config = json!({
        "created": jiff::Timestamp::now().to_string(),
        "author": format!("cortado/{}", env!("CARGO_PKG_VERSION")),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer],
        "component": {}
    })
    .to_string()
    .into_bytes();
    let config_digest = oci.push_blob(image, &config).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": WASM_CONFIG,
        "config": {"mediaType": WASM_CONFIG, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": WASM_LAYER, "digest": layer, "size": bytes.len()}]
    })
    .to_string()
    .into_bytes();
    let digest = oci.push_manifest(image, tag, OCI_MANIFEST, &manifest).await?;
    Ok((digest, manifest.len(), layer))
}

/// cosign's classic signature of `repo@digest` at the `sha256-<hex>.sig` tag.
async fn push_signature(oci: &OciClient, image: &ImageRef, repo: &str, digest: &str, key: &SigningKey) -> Result<(), String> {
    use base64::Engine as _;
    let payload = classic::payload(repo, digest);
    let signature = key.sign(&payload);
    let config = b"{}".to_vec();
    let config_digest = oci.push_blob(image, &config).await?;
    let payload_digest = oci.push_blob(image, &payload).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": classic::SIMPLE_SIGNING,
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": {classic::SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(signature)}
        }]
    })
    .to_string()
    .into_bytes();
    oci.push_manifest(image, &format!("{}.sig", cortado_cosign::digest_tag(digest)), OCI_MANIFEST, &manifest).await?;
    Ok(())
}

/// The manifest a referrer points at.
struct Subject<'a> {
    digest: &'a str,
    size: usize,
}

/// cosign v3's signature of `repo@digest`: a Sigstore bundle (DSSE over the in-toto statement
/// naming the digest) as the one layer of a referrer manifest whose `subject` is the artifact.
/// Returns the referrer's digest and how a verifier finds it: the referrers API when the registry
/// acknowledged the subject (`OCI-Subject`), else the tag fallback this writes, as cosign does.
async fn push_bundle(oci: &OciClient, image: &ImageRef, repo: &str, subject: Subject<'_>, key: &SigningKey, key_id: &str) -> Result<(String, String), String> {
    let statement = bundle::statement(repo, subject.digest);
    let signature = key.sign(&bundle::pae(bundle::IN_TOTO, &statement));
    let doc = bundle::make(&statement, &signature, key_id);
    let empty = b"{}".to_vec();
    let empty_digest = oci.push_blob(image, &empty).await?;
    let layer = oci.push_blob(image, &doc).await?;
    let referrer = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": bundle::BUNDLE_V03,
        "config": {"mediaType": OCI_EMPTY, "digest": empty_digest, "size": empty.len()},
        "layers": [{"mediaType": bundle::BUNDLE_V03, "digest": layer, "size": doc.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.size},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": bundle::COSIGN_SIGN_PREDICATE}
    })
    .to_string()
    .into_bytes();
    let (digest, indexed) = oci.push_referrer(image, &sha256_digest(&referrer), OCI_MANIFEST, &referrer).await?;
    if indexed {
        return Ok((digest, "the referrers API".into()));
    }
    let tag = cortado_cosign::digest_tag(subject.digest);
    let descriptor = json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": referrer.len(), "artifactType": bundle::BUNDLE_V03});
    let index = fallback_index(oci, image, &tag, descriptor).await?;
    oci.push_manifest(image, &tag, OCI_INDEX, &index).await?;
    Ok((digest, format!("the referrers tag {repo}:{tag}")))
}

/// The referrers tag's index with `descriptor` added: the referrers already listed are kept (other
/// signatures, attestations), a descriptor already there is not repeated.
async fn fallback_index(oci: &OciClient, image: &ImageRef, tag: &str, descriptor: serde_json::Value) -> Result<Vec<u8>, String> {
    let at = ImageRef { tag: Some(tag.to_owned()), digest: None, ..image.clone() };
    let mut index = match oci.manifest(&at).await {
        Ok(m) => serde_json::from_slice::<serde_json::Value>(&m.body).map_err(|e| format!("the referrers tag {tag} is not JSON: {e}"))?,
        Err(e) if e.contains("(HTTP 404)") => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        Err(e) => return Err(format!("the referrers tag {tag}: {e}")),
    };
    let Some(list) = index.get_mut("manifests").and_then(serde_json::Value::as_array_mut) else {
        return Err(format!("the referrers tag {tag} is not an OCI image index (no `manifests`)"));
    };
    if !list.iter().any(|d| d["digest"] == descriptor["digest"]) {
        list.push(descriptor);
    }
    Ok(index.to_string().into_bytes())
}
