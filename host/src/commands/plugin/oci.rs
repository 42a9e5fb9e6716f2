//! `cortado plugin pull REF` and `cortado plugin push FILE.wasm REF [--sign-key KEY]`: plugins
//! distributed through an OCI registry as wasm artifacts (see [`crate::plugin::pull`]), signed with
//! cosign's classic format so `verify: {keys: [...]}` (and `cosign verify --key`) accept them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use cortado_cosign::{classic, keys::SigningKey};
use serde_json::json;

use crate::aws::registry::{ImageRef, OciClient};
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
    /// Sign it (cosign classic format) with this PKCS#8 PEM private key (ECDSA P-256 or Ed25519)
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
}

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
    let oci = OciClient::new(Duration::from_secs(60), 1 << 20);
    let failed = |e: String| anyhow::anyhow!("push to {}: {e}", args.reference);
    let (manifest_digest, layer) = block_on(push_artifact(&oci, &image, &tag, &bytes)).map_err(failed)?;
    println!("pushed {}/{}:{tag}", image.registry, image.repository);
    println!("  manifest: {manifest_digest}");
    println!("  layer:    {layer}");
    if let Some(key) = key {
        let repo = format!("{}/{}", image.registry, image.repository);
        block_on(push_signature(&oci, &image, &repo, &manifest_digest, &key)).map_err(failed)?;
        let id = key.public().map(|k| k.id).unwrap_or_default();
        println!("  signed:   {repo}:{}.sig (cosign-classic, key {id})", cortado_cosign::digest_tag(&manifest_digest));
    }
    println!("pin it in the config:\n  oci: {}\n  sha256: {}", ImageRef::pinned_text(&args.reference, &manifest_digest), layer.trim_start_matches("sha256:"));
    Ok(())
}

fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let pem = std::fs::read_to_string(path).map_err(|e| InputError::in_file(path, format!("--sign-key: {e}")))?;
    Ok(SigningKey::from_pkcs8_pem(&pem).map_err(|e| InputError::in_file(path, format!("--sign-key: {e}")))?)
}

/// The config, the layer, then the manifest under `tag`; `(manifest digest, layer digest)`.
async fn push_artifact(oci: &OciClient, image: &ImageRef, tag: &str, bytes: &[u8]) -> Result<(String, String), String> {
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
    Ok((digest, layer))
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
