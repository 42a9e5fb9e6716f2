//! Container registries as the OCI distribution API sees them: image references parsed as Docker
//! does (ecspresso split at the first `:`, so digests and `host:port/` registries broke: its issues
//! #906 and #1053), and a small client for manifests and blobs that answers a `401 Bearer`
//! challenge once with an anonymous token, through [`super::http`].
//!
//! It sits under `aws/` (the layer of outside reads) so that `plan` (digest pinning), `plugin`
//! (the brokered registry reads) and `verify` (image checks) share one client.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

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
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
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

/// The OCI distribution API over plain HTTP(S), anonymous (a Bearer challenge is answered once
/// with an anonymous token for the repository's pull scope).
pub struct OciClient {
    http: HttpClient,
}

impl OciClient {
    /// `timeout` bounds each request (connect included); bodies above `max_body` are refused.
    pub fn new(timeout: Duration, max_body: usize) -> Self {
        OciClient { http: HttpClient::new(timeout, max_body) }
    }

    pub async fn send(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Result<Response, String> {
        self.http.send(method, url, headers).await
    }

    /// Sends, and on `401` with a Bearer challenge fetches an anonymous token and retries once.
    pub async fn send_authorized(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        repo: &str,
        token: &mut Option<String>,
    ) -> Result<Response, String> {
        let mut with_auth: Vec<(&str, String)> = headers.to_vec();
        if let Some(t) = token.as_ref() {
            with_auth.push(("authorization", format!("Bearer {t}")));
        }
        let resp = self.send(method, url, &with_auth).await?;
        if resp.status != 401 || token.is_some() {
            return Ok(resp);
        }
        let Some(challenge) = resp.header("www-authenticate").and_then(parse_bearer_challenge) else { return Ok(resp) };
        let realm = challenge.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.clone()).ok_or("Bearer challenge without realm")?;
        let mut query = Vec::new();
        if let Some((_, s)) = challenge.iter().find(|(k, _)| k == "service") {
            query.push(format!("service={}", query_escape(s)));
        }
        let scope = challenge.iter().find(|(k, _)| k == "scope").map(|(_, v)| v.clone()).unwrap_or_else(|| format!("repository:{repo}:pull"));
        query.push(format!("scope={}", query_escape(&scope)));
        let sep = if realm.contains('?') { '&' } else { '?' };
        let token_resp = self.send("GET", &format!("{realm}{sep}{}", query.join("&")), &[]).await?;
        if token_resp.status != 200 {
            return Ok(resp);
        }
        let v: Value = serde_json::from_slice(&token_resp.body).map_err(|e| format!("token response is not JSON: {e}"))?;
        let t = v.get("token").or_else(|| v.get("access_token")).and_then(Value::as_str).ok_or("token response has no token")?;
        *token = Some(t.to_owned());
        with_auth.push(("authorization", format!("Bearer {t}")));
        self.send(method, url, &with_auth).await
    }

    /// The manifest `image` names (by digest when it has one, else by tag), any of the image and
    /// index media types. A digest reference is checked against the bytes served.
    pub async fn manifest(&self, image: &ImageRef, token: &mut Option<String>) -> Result<Manifest, String> {
        let url = format!("{}/v2/{}/manifests/{}", image.base_url(), image.repository, image.reference());
        let accept = INDEX_TYPES.iter().chain(MANIFEST_TYPES).copied().collect::<Vec<_>>().join(", ");
        let resp = self.send_authorized("GET", &url, &[("accept", accept)], &image.repository, token).await?;
        if resp.status != 200 {
            return Err(status_reason(&resp, &format!("manifest {}", image.reference())));
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
    pub async fn blob(&self, base: &str, repo: &str, digest: &str, token: &mut Option<String>) -> Result<Vec<u8>, String> {
        let mut url = format!("{base}/v2/{repo}/blobs/{digest}");
        let mut resp = self.send_authorized("GET", &url, &[], repo, token).await?;
        for _ in 0..3 {
            if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
                break;
            }
            let location = resp.header("location").ok_or("redirect without Location")?.to_owned();
            url = if location.starts_with("http://") || location.starts_with("https://") { location } else { format!("{base}{location}") };
            resp = self.send("GET", &url, &[]).await?;
        }
        if resp.status != 200 {
            return Err(status_reason(&resp, &format!("blob {digest}")));
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
    pub async fn referrers(&self, image: &ImageRef, digest: &str, token: &mut Option<String>) -> Result<Option<Manifest>, String> {
        let url = format!("{}/v2/{}/referrers/{digest}", image.base_url(), image.repository);
        let accept = ("accept", INDEX_TYPES[1].to_owned());
        let resp = self.send_authorized("GET", &url, &[accept], &image.repository, token).await?;
        let is_index = resp.header("content-type").is_some_and(|t| t.starts_with(INDEX_TYPES[1]));
        if resp.status == 200 && is_index {
            return Ok(Some(Manifest { digest: sha256_digest(&resp.body), media_type: INDEX_TYPES[1].to_owned(), body: resp.body }));
        }
        let tag = ImageRef { tag: Some(digest.replace(':', "-")), digest: None, ..image.clone() };
        match self.manifest(&tag, token).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.contains("(HTTP 404)") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Uploads a blob (a monolithic POST-then-PUT upload) unless the registry has it; its digest.
    pub async fn push_blob(&self, image: &ImageRef, bytes: &[u8]) -> Result<String, String> {
        let digest = sha256_digest(bytes);
        let base = image.base_url();
        let head = self.send("HEAD", &format!("{base}/v2/{}/blobs/{digest}", image.repository), &[]).await?;
        if head.status == 200 {
            return Ok(digest);
        }
        let start = self.send("POST", &format!("{base}/v2/{}/blobs/uploads/", image.repository), &[]).await?;
        if start.status != 202 {
            return Err(status_reason(&start, &format!("starting an upload to {}", image.repository)));
        }
        let location = start.header("location").ok_or("the registry gave no upload Location")?;
        let url = if location.starts_with("http://") || location.starts_with("https://") { location.to_owned() } else { format!("{base}{location}") };
        let sep = if url.contains('?') { '&' } else { '?' };
        let headers = [("content-type", "application/octet-stream".to_owned())];
        let put = self.http.send_body("PUT", &format!("{url}{sep}digest={digest}"), &headers, bytes.to_vec()).await?;
        if put.status != 201 {
            return Err(status_reason(&put, &format!("uploading blob {digest}")));
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
        let resp = self.http.send_body("PUT", &url, &[("content-type", media_type.to_owned())], bytes.to_vec()).await?;
        if resp.status != 201 {
            return Err(status_reason(&resp, &format!("pushing manifest {reference}")));
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
    }
}
