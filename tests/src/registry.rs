//! A real OCI registry on loopback for the supply-chain tests: Debian's `docker-registry` (the CNCF
//! distribution registry 2.8, installed by scripts/setup.sh) started by the test on a free port with
//! a config file of its own and storage in a scratch directory — never the package's system service
//! on :5000. Images are pushed with plain HTTP (blob upload, then the manifest) from the test.
//! [`Registry::start_with_referrers`] puts a [`front::Front`] before it that adds the OCI 1.1
//! referrers API, which docker-registry 2.8 lacks.

pub mod front;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The registry binary: `CORTADO_DOCKER_REGISTRY`, else Debian's path.
pub fn registry_bin() -> PathBuf {
    std::env::var_os("CORTADO_DOCKER_REGISTRY").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running registry; killed and its storage removed when dropped.
pub struct Registry {
    /// `127.0.0.1:PORT`, the host part of image references (the front's, when there is one).
    pub host: String,
    /// `127.0.0.1:PORT` of the docker-registry itself (equal to `host` without a front).
    pub backend: String,
    front: Option<front::Front>,
    /// The `Authorization` value the test's own pushes and reads carry (a private registry).
    auth: Option<String>,
    child: Child,
    _dir: tempfile::TempDir,
    agent: ureq::Agent,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pushed image manifest: its digest and bytes.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl Registry {
    /// Starts `docker-registry serve cfg.yml` on a free loopback port and waits until `/v2/` answers.
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// A private registry: docker-registry's own `htpasswd` authentication (HTTP Basic, bcrypt
    /// hashes made here), so every read and push needs `user` and `password`.
    pub fn start_private(user: &str, password: &str) -> Registry {
        let hash = bcrypt::hash(password, 4).expect("bcrypt");
        let mut r = Registry::start_with(&format!("{user}:{hash}\n"));
        r.auth = Some(format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}"))));
        r
    }

    /// With `htpasswd` lines, the registry asks for HTTP Basic credentials.
    fn start_with(htpasswd: &str) -> Registry {
        let bin = registry_bin();
        assert!(bin.exists(), "{} is missing: run scripts/setup.sh (it installs Debian's docker-registry)", bin.display());
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let host = format!("127.0.0.1:{port}");
        let cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        let cfg = if htpasswd.is_empty() {
            cfg
        } else {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, htpasswd).expect("write htpasswd");
            format!("{cfg}auth:\n  htpasswd:\n    realm: cortado-test\n    path: {}\n", file.display())
        };
        let cfg_path = dir.path().join("cfg.yml");
        std::fs::write(&cfg_path, cfg).expect("write the registry config");
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(10))).build().into();
        let r = Registry { host: host.clone(), backend: host, front: None, auth: None, child, _dir: dir, agent };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(resp) = r.agent.get(&format!("http://{}/v2/", r.host)).call()
                && (resp.status() == 200 || (!htpasswd.is_empty() && resp.status() == 401))
            {
                return r;
            }
            assert!(Instant::now() < deadline, "docker-registry did not answer on {} within 20 s", r.host);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A registry with the OCI referrers API: docker-registry behind a [`front::Front`]; `host` is
    /// the front's address, so everything pushed or pulled through `host` passes the front.
    pub fn start_with_referrers() -> Registry {
        let mut r = Registry::start();
        let f = front::Front::start(&r.backend);
        r.host = f.host.clone();
        r.front = Some(f);
        r
    }

    /// A registry whose every request needs a Bearer token from its token service (the
    /// distribution token protocol, modelled by a [`front::Front`] before docker-registry):
    /// issued for `user`/`password` (Basic) or the identity token `refresh` (OAuth2 refresh grant).
    pub fn start_with_token_auth(user: &str, password: &str, refresh: &str) -> Registry {
        let mut r = Registry::start();
        let f = front::Front::start_with_token_auth(&r.backend, front::Accounts { user: user.into(), password: password.into(), refresh: refresh.into() });
        r.host = f.host.clone();
        r.auth = Some(format!("Bearer {}", f.admin_token()));
        r.front = Some(f);
        r
    }

    /// The `Authorization` headers the front received, `METHOD /path scheme` (none without a front).
    pub fn authorizations(&self) -> Vec<String> {
        self.front.as_ref().map(front::Front::authorizations).unwrap_or_default()
    }

    /// Adds the test's own credentials to a request, for a private registry.
    fn authed<B>(&self, rb: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.auth {
            Some(a) => rb.header("authorization", a),
            None => rb,
        }
    }

    /// The requests the referrers front received (`METHOD /path?query`); empty without a front.
    pub fn calls(&self) -> Vec<String> {
        self.front.as_ref().map(front::Front::calls).unwrap_or_default()
    }

    /// Whether the docker-registry itself (not the front) has `repo:reference`: how a test tells
    /// a tag fallback was (not) written.
    pub fn backend_has(&self, repo: &str, reference: &str) -> bool {
        let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
        let url = format!("http://{}/v2/{repo}/manifests/{reference}", self.backend);
        self.authed(self.agent.get(&url)).header("accept", accept).call().map(|r| r.status() == 200).unwrap_or(false)
    }

    /// Uploads a blob (POST an upload, PUT its bytes with the digest) and returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let d = digest(bytes);
        let resp = self.authed(self.agent.post(&format!("http://{}/v2/{repo}/blobs/uploads/", self.host))).send_empty().expect("start an upload");
        assert_eq!(resp.status(), 202, "blob upload start in {repo}");
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).expect("upload Location").to_owned();
        let url = if location.starts_with("http") { location } else { format!("http://{}{location}", self.host) };
        let sep = if url.contains('?') { '&' } else { '?' };
        let resp = self
            .authed(self.agent.put(&format!("{url}{sep}digest={d}")))
            .header("content-type", "application/octet-stream")
            .send(bytes)
            .expect("upload the blob");
        assert_eq!(resp.status(), 201, "blob upload of {d} in {repo}");
        d
    }

    /// PUTs a manifest under `reference` (a tag or a digest); returns what was pushed.
    pub fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, manifest: &Value) -> Pushed {
        let bytes = serde_json::to_vec(manifest).expect("manifest JSON");
        let mut resp = self
            .authed(self.agent.put(&format!("http://{}/v2/{repo}/manifests/{reference}", self.host)))
            .header("content-type", media_type)
            .send(&bytes[..])
            .expect("push the manifest");
        let status = resp.status();
        assert_eq!(status, 201, "manifest push to {repo}:{reference}: {}", resp.body_mut().read_to_string().unwrap_or_default());
        Pushed { digest: digest(&bytes), bytes }
    }

    /// A small OCI image (a config and one layer, both distinct per `seed`) pushed as `repo:tag`.
    pub fn push_image(&self, repo: &str, tag: &str, seed: &str) -> Pushed {
        let config = serde_json::to_vec(
            &json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"seed": seed}}, "rootfs": {"type": "layers", "diff_ids": []}}),
        )
        .expect("config JSON");
        let layer = format!("layer of {seed}").into_bytes();
        let config_digest = self.push_blob(repo, &config);
        let layer_digest = self.push_blob(repo, &layer);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}]
        });
        self.push_manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", &manifest)
    }
}

/// A signing key made in the test (from a fixed seed, so runs are reproducible).
pub enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl SigningKey {
    pub fn p256(seed: u8) -> SigningKey {
        let mut bytes = [seed; 32];
        bytes[0] = 1; // below the curve order whatever the seed
        SigningKey::P256(p256::ecdsa::SigningKey::from_bytes(&bytes.into()).expect("a valid P-256 scalar"))
    }

    pub fn ed25519(seed: u8) -> SigningKey {
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    /// The public key as PEM (SubjectPublicKeyInfo), as `cosign public-key` prints it.
    pub fn public_pem(&self) -> String {
        use p256::pkcs8::{EncodePublicKey as _, LineEnding};
        match self {
            SigningKey::P256(k) => k.verifying_key().to_public_key_pem(LineEnding::LF).expect("PEM"),
            SigningKey::Ed25519(k) => ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_pem(&k.verifying_key(), LineEnding::LF).expect("PEM"),
        }
    }

    /// The private key as unencrypted PKCS#8 PEM (`openssl genpkey` writes this form).
    pub fn private_pem(&self) -> String {
        use p256::pkcs8::LineEnding;
        match self {
            SigningKey::P256(k) => p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(k, LineEnding::LF).expect("PEM").to_string(),
            SigningKey::Ed25519(k) => ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(k, LineEnding::LF).expect("PEM").to_string(),
        }
    }

    /// sha256 of the public key's SubjectPublicKeyInfo DER, hex: the key id the audit names.
    pub fn key_id(&self) -> String {
        use p256::pkcs8::EncodePublicKey as _;
        let der = match self {
            SigningKey::P256(k) => k.verifying_key().to_public_key_der().expect("DER").into_vec(),
            SigningKey::Ed25519(k) => ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_der(&k.verifying_key()).expect("DER").into_vec(),
        };
        hex(&Sha256::digest(&der))
    }

    /// The signature over `payload`: DER ECDSA-P256-SHA256, or raw Ed25519.
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
}

/// cosign's simple-signing payload for `repo` at `digest`.
pub fn simple_signing_payload(repo: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
        "optional": null
    }))
    .expect("payload JSON")
}

impl Registry {
    /// Pushes a cosign classic signature of `repo@digest`: `payload` as the layer, `signature`
    /// (its bytes, base64 in the annotation) — both given, so tests can make them disagree.
    pub fn push_signature(&self, repo: &str, digest: &str, payload: &[u8], signature: &[u8]) -> Pushed {
        use base64::Engine as _;
        let config = b"{}".to_vec();
        let config_digest = self.push_blob(repo, &config);
        let layer_digest = self.push_blob(repo, payload);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": layer_digest,
                "size": payload.len(),
                "annotations": {"dev.cosignproject.cosign/signature": base64::engine::general_purpose::STANDARD.encode(signature)}
            }]
        });
        self.push_manifest(repo, &format!("{}.sig", digest.replace(':', "-")), "application/vnd.oci.image.manifest.v1+json", &manifest)
    }

    /// Signs `repo@digest` with `key` the way `cosign sign --key` does (classic format).
    pub fn sign(&self, repo: &str, digest: &str, key: &SigningKey) -> Pushed {
        let payload = simple_signing_payload(&format!("{}/{repo}", self.host), digest);
        self.push_signature(repo, digest, &payload, &key.sign(&payload))
    }
}

/// A cosign v3 bundle (Sigstore bundle v0.3) for `name@digest`, made here independently of the
/// code under test: an in-toto statement in a DSSE envelope, signed over DSSE's PAE by `key`.
/// `subject` is the digest the statement names (the image's, unless a test wants a mismatch).
pub fn cosign_bundle(name: &str, subject: &str, key: &SigningKey) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": subject.trim_start_matches("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {}
    }))
    .expect("statement JSON");
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), statement.len()).into_bytes();
    pae.extend_from_slice(&statement);
    serde_json::to_vec(&json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "test"}, "tlogEntries": []},
        "dsseEnvelope": {"payload": b64.encode(&statement), "payloadType": payload_type, "signatures": [{"sig": b64.encode(key.sign(&pae)), "keyid": ""}]}
    }))
    .expect("bundle JSON")
}

impl Registry {
    /// Attaches `bundle` to `repo@digest` as cosign v3 does: a referrer manifest (artifactType the
    /// bundle's, `subject` the image) pushed by digest; then, only without a referrers front
    /// (docker-registry 2.8 has no referrers API), the `sha256-<hex>` tag holding an OCI image
    /// index that lists it. With the front the bundle is findable only through the referrers API.
    pub fn attach_bundle(&self, repo: &str, digest: &str, subject_size: usize, bundle: &[u8]) -> Pushed {
        const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
        let empty = b"{}".to_vec();
        let empty_digest = self.push_blob(repo, &empty);
        let layer = self.push_blob(repo, bundle);
        let referrer = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": BUNDLE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": empty.len()},
            "layers": [{"mediaType": BUNDLE, "digest": layer, "size": bundle.len()}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": subject_size}
        });
        let bytes = serde_json::to_vec(&referrer).expect("referrer JSON");
        let pushed = self.push_manifest(repo, &super::registry::digest(&bytes), "application/vnd.oci.image.manifest.v1+json", &referrer);
        if self.front.is_some() {
            return pushed;
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": pushed.digest, "size": pushed.bytes.len(), "artifactType": BUNDLE}]
        });
        self.push_manifest(repo, &digest.replace(':', "-"), "application/vnd.oci.image.index.v1+json", &index);
        pushed
    }
}
