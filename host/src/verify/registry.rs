//! Images outside ECR: the Docker Registry HTTP API v2, anonymously, as ecspresso does. A manifest
//! `HEAD` (a `GET` when the platform is checked), answering a `401 Bearer` challenge once with an
//! anonymous token, through [`crate::aws::http`].
//!
//! A registry that cannot be reached, rate-limits, or wants credentials gives a SKIP with the
//! reason, never an NG: only "the registry says this image does not exist" (404) is a failure.

use std::time::Duration;

use serde_json::Value;

use super::image::{INDEX_TYPES, ImageRef, MANIFEST_TYPES, Platform, config_platform, index_platform};
use super::tree::Outcome;
use crate::aws::http::{HttpClient, Response};

/// Largest body read (manifests and image configs are a few KiB).
const MAX_BODY: usize = 4 << 20;

pub struct RegistryClient {
    http: HttpClient,
}

impl RegistryClient {
    /// `timeout` bounds each request (connect included).
    pub fn new(timeout: Duration) -> Self {
        RegistryClient { http: HttpClient::new(timeout, MAX_BODY) }
    }

    async fn send(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Result<Response, String> {
        self.http.send(method, url, headers).await
    }

    /// Sends, and on `401` with a Bearer challenge fetches an anonymous token and retries once.
    async fn send_authorized(&self, method: &str, url: &str, headers: &[(&str, String)], repo: &str, token: &mut Option<String>) -> Result<Response, String> {
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

    /// Does the image exist (and, when `want` is given, does it run on that platform)?
    pub async fn check(&self, image: &ImageRef, want: Option<&Platform>) -> Outcome {
        let scheme = if image.is_loopback() { "http" } else { "https" };
        let base = format!("{scheme}://{}", image.registry);
        let url = format!("{base}/v2/{}/manifests/{}", image.repository, image.reference());
        let accept = INDEX_TYPES.iter().chain(MANIFEST_TYPES).copied().collect::<Vec<_>>().join(", ");
        let mut token = None;
        let method = if want.is_some() { "GET" } else { "HEAD" };
        let resp = match self.send_authorized(method, &url, &[("accept", accept)], &image.repository, &mut token).await {
            Ok(r) => r,
            Err(e) => return Outcome::skip(format!("registry {} unreachable: {e}", image.registry)),
        };
        match resp.status {
            200 => {}
            404 => return Outcome::ng(format!("{} not found in {}/{}", image.reference(), image.registry, image.repository)),
            401 | 403 => {
                return Outcome::skip(format!(
                    "registry {} refused anonymous access (HTTP {}): private or missing repository, not checked",
                    image.registry, resp.status
                ));
            }
            429 => return Outcome::skip(format!("registry {} rate-limited the check (HTTP 429)", image.registry)),
            s => return Outcome::skip(format!("registry {} answered HTTP {s}", image.registry)),
        }
        let Some(want) = want else { return Outcome::ok() };
        let media = resp.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
        let manifest: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) => v,
            Err(_) => return Outcome::ok_with(format!("manifest is not JSON: {want} not checked")),
        };
        if manifest.get("schemaVersion").and_then(Value::as_i64) == Some(1) {
            return Outcome::ok_with(format!("schema 1 manifest: {want} not checked"));
        }
        if let Some(o) = index_platform(&media, &manifest, want) {
            return o;
        }
        if let Some(p) = manifest.pointer("/config/platform") {
            return config_platform(p, want);
        }
        let Some(digest) = manifest.pointer("/config/digest").and_then(Value::as_str) else {
            return Outcome::ok_with(format!("manifest has no config: {want} not checked"));
        };
        match self.blob(&base, &image.repository, digest, &mut token).await {
            Ok(config) => config_platform(&config, want),
            Err(e) => Outcome::ok_with(format!("{want} not checked: {e}")),
        }
    }

    /// An image config blob; registries usually redirect it to a CDN (followed, without our token).
    async fn blob(&self, base: &str, repo: &str, digest: &str, token: &mut Option<String>) -> Result<Value, String> {
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
            return Err(format!("config blob answered HTTP {}", resp.status));
        }
        serde_json::from_slice(&resp.body).map_err(|e| format!("config blob is not JSON: {e}"))
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
