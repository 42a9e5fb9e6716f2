//! The URL broker: Terraform states the host fetches over HTTP(S) on a plugin's behalf, only within
//! its grants, so the plugin keeps no network and never sees a token.
//!
//! - `remote://HOST/ORG/WORKSPACE` (Terraform Cloud / HCP Terraform, grant `tfc:ReadState`): the
//!   workspace is looked up, then its current state version, then that version's download URL, as
//!   tfstate-lookup does. The token comes from `TFE_TOKEN`, else `TF_TOKEN_<host>`, else the
//!   Terraform CLI's `~/.terraform.d/credentials.tfrc.json`, and is sent only to HOST.
//! - `http(s)://URL` (grant `http:Get` on a URL prefix): one GET, no credentials.
//!
//! Plain HTTP is used for loopback hosts only (a local fake of the API in tests), as `verify` does
//! for registries.

use std::time::Duration;

use serde_json::Value;

use super::bindings::cortado::plugin::aws as wit;
use super::broker::{Broker, bounded};
use super::grants::{self, HTTP_GET, TFC_READ_STATE};
use crate::aws::http::{HttpClient, Response};

/// States larger than the plugin's default memory limit could not be parsed anyway.
const MAX_STATE: usize = 64 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

impl Broker {
    /// A Terraform state at `url` (`remote://…` or `http(s)://…`), if the grants cover it.
    pub fn fetch_state(&self, url: String) -> Result<Vec<u8>, wit::AwsError> {
        let action = if url.starts_with("remote://") { TFC_READ_STATE } else { HTTP_GET };
        if !grants::allows(&self.grants, action, &url) {
            let msg = format!("plugin {:?} has no grant for {action} on {url}; add it to the plugin's `grants:` to allow it", self.plugin);
            tracing::warn!("{msg}");
            if let Ok(mut d) = self.denials.lock() {
                d.push(msg.clone());
            }
            return Err(wit::AwsError::Denied(msg));
        }
        let http = HttpClient::new(TIMEOUT, MAX_STATE);
        match url.strip_prefix("remote://") {
            Some(rest) => bounded(tfc_state(&http, &url, rest))?,
            None if url.starts_with("http://") || url.starts_with("https://") => bounded(get(&http, &url, &[]))?.map(|r| r.body),
            None => Err(wit::AwsError::Failed(format!("{url}: not an http(s):// or remote:// URL"))),
        }
    }
}

/// `http` for loopback hosts (a local fake), else `https`.
fn scheme_for(host: &str) -> &'static str {
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if matches!(name, "127.0.0.1" | "localhost" | "[::1]") { "http" } else { "https" }
}

async fn tfc_state(http: &HttpClient, url: &str, rest: &str) -> Result<Vec<u8>, wit::AwsError> {
    let [host, org, workspace] = rest.split('/').filter(|p| !p.is_empty()).collect::<Vec<_>>()[..] else {
        return Err(wit::AwsError::Failed(format!("{url}: expected remote://HOST/ORGANIZATION/WORKSPACE")));
    };
    let token = tfc_token(host).ok_or_else(|| {
        wit::AwsError::Failed(format!("no Terraform Cloud token for {host}: set TFE_TOKEN, or {}, or run `terraform login {host}`", token_variable(host)))
    })?;
    let base = format!("{}://{host}", scheme_for(host));
    let auth = [("authorization", format!("Bearer {token}")), ("content-type", "application/vnd.api+json".to_owned())];
    let ws = get_json(http, &format!("{base}/api/v2/organizations/{org}/workspaces/{workspace}"), &auth).await?;
    let id = ws.pointer("/data/id").and_then(Value::as_str).ok_or_else(|| failed(url, "the workspace answer has no data.id"))?;
    let version = get_json(http, &format!("{base}/api/v2/workspaces/{id}/current-state-version"), &auth).await?;
    let download = version
        .pointer("/data/attributes/hosted-state-download-url")
        .and_then(Value::as_str)
        .ok_or_else(|| failed(url, "the current state version has no hosted-state-download-url"))?;
    let same_host = download.starts_with(&format!("{base}/"));
    if !same_host && !download.starts_with("https://") {
        return Err(failed(url, &format!("refusing the state download URL {download}: not HTTPS")));
    }
    // The token goes to the API host only; a download URL elsewhere is pre-signed.
    let headers: &[(&str, String)] = if same_host { &auth } else { &[] };
    Ok(get(http, download, headers).await?.body)
}

fn failed(url: &str, msg: &str) -> wit::AwsError {
    wit::AwsError::Failed(format!("{url}: {msg}"))
}

async fn get(http: &HttpClient, url: &str, headers: &[(&str, String)]) -> Result<Response, wit::AwsError> {
    let resp = http.send("GET", url, headers).await.map_err(|e| wit::AwsError::Failed(format!("GET {url}: {e}")))?;
    match resp.status {
        200..=299 => Ok(resp),
        404 => Err(wit::AwsError::NotFound(format!("GET {url}: HTTP 404"))),
        401 | 403 => Err(wit::AwsError::Failed(format!("GET {url}: HTTP {} (is the token valid for this workspace?)", resp.status))),
        s => Err(wit::AwsError::Failed(format!("GET {url}: HTTP {s}"))),
    }
}

async fn get_json(http: &HttpClient, url: &str, headers: &[(&str, String)]) -> Result<Value, wit::AwsError> {
    let resp = get(http, url, headers).await?;
    serde_json::from_slice(&resp.body).map_err(|e| wit::AwsError::Failed(format!("GET {url}: not JSON: {e}")))
}

/// `TF_TOKEN_app_terraform_io` for `app.terraform.io` (the Terraform CLI's naming).
fn token_variable(host: &str) -> String {
    format!("TF_TOKEN_{}", host.replace('-', "__").replace(['.', ':'], "_"))
}

/// The token the Terraform CLI would use for `host`, read by the host only.
fn tfc_token(host: &str) -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(t) = var("TFE_TOKEN").or_else(|| var(&token_variable(host))) {
        return Some(t);
    }
    let home = var("HOME")?;
    let text = std::fs::read_to_string(std::path::Path::new(&home).join(".terraform.d/credentials.tfrc.json")).ok()?;
    let creds: Value = serde_json::from_str(&text).ok()?;
    creds.get("credentials")?.get(host)?.get("token")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_plain_http() {
        assert_eq!(scheme_for("127.0.0.1:8080"), "http");
        assert_eq!(scheme_for("localhost"), "http");
        assert_eq!(scheme_for("app.terraform.io"), "https");
        assert_eq!(token_variable("app.terraform.io"), "TF_TOKEN_app_terraform_io");
        assert_eq!(token_variable("tfe.my-corp.com"), "TF_TOKEN_tfe_my__corp_com");
    }
}
