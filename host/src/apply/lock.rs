//! The deploy lock: one S3 object, `PREFIX locks/<cluster>/<service>`, created with
//! `If-None-Match: *` before the first mutation and deleted at the end on its ETag (`If-Match`),
//! so a second deployer cannot take a live lock and a holder never deletes a lock it lost.
//!
//! The object says who holds it (caller ARN, host, CI run URL when the CI exposes one, pid), since
//! when and until when. The holder renews it (every third of `lock_ttl`, on its ETag) while the
//! command runs and waits; a killed holder stops renewing, and once `expires` has passed the next
//! deployer takes the lock over, again conditionally on the ETag it read. A deployer that finds a
//! live lock retries until `--lock-timeout` (default: none) and then fails naming the holder.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

use crate::aws::{Aws, describe_error};
use crate::gate::LockSpec;
use crate::progress::Progress;
use crate::util::{epoch_secs as now_secs, rfc3339 as stamp};

/// A held lock. Dropping it releases it.
pub struct Held {
    bucket: String,
    pub key: String,
    /// Our own random token in the body: a release that meets a changed ETag (a renewal in flight)
    /// still recognises its own lock.
    token: String,
    etag: Arc<Mutex<String>>,
    sdk: SdkConfig,
    renew: Option<tokio::task::JoinHandle<()>>,
}

pub fn lock_key(spec: &LockSpec) -> String {
    format!("{}locks/{}/{}", spec.url.prefix, spec.cluster, spec.service.as_deref().unwrap_or("-"))
}

/// The CI run this process belongs to, when the CI says (GitHub Actions, GitLab, Jenkins, CircleCI, Buildkite).
fn ci_run_url() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(server), Some(repo), Some(run)) = (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
        return Some(format!("{server}/{repo}/actions/runs/{run}"));
    }
    ["CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL"].iter().find_map(|k| var(k))
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok { String::from_utf8_lossy(&buf[..end]).into_owned() } else { String::new() }
}

fn body(caller: &str, token: &str, since: i64, ttl: Duration) -> Vec<u8> {
    let expires = now_secs() + ttl.as_secs().max(1) as i64;
    json!({
        "holder": {"caller": caller, "host": hostname(), "ci_run": ci_run_url(), "pid": std::process::id()},
        "token": token, "since": stamp(since), "expires": stamp(expires), "expires_epoch": expires,
    })
    .to_string()
    .into_bytes()
}

/// How a lock's holder reads in messages: `arn:… on host (pid N, CI run URL) since T, expires T`.
pub fn describe_holder(v: &Value) -> String {
    let h = &v["holder"];
    let s = |x: &Value| x.as_str().unwrap_or("?").to_owned();
    let ci = h["ci_run"].as_str().map(|u| format!(", {u}")).unwrap_or_default();
    format!("{} on {} (pid {}{ci}) since {}, expires {}", s(&h["caller"]), s(&h["host"]), h["pid"], s(&v["since"]), s(&v["expires"]))
}

/// The HTTP status of a failed S3 call, when it got an answer.
pub trait RawStatus {
    fn raw_status(&self) -> Option<u16>;
}

impl<E> RawStatus for aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response> {
    fn raw_status(&self) -> Option<u16> {
        self.raw_response().map(|r| r.status().as_u16())
    }
}

/// The current lock object and its ETag, or None when there is none.
pub async fn read(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<(Value, String)>> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let etag = out.e_tag().unwrap_or_default().to_owned();
            let bytes = out.body.collect().await?.into_bytes();
            Ok(Some((serde_json::from_slice(&bytes).unwrap_or(Value::Null), etag)))
        }
        Err(e) if e.raw_status() == Some(404) => Ok(None),
        Err(e) => bail!("GetObject s3://{bucket}/{key}: {}", describe_error(&e)),
    }
}

/// Takes the lock (waiting up to `spec.timeout`), then keeps renewing it until the [`Held`] is dropped.
pub async fn acquire(aws: &Aws, spec: &LockSpec, progress: &dyn Progress) -> Result<Held> {
    let client = aws.s3();
    let bucket = spec.url.bucket.clone();
    let key = lock_key(spec);
    let at = format!("s3://{bucket}/{key}");
    let caller = match &spec.caller {
        Some(c) => c.clone(),
        None => crate::gate::caller(aws).await?.arn,
    };
    let token = crate::util::unique_hex("lock", 16);
    let since = now_secs();
    let deadline = Instant::now() + spec.timeout;
    let mut told = false;
    loop {
        let put = client.put_object().bucket(&bucket).key(&key).if_none_match("*").content_type("application/json");
        match put.body(ByteStream::from(body(&caller, &token, since, spec.ttl))).send().await {
            Ok(out) => return Ok(held(aws, spec, bucket, key, token, out.e_tag().unwrap_or_default(), caller, since)),
            Err(e) if matches!(e.raw_status(), Some(412 | 409)) => {}
            Err(e) => bail!("taking the deploy lock {at}: PutObject: {}; nothing was changed", describe_error(&e)),
        }
        let Some((current, etag)) = read(&client, &bucket, &key).await? else { continue };
        let expires = current["expires_epoch"].as_i64().unwrap_or(0);
        if expires < now_secs() {
            let put = client.put_object().bucket(&bucket).key(&key).if_match(&etag).content_type("application/json");
            match put.body(ByteStream::from(body(&caller, &token, since, spec.ttl))).send().await {
                Ok(out) => {
                    progress.info(&format!("deploy lock {at}: took over an expired lock held by {}", describe_holder(&current)));
                    return Ok(held(aws, spec, bucket, key, token, out.e_tag().unwrap_or_default(), caller, since));
                }
                Err(e) if matches!(e.raw_status(), Some(412 | 409 | 404)) => continue,
                Err(e) => bail!("taking over the expired deploy lock {at}: PutObject: {}; nothing was changed", describe_error(&e)),
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let waited = if spec.timeout.is_zero() { String::new() } else { format!(" after waiting {}s", spec.timeout.as_secs()) };
            bail!(
                "the service is locked by another deployer{waited}: {} ({at}); nothing was changed. Wait with --lock-timeout DURATION, or remove a stale lock with `cortado unlock`",
                describe_holder(&current)
            );
        }
        if !told {
            progress.info(&format!("deploy lock {at} is held by {}; waiting up to {}s", describe_holder(&current), left.as_secs()));
            told = true;
        }
        tokio::time::sleep(left.min(Duration::from_millis(500))).await;
    }
}

#[allow(clippy::too_many_arguments)]
fn held(aws: &Aws, spec: &LockSpec, bucket: String, key: String, token: String, etag: &str, caller: String, since: i64) -> Held {
    let etag = Arc::new(Mutex::new(etag.to_owned()));
    let (client, b, k, t, e, ttl) = (aws.s3(), bucket.clone(), key.clone(), token.clone(), etag.clone(), spec.ttl);
    let renew = tokio::spawn(async move {
        loop {
            tokio::time::sleep((ttl / 3).max(Duration::from_millis(200))).await;
            let current = e.lock().map(|g| g.clone()).unwrap_or_default();
            let put = client.put_object().bucket(&b).key(&k).if_match(current).content_type("application/json");
            match put.body(ByteStream::from(body(&caller, &t, since, ttl))).send().await {
                Ok(out) => {
                    if let Ok(mut g) = e.lock() {
                        *g = out.e_tag().unwrap_or_default().to_owned();
                    }
                }
                Err(err) => {
                    tracing::error!("deploy lock s3://{b}/{k}: renewal failed ({}): another deployer may take it over", describe_error(&err));
                    if matches!(err.raw_status(), Some(412 | 404)) {
                        return;
                    }
                }
            }
        }
    });
    Held { bucket, key, token, etag, sdk: aws.sdk.clone(), renew: Some(renew) }
}

impl Held {
    /// Deletes the lock on its ETag; a lock that is no longer ours is left alone.
    fn release(&mut self) -> Result<()> {
        if let Some(r) = self.renew.take() {
            r.abort();
        }
        let etag = self.etag.lock().map(|g| g.clone()).unwrap_or_default();
        let (bucket, key, token) = (self.bucket.clone(), self.key.clone(), self.token.clone());
        crate::aws::blocking_s3(&self.sdk, |client| async move {
            let mut etag = etag;
            for _ in 0..3 {
                match client.delete_object().bucket(&bucket).key(&key).if_match(&etag).send().await {
                    Ok(_) => return Ok(()),
                    Err(e) if matches!(e.raw_status(), Some(412 | 409)) => {
                        // A renewal that was in flight changed the ETag: delete only if it is still ours.
                        match read(&client, &bucket, &key).await? {
                            Some((v, now)) if v["token"].as_str() == Some(token.as_str()) => etag = now,
                            _ => return Ok(()),
                        }
                    }
                    Err(e) if e.raw_status() == Some(404) => return Ok(()),
                    Err(e) => bail!("DeleteObject s3://{bucket}/{key}: {}", describe_error(&e)),
                }
            }
            bail!("s3://{bucket}/{key}: the lock kept changing while it was released")
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            tracing::error!("the deploy lock could not be released (it expires by itself): {e:#}");
        }
    }
}

/// `cortado unlock`'s step: deletes the lock only if it is still the one the plan read.
pub async fn delete(client: &aws_sdk_s3::Client, bucket: &str, key: &str, etag: &str) -> Result<()> {
    match client.delete_object().bucket(bucket).key(key).if_match(etag).send().await {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_status(), Some(412 | 409)) => {
            bail!("s3://{bucket}/{key}: the lock changed since it was read (renewed or taken over): run `cortado unlock` again to see its holder")
        }
        Err(e) => bail!("DeleteObject s3://{bucket}/{key}: {}", describe_error(&e)),
    }
}

/// Refuses (or waits for) an IN_PROGRESS deployment of the service that this invocation did not start.
pub async fn check_others(aws: &Aws, spec: &LockSpec, progress: &dyn Progress) -> Result<()> {
    let Some(service) = &spec.service else { return Ok(()) };
    let wait_up_to = spec.others_timeout;
    let deadline = Instant::now() + wait_up_to;
    let mut told = false;
    loop {
        let Some(sv) = crate::aws::ecs::describe_service(&aws.ecs(), &spec.cluster, service).await? else { return Ok(()) };
        let busy: Vec<String> = sv["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["rolloutState"] == "IN_PROGRESS")
            .map(|d| d["id"].as_str().unwrap_or("?").to_owned())
            .collect();
        if busy.is_empty() {
            return Ok(());
        }
        if !spec.wait_for_others {
            bail!(
                "service {service} has an IN_PROGRESS deployment this invocation did not start ({}); nothing was changed. --wait-for-others waits for it to finish",
                busy.join(", ")
            );
        }
        if Instant::now() >= deadline {
            bail!("service {service}: deployment {} still IN_PROGRESS after waiting {}s; nothing was changed", busy.join(", "), wait_up_to.as_secs());
        }
        if !told {
            progress.info(&format!("service {service}: waiting for deployment {} (IN_PROGRESS, not ours) to finish", busy.join(", ")));
            told = true;
        }
        let poll = std::env::var("CORTADO_POLL_INTERVAL").ok().and_then(|v| crate::config::duration::parse_go_duration(&v).ok());
        tokio::time::sleep(poll.unwrap_or(Duration::from_secs(2))).await;
    }
}
