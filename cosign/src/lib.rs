//! cosign's key-based signatures, verified without any I/O: the caller fetches manifests and blobs
//! (the host through its OCI client, the `image-signature` plugin through the host's registry
//! broker) and this crate judges the bytes.
//!
//! Why a crate of its own: the host verifies plugins pulled from an OCI registry and the
//! `image-signature` gate verifies container images, with the same formats and the same keys. One
//! copy of the payload parsing, digest checks and signature verification means one place to audit
//! and fix; it builds natively and for wasm32-wasip2 (pure-Rust RustCrypto, no network, no files).
//!
//! Two formats, both key-signed (ECDSA P-256 with SHA-256, or Ed25519):
//! - [`classic`]: the `sha256-<hex>.sig` tag's simple-signing layers.
//! - [`bundle`]: cosign v3's Sigstore bundle v0.3, a DSSE envelope over an in-toto statement,
//!   attached as an OCI referrer (the referrers API, or its `sha256-<hex>` tag fallback).
//!
//! Keyless signatures (a Fulcio certificate, Rekor entries) are recognised and refused as
//! unsupported: they need a trust root this crate does not hold.

pub mod bundle;
pub mod classic;
pub mod keys;

pub use keys::TrustedKey;

/// The signature format a verdict came from, as the audit record and evidence name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The `sha256-<hex>.sig` tag (simple signing).
    Classic,
    /// A Sigstore bundle v0.3 referrer (DSSE, in-toto).
    Bundle,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Classic => "cosign-classic",
            Format::Bundle => "cosign-bundle",
        }
    }
}

/// Why one signature does not vouch for a digest, or the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by this key for exactly this digest.
    Signed { key_id: String, kind: &'static str, format: Format },
    /// No listed key made this signature over these bytes.
    NoKey,
    /// A listed key signed it, but for another digest.
    OtherDigest(String),
    /// A listed key signed it, but the payload is not a cosign image signature.
    BadPayload(String),
    /// A format this crate does not verify (keyless, a message signature, …).
    Unsupported(String),
}

impl Verdict {
    /// The reason as an operator reads it, for anything but [`Verdict::Signed`].
    pub fn reason(&self) -> String {
        match self {
            Verdict::Signed { key_id, format, .. } => format!("signed by key {key_id} ({})", format.as_str()),
            Verdict::NoKey => "signed by no listed key (another key made it, or the payload was altered after signing)".into(),
            Verdict::OtherDigest(d) => format!("signature is for another digest ({d})"),
            Verdict::BadPayload(why) => why.clone(),
            Verdict::Unsupported(why) => format!("unsupported signature: {why}"),
        }
    }
}

/// `sha256-<hex>`: the tag cosign derives from a digest (the `.sig` tag's stem, and the OCI
/// referrers tag fallback).
pub fn digest_tag(digest: &str) -> String {
    digest.replace(':', "-")
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
