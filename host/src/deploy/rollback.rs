//! `rollback`: back to the previous ACTIVE revision of the running task definition's family
//! (ECS), or stop an in-progress CodeDeploy deployment / deploy the previous revision (CodeDeploy).

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::progress::Reporter;
use super::{codedeploy, epoch_now, finish_wait, primary_deployment};
use crate::aws::{SdkContext, ecs};
use crate::commands::App;
use crate::gate::{self, Overrides, PlanInput};

#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    pub dry_run: bool,
    pub deregister: bool,
    pub wait: bool,
    pub rollback_events: Vec<String>,
    pub overrides: Overrides,
    pub json_output: bool,
}

/// The next lower ACTIVE revision of `current`'s family.
pub fn target(current: &str, active: &[String]) -> Option<String> {
    let rev = ecs::revision_of_arn(current)?;
    active.iter().filter(|a| ecs::revision_of_arn(a).is_some_and(|r| r < rev)).max_by_key(|a| ecs::revision_of_arn(a)).cloned()
}

pub async fn rollback(app: &App, opts: RollbackOptions) -> Result<()> {
    if opts.deregister && !opts.wait {
        return Err(
            crate::error::InputError::new("--no-wait needs --no-deregister-task-definition (cortado deregisters only after the rollback completes)").into()
        );
    }
    let started = epoch_now();
    let service = app.config.service.clone().ok_or_else(|| crate::error::InputError::in_file(&app.config.path, "service is not defined"))?;
    let mut reporter = Reporter::new(opts.json_output);
    let aws = app.aws().await?;
    let client = aws.ecs();
    let sv = ecs::describe_service(&client, &app.config.cluster, &service).await?.with_context(|| format!("service {service} is not found"))?;
    let current = sv.get("taskDefinition").and_then(Value::as_str).unwrap_or("").to_owned();
    let family = ecs::family_of_arn(&current).unwrap_or("").to_owned();
    let codedeploy = sv.pointer("/deploymentController/type").and_then(Value::as_str) == Some("CODE_DEPLOY");

    if codedeploy && let Some(id) = codedeploy::in_progress(app, &aws).await? {
        gate::check(
            app,
            &aws,
            PlanInput { command: "rollback".into(), diff: format!("stop CodeDeploy deployment {id}"), ..Default::default() },
            &opts.overrides,
            opts.dry_run,
        )
        .await?;
        if opts.dry_run {
            reporter.info(&format!("CodeDeploy deployment {id} would be stopped and rolled back\nDRY RUN OK"));
            return Ok(());
        }
        aws.codedeploy()
            .stop_deployment()
            .deployment_id(&id)
            .auto_rollback_enabled(true)
            .send()
            .await
            .sdk_context(|| format!("stopping CodeDeploy deployment {id}"))?;
        reporter.result(true, &format!("CodeDeploy deployment {id} stopped with auto rollback"), json!({"deployment_id": id}));
        return Ok(());
    }

    let active = ecs::active_revisions(&client, &family).await?;
    let to = target(&current, &active)
        .with_context(|| format!("rollback target is not found: no ACTIVE revision of {family} below {}", ecs::short_task_definition(&current)))?;
    reporter.info(&format!("rolling back {service} from {} to {}", ecs::short_task_definition(&current), ecs::short_task_definition(&to)));
    gate::check(
        app,
        &aws,
        PlanInput {
            command: "rollback".into(),
            task_definition_arn: Some(to.clone()),
            diff: format!("-taskDefinition {current}\n+taskDefinition {to}\n"),
            ..Default::default()
        },
        &opts.overrides,
        opts.dry_run,
    )
    .await?;
    if opts.dry_run {
        if opts.deregister {
            reporter.info(&format!("task definition {} would be deregistered", ecs::short_task_definition(&current)));
        }
        reporter.info("DRY RUN OK");
        return Ok(());
    }
    if codedeploy {
        let id = codedeploy::create_deployment(app, &aws, &sv, &to, &opts.rollback_events, &reporter).await?;
        if opts.wait {
            codedeploy::wait_deployment(&aws, &app.config.cluster, &service, &id, app.config.timeout, &mut reporter).await?;
        }
    } else {
        let updated = ecs::update_service(&client, &json!({"cluster": app.config.cluster, "service": service, "taskDefinition": to})).await?;
        if opts.wait {
            let watch = super::wait::Watch {
                cluster: app.config.cluster.clone(),
                service: service.clone(),
                deployment: primary_deployment(&updated),
                timeout: app.config.timeout,
                since: started,
                known_events: super::wait::event_ids(&sv),
                just_created: true,
            };
            finish_wait(&client, watch, &mut reporter).await?;
        } else {
            reporter.result(true, "rollback started (not waiting)", json!({"deployment_id": primary_deployment(&updated)}));
        }
    }
    if opts.deregister {
        client.deregister_task_definition().task_definition(&current).send().await.sdk_context(|| format!("deregistering {current}"))?;
        reporter.info(&format!("deregistered {}", ecs::short_task_definition(&current)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_the_next_lower_active_revision() {
        let a = |r: i32| format!("arn:aws:ecs:r:1:task-definition/app:{r}");
        let active = vec![a(1), a(3), a(4), a(7)];
        assert_eq!(target(&a(7), &active), Some(a(4)));
        assert_eq!(target(&a(5), &active), Some(a(4)));
        assert_eq!(target(&a(1), &active), None);
    }
}
