//! Trusted public keys: PEM SubjectPublicKeyInfo of ECDSA P-256 or Ed25519, each with the id the
//! audit record names (the sha256 of its SPKI DER, hex, so it is the same whoever wrote the PEM).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::DecodePublicKey as _;
use sha2::{Digest as _, Sha256};

/// A public key the operator trusts.
pub enum Key {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A trusted key and its id.
pub struct TrustedKey {
    /// sha256 of the SubjectPublicKeyInfo DER, 64 hex digits.
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
        let der = spki_der(pem)?;
        Ok(TrustedKey { id: super::hex(&Sha256::digest(&der)), key })
    }

    /// Whether this key made `signature` over `payload` (DER or fixed-size P-256; raw Ed25519).
    pub fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
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

/// The DER inside a PEM's armour (the key already parsed, so only the base64 can fail).
fn spki_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.starts_with("-----") && !l.is_empty()).collect();
    STANDARD.decode(body.as_bytes()).map_err(|e| format!("PEM body is not base64: {e}"))
}

/// The first listed key that made `signature` over `payload`.
pub fn signer<'k>(keys: &'k [TrustedKey], payload: &[u8], signature: &[u8]) -> Option<&'k TrustedKey> {
    keys.iter().find(|k| k.verifies(payload, signature))
}

/// A private key that signs (for `cortado plugin push --sign-key`): PKCS#8 PEM
/// (`-----BEGIN PRIVATE KEY-----`) of a P-256 or Ed25519 key, as `openssl genpkey` writes it.
pub enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl SigningKey {
    pub fn from_pkcs8_pem(pem: &str) -> Result<SigningKey, String> {
        use p256::pkcs8::DecodePrivateKey as _;
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::P256(k));
        }
        match ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            Ok(k) => Ok(SigningKey::Ed25519(k)),
            Err(_) => Err("not an unencrypted PKCS#8 PEM private key of type ECDSA P-256 or Ed25519 (`-----BEGIN PRIVATE KEY-----`)".into()),
        }
    }

    /// DER ECDSA-P256-SHA256, or raw Ed25519, over `payload` (what cosign writes).
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::P256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = k.sign(payload);
                sig.to_der().as_bytes().to_vec()
            }
            SigningKey::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(payload).to_bytes().to_vec()
            }
        }
    }

    /// The public half, as a trusted key (for its id).
    pub fn public(&self) -> Result<TrustedKey, String> {
        let pem = match self {
            SigningKey::P256(k) => p256::pkcs8::EncodePublicKey::to_public_key_pem(k.verifying_key(), p256::pkcs8::LineEnding::LF),
            SigningKey::Ed25519(k) => {
                ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_pem(&k.verifying_key(), ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            }
        };
        TrustedKey::from_pem(&pem.map_err(|e| e.to_string())?)
    }
}
