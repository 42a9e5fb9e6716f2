//! `cortado unlock`: removes the service's deploy lock by hand (a holder that died and a team that
//! cannot wait for `lock_ttl`). Like every change it is planned, gated and audited: the decision
//! record names the lock's holder, and the delete is conditional on the ETag that was read, so a
//! lock renewed or taken over in between is left alone.

use anyhow::Result;
use serde_json::json;

use super::App;
use super::args::GateArgs;
use crate::apply::lock::{describe_holder, lock_key, read};
use crate::context::Globals;
use crate::env::Env;
use crate::error::InputError;
use crate::gate::{LockSpec, Overrides};
use crate::plan::{Plan, Service, Step};
use crate::progress::Progress;

#[derive(clap::Args, Debug)]
pub struct UnlockArgs {
    /// Evaluate gates and show the holder; change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    #[command(flatten)]
    pub gates: GateArgs,
}

impl UnlockArgs {
    /// `cortado unlock`.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        unlock(&app, &self.gates.to_overrides(), self.dry_run).await
    }
}

pub async fn unlock(app: &App, overrides: &Overrides, dry_run: bool) -> Result<()> {
    let url = app
        .config
        .lock
        .clone()
        .ok_or_else(|| InputError::in_file(&app.config.path, "no deploy lock is configured (`lock: s3://…`, or `audit_log: s3://…`)"))?;
    let spec = LockSpec {
        url: url.clone(),
        cluster: crate::aws::ecs::cluster_name(&app.config.cluster).to_owned(),
        service: app.config.service.clone(),
        ttl: app.config.lock_ttl,
        timeout: app.config.lock_timeout,
        wait_for_others: false,
        others_timeout: app.config.timeout,
        caller: None,
    };
    let key = lock_key(&spec);
    let aws = app.aws().await?;
    let reporter = crate::output::progress::Reporter::new(false);
    let Some((holder, etag)) = read(&aws.s3(), &url.bucket, &key).await? else {
        reporter.info(&format!("s3://{}/{key}: no deploy lock is held", url.bucket));
        return Ok(());
    };
    reporter.info(&format!("s3://{}/{key} is held by {}", url.bucket, describe_holder(&holder)));
    let mut plan = Plan::new("unlock", &app.config.cluster, app.config.service.as_deref());
    plan.overrides = Some(json!({"lock": format!("s3://{}/{key}", url.bucket), "holder": holder}));
    let input = json!({"Bucket": url.bucket, "Key": key, "IfMatch": etag});
    let resource = format!("deploy lock s3://{}/{key} (ETag {etag})", url.bucket);
    plan.push(Step::new(Service::S3, "DeleteObject", input, resource));
    let opts = crate::ops::Options::new(overrides, dry_run, &reporter);
    match crate::ops::execute(app, &aws, &plan, opts, || Ok(()), async |_: &crate::apply::Apply<'_>| Ok(())).await? {
        crate::ops::Ran::DryRun => {
            reporter.info("dry run: the lock would be removed");
            Ok(())
        }
        crate::ops::Ran::Done(done) => done.into_result(),
    }
}
