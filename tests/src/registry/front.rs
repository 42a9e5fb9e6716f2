//! A small HTTP front on loopback, in front of a docker-registry 2.8, that adds what that
//! registry lacks: the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`).
//!
//! Why: docker-registry 2.8 answers the referrers API with 404, so without this only cosign's tag
//! fallback (`sha256-<hex>`) is exercised. Through the front, a manifest pushed with a `subject` is
//! indexed and acknowledged with the `OCI-Subject` header (as a referrers-capable registry does, so
//! clients skip the tag fallback), and the referrers endpoint answers an OCI image index of the
//! manifests referring to a digest (`artifactType` filter supported). Everything else is forwarded
//! unchanged. Every request is logged (`METHOD /path?query`) for the tests to assert on.
//!
//! [`Front::start_with_token_auth`] makes it a private registry in the distribution token
//! protocol (what Docker Hub, GHCR, Harbor and `registry:2` with `auth: token` speak): a request
//! without a Bearer token whose scope covers it gets `401` with a `Bearer realm=…,service=…,scope=…`
//! challenge; the realm (`/token` on the front) issues tokens for a username and password (Basic,
//! GET) or an identity token (OAuth2 refresh grant, POST), and refuses anonymous requests.
//!
//! Plain std: one thread accepting, one per connection, one request per connection
//! (`Connection: close`), forwarded with ureq.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Largest body the front carries either way (plugin components included).
const MAX_BODY: u64 = 256 << 20;

/// What the front has seen and indexed.
#[derive(Default)]
struct State {
    calls: Vec<String>,
    /// `METHOD /path scheme` of every request (`none` without an Authorization header).
    authorizations: Vec<String>,
    /// Tokens issued by `/token`, with the scope each covers.
    tokens: HashMap<String, String>,
    /// `(repository, subject digest)` → descriptors of the manifests referring to it.
    referrers: HashMap<(String, String), Vec<Value>>,
}

/// Who the token service knows (a private registry's one account).
#[derive(Clone)]
pub struct Accounts {
    pub user: String,
    pub password: String,
    /// An identity token (what `docker login` stores as `identitytoken`).
    pub refresh: String,
}

/// A running front; stopped when dropped.
pub struct Front {
    /// `127.0.0.1:PORT` of the front.
    pub host: String,
    /// A token every request may carry (the test's own pushes), when tokens are required.
    admin: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.host);
    }
}

impl Front {
    /// Listens on a free loopback port and forwards to `backend` (`127.0.0.1:PORT`).
    pub fn start(backend: &str) -> Front {
        Front::start_inner(backend, None)
    }

    /// A front that requires Bearer tokens from its own token service (see the module docs).
    pub fn start_with_token_auth(backend: &str, accounts: Accounts) -> Front {
        Front::start_inner(backend, Some(accounts))
    }

    fn start_inner(backend: &str, accounts: Option<Accounts>) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port for the referrers front");
        let host = listener.local_addr().expect("front addr").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let admin = format!("admin-{}", std::process::id());
        let ctx = Arc::new(Ctx { backend: backend.to_owned(), front: host.clone(), state: state.clone(), agent: agent(), accounts, admin: admin.clone() });
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let ctx = ctx.clone();
                std::thread::spawn(move || {
                    if let Err(e) = ctx.serve(conn) {
                        eprintln!("referrers front: {e}");
                    }
                });
            }
        });
        Front { host, admin, state, stop }
    }

    /// The token the test's own requests carry.
    pub fn admin_token(&self) -> &str {
        &self.admin
    }

    /// `METHOD /path scheme` of every request received (`scheme` is `none` without credentials).
    pub fn authorizations(&self) -> Vec<String> {
        self.state.lock().map(|s| s.authorizations.clone()).unwrap_or_default()
    }

    /// Every request the front received, `METHOD /path?query`, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().map(|s| s.calls.clone()).unwrap_or_default()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).timeout_global(Some(Duration::from_secs(60))).build().into()
}

struct Ctx {
    backend: String,
    front: String,
    state: Arc<Mutex<State>>,
    agent: ureq::Agent,
    accounts: Option<Accounts>,
    admin: String,
}

/// A parsed request.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A response to write back.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Ctx {
    fn serve(&self, conn: TcpStream) -> Result<(), String> {
        conn.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(conn.try_clone().map_err(|e| e.to_string())?);
        let Some(req) = read_request(&mut reader)? else { return Ok(()) };
        let authorization = req.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone());
        if let Ok(mut s) = self.state.lock() {
            s.calls.push(format!("{} {}", req.method, req.target));
            let scheme = authorization.as_deref().and_then(|a| a.split_whitespace().next()).unwrap_or("none");
            let path = req.target.split('?').next().unwrap_or_default();
            s.authorizations.push(format!("{} {path} {scheme}", req.method));
        }
        if let Some(accounts) = &self.accounts {
            if req.target.starts_with("/token") {
                return write_response(conn, &req.method, &self.token(accounts, &req));
            }
            if let Some(challenge) = self.unauthorized(&req, authorization.as_deref()) {
                return write_response(conn, &req.method, &challenge);
            }
        }
        let resp = match referrers_path(&req) {
            Some((repo, digest, filter)) => self.referrers(&repo, &digest, filter.as_deref()),
            None => self.forward(&req)?,
        };
        write_response(conn, &req.method, &resp)
    }

    /// `401` with a Bearer challenge unless the request carries a token whose scope covers its
    /// repository and action (pull for GET and HEAD, push otherwise); None when it may pass.
    fn unauthorized(&self, req: &Request, authorization: Option<&str>) -> Option<Response> {
        let repo = req.target.strip_prefix("/v2/").and_then(|p| {
            let p = p.split('?').next().unwrap_or_default();
            ["/manifests/", "/blobs/", "/referrers/", "/tags/"].iter().find_map(|m| p.find(m).map(|i| p[..i].to_owned()))
        });
        let actions = if matches!(req.method.as_str(), "GET" | "HEAD") { "pull" } else { "pull,push" };
        let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
        if token == Some(self.admin.as_str()) {
            return None;
        }
        let granted = token.and_then(|t| self.state.lock().ok()?.tokens.get(t).cloned());
        let needed = repo.as_ref().map(|r| format!("repository:{r}:{actions}"));
        let covers = |g: &str| match &needed {
            None => true, // `/v2/`: any valid token
            Some(n) => g.split(' ').any(|s| s == n || (actions == "pull" && s == format!("{}:pull,push", n.trim_end_matches(":pull")))),
        };
        if granted.as_deref().is_some_and(covers) {
            return None;
        }
        let mut challenge = format!("Bearer realm=\"http://{}/token\",service=\"cortado-test\"", self.front);
        if let Some(n) = &needed {
            challenge.push_str(&format!(",scope=\"{n}\""));
        }
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec();
        Some(Response { status: 401, headers: vec![("www-authenticate".into(), challenge), ("content-type".into(), "application/json".into())], body })
    }

    /// The token service: a token for the scopes asked, to the account's password (GET with
    /// Basic) or identity token (POST `grant_type=refresh_token`); 401 to anyone else.
    fn token(&self, accounts: &Accounts, req: &Request) -> Response {
        let query = req.target.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
        let form = if req.method == "POST" { String::from_utf8_lossy(&req.body).into_owned() } else { query };
        let params: Vec<(String, String)> = form.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (percent_decode(k), percent_decode(v))).collect();
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let basic = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{}:{}", accounts.user, accounts.password)));
        let by_password = req.method == "GET" && req.headers.iter().any(|(k, v)| k == "authorization" && *v == basic);
        let by_refresh = req.method == "POST"
            && param("grant_type").as_deref() == Some("refresh_token")
            && param("refresh_token").as_deref() == Some(accounts.refresh.as_str());
        if !(by_password || by_refresh) {
            return Response { status: 401, headers: Vec::new(), body: br#"{"details":"incorrect username or password"}"#.to_vec() };
        }
        let scope = params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect::<Vec<_>>().join(" ");
        let Ok(mut state) = self.state.lock() else { return Response { status: 500, headers: Vec::new(), body: Vec::new() } };
        let token = format!("t{}", state.tokens.len() + 1);
        state.tokens.insert(token.clone(), scope);
        let body = serde_json::to_vec(&json!({"token": token, "access_token": token, "expires_in": 300})).unwrap_or_default();
        Response { status: 200, headers: vec![("content-type".into(), "application/json".into())], body }
    }

    /// The OCI image index of the manifests of `repo` whose `subject` is `digest`.
    fn referrers(&self, repo: &str, digest: &str, artifact_type: Option<&str>) -> Response {
        let all = self.state.lock().ok().and_then(|s| s.referrers.get(&(repo.to_owned(), digest.to_owned())).cloned()).unwrap_or_default();
        let manifests: Vec<Value> = all.into_iter().filter(|d| artifact_type.is_none_or(|t| d["artifactType"] == t)).collect();
        let body = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests})).unwrap_or_default();
        let mut headers = vec![("content-type".to_owned(), INDEX.to_owned())];
        if artifact_type.is_some() {
            headers.push(("oci-filters-applied".to_owned(), "artifactType".to_owned()));
        }
        Response { status: 200, headers, body }
    }

    /// Sends `req` to the registry behind; a manifest pushed with a `subject` is indexed and
    /// acknowledged with `OCI-Subject`.
    fn forward(&self, req: &Request) -> Result<Response, String> {
        let url = format!("http://{}{}", self.backend, req.target);
        let pass = |k: &str| !matches!(k, "host" | "connection" | "content-length" | "transfer-encoding" | "user-agent");
        let headers: Vec<&(String, String)> = req.headers.iter().filter(|(k, _)| pass(k)).collect();
        macro_rules! with_headers {
            ($b:expr) => {{
                let mut b = $b;
                for (k, v) in &headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                b
            }};
        }
        let result = match req.method.as_str() {
            "GET" => with_headers!(self.agent.get(&url)).call(),
            "HEAD" => with_headers!(self.agent.head(&url)).call(),
            "DELETE" => with_headers!(self.agent.delete(&url)).call(),
            "PUT" => with_headers!(self.agent.put(&url)).send(&req.body[..]),
            "POST" => with_headers!(self.agent.post(&url)).send(&req.body[..]),
            "PATCH" => with_headers!(self.agent.patch(&url)).send(&req.body[..]),
            m => return Ok(Response { status: 405, headers: Vec::new(), body: format!("method {m} not forwarded").into_bytes() }),
        };
        let mut resp = result.map_err(|e| format!("forwarding {} {}: {e}", req.method, req.target))?;
        let status = resp.status().as_u16();
        let mut headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "connection" | "transfer-encoding") && (k.as_str() != "content-length" || req.method == "HEAD"))
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").replace(&self.backend, &self.front)))
            .collect();
        let body = if req.method == "HEAD" { Vec::new() } else { resp.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(|e| e.to_string())? };
        if req.method == "PUT"
            && status == 201
            && let Some(subject) = self.index_referrer(&req.target, &req.body, req.headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()))
        {
            headers.push(("oci-subject".to_owned(), subject));
        }
        Ok(Response { status, headers, body })
    }

    /// Records a pushed manifest under its `subject`, when it has one; the subject's digest.
    fn index_referrer(&self, target: &str, body: &[u8], content_type: Option<&str>) -> Option<String> {
        let (repo, _) = target.strip_prefix("/v2/")?.rsplit_once("/manifests/")?;
        let m: Value = serde_json::from_slice(body).ok()?;
        let subject = m.pointer("/subject/digest")?.as_str()?.to_owned();
        let media_type = content_type.map(str::to_owned).or_else(|| m["mediaType"].as_str().map(str::to_owned)).unwrap_or_default();
        // The referrers API's artifactType: the manifest's, else its config's media type (OCI 1.1).
        let artifact_type = m["artifactType"].as_str().or_else(|| m.pointer("/config/mediaType").and_then(Value::as_str)).unwrap_or_default();
        let mut descriptor = json!({"mediaType": media_type, "digest": super::digest(body), "size": body.len(), "artifactType": artifact_type});
        if let Some(a) = m.get("annotations") {
            descriptor["annotations"] = a.clone();
        }
        let mut state = self.state.lock().ok()?;
        let list = state.referrers.entry((repo.to_owned(), subject.clone())).or_default();
        if !list.iter().any(|d| d["digest"] == descriptor["digest"]) {
            list.push(descriptor);
        }
        Some(subject)
    }
}

/// `(repository, digest, artifactType filter)` of a `GET /v2/<name>/referrers/<digest>`.
fn referrers_path(req: &Request) -> Option<(String, String, Option<String>)> {
    if req.method != "GET" {
        return None;
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let (repo, digest) = path.strip_prefix("/v2/")?.rsplit_once("/referrers/")?;
    let filter = query.split('&').find_map(|kv| kv.strip_prefix("artifactType=")).map(|v| v.replace("%2B", "+").replace("%2F", "/"));
    Some((repo.to_owned(), digest.to_owned(), filter))
}

/// One HTTP/1.1 request (Content-Length or chunked body); None when the peer sent nothing.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>, String> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return Ok(None) };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).map_err(|e| e.to_string())?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else {
        let len: u64 = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = Vec::new();
        reader.take(len.min(MAX_BODY)).read_to_end(&mut body).map_err(|e| e.to_string())?;
        body
    };
    Ok(Some(Request { method, target, headers, body }))
}

/// `%3A` → `:` and `+` → space (form and query encoding).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).map_err(|e| e.to_string())?;
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).map_err(|e| format!("chunk size {size:?}: {e}"))?;
        let mut chunk = vec![0; n + 2];
        reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

fn write_response(mut conn: TcpStream, method: &str, resp: &Response) -> Result<(), String> {
    let mut out = format!("HTTP/1.1 {} X\r\n", resp.status);
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if method != "HEAD" {
        out.push_str(&format!("content-length: {}\r\n", resp.body.len()));
    }
    out.push_str("connection: close\r\n\r\n");
    conn.write_all(out.as_bytes()).map_err(|e| e.to_string())?;
    conn.write_all(&resp.body).map_err(|e| e.to_string())?;
    conn.flush().map_err(|e| e.to_string())
}
