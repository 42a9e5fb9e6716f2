//! Registry credentials where Docker keeps them, so a private registry that `docker pull` can read
//! needs no second login for cortado: `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`),
//! its `credHelpers` (one helper per registry), `credsStore` (one helper for all) and `auths`
//! (`auth` = base64 of `user:password`, or `identitytoken`), looked up in Docker's order.
//!
//! A helper is Docker's protocol: `docker-credential-NAME get` on the `PATH`, the server URL on its
//! standard input, `{"Username", "Secret"}` on its standard output (`<token>` as the username
//! marks the secret as an identity token). It runs with a deadline and never sees anything else.
//!
//! Only the host reads these. Nothing here is handed to a plugin: the registry broker answers a
//! plugin with bytes, never with a header.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

/// How long a credential helper may take (a keychain prompt included).
const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// Docker Hub's key in `config.json` and the server URL its helpers are asked for.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// What a registry (or its token service) is offered.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Basic` to the registry or its token service.
    Password { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token service.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    /// Never prints a secret (a debug log of a challenge must not leak one).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password { username, .. } => write!(f, "Password {{ username: {username:?}, password: <redacted> }}"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Credential {
    /// The `Authorization: Basic` value, for a username and password.
    pub fn basic(&self) -> Option<String> {
        match self {
            Credential::Password { username, password } => {
                Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))))
            }
            Credential::IdentityToken(_) => None,
        }
    }
}

/// A credential and where it came from (`~/.docker/config.json auths`, `docker-credential-pass`):
/// what an error names when the registry refuses it.
#[derive(Debug, Clone)]
pub struct Found {
    pub credential: Credential,
    pub source: String,
}

/// Where to look: the config file's path (read when a registry first asks for credentials).
#[derive(Debug, Clone)]
pub struct Keychain {
    path: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl Keychain {
    /// Docker's own choice: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn from_env() -> Keychain {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".docker")));
        Keychain { path: dir.map(|d| d.join("config.json")) }
    }

    /// The config file at `path` (tests, and `--docker-config`-like callers).
    pub fn at(path: impl Into<PathBuf>) -> Keychain {
        Keychain { path: Some(path.into()) }
    }

    /// The file this keychain reads, for messages.
    pub fn describe(&self) -> String {
        self.path.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "docker config.json (no HOME or DOCKER_CONFIG)".into())
    }

    /// The credential for `host` (`registry[:port]`), in Docker's order: its `credHelpers` entry,
    /// else `credsStore`, else `auths`. None when there is none (anonymous access).
    pub async fn get(&self, host: &str) -> Result<Option<Found>, String> {
        let Some(path) = self.path.as_deref() else { return Ok(None) };
        let Some(config) = read_config(path)? else { return Ok(None) };
        let keys = keys_for(host);
        let helper = keys.iter().find_map(|k| config.cred_helpers.get(*k)).or(config.creds_store.as_ref()).filter(|h| !h.is_empty());
        if let Some(helper) = helper {
            let server = if host == super::registry::DOCKER_HUB { DOCKER_HUB_KEY } else { host };
            if let Some(credential) = run_helper(helper, server).await? {
                return Ok(Some(Found { credential, source: format!("docker-credential-{helper} (credential helper in {})", path.display()) }));
            }
        }
        let entry = config.auths.iter().find(|(k, _)| keys.contains(&hostname(k))).map(|(k, e)| (k.clone(), e));
        let Some((key, entry)) = entry else { return Ok(None) };
        let source = format!("{} auths.{key:?}", path.display());
        let credential = entry_credential(entry).map_err(|e| format!("{source}: {e}"))?;
        Ok(credential.map(|credential| Found { credential, source }))
    }
}

/// The parsed config; None when the file does not exist. A file that is not JSON is an error naming
/// its line and column (serde_json's position).
fn read_config(path: &Path) -> Result<Option<DockerConfig>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: line {} column {}: {e}", path.display(), e.line(), e.column()))
}

/// The `config.json` keys that name `host`, as Docker matches them (a key's scheme and path are
/// ignored; Docker Hub has several spellings).
fn keys_for(host: &str) -> Vec<&str> {
    if host == super::registry::DOCKER_HUB { vec!["index.docker.io", "docker.io", "registry-1.docker.io", DOCKER_HUB_KEY] } else { vec![host] }
}

/// A `config.json` key's host: `https://host:port/v2/` → `host:port` (Docker's ConvertToHostname).
fn hostname(key: &str) -> &str {
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

fn entry_credential(e: &AuthEntry) -> Result<Option<Credential>, String> {
    if let Some(token) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken(token.to_owned())));
    }
    if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| "\"auth\" is not base64".to_owned())?;
        let text = String::from_utf8(bytes).map_err(|_| "\"auth\" is not base64 of UTF-8 text".to_owned())?;
        let (username, password) = text.split_once(':').ok_or("\"auth\" is not base64 of user:password")?;
        return Ok(Some(Credential::Password { username: username.to_owned(), password: password.to_owned() }));
    }
    match (e.username.as_deref(), e.password.as_deref()) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::Password { username: u.to_owned(), password: p.to_owned() })),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    #[serde(default)]
    username: String,
    secret: String,
}

/// `docker-credential-NAME get` for `server`; None when the helper has no credentials for it.
async fn run_helper(name: &str, server: &str) -> Result<Option<Credential>, String> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(format!("credential helper {name:?} is not a helper name (docker-credential-NAME on the PATH)"));
    }
    let bin = format!("docker-credential-{name}");
    let mut child = tokio::process::Command::new(&bin)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{bin}: {e} (the credential helper named in the docker config must be on the PATH)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(server.as_bytes()).await.map_err(|e| format!("{bin}: {e}"))?;
    }
    let out = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{bin} get did not answer within {} s", HELPER_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{bin}: {e}"))?;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        // Docker's helpers say this (errCredentialsNotFound) when they hold nothing for the server.
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!("{bin} get failed ({}): {}", out.status, said.trim()));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout).map_err(|e| format!("{bin} get: its answer is not Docker's JSON: {e}"))?;
    Ok(Some(if answer.username == "<token>" {
        Credential::IdentityToken(answer.secret)
    } else {
        Credential::Password { username: answer.username, password: answer.secret }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> AuthEntry {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn auth_entries() {
        let basic = entry_credential(&entry(r#"{"auth": "dXNlcjpwYTpzcw=="}"#)).unwrap().unwrap();
        assert_eq!(basic, Credential::Password { username: "user".into(), password: "pa:ss".into() });
        assert_eq!(basic.basic().unwrap(), "Basic dXNlcjpwYTpzcw==");
        let token = entry_credential(&entry(r#"{"auth": "", "identitytoken": "r1"}"#)).unwrap().unwrap();
        assert_eq!(token, Credential::IdentityToken("r1".into()));
        assert!(entry_credential(&entry(r#"{"auth": "!!"}"#)).unwrap_err().contains("not base64"));
        assert!(entry_credential(&entry(r#"{"auth": "dXNlcg=="}"#)).unwrap_err().contains("user:password"));
        assert!(entry_credential(&entry(r#"{}"#)).unwrap().is_none());
    }

    #[test]
    fn keys_match_as_docker_does() {
        assert_eq!(hostname("https://registry.example.com:5000/v2/"), "registry.example.com:5000");
        assert_eq!(hostname("registry.example.com"), "registry.example.com");
        assert!(keys_for(crate::aws::registry::DOCKER_HUB).contains(&hostname(DOCKER_HUB_KEY)));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Credential::Password { username: "u".into(), password: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credential::IdentityToken("t0k".into())).contains("t0k"));
    }

    #[tokio::test]
    async fn a_config_that_is_not_json_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\n  \"auths\": {\n    \"x\": [\n}").unwrap();
        let err = Keychain::at(&path).get("x").await.unwrap_err();
        assert!(err.contains("config.json: line 4"), "{err}");
        assert!(Keychain::at(dir.path().join("missing.json")).get("x").await.unwrap().is_none());
    }
}
