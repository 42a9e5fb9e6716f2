//! The audit chain on S3, shared by every machine that deploys: one object per record,
//! `PREFIX<cluster>/<service>/<seq, 12 digits>.json`, each created with `If-None-Match: *`.
//! Two writers racing for one sequence number cannot both succeed: the loser (412, or 409 when S3
//! reports a conflicting concurrent write) re-reads the head and appends after it, so the chain
//! stays linear with no coordinator of ours. Where the bucket has Object Lock, each record is
//! written with the configured retention.
//!
//! The head (`{seq, hash}` of the newest record) is also written to its own object,
//! `PREFIX<cluster>/<service>/head.json`, after each record, conditionally (`If-Match` on the ETag
//! read, or `If-None-Match: *` for the first) and only forward (a head at a higher `seq` is never
//! replaced by a lower one), with the chain's retention. In a bucket with Object Lock every version
//! of it is kept for the retention period, so the history of heads outlives any rewrite of the
//! chain; [`verify`] checks the chain against it (a truncated or re-hashed chain no longer reaches
//! it). With Object Lock in compliance mode (or governance mode, for anyone without
//! `s3:BypassGovernanceRetention`), S3 itself refuses to delete or overwrite a locked version of a
//! record or of the head: a rewritten history can only be added as new versions beside the
//! originals, and the originals stay.
//!
//! Layering: this is the only module outside `apply/` that writes to AWS (`put_object`), and
//! tests/tests/layering.rs names it. The audit record is written *ahead* of the approval `apply/`
//! needs, so it cannot go through `apply/`; it changes nothing deployed, only the record of it.
//!
//! [`verify`] walks every chain under a prefix and reports all it finds (not only the first):
//! gaps (a deleted record), records whose `seq` is not their key's (moved or re-ordered), edited
//! records (hash), broken `prev` links, forks (two records after one head), decisions without an
//! outcome, and each record's retention.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use serde_json::{Map, Value, json};

use super::audit::{GENESIS, canonical, record_hash};
use crate::aws::describe_error;
use crate::config::shared::{Retention, S3Url};

/// Attempts before an append gives up: each lost race means another record landed, so this many
/// losses in a row would take that many concurrent writers on one service.
const MAX_RACES: usize = 200;

/// One service's chain.
pub struct S3Chain {
    pub url: S3Url,
    /// `PREFIX<cluster>/<service>/`
    pub dir: String,
    pub retention: Option<Retention>,
    pub sdk: SdkConfig,
    /// The record this process wrote last `(seq, hash)`: the next append (the outcome after its
    /// decision, under the deploy lock) first tries right after it without listing the chain; a
    /// 412 means someone else wrote there, and the head is read as usual.
    last: std::sync::Mutex<Option<(u64, String)>>,
}

impl S3Chain {
    pub fn new(sdk: SdkConfig, url: &S3Url, cluster: &str, service: Option<&str>, retention: Option<Retention>) -> S3Chain {
        let dir = format!("{}{cluster}/{}/", url.prefix, service.unwrap_or("-"));
        S3Chain { url: url.clone(), dir, retention, sdk, last: std::sync::Mutex::new(None) }
    }

    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.url.bucket, self.dir)
    }

    /// Appends `record` after the head (retrying lost races) and returns its hash. Blocking; safe
    /// from sync and async code.
    pub fn append(&self, record: Map<String, Value>) -> Result<String> {
        crate::aws::blocking_s3(&self.sdk, |client| async move { self.append_with(&client, record).await })
            .with_context(|| format!("audit log {}", self.location()))
    }

    async fn append_with(&self, client: &aws_sdk_s3::Client, record: Map<String, Value>) -> Result<String> {
        let mut guess = self.last.lock().ok().and_then(|l| l.clone());
        for attempt in 0..MAX_RACES {
            let (seq, prev) = match guess.take() {
                Some(known) => known,
                None => head(client, &self.url.bucket, &self.dir).await?,
            };
            let mut rec = record.clone();
            rec.insert("seq".into(), json!(seq + 1));
            rec.insert("prev".into(), Value::String(prev));
            let hash = record_hash(&rec);
            rec.insert("hash".into(), Value::String(hash.clone()));
            let key = key(&self.dir, seq + 1);
            let mut put = client
                .put_object()
                .bucket(&self.url.bucket)
                .key(&key)
                .if_none_match("*")
                .content_type("application/json")
                .body(ByteStream::from(canonical(&Value::Object(rec)).into_bytes()));
            if let Some(r) = &self.retention {
                let until = crate::util::epoch_secs() + r.period.as_secs() as i64;
                put = put.object_lock_mode(ObjectLockMode::from(r.mode.as_str())).object_lock_retain_until_date(DateTime::from_secs(until));
            }
            match put.send().await {
                Ok(_) => {
                    if let Ok(mut l) = self.last.lock() {
                        *l = Some((seq + 1, hash.clone()));
                    }
                    self.put_head(client, seq + 1, &hash).await?;
                    return Ok(hash);
                }
                Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412 | 409)) => {
                    tracing::debug!("audit: lost the race for {key} (attempt {}); re-reading the head", attempt + 1);
                    // A little jitter so that a crowd of losers does not collide again in step.
                    let ms = (std::process::id() as u64 ^ seq.wrapping_mul(2654435761)) % 20;
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Err(e) => anyhow::bail!("PutObject s3://{}/{key}: {}", self.url.bucket, describe_error(&e)),
            }
        }
        anyhow::bail!("gave up after {MAX_RACES} lost races for the next sequence number")
    }
}

impl S3Chain {
    /// The sequence number of the record this process wrote last (the chain's length then).
    pub fn last_seq(&self) -> Option<u64> {
        self.last.lock().ok().and_then(|l| l.as_ref().map(|(s, _)| *s))
    }

    /// Moves `head.json` forward to `(seq, hash)`, conditionally on the version read; a head that
    /// is already at `seq` or later (another writer's) is left as it is.
    async fn put_head(&self, client: &aws_sdk_s3::Client, seq: u64, hash: &str) -> Result<()> {
        let key = format!("{}{HEAD_OBJECT}", self.dir);
        for _ in 0..MAX_RACES {
            let (etag, current) = match read_head(client, &self.url.bucket, &self.dir).await? {
                Some((etag, head)) => (Some(etag), head.seq),
                None => (None, 0),
            };
            if current >= seq {
                return Ok(());
            }
            let body = json!({"seq": seq, "hash": hash, "time": jiff::Timestamp::now().to_string()}).to_string();
            let mut put = client.put_object().bucket(&self.url.bucket).key(&key).content_type("application/json").body(ByteStream::from(body.into_bytes()));
            put = match etag {
                Some(e) => put.if_match(e),
                None => put.if_none_match("*"),
            };
            if let Some(r) = &self.retention {
                let until = jiff::Timestamp::now().as_second() + r.period.as_secs() as i64;
                put = put.object_lock_mode(ObjectLockMode::from(r.mode.as_str())).object_lock_retain_until_date(DateTime::from_secs(until));
            }
            match put.send().await {
                Ok(_) => return Ok(()),
                Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412 | 409)) => continue,
                Err(e) => anyhow::bail!("PutObject s3://{}/{key} (the chain head): {}", self.url.bucket, describe_error(&e)),
            }
        }
        anyhow::bail!("gave up moving s3://{}/{key} forward after {MAX_RACES} lost races", self.url.bucket)
    }

    /// Puts a signed evidence file at `PREFIX evidence/<cluster>/<service>/<run id>.dsse.json`
    /// (created once: `If-None-Match: *`, with the chain's retention); returns its URL.
    pub fn put_evidence(&self, run_id: &str, bytes: &[u8]) -> Result<String> {
        let rest = &self.dir[self.url.prefix.len()..];
        let key = format!("{}evidence/{rest}{run_id}.dsse.json", self.url.prefix);
        let body = bytes.to_vec();
        crate::aws::blocking_s3(&self.sdk, |client| async move {
            let mut put =
                client.put_object().bucket(&self.url.bucket).key(&key).if_none_match("*").content_type("application/json").body(ByteStream::from(body));
            if let Some(r) = &self.retention {
                let until = crate::util::epoch_secs() + r.period.as_secs() as i64;
                put = put.object_lock_mode(ObjectLockMode::from(r.mode.as_str())).object_lock_retain_until_date(DateTime::from_secs(until));
            }
            put.send().await.map_err(|e| anyhow::anyhow!("PutObject s3://{}/{key}: {}", self.url.bucket, describe_error(&e)))?;
            Ok(format!("s3://{}/{key}", self.url.bucket))
        })
    }
}

/// An object's bytes (`s3://bucket/key`), for `evidence verify s3://…`.
pub async fn get_bytes(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>> {
    let out = client.get_object().bucket(bucket).key(key).send().await.map_err(|e| anyhow::anyhow!("GetObject s3://{bucket}/{key}: {}", describe_error(&e)))?;
    Ok(out.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes().to_vec())
}

/// The object beside a chain's records that holds its head.
pub const HEAD_OBJECT: &str = "head.json";

/// A chain's recorded head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedHead {
    pub seq: u64,
    pub hash: String,
}

/// `head.json` of the chain in `dir` and its ETag, or None when there is none.
pub async fn read_head(client: &aws_sdk_s3::Client, bucket: &str, dir: &str) -> Result<Option<(String, RecordedHead)>> {
    let key = format!("{dir}{HEAD_OBJECT}");
    let out = match client.get_object().bucket(bucket).key(&key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => anyhow::bail!("GetObject s3://{bucket}/{key}: {}", describe_error(&e)),
    };
    let etag = out.e_tag().unwrap_or_default().to_owned();
    let bytes = out.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes();
    let v: Value = serde_json::from_slice(&bytes).with_context(|| format!("s3://{bucket}/{key}: not JSON"))?;
    let (Some(seq), Some(hash)) = (v.get("seq").and_then(Value::as_u64), v.get("hash").and_then(Value::as_str)) else {
        anyhow::bail!("s3://{bucket}/{key}: expected {{\"seq\": N, \"hash\": \"…\"}}");
    };
    Ok(Some((etag, RecordedHead { seq, hash: hash.to_owned() })))
}

/// Every stored version of `head.json` (ListObjectVersions; one "null" version without versioning).
async fn head_versions(client: &aws_sdk_s3::Client, bucket: &str, dir: &str) -> Result<Vec<RecordedHead>> {
    let key = format!("{dir}{HEAD_OBJECT}");
    let mut ids = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let out = client
            .list_object_versions()
            .bucket(bucket)
            .prefix(&key)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListObjectVersions s3://{bucket}/{key}: {}", describe_error(&e)))?;
        ids.extend(out.versions().iter().filter(|v| v.key() == Some(key.as_str())).filter_map(|v| v.version_id().map(str::to_owned)));
        if out.is_truncated() != Some(true) {
            break;
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        version_marker = out.next_version_id_marker().map(str::to_owned);
    }
    let mut heads = Vec::new();
    for id in ids {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .version_id(&id)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GetObject s3://{bucket}/{key}?versionId={id}: {}", describe_error(&e)))?;
        let bytes = out.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let (Some(seq), Some(hash)) = (v.get("seq").and_then(Value::as_u64), v.get("hash").and_then(Value::as_str)) {
            heads.push(RecordedHead { seq, hash: hash.to_owned() });
        }
    }
    Ok(heads)
}

pub fn key(dir: &str, seq: u64) -> String {
    format!("{dir}{seq:012}.json")
}

/// The sequence number of a record key (`…/000000000042.json` → 42).
fn seq_of(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    let digits = name.strip_suffix(".json")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// Every key under `prefix`.
async fn list(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListObjectsV2 s3://{bucket}/{prefix}: {}", describe_error(&e)))?;
        keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => return Ok(keys),
        }
    }
}

/// The highest sequence number in `dir` and its record's hash (`(0, GENESIS)` for a new chain).
async fn head(client: &aws_sdk_s3::Client, bucket: &str, dir: &str) -> Result<(u64, String)> {
    let keys = list(client, bucket, dir).await?;
    let Some((seq, key)) = keys.iter().filter(|k| !k[dir.len()..].contains('/')).filter_map(|k| seq_of(k).map(|s| (s, k))).max_by_key(|(s, _)| *s) else {
        return Ok((0, GENESIS.to_owned()));
    };
    let (record, _) = get(client, bucket, key).await?;
    let hash =
        record.get("hash").and_then(Value::as_str).with_context(|| format!("s3://{bucket}/{key}: the head record has no hash; run `cortado audit verify`"))?;
    Ok((seq, hash.to_owned()))
}

/// Lock mode and retain-until date of an object, as S3 reported them with the object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    pub mode: Option<String>,
    pub retain_until: Option<String>,
}

async fn get(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(Map<String, Value>, Lock)> {
    let out = client.get_object().bucket(bucket).key(key).send().await.map_err(|e| anyhow::anyhow!("GetObject s3://{bucket}/{key}: {}", describe_error(&e)))?;
    let lock = Lock {
        mode: out.object_lock_mode().map(|m| m.as_str().to_owned()),
        retain_until: out.object_lock_retain_until_date().and_then(|d| d.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()),
    };
    let bytes = out.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok((m, lock)),
        _ => Ok((Map::new(), lock)),
    }
}

/// One record as the walk saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub key: String,
    pub seq: u64,
    pub kind: String,
    pub hash: String,
    pub lock: Lock,
    pub record: Map<String, Value>,
}

/// One chain's findings.
#[derive(Debug, Clone, Default)]
pub struct ChainReport {
    pub dir: String,
    pub records: Vec<Seen>,
    pub head: String,
    pub problems: Vec<String>,
    /// Not failures, but worth a look: records written without Object Lock retention after records
    /// that have it (a rewritten tail would show this, since the versions S3 locked cannot change).
    pub warnings: Vec<String>,
    /// Decisions approved (not dry runs) with no outcome: `(key, run_id, command)`.
    pub open: Vec<(String, String, String)>,
    /// Whether a `head.json` was found beside the records (and checked).
    pub recorded_head: bool,
    /// What the chain was anchored to, when it was (`--expect-head`).
    pub anchored: Option<String>,
}

/// The chain must reach each head recorded beside it: a record at that `seq` with that hash.
/// Records after the newest head are a warning (a run that stopped before moving the head).
fn check_recorded_head(report: &mut ChainReport, bucket: &str, recorded: &RecordedHead, newest: bool) {
    let at = format!("s3://{bucket}/{}{HEAD_OBJECT}", report.dir);
    match report.records.iter().find(|r| r.seq == recorded.seq) {
        Some(r) if r.hash == recorded.hash => {
            let after = report.records.iter().filter(|r| r.seq > recorded.seq).count();
            if after > 0 && newest {
                report.warnings.push(format!("{at}: {after} record(s) after the recorded head (a run stopped between writing a record and moving the head?)"));
            }
        }
        Some(r) => {
            report.problems.push(format!("s3://{bucket}/{}: its hash is not the recorded head's ({at} says {}): the chain was rewritten", r.key, recorded.hash))
        }
        None => report.problems.push(format!("{at}: the recorded head is record {}, which is missing: the chain was truncated", recorded.seq)),
    }
}

impl ChainReport {
    pub fn to_json(&self, bucket: &str) -> Value {
        json!({
            "chain": format!("s3://{bucket}/{}", self.dir),
            "records": self.records.len(),
            "head": self.head,
            "recorded_head": self.recorded_head,
            "anchored": self.anchored,
            "intact": self.problems.is_empty(),
            "problems": self.problems,
            "warnings": self.warnings,
            "open_decisions": self.open.iter().map(|(k, r, c)| json!({"key": k, "run_id": r, "command": c})).collect::<Vec<_>>(),
            "retention": self.records.iter().map(|r| json!({"key": r.key, "seq": r.seq, "kind": r.kind, "mode": r.lock.mode, "retain_until": r.lock.retain_until})).collect::<Vec<_>>(),
        })
    }
}

/// Walks every chain under `url` (locks excluded).
pub async fn verify(client: &aws_sdk_s3::Client, url: &S3Url) -> Result<Vec<ChainReport>> {
    let mut dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in list(client, &url.bucket, &url.prefix).await? {
        let rest = &k[url.prefix.len()..];
        if rest.starts_with("locks/") || rest.starts_with("evidence/") {
            continue;
        }
        let dir = k.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
        dirs.entry(dir).or_default().push(k);
    }
    let mut reports = Vec::new();
    for (dir, keys) in dirs {
        reports.push(verify_chain(client, &url.bucket, &dir, keys).await?);
    }
    Ok(reports)
}

async fn verify_chain(client: &aws_sdk_s3::Client, bucket: &str, dir: &str, keys: Vec<String>) -> Result<ChainReport> {
    let mut report = ChainReport { dir: dir.to_owned(), head: GENESIS.to_owned(), ..Default::default() };
    let mut numbered: Vec<(u64, String)> = Vec::new();
    let mut has_head = false;
    for k in keys {
        if k.strip_prefix(dir) == Some(HEAD_OBJECT) {
            has_head = true;
            continue;
        }
        match seq_of(&k) {
            Some(s) => numbered.push((s, k)),
            None => report.problems.push(format!("s3://{bucket}/{k}: not a record key (<seq>.json)")),
        }
    }
    numbered.sort();
    let mut expected = 1;
    let mut prev = GENESIS.to_owned();
    let mut followers: HashMap<String, String> = HashMap::new();
    let mut decisions: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    for (seq, k) in numbered {
        let at = format!("s3://{bucket}/{k}");
        if seq > expected {
            let missing = if seq - expected == 1 { key("", expected).to_string() } else { format!("{} to {}", key("", expected), key("", seq - 1)) };
            report.problems.push(format!("{at}: gap before it: {missing} missing (deleted)"));
        }
        expected = seq + 1;
        let (record, lock) = get(client, bucket, &k).await?;
        let s = |f: &str| record.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
        let hash = s("hash");
        if record.is_empty() {
            report.problems.push(format!("{at}: not a JSON object"));
        } else if hash != record_hash(&record) {
            report.problems.push(format!("{at}: its content does not match its `hash`: this record was edited"));
        }
        if record.get("seq").and_then(Value::as_u64) != Some(seq) {
            report
                .problems
                .push(format!("{at}: it says seq {}, its key says {seq}: records were moved or re-ordered", record.get("seq").unwrap_or(&Value::Null)));
        }
        let claimed_prev = s("prev");
        if claimed_prev != prev {
            report.problems.push(format!("{at}: its `prev` does not match the record before it (altered, removed or re-ordered)"));
        }
        if let Some(other) = followers.insert(claimed_prev.clone(), k.clone()) {
            report.problems.push(format!("{at}: fork: it and s3://{bucket}/{other} both follow {claimed_prev}"));
        }
        match s("kind").as_str() {
            "decision" if s("outcome") == "approved" && record.get("dry_run") != Some(&Value::Bool(true)) => {
                decisions.insert(hash.clone(), (k.clone(), s("run_id"), s("command")));
            }
            "outcome" => {
                decisions.remove(&s("decision"));
            }
            _ => {}
        }
        report.records.push(Seen { key: k.clone(), seq, kind: s("kind"), hash: hash.clone(), lock, record: record.clone() });
        prev = hash;
    }
    if let Some(first) = report.records.iter().position(|r| r.lock.mode.is_some()) {
        for r in report.records[first..].iter().filter(|r| r.lock.mode.is_none()) {
            report
                .warnings
                .push(format!("s3://{bucket}/{}: no Object Lock retention, though earlier records have it (rewritten, or retention turned off)", r.key));
        }
    }
    report.head = prev;
    report.open = decisions.into_values().collect();
    if has_head {
        // Every version S3 kept (all of them, under Object Lock): a rolled-back head.json is a new
        // version beside the ones a rewrite would have to remove.
        let mut heads = head_versions(client, bucket, dir).await?;
        if heads.is_empty()
            && let Some((_, current)) = read_head(client, bucket, dir).await?
        {
            heads.push(current);
        }
        heads.sort_by_key(|h| h.seq);
        heads.dedup();
        for (i, recorded) in heads.iter().enumerate() {
            check_recorded_head(&mut report, bucket, recorded, i + 1 == heads.len());
        }
    }
    report.recorded_head = has_head;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_and_parse() {
        assert_eq!(key("p/c/s/", 42), "p/c/s/000000000042.json");
        assert_eq!(seq_of("p/c/s/000000000042.json"), Some(42));
        assert_eq!(seq_of("p/c/s/x.json"), None);
        assert_eq!(seq_of("p/c/s/42.txt"), None);
    }
}
