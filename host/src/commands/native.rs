//! `cortado continue`: answers the PAUSE hook of an ECS-native deployment (BLUE_GREEN, LINEAR,
//! CANARY), then follows it with `ops::follow` (where the stage gates answer their own hooks).

use anyhow::Result;
use serde_json::json;

use super::App;
use super::args::{ChangeArgs, GateArgs, OutputArgs};
use super::deploy::Change;
use crate::apply::Apply;
use crate::context::Globals;
use crate::env::Env;
use crate::gate;
use crate::ops::{self, Ran};
use crate::output::progress::Reporter;
use crate::progress::Progress;
use crate::wait;
use crate::wait::deployments::{Follow, Until};

#[derive(clap::Args, Debug)]
pub struct ContinueArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// The hook to answer (needed when several await action)
    #[arg(long = "hook-id")]
    pub hook_id: Option<String>,
    /// Answer ROLLBACK instead of CONTINUE
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl ContinueArgs {
    /// `cortado continue`: answers the paused hook with the gates and output asked for.
    pub async fn exec(self, globals: Globals, env: Env) -> Result<()> {
        let app = App::load(globals, env)?;
        let change = self.change.change(&self.gates, &self.output);
        continue_paused(&app, self.hook_id, self.rollback, change).await
    }
}

/// `cortado continue [--hook-id ID] [--rollback]`: answer a paused hook (gated and audited like
/// any mutation), then follow the deployment.
pub async fn continue_paused(app: &App, hook_id: Option<String>, rollback: bool, change: Change) -> Result<()> {
    let reporter = Reporter::new(change.json);
    let until = change.until()?;
    if let Until::CodeDeploy(e) = &until {
        // `continue` answers an ECS PAUSE hook; a CodeDeploy deployment has none to answer.
        let msg = format!(
            "--wait-until codedeploy:{e}: `continue` answers PAUSE hooks of ECS service deployments; follow a CodeDeploy deployment with `cortado wait --wait-until codedeploy:{e}`"
        );
        return Err(crate::error::InputError::new(msg).into());
    }
    let aws = app.aws().await?;
    let dp = crate::plan::deployments::continue_plan(app, &aws, hook_id.as_deref(), rollback).await?;
    if let Some(h) = &dp.hook {
        reporter.info(&format!("service deployment {}: hook {} at {} → {}", dp.arn, h.hook_id, h.stage, if rollback { "ROLLBACK" } else { "CONTINUE" }));
    }
    if !rollback && let Some(h) = dp.hook.as_ref().filter(|h| !gate::stage::bound(app, &h.stage).is_empty()) {
        return ops::follow::answered_by_stage_gates(app, &aws, &dp.arn, h, &until, change.dry_run, &reporter).await;
    }
    let follow = async |_: &Apply<'_>| {
        if !change.wait {
            reporter.result(true, "hook answered (not waiting)", json!({"service_deployment_arn": dp.arn}));
            return Ok(());
        }
        let mut follow = Follow::new(dp.arn.clone(), until.clone(), app.config.timeout, wait::tasks::fixed_poll_interval(app)?);
        // `continue --wait-until paused`: the hook just answered is not the next pause.
        if let Some(h) = &dp.hook {
            follow.answered(&h.hook_id);
        }
        let follow = if rollback { follow.expecting_rollback() } else { follow };
        ops::follow::native(app, &aws, follow, &until, None, &reporter).await
    };
    let Ran::Done(done) = ops::execute(app, &aws, &dp.plan, change.options(&reporter), || Ok(()), follow).await? else {
        crate::output::plan::show(&dp.plan, &reporter);
        reporter.info("DRY RUN OK");
        return Ok(());
    };
    if let Err(e) = &done.result {
        reporter.fail(&format!("{e:#}"), json!({"service_deployment_arn": dp.arn}));
    }
    done.into_result()
}
