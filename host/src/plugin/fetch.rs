//! The URL broker: Terraform states the host fetches over HTTP(S) on a plugin's behalf, only within
//! its grants, so the plugin keeps no network and never sees a token.
//!
//! - `remote://HOST/ORG/WORKSPACE` (Terraform Cloud / HCP Terraform, grant `tfc:ReadState`): the
//!   workspace is looked up, then its current state version, then that version's download URL, as
//!   tfstate-lookup does. The token comes from `TFE_TOKEN`, else `TF_TOKEN_<host>`, else the
//!   Terraform CLI's `~/.terraform.d/credentials.tfrc.json`, and is sent only to HOST.
//! - `http(s)://URL` (grant `http:Get` on a URL prefix): one GET, no credentials. The URL is
//!   normalised first and the normalised URL is what is matched and requested (see
//!   [`super::url_grant`]); plain `http://` beyond loopback needs a grant that names `http://`.
//!
//! Redirects are never followed (a 3xx answer is an error), so no answer leads the host outside
//! the granted prefix. A body is refused from its content-length when above the cap, read with the
//! cap otherwise, and abandoned at the plugin call's deadline, as brokered S3 objects are. The
//! Terraform Cloud API is spoken over plain HTTP to loopback hosts only (a local fake in tests).

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
        let remote = url.strip_prefix("remote://");
        let action = if remote.is_some() { TFC_READ_STATE } else { HTTP_GET };
        // What is matched is what is requested: the normalised URL, or the checked workspace path.
        let target = match remote {
            Some(rest) => tfc_workspace(rest).map(|_| url.clone()),
            None => super::url_grant::normalize(&url).map(|n| n.to_url()),
        };
        let target = match target {
            Ok(t) => t,
            Err(why) => return Err(self.refuse(action, &url, &format!(" ({why})"))),
        };
        if !grants::allows(&self.grants, action, &target) {
            return Err(self.refuse(action, &target, ""));
        }
        let http = HttpClient::new(TIMEOUT, MAX_STATE);
        match remote {
            Some(rest) => bounded(tfc_state(&http, &url, rest))?,
            None => bounded(get(&http, &target, &[]))?.map(|r| r.body),
        }
    }

    /// Logs and remembers a refused fetch; the plugin gets `denied` naming the grant it lacks.
    fn refuse(&self, action: &str, url: &str, why: &str) -> wit::AwsError {
        let msg = format!("plugin {:?} has no grant for {action} on {url}{why}; add it to the plugin's `grants:` to allow it", self.plugin);
        tracing::warn!("{msg}");
        if let Ok(mut d) = self.denials.lock() {
            d.push(msg.clone());
        }
        wit::AwsError::Denied(msg)
    }
}

/// `HOST/ORG/WORKSPACE`, each part a plain name (so no `..`, escape or query reaches the API path).
fn tfc_workspace(rest: &str) -> Result<[&str; 3], String> {
    let parts: Vec<&str> = rest.split('/').collect();
    let [host, org, workspace] = parts[..] else {
        return Err("expected remote://HOST/ORGANIZATION/WORKSPACE".into());
    };
    let plain =
        |p: &str, extra: &str| !p.is_empty() && p != "." && p != ".." && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || extra.contains(c));
    if !plain(host, ":[]") || !plain(org, "") || !plain(workspace, "") {
        return Err("HOST, ORGANIZATION and WORKSPACE must be plain names (letters, digits, `-`, `_`, `.`)".into());
    }
    Ok([host, org, workspace])
}

/// `http` for loopback hosts (a local fake), else `https`.
fn scheme_for(host: &str) -> &'static str {
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if matches!(name, "127.0.0.1" | "localhost" | "[::1]") { "http" } else { "https" }
}

async fn tfc_state(http: &HttpClient, url: &str, rest: &str) -> Result<Vec<u8>, wit::AwsError> {
    let [host, org, workspace] = tfc_workspace(rest).map_err(|e| failed(url, &e))?;
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
