//! The commands of a config that manages an ECS Express service (`express_definition`, ecspresso
//! v2.6.5/v2.7): `render expressdef`, `diff`, `deploy`, `wait`, `status`, `delete`, `verify`. Each
//! mutating one builds a plan of exact requests (`plan/express.rs`) and hands it to the one engine
//! (`ops::execute`): gated, audited, applied by `apply/`, followed here on the service deployment
//! ECS starts. The commands ecspresso refuses for Express mode are refused here too ([`refuse`]).

use std::io::Write;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::App;
use super::deploy::Change;
use super::diff::DiffArgs;
use crate::apply::Apply;
use crate::aws::{deployments as sd, express as aws_express};
use crate::definitions::to_pretty_json;
use crate::error::InputError;
use crate::ops::{self, Ran};
use crate::output::jsonnet_fmt;
use crate::output::progress::Reporter;
use crate::output::prompt::{self, Mismatch};
use crate::plan::express::{self as xplan, ExpressPlan};
use crate::progress::Progress;
use crate::wait::deployments::Until;

/// Whether the config manages an Express service.
pub fn is_express(app: &App) -> bool {
    app.config.express_definition.is_some()
}

/// `scale`, `run`, `revisions`, `register`, `deregister` and `appspec` do not apply to an Express
/// service (ecspresso refuses them too): ECS owns its task definition, scaling and load balancer.
/// `rollback` and `refresh` would UpdateService a service ECS manages: refused as well (deploy the
/// previous definition instead). Refused before any AWS call, exit 2.
pub fn refuse(app: &App, command: &str) -> Result<()> {
    if !is_express(app) {
        return Ok(());
    }
    let service = app.config.service.as_deref().unwrap_or("?");
    Err(InputError::in_file(
        &app.config.path,
        format!(
            "`{command}` does not work with an Express service ({service}, express_definition): ECS manages its task definition, scaling and load balancer; change the express definition and `deploy` instead"
        ),
    )
    .into())
}

/// `render expressdef`.
pub fn render(app: &App, jsonnet: bool) -> Result<String> {
    let local = xplan::local(app)?;
    Ok(if jsonnet { jsonnet_fmt::format(&local.definition) } else { to_pretty_json(&local.definition) })
}

/// `--wait-until`: an Express service's deployments are ROLLING, with no lifecycle stage.
fn check_until(change: &Change) -> Result<()> {
    match change.until()? {
        Until::Stage(s) => Err(InputError::new(format!("--wait-until ecs:{s}: an Express service's deployment reports no lifecycle stage")).into()),
        Until::CodeDeploy(e) => Err(InputError::new(format!("--wait-until codedeploy:{e}: an Express service is not deployed by CodeDeploy")).into()),
        _ => Ok(()),
    }
}

pub async fn deploy(app: &App, force_register: bool, change: Change) -> Result<()> {
    check_until(&change)?;
    let reporter = Reporter::new(change.json);
    let aws = app.aws().await?;
    let xp = xplan::deploy(app, &aws, force_register).await?;
    if xp.plan.is_empty() {
        reporter.info("Express service is up to date: nothing to update");
    }
    run(app, &aws, &xp, &change, &reporter, |_| Ok(())).await
}

pub async fn delete(app: &App, force: bool, change: Change) -> Result<()> {
    let reporter = Reporter::new(false);
    let aws = app.aws().await?;
    let xp = xplan::delete(app, &aws).await?;
    let name = xp.plan.service.clone().unwrap_or_default();
    let ready = |_: &()| {
        if force {
            return Ok(());
        }
        match prompt::type_to_confirm("Enter the service name to DELETE: ", &name)? {
            None => Ok(()),
            Some(Mismatch::NoTerminal) => anyhow::bail!("delete needs --force when not run on a terminal"),
            Some(Mismatch::Typed(t)) => anyhow::bail!("aborted: {t:?} is not {name:?}"),
        }
    };
    let change = Change { wait: false, ..change };
    run(app, &aws, &xp, &change, &reporter, ready).await
}

/// Gate → (dry run stops) → `ready` → apply → follow the service deployment → outcome record.
async fn run(app: &App, aws: &crate::aws::Aws, xp: &ExpressPlan, change: &Change, reporter: &Reporter, ready: impl FnOnce(&()) -> Result<()>) -> Result<()> {
    let command = xp.plan.command.as_str();
    let follow = async |apply: &Apply<'_>| follow(app, aws, apply, command, change, reporter).await;
    let ran = ops::execute(app, aws, &xp.plan, change.options(reporter), || ready(&()), follow).await?;
    let Ran::Done(done) = ran else {
        if !xp.plan.diff.is_empty() {
            reporter.info(&format!("diff:\n{}", xp.plan.diff.trim_end()));
        }
        crate::output::plan::show(&xp.plan, reporter);
        reporter.info("DRY RUN OK");
        return Ok(());
    };
    if let Err(e) = &done.result {
        reporter.fail(&format!("{e:#}"), json!({"service_deployment_arn": done.applied.express_deployment.get()}));
    }
    done.into_result()
}

/// After Create/Update: bind to the deployment ECS started for it and follow it to SUCCESSFUL.
async fn follow(app: &App, aws: &crate::aws::Aws, apply: &Apply<'_>, command: &str, change: &Change, reporter: &Reporter) -> Result<()> {
    let Some(svc) = apply.applied.express.clone() else {
        reporter.result(true, "Express service is up to date", json!({}));
        return Ok(());
    };
    let arn = svc.get("serviceArn").and_then(Value::as_str).unwrap_or_default().to_owned();
    if command == "delete" {
        reporter.result(true, "Express service is being deleted (ECS drains its tasks and removes what it created)", json!({"service_arn": arn}));
        return Ok(());
    }
    if !change.wait {
        reporter.result(true, "Express service deployment started (not waiting)", json!({"service_arn": arn}));
        return Ok(());
    }
    // Update answers the configuration it rolls out; bind to the deployment of that revision.
    let target = svc.pointer("/targetConfiguration/serviceRevisionArn").and_then(Value::as_str);
    let poll = crate::wait::tasks::fixed_poll_interval(app)?;
    let bound = |d: &str| {
        let _ = apply.applied.express_deployment.set(d.to_owned());
    };
    let waited = crate::wait::express::wait(&aws.ecs(), &arn, target, app.config.timeout, poll, reporter, &bound).await?;
    let endpoints = endpoints(aws, &arn).await;
    let mut msg = format!("Express service deployment completed ({} calls in {:.1}s)", waited.calls, waited.elapsed.as_secs_f64());
    if !endpoints.is_empty() {
        msg.push_str(&format!("; endpoint {}", endpoints.join(", ")));
    }
    let status = waited.deployment.get("status");
    reporter.result(true, &msg, json!({"service_arn": arn, "service_deployment_arn": waited.deployment_arn, "status": status, "endpoints": endpoints}));
    Ok(())
}

/// The newest configuration's endpoints (`ACCESS endpoint`), for the report; none when the read
/// fails (the deployment is done either way).
async fn endpoints(aws: &crate::aws::Aws, arn: &str) -> Vec<String> {
    match aws_express::describe(&aws.ecs(), arn).await {
        Ok(Some(x)) => aws_express::newest_configuration(&x).map(aws_express::endpoints).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `wait`: follows the Express service's current deployment. Changes nothing.
pub async fn wait(app: &App, json_output: bool, wait_until: Option<String>) -> Result<()> {
    check_until(&Change { wait_until, ..Default::default() })?;
    let local = xplan::local(app)?;
    let aws = app.aws().await?;
    let remote = xplan::remote(app, &aws, &local.name).await?;
    let reporter = Reporter::new(json_output);
    let arn = remote.express.as_ref().and_then(|e| e.get("serviceArn")).and_then(Value::as_str).map(str::to_owned);
    let arn = arn.with_context(|| format!("Express service {} is not found in cluster {}", local.name, app.config.cluster))?;
    let poll = crate::wait::tasks::fixed_poll_interval(app)?;
    let result = crate::wait::express::wait(&aws.ecs(), &arn, None, app.config.timeout, poll, &reporter, &|_| {}).await;
    match &result {
        Ok(w) => reporter.result(
            true,
            "Express service deployment completed",
            json!({"service_arn": arn, "service_deployment_arn": w.deployment_arn, "status": w.deployment.get("status")}),
        ),
        Err(e) => reporter.fail(&format!("{e:#}"), json!({"service_arn": arn})),
    }
    result.map(|_| ())
}

/// `status`: the Express service, its endpoints and configurations, the managed service's task
/// counts, its current deployment and the service's newest `events` events; `json` prints the same
/// as one JSON object (AWS's own shapes for the configurations, deployment and events).
pub async fn status(app: &App, events: usize, json_output: bool) -> Result<()> {
    let local = xplan::local(app)?;
    let aws = app.aws().await?;
    let remote = xplan::remote(app, &aws, &local.name).await?;
    let Some(x) = &remote.express else {
        if json_output {
            return super::status::print_json(&json!({"service": local.name, "cluster": app.config.cluster, "found": false}));
        }
        println!("Express service: {} (not found in cluster {})", local.name, app.config.cluster);
        return Ok(());
    };
    let deployment = match x.get("currentDeployment").and_then(Value::as_str) {
        Some(dep) => sd::describe(&aws.ecs(), &[dep.to_owned()]).await?.into_iter().next().or_else(|| Some(json!({"serviceDeploymentArn": dep}))),
        None => None,
    };
    let sv = remote.service.as_ref().unwrap_or(&Value::Null);
    if json_output {
        let n = |k: &str| sv.get(k).and_then(Value::as_i64).unwrap_or(0);
        return super::status::print_json(&json!({
            "service": local.name,
            "cluster": app.config.cluster,
            "found": true,
            "serviceArn": x.get("serviceArn"),
            "status": aws_express::status_code(x),
            "statusReason": x.pointer("/status/statusReason"),
            "endpoints": aws_express::newest_configuration(x).map(aws_express::endpoints).unwrap_or_default(),
            "tasks": {"desired": n("desiredCount"), "running": n("runningCount"), "pending": n("pendingCount")},
            "configurations": x.get("activeConfigurations").cloned().unwrap_or_else(|| json!([])),
            "currentDeployment": deployment,
            "events": crate::output::status::newest_events(sv, events),
        }));
    }
    let mut out = format!("Express service: {}\nCluster: {}\nStatus: {}\n", local.name, app.config.cluster, aws_express::status_code(x));
    if let Some(reason) = x.pointer("/status/statusReason").and_then(Value::as_str) {
        out.push_str(&format!("StatusReason: {reason}\n"));
    }
    if let Some(c) = aws_express::newest_configuration(x) {
        for e in aws_express::endpoints(c) {
            out.push_str(&format!("Endpoint: {e}\n"));
        }
    }
    if remote.service.is_some() {
        let n = |k: &str| sv.get(k).and_then(Value::as_i64).unwrap_or(0);
        out.push_str(&format!("Tasks: desired={} running={} pending={}\n", n("desiredCount"), n("runningCount"), n("pendingCount")));
    }
    out.push_str("Configurations:\n");
    for c in x.get("activeConfigurations").and_then(Value::as_array).into_iter().flatten() {
        out.push_str(&format!("  {}\n", configuration_line(c)));
    }
    if let Some(d) = &deployment {
        let arn = d.get("serviceDeploymentArn").and_then(Value::as_str).unwrap_or("?");
        let status = format!("{} {}", d["status"].as_str().unwrap_or("?"), d["statusReason"].as_str().unwrap_or(""));
        out.push_str(&format!("CurrentDeployment: {} {}\n", sd::short_revision(arn), status.trim_end()));
    }
    out.push_str(&crate::output::status::format_events(sv, events));
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

/// `REVISION image=… cpu=… memory=…` for one active configuration.
fn configuration_line(c: &Value) -> String {
    let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or("-");
    let rev = c.get("serviceRevisionArn").and_then(Value::as_str).map(sd::short_revision).unwrap_or("-");
    let td = c.get("taskDefinitionArn").and_then(Value::as_str).map(crate::aws::ecs::short_task_definition).unwrap_or("-");
    format!("{rev} taskDefinition={td} image={} cpu={} memory={}", s("/primaryContainer/image"), s("/cpu"), s("/memory"))
}

/// `diff`: the express definition against the service's newest configuration (AWS's defaults and
/// what ECS chose for members the file leaves out equal their absence), and the config's custom
/// task definition against the family's newest revision — what `deploy` would plan. The flags mean
/// what they mean for a service: `--without-service` compares only the custom task definition (an
/// Express service without one has no task definition of its own: refused, exit 2).
pub async fn diff(app: &App, args: &DiffArgs) -> Result<()> {
    if args.without_service && app.config.task_definition.is_none() {
        return Err(InputError::in_file(
            &app.config.path,
            "diff --without-service: this Express service has no task_definition of its own (ECS manages it); drop --without-service to compare the express definition",
        )
        .into());
    }
    let aws = app.aws().await?;
    let mut pairs = xplan::compare(app, &aws, false).await?.pairs;
    if args.without_service {
        pairs.remove(0);
    }
    super::diff::show(app, &pairs, args)
}

/// The express definition as a task definition `verify` can check: a custom task definition
/// (`taskDefinitionArn`) as ECS describes it, else the primary container (named `Main`, as ECS
/// names it) with the execution and task roles.
pub async fn verifiable_task_definition(app: &App, aws: &crate::aws::Aws, def: &Value) -> Result<Value> {
    if let Some(arn) = def.get("taskDefinitionArn").and_then(Value::as_str) {
        let (td, _) = crate::aws::ecs::describe_task_definition(&aws.ecs(), arn).await?;
        return Ok(td);
    }
    let mut container = def.get("primaryContainer").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(c) = &mut container {
        c.insert("name".into(), json!("Main"));
        c.remove("awsLogsConfiguration");
        if let Some(port) = c.remove("containerPort") {
            c.insert("portMappings".into(), json!([{"containerPort": port, "protocol": "tcp"}]));
        }
    }
    let arch = def.get("cpuArchitecture").and_then(Value::as_str).unwrap_or("X86_64");
    let mut td = json!({
        "family": app.config.service.clone().unwrap_or_default(),
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "runtimePlatform": {"cpuArchitecture": arch, "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [container],
    });
    for k in ["executionRoleArn", "taskRoleArn"] {
        if let Some(v) = def.get(k) {
            td[k] = v.clone();
        }
    }
    Ok(td)
}
