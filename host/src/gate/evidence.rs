//! Signed evidence per gated command: an in-toto Statement v1 wrapped in a DSSE envelope, signed
//! with a local Ed25519 key (`signing: {key_file: PATH}`), written after the outcome record to
//! `cortado-evidence/<run id>.dsse.json` beside the config.
//!
//! Subject: the task definition that runs (its ARN, digest = sha256 of its canonical JSON) and
//! every image pinned by digest. Predicate (the Simple Verification Result shape where it fits:
//! `verifier`, `timeVerified`, `resourceUri`, `policies`, `verificationResult`), plus the plan
//! digest, each gate's plugin sha256, decision and reasons, overrides, the caller, the outcome,
//! the deployment id and the hashes of the audit records it summarises, so that
//! `cortado evidence verify` can check it against the chain, and the chain's head once the outcome
//! is recorded (`audit.chain_head`: its hash and record count): the chain must still reach that
//! head, so the latest statement, signed, anchors every record before it.
//!
//! Signing uses `ring` (already linked by rustls) for Ed25519 key files, or AWS KMS (`kms_key`:
//! an ECC_NIST_P256 SIGN_VERIFY key, `Sign` with ECDSA_SHA_256 over the PAE, RAW up to KMS's 4 KiB
//! message limit, else DIGEST); verify fetches the KMS public key (`GetPublicKey`) and checks the
//! signature locally with `ring`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use aws_smithy_types::base64;
use ring::signature::{ECDSA_P256_SHA256_ASN1, ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde_json::{Map, Value, json};

use super::audit::{canonical, sha256_hex};

/// DSSE's pre-authentication encoding (what is actually signed), the in-toto payload type and
/// statement type: one definition, shared with the image and plugin signature checks.
pub use cortado_cosign::bundle::{IN_TOTO as PAYLOAD_TYPE, STATEMENT_V1 as STATEMENT_TYPE, pae};
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/svr/v0.2";

/// A key file holds the 32-byte Ed25519 seed as 64 hex digits. It must be a regular file that no
/// group or other user can read or write (as `keygen` writes it, and as ssh insists): a signing key
/// others can read signs for them too.
pub fn load_key(path: &Path) -> Result<Ed25519KeyPair> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).with_context(|| format!("signing key {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!("signing key {}: not a regular file", path.display());
    }
    if meta.mode() & 0o077 != 0 {
        anyhow::bail!("signing key {}: mode {:o} lets group or others access it; `chmod 600 {}`", path.display(), meta.mode() & 0o777, path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("signing key {}", path.display()))?;
    let seed =
        hex::decode(text.trim()).ok().filter(|s| s.len() == 32).with_context(|| format!("{}: expected 64 hex digits (an Ed25519 seed)", path.display()))?;
    Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| anyhow::anyhow!("{}: not a valid Ed25519 seed", path.display()))
}

/// The key id: sha256 of the raw public key.
pub fn key_id(public: &[u8]) -> String {
    sha256_hex(public)
}

/// Writes a new key file (mode 0600) and returns the public key in hex.
pub fn keygen(path: &Path) -> Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| anyhow::anyhow!("key generation failed"))?;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{}", hex::encode(seed)).with_context(|| format!("writing {}", path.display()))?;
    Ok(hex::encode(key.public_key().as_ref()))
}

/// What the decision knew, kept until the outcome is known.
#[derive(Clone)]
pub struct Pending {
    pub signer: crate::config::shared::Signing,
    /// The key file's key, loaded (and its permissions checked) before anything changes.
    pub key: Option<std::sync::Arc<Ed25519KeyPair>>,
    /// For KMS signing.
    pub sdk: Option<aws_config::SdkConfig>,
    pub out_dir: PathBuf,
    pub statement: Value,
}

/// The subject and the predicate as far as the decision knows them. A key file is loaded now, so
/// that a missing or unprotected key stops the command before its first change.
pub fn pending(
    signer: crate::config::shared::Signing,
    sdk: Option<aws_config::SdkConfig>,
    out_dir: PathBuf,
    decision: &Map<String, Value>,
    td: Option<(&Option<String>, &Value)>,
) -> Result<Pending> {
    let key = match &signer {
        crate::config::shared::Signing::KeyFile(path) => Some(std::sync::Arc::new(load_key(path)?)),
        crate::config::shared::Signing::Kms(_) => None,
    };
    let mut subject = Vec::new();
    if let Some((arn, body)) = td {
        subject.push(json!({"name": arn.clone().unwrap_or_else(|| "task-definition (registered by this command)".into()), "digest": {"sha256": sha256_hex(canonical(body).as_bytes())}}));
        for c in body["containerDefinitions"].as_array().into_iter().flatten() {
            if let Some((name, digest)) = c["image"].as_str().and_then(|i| i.split_once("@sha256:")) {
                subject.push(json!({"name": name, "digest": {"sha256": digest}}));
            }
        }
    }
    let gates = decision.get("gates").cloned().unwrap_or(json!([]));
    let policies: Vec<Value> = gates
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| json!({"uri": format!("plugin:{}", g["plugin"].as_str().unwrap_or("")), "digest": {"sha256": g["sha256"]}}))
        .collect();
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": format!("cortado/{}", env!("CARGO_PKG_VERSION"))},
            "timeVerified": decision.get("time"),
            "resourceUri": decision.get("task_definition_arn"),
            "policies": policies,
            "verificationResult": if decision.get("outcome").and_then(Value::as_str) == Some("approved") { "PASSED" } else { "FAILED" },
            "command": decision.get("command"),
            "cluster": decision.get("cluster"),
            "service": decision.get("service"),
            "caller": decision.get("caller"),
            "plan_digest": decision.get("plan_digest"),
            "gates": gates,
            "overrides": decision.get("gates").and_then(Value::as_array).map(|g| g.iter().filter(|x| x["override"] == true).map(|x| json!({"gate": x["plugin"], "reason": x["override_reason"]})).collect::<Vec<_>>()),
            "audit": {"run_id": decision.get("run_id"), "decision": decision.get("hash")},
        }
    });
    let mut statement = statement;
    // Plugins pulled from a registry: which artifact and which key vouched for it.
    if let Some(pulled) = decision.get("plugins") {
        statement["predicate"]["plugins"] = pulled.clone();
    }
    Ok(Pending { signer, key, sdk, out_dir, statement })
}

/// A release's subject entries for one registered task definition: the definition (sha256 of its
/// canonical JSON, as AWS returned it) and every image it runs, by digest when pinned (an image
/// named by tag only has no digest to bind: it is listed, marked `pinned: false`).
pub fn release_subjects(member: &str, arn: &str, body: &Value) -> Vec<Value> {
    let mut out = vec![json!({"name": arn, "digest": {"sha256": sha256_hex(canonical(body).as_bytes())}, "annotations": {"member": member}})];
    for image in body["containerDefinitions"].as_array().into_iter().flatten().filter_map(|c| c["image"].as_str()) {
        out.push(match image.split_once("@sha256:") {
            Some((name, digest)) => json!({"name": name, "digest": {"sha256": digest}, "annotations": {"member": member, "pinned": true}}),
            None => json!({"name": image, "digest": {}, "annotations": {"member": member, "pinned": false}}),
        });
    }
    out
}

impl Pending {
    /// Completes the statement with the outcome, signs it and writes the envelope; returns its path.
    /// `records` is the chain's length with the outcome record (its head is the outcome's hash).
    pub fn finish(mut self, outcome: &Map<String, Value>, outcome_hash: &str, log: &str, records: Option<u64>) -> Result<PathBuf> {
        let p = &mut self.statement["predicate"];
        p["outcome"] = json!({"result": outcome.get("result"), "error": outcome.get("error"), "deployment_id": outcome.get("deployment_id")});
        // Whether a rolling deployment completed by its early success criteria (ecspresso v2.8.7):
        // the old tasks may still run when the statement is signed, so a reader must know.
        if let Some(early) = outcome.get("completed_early") {
            p["outcome"]["completed_early"] = early.clone();
        }
        p["audit"]["outcome"] = json!(outcome_hash);
        p["audit"]["log"] = json!(log);
        p["audit"]["chain_head"] = json!({"hash": outcome_hash, "records": records});
        if let Some(arn) = outcome.get("registered").and_then(Value::as_str) {
            self.statement["subject"][0]["name"] = json!(arn);
            self.statement["predicate"]["resourceUri"] = json!(arn);
        }
        let envelope = match &self.signer {
            crate::config::shared::Signing::KeyFile(path) => match &self.key {
                Some(key) => sign(key, &self.statement),
                None => sign(&load_key(path)?, &self.statement),
            },
            crate::config::shared::Signing::Kms(arn) => {
                let sdk = self.sdk.as_ref().context("internal error: KMS signing without AWS")?;
                sign_kms(sdk, arn, &self.statement)?
            }
        };
        std::fs::create_dir_all(&self.out_dir).with_context(|| format!("creating {}", self.out_dir.display()))?;
        let run = self.statement["predicate"]["audit"]["run_id"].as_str().unwrap_or("run").to_owned();
        let path = self.out_dir.join(format!("{run}.dsse.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&envelope)?).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

pub fn sign(key: &Ed25519KeyPair, statement: &Value) -> Value {
    let payload = canonical(statement).into_bytes();
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
    json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": base64::encode(&payload),
        "signatures": [{"keyid": key_id(key.public_key().as_ref()), "sig": base64::encode(sig.as_ref())}],
    })
}

/// KMS's limit for a RAW message; a longer PAE is signed as its SHA-256 digest.
const KMS_RAW_LIMIT: usize = 4096;

fn sign_kms(sdk: &aws_config::SdkConfig, arn: &str, statement: &Value) -> Result<Value> {
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
    let payload = canonical(statement).into_bytes();
    let pae = pae(PAYLOAD_TYPE, &payload);
    // CORTADO_KMS_DIGEST=1 takes the DIGEST path for any size (tests; KMS's answer is the same kind).
    let force_digest = std::env::var("CORTADO_KMS_DIGEST").is_ok_and(|v| v == "1");
    let (message, kind) = if pae.len() <= KMS_RAW_LIMIT && !force_digest {
        (pae, MessageType::Raw)
    } else {
        (ring::digest::digest(&ring::digest::SHA256, &pae).as_ref().to_vec(), MessageType::Digest)
    };
    let arn = arn.to_owned();
    let sig = crate::aws::blocking(sdk, move |sdk| async move {
        let out = aws_sdk_kms::Client::new(&sdk)
            .sign()
            .key_id(&arn)
            .message(Blob::new(message))
            .message_type(kind)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("KMS Sign with {arn}: {}", crate::aws::describe_error(&e)))?;
        let sig = out.signature().context("KMS Sign returned no signature")?.as_ref().to_vec();
        Ok((out.key_id().unwrap_or(&arn).to_owned(), sig))
    })?;
    Ok(json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": base64::encode(&payload),
        "signatures": [{"keyid": sig.0, "sig": base64::encode(&sig.1)}],
    }))
}

/// How a signature is checked.
pub enum Verifier {
    /// A raw 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
    /// A KMS key's P-256 public key (uncompressed point) and its ARN (the envelope's keyid).
    P256 { point: Vec<u8>, keyid: String },
}

impl Verifier {
    pub fn key_id(&self) -> String {
        match self {
            Verifier::Ed25519(p) => key_id(p),
            Verifier::P256 { keyid, .. } => keyid.clone(),
        }
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Verifier::Ed25519(p) => UnparsedPublicKey::new(&ED25519, p).verify(msg, sig).is_ok(),
            Verifier::P256 { point, .. } => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(msg, sig).is_ok(),
        }
    }
}

/// The KMS key's public key (GetPublicKey): a P-256 SubjectPublicKeyInfo, whose last 65 bytes are
/// the uncompressed point `ring` verifies with.
pub async fn kms_verifier(sdk: &aws_config::SdkConfig, arn: &str) -> Result<Verifier> {
    let out = aws_sdk_kms::Client::new(sdk)
        .get_public_key()
        .key_id(arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("KMS GetPublicKey {arn}: {}", crate::aws::describe_error(&e)))?;
    let der = out.public_key().context("KMS GetPublicKey returned no key")?.as_ref();
    if der.len() != 91 || der[26] != 0x04 {
        bail!("{arn}: not an ECC_NIST_P256 key (cortado signs with ECDSA_SHA_256 on P-256)");
    }
    // The envelope names the key as it was signed with (KMS answers Sign with the ARN).
    Ok(Verifier::P256 { point: der[26..].to_vec(), keyid: arn.to_owned() })
}

/// Checks an envelope's signature with `public` (raw 32 bytes Ed25519); returns the statement.
pub fn open(envelope_text: &str, public: &[u8]) -> Result<Value> {
    open_with(envelope_text, &Verifier::Ed25519(public.to_vec()))
}

/// The envelope's first signature's key id (to find the KMS key to check it with).
pub fn first_keyid(envelope_text: &str) -> Option<String> {
    serde_json::from_str::<Value>(envelope_text).ok()?["signatures"][0]["keyid"].as_str().map(str::to_owned)
}

/// Checks an envelope's signature with `verifier`; returns the statement.
pub fn open_with(envelope_text: &str, verifier: &Verifier) -> Result<Value> {
    let env: Value = serde_json::from_str(envelope_text).context("not a DSSE envelope (JSON)")?;
    let payload_type = env["payloadType"].as_str().context("the envelope has no payloadType")?;
    if payload_type != PAYLOAD_TYPE {
        bail!("payloadType {payload_type:?} is not {PAYLOAD_TYPE}");
    }
    let payload = base64::decode(env["payload"].as_str().context("the envelope has no payload")?).map_err(|e| anyhow::anyhow!("payload: {e}"))?;
    let want = verifier.key_id();
    let sigs = env["signatures"].as_array().context("the envelope has no signatures")?;
    // A KMS DIGEST signature is ECDSA over sha256(PAE) as the hash: it verifies like a RAW one.
    let signed = pae(payload_type, &payload);
    let ok = sigs
        .iter()
        .filter(|s| s["keyid"].as_str().is_none_or(|k| k == want))
        .any(|s| s["sig"].as_str().and_then(|b| base64::decode(b).ok()).is_some_and(|sig| verifier.verify(&signed, &sig)));
    if !ok {
        bail!("no valid signature by key {}: the envelope was altered or signed by another key", want.get(..16).unwrap_or(&want));
    }
    let statement: Value = serde_json::from_slice(&payload).context("the payload is not JSON")?;
    if statement["_type"] != STATEMENT_TYPE {
        bail!("the payload is not an in-toto Statement v1");
    }
    Ok(statement)
}

/// Checks the statement against the audit records (by hash): the decision and outcome exist, are
/// intact, and say what the statement says. Returns the mismatches.
pub fn against_chain(statement: &Value, records: &[Map<String, Value>]) -> Vec<String> {
    let p = &statement["predicate"];
    let find = |h: &Value| records.iter().find(|r| r.get("hash") == Some(h) && h.is_string());
    let mut bad = Vec::new();
    match find(&p["audit"]["decision"]) {
        None => bad.push(format!("decision record {} is not in the audit log", p["audit"]["decision"])),
        Some(d) => {
            if super::audit::record_hash(d) != d.get("hash").and_then(Value::as_str).unwrap_or("") {
                bad.push("the decision record was altered".into());
            }
            for (k, v) in [("plan_digest", &p["plan_digest"]), ("run_id", &p["audit"]["run_id"]), ("caller", &p["caller"]), ("gates", &p["gates"])] {
                if d.get(k) != Some(v) {
                    bad.push(format!("`{k}` differs from the decision record"));
                }
            }
        }
    }
    match find(&p["audit"]["outcome"]) {
        None => bad.push(format!("outcome record {} is not in the audit log", p["audit"]["outcome"])),
        Some(o) => {
            if o.get("decision") != Some(&p["audit"]["decision"]) {
                bad.push("the outcome record belongs to another decision".into());
            }
            for (k, v) in [("result", &p["outcome"]["result"]), ("deployment_id", &p["outcome"]["deployment_id"])] {
                if o.get(k).unwrap_or(&Value::Null) != v {
                    bad.push(format!("`{k}` differs from the outcome record"));
                }
            }
            // Statements signed before cortado recorded it carry no `completed_early`.
            if let Some(early) = p["outcome"].get("completed_early")
                && o.get("completed_early") != Some(early)
            {
                bad.push("`completed_early` differs from the outcome record".into());
            }
        }
    }
    bad.extend(against_head(statement, records));
    bad
}

/// A release member's entry (`predicate.members.NAME`) against its audit log: its decision record
/// (intact, same run id and plan digest) and, when it ran, its outcome record (chained to it).
pub fn member_against_chain(member: &Value, records: &[Map<String, Value>]) -> Vec<String> {
    let find = |h: &Value| records.iter().find(|r| r.get("hash") == Some(h) && h.is_string());
    let mut bad = Vec::new();
    let decision = &member["audit"]["decision"];
    match find(decision) {
        None => bad.push(format!("decision record {decision} is not in the audit log")),
        Some(d) => {
            if super::audit::record_hash(d) != d.get("hash").and_then(Value::as_str).unwrap_or("") {
                bad.push("the decision record was altered".into());
            }
            for k in ["plan_digest", "run_id"] {
                if d.get(k) != Some(&member[k]) {
                    bad.push(format!("`{k}` differs from the decision record"));
                }
            }
        }
    }
    let outcome = &member["audit"]["outcome"];
    if !outcome.is_null() {
        match find(outcome) {
            None => bad.push(format!("outcome record {outcome} is not in the audit log")),
            Some(o) if o.get("decision") != Some(decision) => bad.push("the outcome record belongs to another decision".into()),
            Some(o) if o.get("result").unwrap_or(&Value::Null) != &member["result"] => bad.push("`result` differs from the outcome record".into()),
            Some(o) if o.get("deployment_id").unwrap_or(&Value::Null) != &member["deployment_id"] => {
                bad.push("`deployment_id` differs from the outcome record".into())
            }
            Some(_) => {}
        }
    }
    bad
}

/// The statement's `audit.chain_head` against the chain (records in order): the record at that
/// position must have that hash. A statement without one (older cortado) is not checked here.
pub fn against_head(statement: &Value, records: &[Map<String, Value>]) -> Vec<String> {
    let head = &statement["predicate"]["audit"]["chain_head"];
    let Some(hash) = head["hash"].as_str() else { return Vec::new() };
    let hashes: Vec<String> = records.iter().map(|r| r.get("hash").and_then(Value::as_str).unwrap_or("").to_owned()).collect();
    let at = hashes.iter().position(|h| h == hash);
    match (at, head["records"].as_u64()) {
        (None, _) => vec![format!("the chain does not reach the head this statement signed ({hash}): it was rewritten or truncated")],
        (Some(i), Some(n)) if i as u64 + 1 != n => {
            vec![format!("the signed head {hash} is record {} of the chain, but the statement says record {n}: records before it were added or removed", i + 1)]
        }
        _ => Vec::new(),
    }
}

/// How far the chain goes past the statement's signed head (0 when it ends there), if it has one.
pub fn records_after_head(statement: &Value, records: &[Map<String, Value>]) -> Option<usize> {
    let hash = statement["predicate"]["audit"]["chain_head"]["hash"].as_str()?;
    let i = records.iter().position(|r| r.get("hash").and_then(Value::as_str) == Some(hash))?;
    Some(records.len() - i - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_envelope_opens_and_one_changed_byte_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("k");
        let public = hex::decode(keygen(&key_path).unwrap()).unwrap();
        let key = load_key(&key_path).unwrap();
        let st = json!({"_type": STATEMENT_TYPE, "subject": [], "predicateType": PREDICATE_TYPE, "predicate": {"x": 1}});
        let text = sign(&key, &st).to_string();
        assert_eq!(open(&text, &public).unwrap(), st);
        // Every single-byte change of the payload is refused.
        let env: Value = serde_json::from_str(&text).unwrap();
        let payload = env["payload"].as_str().unwrap();
        // (The last base64 quantum may carry unused bits; a change there can decode to the same bytes.)
        for i in 0..payload.len() - 4 {
            let mut b = payload.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let changed = text.replace(payload, std::str::from_utf8(&b).unwrap());
            assert!(open(&changed, &public).is_err(), "byte {i} changed and still verified");
        }
        let other = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        assert!(open(&sign(&other, &st).to_string(), &public).is_err(), "another key's signature");
        assert!(pae("t", b"ab") == b"DSSEv1 1 t 2 ab".to_vec());
    }
}
