//! Container registries as the OCI distribution API sees them: image references parsed as Docker
//! does (ecspresso split at the first `:`, so digests and `host:port/` registries broke: its issues
//! #906 and #1053), and a small client for manifests and blobs that answers a `401` challenge once,
//! anonymously or with Docker's saved credentials ([`super::docker_auth`]), through [`super::http`].
//!
//! It sits under `aws/` (the layer of outside reads) so that `plan` (digest pinning), `plugin`
//! (the brokered registry reads) and `verify` (image checks) share one client.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use std::collections::HashMap;
use std::sync::Mutex;

use super::docker_auth::{Credential, Found, Keychain};
use super::http::{HttpClient, Response};

/// Largest manifest or blob read by default (manifests and image configs are a few KiB).
pub const MAX_BODY: usize = 4 << 20;

pub const DOCKER_HUB: &str = "registry-1.docker.io";

/// `registry/repository[:tag][@digest]`, with Docker Hub's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`; Docker Hub is [`DOCKER_HUB`].
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> Result<ImageRef, String> {
        let image = image.trim();
        if image.is_empty() {
            return Err("the container has no image".into());
        }
        if image.contains(char::is_whitespace) || image.contains("{{") {
            return Err(format!("{image:?} is not an image reference"));
        }
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => {
                if !d.contains(':') || d.ends_with(':') {
                    return Err(format!("{image:?}: digest {d:?} is not algorithm:hex"));
                }
                (n, Some(d.to_owned()))
            }
            None => (image, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(name[last_slash + i + 1..].to_owned())),
            None => (name, None),
        };
        if tag.as_deref() == Some("") || name.is_empty() || name.ends_with('/') {
            return Err(format!("{image:?} is not an image reference"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (first.to_owned(), rest.to_owned()),
            Some(_) => (DOCKER_HUB.to_owned(), name.to_owned()),
            None => (DOCKER_HUB.to_owned(), format!("library/{name}")),
        };
        let registry = if registry == "docker.io" || registry == "index.docker.io" { DOCKER_HUB.to_owned() } else { registry };
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_owned()) } else { tag };
        Ok(ImageRef { registry, repository, tag, digest })
    }

    /// What to ask the registry for: the digest when there is one (it wins over a tag, as in
    /// Docker), else the tag.
    pub fn reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// `(registry id, region)` when this is an ECR private registry host.
    pub fn ecr(&self) -> Option<(String, String)> {
        // <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
        let parts: Vec<&str> = self.registry.split('.').collect();
        let tail_ok = matches!(parts.get(4..), Some(["amazonaws", "com"]) | Some(["amazonaws", "com", "cn"]));
        let ok = parts.len() >= 6
            && parts[0].len() == 12
            && parts[0].bytes().all(|b| b.is_ascii_digit())
            && parts[1] == "dkr"
            && (parts[2] == "ecr" || parts[2] == "ecr-fips")
            && tail_ok;
        ok.then(|| (parts[0].to_owned(), parts[3].to_owned()))
    }

    /// Loopback registries are spoken to over plain HTTP, as Docker treats 127.0.0.0/8 as insecure.
    pub fn is_loopback(&self) -> bool {
        let host = self.registry.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map(|(h, _)| h).unwrap_or(&self.registry);
        // Parsed, not prefix-matched: `127.0.0.1.example.com` is a name anyone can register.
        host == "localhost" || host == "[::1]" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
    }
}

pub const INDEX_TYPES: &[&str] = &["application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json"];
pub const MANIFEST_TYPES: &[&str] = &["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"];

impl ImageRef {
    /// `original` (the text this reference was parsed from) with its tag replaced by `digest`:
    /// the registry and repository stay spelled as the user wrote them.
    pub fn pinned_text(original: &str, digest: &str) -> String {
        let name = original.trim().split('@').next().unwrap_or("");
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let name = match name[last_slash..].rfind(':') {
            Some(i) => &name[..last_slash + i],
            None => name,
        };
        format!("{name}@{digest}")
    }

    /// `http://host` for loopback registries (Docker treats 127.0.0.0/8 as insecure), else `https://host`.
    pub fn base_url(&self) -> String {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        format!("{scheme}://{}", self.registry)
    }
}

/// `sha256:<hex>` of `bytes`: what a registry calls a manifest's or blob's digest.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A manifest as the registry served it.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `sha256:<hex>` of the bytes served (checked against `Docker-Content-Digest` when sent).
    pub digest: String,
    pub media_type: String,
    pub body: Vec<u8>,
}

/// The OCI distribution API over plain HTTP(S): anonymous, or with the credentials `docker login`
/// left ([`Keychain`]) when a registry asks for them. A `401` challenge is answered once per
/// request: `Basic` with the registry's username and password, `Bearer` with a token from the
/// realm it names (anonymous, Basic or an identity token's refresh grant). Tokens are kept per
/// registry, repository and actions for the client's life.
pub struct OciClient {
    http: HttpClient,
    keychain: Keychain,
    /// `Authorization` values that worked, per `host/repository actions`.
    sessions: Mutex<HashMap<String, String>>,
    /// The credential looked up for each host (None: anonymous), so a helper runs once per host.
    credentials: Mutex<HashMap<String, Option<Found>>>,
}

/// What a request may do in a repository: the token scope's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

impl OciClient {
    /// `timeout` bounds each request (connect included); bodies above `max_body` are refused.
    /// Credentials come from Docker's config ([`Keychain::from_env`]).
    pub fn new(timeout: Duration, max_body: usize) -> Self {
        Self::with_keychain(timeout, max_body, Keychain::from_env())
    }

    pub fn with_keychain(timeout: Duration, max_body: usize, keychain: Keychain) -> Self {
        OciClient { http: HttpClient::new(timeout, max_body), keychain, sessions: Mutex::default(), credentials: Mutex::default() }
    }

    /// A request without credentials (a blob's redirect to a CDN).
    pub async fn send(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Result<Response, String> {
        self.http.send(method, url, headers).await
    }

    /// Sends; on `401` with a challenge it can answer, authorizes and retries once. The answer is
    /// kept for the next request to the same repository.
    pub async fn send_authorized(&self, method: &str, url: &str, headers: &[(&str, String)], repo: &str, access: Access) -> Result<Response, String> {
        self.send_authorized_body(method, url, headers, Vec::new(), repo, access).await
    }

    async fn send_authorized_body(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        repo: &str,
        access: Access,
    ) -> Result<Response, String> {
        let host = url_host(url)?;
        let key = format!("{host}/{repo} {}", access.actions());
        let cached = lock(&self.sessions).get(&key).cloned();
        let mut with_auth: Vec<(&str, String)> = headers.to_vec();
        if let Some(a) = &cached {
            with_auth.push(("authorization", a.clone()));
        }
        let resp = self.http.send_body(method, url, &with_auth, body.clone()).await?;
        if resp.status != 401 {
            return Ok(resp);
        }
        let Some(challenge) = resp.header("www-authenticate").map(str::to_owned) else { return Ok(resp) };
        let Some(authorization) = self.answer(&host, repo, access, &challenge).await? else { return Ok(resp) };
        if cached.as_ref() == Some(&authorization) {
            return Ok(resp);
        }
        lock(&self.sessions).insert(key, authorization.clone());
        with_auth.retain(|(k, _)| *k != "authorization");
        with_auth.push(("authorization", authorization));
        self.http.send_body(method, url, &with_auth, body).await
    }

    /// The `Authorization` value that answers `challenge`; None when there is nothing to offer
    /// (a `Basic` registry and no password, or a token service that refuses anonymous access).
    async fn answer(&self, host: &str, repo: &str, access: Access, challenge: &str) -> Result<Option<String>, String> {
        let found = self.credential(host).await?;
        if is_basic_challenge(challenge) {
            return Ok(found.and_then(|f| f.credential.basic()));
        }
        let Some(params) = parse_bearer_challenge(challenge) else { return Ok(None) };
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let realm = param("realm").ok_or("Bearer challenge without realm")?;
        let scope = param("scope").unwrap_or_else(|| format!("repository:{repo}:{}", access.actions()));
        let mut query = Vec::new();
        if let Some(s) = param("service") {
            query.push(format!("service={}", query_escape(&s)));
        }
        query.push(format!("scope={}", query_escape(&scope)));
        let token_resp = match found.as_ref().map(|f| &f.credential) {
            None => {
                let sep = if realm.contains('?') { '&' } else { '?' };
                let resp = self.http.send("GET", &format!("{realm}{sep}{}", query.join("&")), &[]).await?;
                if resp.status != 200 {
                    return Ok(None);
                }
                resp
            }
            Some(credential) => {
                let found = found.as_ref().map(|f| f.source.as_str()).unwrap_or_default();
                if !may_carry_secrets(&realm) {
                    return Err(format!(
                        "{host} asks for credentials at {realm}, over plain HTTP to another machine: refused (the credentials in {found} are not sent)"
                    ));
                }
                let resp = match credential {
                    Credential::IdentityToken(refresh) => {
                        // Docker's OAuth2 exchange for an identity token (the refresh-token grant).
                        query.push("grant_type=refresh_token".into());
                        query.push(format!("client_id={}", query_escape("cortado")));
                        query.push(format!("refresh_token={}", query_escape(refresh)));
                        let form = ("content-type", "application/x-www-form-urlencoded".to_owned());
                        self.http.send_body("POST", &realm, &[form], query.join("&").into_bytes()).await?
                    }
                    Credential::Password { .. } => {
                        let sep = if realm.contains('?') { '&' } else { '?' };
                        let basic = credential.basic().unwrap_or_default();
                        self.http.send("GET", &format!("{realm}{sep}{}", query.join("&")), &[("authorization", basic)]).await?
                    }
                };
                if resp.status != 200 {
                    return Err(format!("the token service of {host} refused the credentials from {found} (HTTP {})", resp.status));
                }
                resp
            }
        };
        let v: Value = serde_json::from_slice(&token_resp.body).map_err(|e| format!("token response is not JSON: {e}"))?;
        let t = v.get("token").or_else(|| v.get("access_token")).and_then(Value::as_str).ok_or("token response has no token")?;
        Ok(Some(format!("Bearer {t}")))
    }

    /// The credential for `host`, looked up once.
    async fn credential(&self, host: &str) -> Result<Option<Found>, String> {
        if let Some(f) = lock(&self.credentials).get(host) {
            return Ok(f.clone());
        }
        let found = self.keychain.get(host).await?;
        if let Some(f) = &found {
            tracing::debug!("registry {host}: credentials from {}", f.source);
        }
        lock(&self.credentials).insert(host.to_owned(), found.clone());
        Ok(found)
    }

    /// "manifest v1 not found (HTTP 404)", and for a refusal what was offered: the credentials'
    /// source, or where none were found.
    fn status_reason(&self, resp: &Response, what: &str, host: &str) -> String {
        if !matches!(resp.status, 401 | 403) {
            return status_reason(resp, what);
        }
        match lock(&self.credentials).get(host).cloned().flatten() {
            Some(f) => format!("{what}: access refused (HTTP {}) with the credentials from {}", resp.status, f.source),
            None => format!(
                "{what}: access refused (HTTP {}): private or missing repository (no credentials for {host} in {})",
                resp.status,
                self.keychain.describe()
            ),
        }
    }

    /// The manifest `image` names (by digest when it has one, else by tag), any of the image and
    /// index media types. A digest reference is checked against the bytes served.
    pub async fn manifest(&self, image: &ImageRef) -> Result<Manifest, String> {
        let url = format!("{}/v2/{}/manifests/{}", image.base_url(), image.repository, image.reference());
        let accept = INDEX_TYPES.iter().chain(MANIFEST_TYPES).copied().collect::<Vec<_>>().join(", ");
        let resp = self.send_authorized("GET", &url, &[("accept", accept)], &image.repository, Access::Pull).await?;
        if resp.status != 200 {
            return Err(self.status_reason(&resp, &format!("manifest {}", image.reference()), &image.registry));
        }
        let digest = sha256_digest(&resp.body);
        if let Some(sent) = resp.header("docker-content-digest").filter(|d| d.starts_with("sha256:"))
            && sent != digest
        {
            return Err(format!("the registry says the manifest is {sent} but its bytes are {digest}"));
        }
        if let Some(want) = image.digest.as_deref().filter(|w| w.starts_with("sha256:") && *w != digest) {
            return Err(format!("asked for {want}, the registry served {digest}"));
        }
        let media_type = resp.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
        Ok(Manifest { digest, media_type, body: resp.body })
    }

    /// A blob's bytes, redirects followed (without our token: registries send them to a CDN).
    /// A `sha256:` digest is checked against the bytes.
    pub async fn blob(&self, base: &str, repo: &str, digest: &str) -> Result<Vec<u8>, String> {
        let mut url = format!("{base}/v2/{repo}/blobs/{digest}");
        let mut resp = self.send_authorized("GET", &url, &[], repo, Access::Pull).await?;
        for _ in 0..3 {
            if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
                break;
            }
            let location = resp.header("location").ok_or("redirect without Location")?.to_owned();
            url = if location.starts_with("http://") || location.starts_with("https://") { location } else { format!("{base}{location}") };
            resp = self.send("GET", &url, &[]).await?;
        }
        if resp.status != 200 {
            return Err(self.status_reason(&resp, &format!("blob {digest}"), &url_host(base)?));
        }
        if digest.starts_with("sha256:") && sha256_digest(&resp.body) != digest {
            return Err(format!("blob {digest}: the bytes served have another digest"));
        }
        Ok(resp.body)
    }
}

impl OciClient {
    /// The referrers of `image@digest` as an OCI image index: the referrers API
    /// (`/v2/REPO/referrers/DIGEST`), else — a 404, as docker-registry 2.8 answers — the tag
    /// fallback `sha256-<hex>`. None when neither exists.
    pub async fn referrers(&self, image: &ImageRef, digest: &str) -> Result<Option<Manifest>, String> {
        let url = format!("{}/v2/{}/referrers/{digest}", image.base_url(), image.repository);
        let accept = ("accept", INDEX_TYPES[1].to_owned());
        let resp = self.send_authorized("GET", &url, &[accept], &image.repository, Access::Pull).await?;
        let is_index = resp.header("content-type").is_some_and(|t| t.starts_with(INDEX_TYPES[1]));
        if resp.status == 200 && is_index {
            return Ok(Some(Manifest { digest: sha256_digest(&resp.body), media_type: INDEX_TYPES[1].to_owned(), body: resp.body }));
        }
        let tag = ImageRef { tag: Some(digest.replace(':', "-")), digest: None, ..image.clone() };
        match self.manifest(&tag).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.contains("(HTTP 404)") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Uploads a blob (a monolithic POST-then-PUT upload) unless the registry has it; its digest.
    pub async fn push_blob(&self, image: &ImageRef, bytes: &[u8]) -> Result<String, String> {
        let digest = sha256_digest(bytes);
        let base = image.base_url();
        let repo = &image.repository;
        let head = self.send_authorized("HEAD", &format!("{base}/v2/{repo}/blobs/{digest}"), &[], repo, Access::Push).await?;
        if head.status == 200 {
            return Ok(digest);
        }
        let start = self.send_authorized("POST", &format!("{base}/v2/{repo}/blobs/uploads/"), &[], repo, Access::Push).await?;
        if start.status != 202 {
            return Err(self.status_reason(&start, &format!("starting an upload to {repo}"), &image.registry));
        }
        let location = start.header("location").ok_or("the registry gave no upload Location")?;
        let url = if location.starts_with("http://") || location.starts_with("https://") { location.to_owned() } else { format!("{base}{location}") };
        if url_host(&url)? != image.registry {
            return Err(format!("the registry sent the upload to another host ({url}); cortado uploads only to {}", image.registry));
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        let headers = [("content-type", "application/octet-stream".to_owned())];
        let put = self.send_authorized_body("PUT", &format!("{url}{sep}digest={digest}"), &headers, bytes.to_vec(), repo, Access::Push).await?;
        if put.status != 201 {
            return Err(self.status_reason(&put, &format!("uploading blob {digest}"), &image.registry));
        }
        Ok(digest)
    }

    /// PUTs a manifest under `reference` (a tag or its digest); its digest.
    pub async fn push_manifest(&self, image: &ImageRef, reference: &str, media_type: &str, bytes: &[u8]) -> Result<String, String> {
        self.put_manifest(image, reference, media_type, bytes).await?;
        Ok(sha256_digest(bytes))
    }

    /// PUTs a manifest that has a `subject` (an OCI 1.1 referrer); its digest, and whether the
    /// registry indexed it for its referrers API. A registry with that API answers the header
    /// `OCI-Subject` (OCI distribution spec 1.1); without it the pusher must maintain the
    /// `sha256-<hex>` tag fallback itself (the spec's rule for clients; oras-go and
    /// go-containerregistry, under cosign, decide on the same header).
    pub async fn push_referrer(&self, image: &ImageRef, reference: &str, media_type: &str, bytes: &[u8]) -> Result<(String, bool), String> {
        let resp = self.put_manifest(image, reference, media_type, bytes).await?;
        Ok((sha256_digest(bytes), resp.header("oci-subject").is_some()))
    }

    async fn put_manifest(&self, image: &ImageRef, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Response, String> {
        let url = format!("{}/v2/{}/manifests/{reference}", image.base_url(), image.repository);
        let headers = [("content-type", media_type.to_owned())];
        let resp = self.send_authorized_body("PUT", &url, &headers, bytes.to_vec(), &image.repository, Access::Push).await?;
        if resp.status != 201 {
            return Err(self.status_reason(&resp, &format!("pushing manifest {reference}"), &image.registry));
        }
        Ok(resp)
    }
}

/// "manifest v1 not found (HTTP 404)" and the like.
fn status_reason(resp: &Response, what: &str) -> String {
    match resp.status {
        404 => format!("{what} not found (HTTP 404)"),
        401 | 403 => format!("{what}: access refused (HTTP {}): private or missing repository", resp.status),
        429 => format!("{what}: rate-limited (HTTP 429)"),
        s => format!("{what}: HTTP {s}"),
    }
}

/// `Bearer realm="…",service="…",scope="…"` as key/value pairs; None for other schemes.
pub fn parse_bearer_challenge(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim().strip_prefix("Bearer ").or_else(|| header.trim().strip_prefix("bearer "))?;
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_owned();
        }
        out.push((key, value));
    }
    Some(out)
}

/// Whether a challenge is HTTP Basic (`Basic realm="…"`).
fn is_basic_challenge(header: &str) -> bool {
    header.trim().get(..6).is_some_and(|s| s.eq_ignore_ascii_case("basic "))
}

/// `host[:port]` of an `http(s)://` URL: the key credentials are looked up by, so they go only to
/// the registry they were saved for.
fn url_host(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(|| format!("{url} is not an http(s) URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(format!("{url} has no plain host"));
    }
    Ok(host.to_owned())
}

/// Whether credentials may be sent to `url`: over HTTPS, or to this machine (Docker's insecure
/// loopback). A registry cannot have a password sent in the clear to a realm elsewhere.
fn may_carry_secrets(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Ok(host) = url_host(url) else { return false };
    ImageRef { registry: host, repository: String::new(), tag: None, digest: None }.is_loopback() && url.starts_with("http://")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_text_keeps_the_name_as_written() {
        let d = "sha256:00ff";
        assert_eq!(ImageRef::pinned_text("127.0.0.1:5000/shop/web:v1", d), "127.0.0.1:5000/shop/web@sha256:00ff");
        assert_eq!(ImageRef::pinned_text("nginx", d), "nginx@sha256:00ff");
        assert_eq!(ImageRef::pinned_text("localhost:5000/app", d), "localhost:5000/app@sha256:00ff");
        assert_eq!(ImageRef::pinned_text(" nginx:1.25 ", d), "nginx@sha256:00ff");
    }

    #[test]
    fn bearer_challenge() {
        let c = parse_bearer_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#)
            .unwrap();
        assert_eq!(
            c,
            vec![
                ("realm".into(), "https://auth.docker.io/token".into()),
                ("service".into(), "registry.docker.io".into()),
                ("scope".into(), "repository:library/nginx:pull".into())
            ]
        );
        assert!(parse_bearer_challenge(r#"Basic realm="x""#).is_none());
        assert_eq!(query_escape("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
        assert!(is_basic_challenge(r#"Basic realm="Registry Realm""#));
        assert!(!is_basic_challenge(r#"Bearer realm="x""#));
    }

    #[test]
    fn loopback_is_an_address_not_a_prefix() {
        let r = |s: &str| ImageRef::parse(s).unwrap();
        assert!(r("127.0.0.1:5000/a:1").is_loopback() && r("localhost:5000/a:1").is_loopback());
        assert!(!r("127.0.0.1.example.com/a:1").is_loopback(), "a name that starts like an address is spoken to over HTTPS");
        assert_eq!(r("127.0.0.1.example.com:443/a:1").base_url(), "https://127.0.0.1.example.com:443");
    }

    #[test]
    fn credentials_go_over_https_or_to_loopback_only() {
        assert!(may_carry_secrets("https://auth.example.com/token"));
        assert!(may_carry_secrets("http://127.0.0.1:5000/token"));
        assert!(may_carry_secrets("http://localhost:5000/token"));
        assert!(!may_carry_secrets("http://auth.example.com/token"));
        assert!(!may_carry_secrets("http://127.0.0.1.evil.example/token"));
        assert!(!may_carry_secrets("ftp://127.0.0.1/token"));
        assert_eq!(url_host("https://r.example:5000/v2/x").unwrap(), "r.example:5000");
        assert!(url_host("https://user@evil.example/v2/").is_err());
    }
}
