//! `cortado run`: a one-off task (ecspresso §10.1, fixed where it falls short).
//!
//! - Everything that can be checked locally is checked before the first AWS call, and a problem
//!   found after reading the task definition (an unknown `--watch-container`, an awsvpc task with
//!   no subnets) is still reported before anything is registered or started: exit 2.
//! - No service definition is needed: network settings come from it when the config has one, and
//!   `--subnets`/`--security-groups`/`--assign-public-ip`/`--launch-type` override or replace them.
//! - Gates see `run` (task definition and overrides) before anything is registered.
//! - The watched container's awslogs are tailed while the tasks run; cortado then exits with that
//!   container's exit code.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::App;
use crate::aws::{SdkContext, ecs, task};
use crate::cli::{RunArgs, WaitUntil};
use crate::error::{ExitWith, InputError};
use crate::gate;

/// Which task definition runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// Register this file, then run the new revision.
    Register(PathBuf),
    Revision(i64),
    Latest,
    /// The service's current task definition, else the family's latest.
    Current,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Propagate {
    None,
    Service,
    TaskDefinition,
}

pub async fn run(app: &App, args: RunArgs) -> Result<()> {
    // Local input first: a mistake here is exit 2 with no AWS call made.
    let overrides = read_overrides(app, &args)?;
    let mut tags = match args.tags.as_deref() {
        Some(t) => parse_tags(t)?,
        None => vec![],
    };
    if !(1..=10).contains(&args.count) {
        return Err(InputError::new(format!("--count {}: RunTask starts 1 to 10 tasks", args.count)).into());
    }
    let propagate = parse_propagate(args.propagate_tags.as_deref())?;
    if let Some(ip) = &args.assign_public_ip
        && ip != "ENABLED"
        && ip != "DISABLED"
    {
        return Err(InputError::new(format!("--assign-public-ip {ip}: ENABLED or DISABLED")).into());
    }
    if let Some(lt) = &args.launch_type
        && !["FARGATE", "EC2", "EXTERNAL"].contains(&lt.as_str())
    {
        return Err(InputError::new(format!("--launch-type {lt}: FARGATE, EC2 or EXTERNAL")).into());
    }
    if !args.gate.overrides.is_empty() && args.gate.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(InputError::new("--override needs --reason \"why\" (it is recorded in the audit log)").into());
    }
    if propagate == Propagate::Service && app.config.service.is_none() {
        return Err(InputError::in_file(&app.config.path, "--propagate-tags SERVICE needs `service` in the config").into());
    }
    let source = source(app, &args)?;
    let local_td = match (&source, &app.config.service) {
        (Source::Register(path), _) => Some(app.renderer().task_definition(path)?),
        // Without a service the family comes from the local file.
        (_, None) => Some(app.renderer().task_definition(app.task_definition_path()?)?),
        _ => None,
    };
    let sv = match &app.config.service_definition {
        Some(path) => Some(app.renderer().service_definition(path, app.config.service.as_deref())?),
        None => None,
    };
    if let (Source::Register(_), Some(td)) = (&source, &local_td) {
        check_task_definition(app, td, sv.as_ref(), &args)?;
    }

    let aws = app.aws().await?;
    let client = aws.ecs();
    let (td, td_arn) = match &source {
        Source::Register(_) => (local_td.clone().context("the task definition was rendered")?, None),
        other => {
            let arn = resolve_arn(app, &client, other, local_td.as_ref()).await?;
            let (def, _) = ecs::describe_task_definition(&client, &arn).await?;
            check_task_definition(app, &def, sv.as_ref(), &args)?;
            let arn = def.get("taskDefinitionArn").and_then(Value::as_str).map(str::to_owned).unwrap_or(arn);
            (def, Some(arn))
        }
    };
    let watch = watch_container(&td, args.watch_container.as_deref())?;
    if propagate == Propagate::Service {
        tags.extend(service_tags(app, &client).await?);
    }
    let family = crate::definitions::family(&td).unwrap_or_default().to_owned();
    let mut body = request(app, &args, &td, sv.as_ref(), overrides.clone(), &tags, propagate);
    body["taskDefinition"] = json!(td_arn.clone().unwrap_or_else(|| format!("{family} (to be registered)")));

    let plan = gate::PlanInput {
        command: "run".into(),
        task_definition: Some(td.clone()),
        task_definition_arn: td_arn.clone(),
        service_definition: sv.clone(),
        overrides: overrides.clone(),
        ..Default::default()
    };
    gate::check(app, &aws, plan, &args.gate.to_overrides(), args.dry_run).await?;

    if args.dry_run {
        match &td_arn {
            Some(arn) => tracing::info!("Task definition ARN: {arn}"),
            None => tracing::info!("task definition family {family} will be registered"),
        }
        println!("{}", serde_json::to_string_pretty(&body)?);
        tracing::info!("DRY RUN OK");
        return Ok(());
    }
    let td_arn = match td_arn {
        Some(a) => a,
        None => {
            let registered = ecs::register_task_definition(&client, &td).await?;
            registered.get("taskDefinitionArn").and_then(Value::as_str).context("RegisterTaskDefinition returned no ARN")?.to_owned()
        }
    };
    tracing::info!("Task definition ARN: {td_arn}");
    body["taskDefinition"] = json!(td_arn);
    let resp = task::run_task(&client, &body).await?;
    let arns: Vec<String> =
        resp.get("tasks").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("taskArn").and_then(Value::as_str)).map(str::to_owned).collect();
    if let Some(f) = resp.get("failures").and_then(Value::as_array).and_then(|f| f.first()) {
        let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("");
        let started = if arns.is_empty() { String::new() } else { format!(" (started anyway: {})", arns.join(" ")) };
        bail!("failed to run task: {} {} {}{started}", s("reason"), s("detail"), s("arn"));
    }
    if arns.is_empty() {
        bail!("RunTask started no task and reported no failure");
    }
    for a in &arns {
        tracing::info!("Task ARN: {a}");
    }
    if args.no_wait {
        for a in &arns {
            println!("{a}");
        }
        tracing::info!("Run task invoked");
        return Ok(());
    }
    let container = container_def(&td, &watch);
    let mut tail = match container.and_then(|c| log_tail(&aws, c, &watch, task::task_id(&arns[0]))) {
        Some(t) => Some(t),
        None => {
            tracing::info!("container {watch} does not log through awslogs with a stream prefix: its logs are not shown");
            None
        }
    };
    let fixed = poll_interval(app)?;
    let tasks = wait(&client, &app.config.cluster, &arns, args.wait_until, &mut tail, app.config.timeout, fixed).await?;
    if let Some(t) = tail.as_mut() {
        // CloudWatch Logs may still be ingesting the last lines.
        if t.poll().await == 0 {
            tokio::time::sleep(fixed.unwrap_or(Duration::from_secs(2)).min(Duration::from_secs(2))).await;
            t.poll().await;
        }
    }
    judge(&tasks, &arns, &watch, args.wait_until)?;
    tracing::info!("Run task completed!");
    Ok(())
}

fn source(app: &App, args: &RunArgs) -> Result<Source> {
    // As in ecspresso, --revision and --latest-task-definition say which revision
    // --skip-task-definition runs; only --task-def (register a file) excludes them.
    let registered = [args.revision.is_some(), args.latest_task_definition, args.skip_task_definition];
    if args.task_def.is_some() && registered.contains(&true) {
        return Err(InputError::new(
            "--task-def registers a file; --revision, --latest-task-definition and --skip-task-definition run a registered one: give one",
        )
        .into());
    }
    Ok(match (args.revision, args.latest_task_definition, args.skip_task_definition, &args.task_def) {
        (Some(n), _, _, _) => Source::Revision(n),
        (_, true, _, _) => Source::Latest,
        (_, _, true, _) => Source::Current,
        (_, _, _, Some(p)) => Source::Register(p.clone()),
        _ => Source::Register(app.task_definition_path()?.clone()),
    })
}

/// The task definition's ARN for `--revision`, `--latest-task-definition`, `--skip-task-definition`.
async fn resolve_arn(app: &App, client: &aws_sdk_ecs::Client, source: &Source, local_td: Option<&Value>) -> Result<String> {
    let service_td = match &app.config.service {
        Some(svc) => {
            let sv = ecs::describe_service(client, &app.config.cluster, svc)
                .await?
                .with_context(|| format!("service {svc} is not found in cluster {}", app.config.cluster))?;
            Some(sv.get("taskDefinition").and_then(Value::as_str).unwrap_or_default().to_owned())
        }
        None => None,
    };
    let family = match (&service_td, local_td) {
        (Some(arn), _) => ecs::family_of_arn(arn).unwrap_or(arn).to_owned(),
        (None, Some(td)) => crate::definitions::family(td).context("the task definition has no family")?.to_owned(),
        (None, None) => bail!("no task definition family: set service or task_definition in the config"),
    };
    match source {
        Source::Revision(n) => Ok(format!("{family}:{n}")),
        Source::Current if service_td.is_some() => Ok(service_td.unwrap_or_default()),
        _ => ecs::latest_task_definition_arn(client, &family).await?.with_context(|| format!("family {family} has no ACTIVE task definition")),
    }
}

/// `--watch-container`, else the first container; an unknown name is bad input (ecspresso panicked).
fn watch_container(td: &Value, wanted: Option<&str>) -> Result<String, InputError> {
    let names: Vec<&str> =
        td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("name").and_then(Value::as_str)).collect();
    match wanted {
        Some(w) if names.contains(&w) => Ok(w.to_owned()),
        Some(w) => Err(InputError::new(format!(
            "--watch-container {w}: task definition {} has no such container (it has {})",
            crate::definitions::family(td).unwrap_or("?"),
            names.join(", ")
        ))),
        None => names.first().map(|s| s.to_string()).ok_or_else(|| InputError::new("the task definition has no containers")),
    }
}

/// Everything about the task definition that would make RunTask fail or the run meaningless.
fn check_task_definition(app: &App, td: &Value, sv: Option<&Value>, args: &RunArgs) -> Result<(), InputError> {
    watch_container(td, args.watch_container.as_deref())?;
    if crate::verify::service::is_awsvpc(td) {
        let net = network_configuration(sv, args);
        let subnets = net.as_ref().and_then(|n| n.pointer("/awsvpcConfiguration/subnets")).and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        if subnets == 0 {
            let where_ = match &app.config.service_definition {
                Some(p) => format!("{} has no networkConfiguration.awsvpcConfiguration.subnets", p.display()),
                None => format!("{} has no service_definition", app.config.path.display()),
            };
            return Err(InputError::new(format!(
                "task definition {} uses the awsvpc network mode, so RunTask needs subnets: {where_}; pass --subnets (and --security-groups)",
                crate::definitions::family(td).unwrap_or("?")
            )));
        }
    }
    Ok(())
}

/// The service definition's network configuration with the command-line settings on top.
fn network_configuration(sv: Option<&Value>, args: &RunArgs) -> Option<Value> {
    let mut net = sv.and_then(|s| s.get("networkConfiguration")).cloned();
    if args.subnets.is_empty() && args.security_groups.is_empty() && args.assign_public_ip.is_none() {
        return net;
    }
    let n = net.get_or_insert_with(|| json!({"awsvpcConfiguration": {}}));
    if !n.get("awsvpcConfiguration").is_some_and(Value::is_object) {
        n["awsvpcConfiguration"] = json!({});
    }
    let c = &mut n["awsvpcConfiguration"];
    if !args.subnets.is_empty() {
        c["subnets"] = json!(args.subnets);
    }
    if !args.security_groups.is_empty() {
        c["securityGroups"] = json!(args.security_groups);
    }
    if let Some(ip) = &args.assign_public_ip {
        c["assignPublicIp"] = json!(ip);
    }
    net
}

/// The RunTask request (its `taskDefinition` is filled in by the caller).
fn request(app: &App, args: &RunArgs, td: &Value, sv: Option<&Value>, overrides: Option<Value>, tags: &[(String, String)], propagate: Propagate) -> Value {
    let mut b = Map::new();
    b.insert("cluster".into(), json!(app.config.cluster));
    b.insert("count".into(), json!(args.count));
    if let Some(sv) = sv {
        for k in [
            "launchType",
            "capacityProviderStrategy",
            "placementConstraints",
            "placementStrategy",
            "platformVersion",
            "enableECSManagedTags",
            "enableExecuteCommand",
        ] {
            if let Some(v) = sv.get(k) {
                b.insert(k.into(), v.clone());
            }
        }
    }
    if let Some(net) = network_configuration(sv, args) {
        b.insert("networkConfiguration".into(), net);
    }
    if let Some(vcs) = sv.and_then(|s| s.get("volumeConfigurations")).and_then(Value::as_array) {
        b.insert("volumeConfigurations".into(), task_volume_configurations(vcs, !args.no_ebs_delete_on_termination));
    }
    if let Some(lt) = &args.launch_type {
        b.insert("launchType".into(), json!(lt));
        b.remove("capacityProviderStrategy");
        if lt != "FARGATE" {
            b.remove("platformVersion");
        }
    } else if !b.contains_key("launchType") && !b.contains_key("capacityProviderStrategy") {
        let only_fargate = td.get("requiresCompatibilities").and_then(Value::as_array).is_some_and(|c| c.len() == 1 && c[0] == "FARGATE");
        if only_fargate {
            b.insert("launchType".into(), json!("FARGATE"));
        }
    }
    if let Some(o) = overrides {
        b.insert("overrides".into(), o);
    }
    if !tags.is_empty() {
        b.insert("tags".into(), Value::Array(tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect()));
    }
    if propagate == Propagate::TaskDefinition {
        b.insert("propagateTags".into(), json!("TASK_DEFINITION"));
    }
    if let Some(t) = &args.client_token {
        b.insert("clientToken".into(), json!(t));
    }
    Value::Object(b)
}

/// The service definition's managed EBS volumes as RunTask wants them (ecspresso's conversion):
/// the same settings plus a termination policy from `--[no-]ebs-delete-on-termination`.
fn task_volume_configurations(service_volumes: &[Value], delete_on_termination: bool) -> Value {
    let converted = service_volumes.iter().map(|vc| {
        let mut task_vc = json!({"name": vc.get("name").cloned().unwrap_or(Value::Null)});
        if let Some(ebs) = vc.get("managedEBSVolume").and_then(Value::as_object) {
            let mut ebs = ebs.clone();
            ebs.insert("terminationPolicy".into(), json!({"deleteOnTermination": delete_on_termination}));
            task_vc["managedEBSVolume"] = Value::Object(ebs);
        }
        task_vc
    });
    Value::Array(converted.collect())
}

/// `--overrides` (plain JSON, wins) or `--overrides-file` (rendered like a definition file).
fn read_overrides(app: &App, args: &RunArgs) -> Result<Option<Value>> {
    let raw = match (&args.task_overrides, &args.overrides_file) {
        (Some(text), _) => serde_json::from_str::<Value>(text).map_err(|e| InputError::new(format!("--overrides: not JSON: {e}")))?,
        (None, Some(path)) => app.renderer().render_file(path, "--overrides-file")?,
        (None, None) => return Ok(None),
    };
    if !raw.is_object() {
        let from =
            args.overrides_file.as_ref().filter(|_| args.task_overrides.is_none()).map(|p| p.display().to_string()).unwrap_or_else(|| "--overrides".into());
        return Err(InputError::new(format!("{from}: a TaskOverride must be a JSON object, found {}", crate::config::kind(&raw))).into());
    }
    Ok(Some(crate::definitions::keys::normalise(raw)))
}

/// `K=V,K2=V2`: empty values are allowed and a trailing comma is ignored; `K`, `=V` are not tags.
pub fn parse_tags(s: &str) -> Result<Vec<(String, String)>, InputError> {
    let s = s.strip_suffix(',').unwrap_or(s);
    if s.is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(InputError::new(format!("--tags: {kv:?} is not KEY=VALUE"))),
        })
        .collect()
}

fn parse_propagate(s: Option<&str>) -> Result<Propagate, InputError> {
    match s.unwrap_or("") {
        "" | "NONE" => Ok(Propagate::None),
        "SERVICE" => Ok(Propagate::Service),
        "TASK_DEFINITION" => Ok(Propagate::TaskDefinition),
        other => Err(InputError::new(format!("--propagate-tags {other}: SERVICE, TASK_DEFINITION or NONE"))),
    }
}

/// The running service's tags (ecspresso read the ARN from the file, where it is normally empty).
async fn service_tags(app: &App, client: &aws_sdk_ecs::Client) -> Result<Vec<(String, String)>> {
    let svc = app.config.service.as_deref().unwrap_or_default();
    let sv = ecs::describe_service(client, &app.config.cluster, svc)
        .await?
        .with_context(|| format!("service {svc} is not found in cluster {}", app.config.cluster))?;
    let arn = sv.get("serviceArn").and_then(Value::as_str).unwrap_or_default();
    let out = client.list_tags_for_resource().resource_arn(arn).send().await.sdk_context(|| format!("listing the tags of {arn}"))?;
    Ok(out
        .tags()
        .iter()
        .filter(|t| !t.key().unwrap_or("").starts_with("aws:"))
        .map(|t| (t.key().unwrap_or("").to_owned(), t.value().unwrap_or("").to_owned()))
        .collect())
}

fn container_def<'a>(td: &'a Value, name: &str) -> Option<&'a Value> {
    td.get("containerDefinitions")?.as_array()?.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// A fixed poll interval from `CORTADO_POLL_INTERVAL` (Go duration; the tests use a fraction of a
/// second); None means deploy's schedule (2 s, backing off as the wait goes on).
fn poll_interval(app: &App) -> Result<Option<Duration>> {
    match app.env.get("CORTADO_POLL_INTERVAL").filter(|v| !v.is_empty()) {
        Some(v) => crate::config::duration::parse_go_duration(v)
            .ok()
            .filter(|d| *d > Duration::ZERO)
            .map(Some)
            .ok_or_else(|| InputError::new(format!("CORTADO_POLL_INTERVAL={v}: not a positive Go duration (500ms, 5s)")).into()),
        None => Ok(None),
    }
}

/// Follows `<prefix>/<container>/<taskId>` in the container's awslogs group and region.
struct LogTail {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
    stream: String,
    token: Option<String>,
    warned: bool,
}

fn log_tail(aws: &crate::aws::Aws, container: &Value, name: &str, task_id: &str) -> Option<LogTail> {
    let opts = crate::verify::logs::awslogs_options(container)?;
    let group = opts.get("awslogs-group")?.clone();
    let prefix = opts.get("awslogs-stream-prefix").filter(|p| !p.is_empty())?;
    let mut sdk = aws.sdk.clone();
    if let Some(region) = opts.get("awslogs-region").filter(|r| !r.is_empty() && Some(r.as_str()) != aws.sdk.region().map(|x| x.as_ref())) {
        sdk = sdk.into_builder().region(aws_config::Region::new(region.clone())).build();
    }
    Some(LogTail { client: aws_sdk_cloudwatchlogs::Client::new(&sdk), group, stream: format!("{prefix}/{name}/{task_id}"), token: None, warned: false })
}

impl LogTail {
    /// Prints every new event (`YYYY/MM/DD HH:MM:SS message`, local time) and returns how many.
    async fn poll(&mut self) -> usize {
        let mut printed = 0;
        loop {
            let mut req = self.client.get_log_events().log_group_name(&self.group).log_stream_name(&self.stream).start_from_head(true);
            if let Some(t) = &self.token {
                req = req.next_token(t);
            }
            let out = match req.send().await {
                Ok(o) => o,
                Err(e) => {
                    let msg = crate::aws::describe_error(&e);
                    // The stream appears once the container starts.
                    if !msg.contains("ResourceNotFound") && !self.warned {
                        tracing::warn!("cannot read logs of {}/{}: {msg}", self.group, self.stream);
                        self.warned = true;
                    }
                    return printed;
                }
            };
            let mut stdout = std::io::stdout().lock();
            for e in out.events() {
                let when = e
                    .timestamp()
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y/%m/%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                let _ = writeln!(stdout, "{when} {}", e.message().unwrap_or(""));
                printed += 1;
            }
            let _ = stdout.flush();
            let next = out.next_forward_token().map(str::to_owned);
            let unchanged = next.is_none() || next == self.token;
            self.token = next.or(self.token.take());
            if unchanged || out.events().is_empty() {
                return printed;
            }
        }
    }
}

/// Polls the tasks (and their logs) until they are all running or stopped.
async fn wait(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    until: WaitUntil,
    tail: &mut Option<LogTail>,
    timeout: Duration,
    fixed: Option<Duration>,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    let mut last: Vec<String> = vec![String::new(); arns.len()];
    loop {
        tokio::select! {
            _ = tokio::time::sleep(fixed.unwrap_or_else(|| crate::deploy::wait::poll_interval(start.elapsed()))) => {}
            _ = tokio::signal::ctrl_c() => bail!("interrupted; the task keeps running: {}", arns.join(" ")),
        }
        let (tasks, failures) = task::describe_tasks(client, cluster, arns).await?;
        if let Some(f) = failures.first() {
            bail!("describing the task failed: {f}");
        }
        if let Some(t) = tail.as_mut() {
            t.poll().await;
        }
        let status = |arn: &str| {
            tasks
                .iter()
                .find(|t| t.get("taskArn").and_then(Value::as_str) == Some(arn))
                .and_then(|t| t.get("lastStatus"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let now: Vec<String> = arns.iter().map(|a| status(a)).collect();
        for (i, s) in now.iter().enumerate() {
            if *s != last[i] {
                tracing::info!("task {}: {s}", task::task_id(&arns[i]));
            }
        }
        last = now;
        let all = |want: &str| last.iter().all(|s| s == want);
        let done = match until {
            WaitUntil::Stopped => all("STOPPED"),
            WaitUntil::Running => all("RUNNING") || last.iter().any(|s| s == "STOPPED"),
        };
        if done {
            return Ok(tasks);
        }
        if !timeout.is_zero() && start.elapsed() >= timeout {
            let what = if until == WaitUntil::Running { "running" } else { "stopped" };
            bail!("timed out after {timeout:?} waiting for the task to be {what}; it keeps running: {}", arns.join(" "));
        }
    }
}

/// Success, or the first failure in task order: a task that failed to start (exit 1), the watched
/// container's non-zero exit code (cortado exits with it), or a container that ended without one.
fn judge(tasks: &[Value], arns: &[String], watch: &str, until: WaitUntil) -> Result<()> {
    let mut first_exit: Option<ExitWith> = None;
    for arn in arns {
        let Some(t) = tasks.iter().find(|t| t.get("taskArn").and_then(Value::as_str) == Some(arn.as_str())) else {
            bail!("task {arn} was not described");
        };
        let id = task::task_id(arn);
        let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
        if s("lastStatus") != "STOPPED" {
            continue; // --wait-until running, and it is
        }
        if s("stopCode") == "TaskFailedToStart" {
            bail!("task {id} failed to start: {}", s("stoppedReason"));
        }
        let c = t.get("containers").and_then(Value::as_array).into_iter().flatten().find(|c| c.get("name").and_then(Value::as_str) == Some(watch));
        let exit = c.and_then(|c| c.get("exitCode")).and_then(Value::as_i64);
        let reason = c.and_then(|c| c.get("reason")).and_then(Value::as_str).filter(|r| !r.is_empty());
        match (exit, reason) {
            (Some(0), _) if until == WaitUntil::Running => bail!("task {id} stopped before it was running (container {watch} exited with code 0)"),
            (Some(0), _) => {}
            (Some(code), r) => {
                let why = r.map(|r| format!(", reason: {r}")).unwrap_or_default();
                first_exit.get_or_insert(ExitWith { code: code as i32, message: format!("task {id}: container {watch} exited with code {code}{why}") });
            }
            (None, Some(r)) => bail!("task {id}: container {watch}: {r}"),
            (None, None) => bail!("task {id} stopped without an exit code for container {watch}: {}", s("stoppedReason")),
        }
    }
    match first_exit {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tags("a=1,b=,c=x=y,").unwrap(), vec![("a".into(), "1".into()), ("b".into(), "".into()), ("c".into(), "x=y".into())]);
        assert!(parse_tags("Foo").is_err());
        assert!(parse_tags("=").is_err());
        assert!(parse_tags("Foo=,Bar").is_err());
        assert!(parse_tags("").unwrap().is_empty());
    }

    #[test]
    fn watch_containers() {
        let td = json!({"family": "f", "containerDefinitions": [{"name": "app"}, {"name": "sidecar"}]});
        assert_eq!(watch_container(&td, None).unwrap(), "app");
        assert_eq!(watch_container(&td, Some("sidecar")).unwrap(), "sidecar");
        let e = watch_container(&td, Some("nope")).unwrap_err();
        assert!(e.0.contains("has no such container (it has app, sidecar)"), "{e}");
    }

    #[test]
    fn judging_exit_codes() {
        let task = |arn: &str, code: Option<i64>| {
            json!({"taskArn": arn, "lastStatus": "STOPPED", "stoppedReason": "Essential container in task exited",
                   "containers": [{"name": "app", "exitCode": code}]})
        };
        let arns = vec!["t/1".to_owned(), "t/2".to_owned()];
        assert!(judge(&[task("t/1", Some(0)), task("t/2", Some(0))], &arns, "app", WaitUntil::Stopped).is_ok());
        let e = judge(&[task("t/1", Some(0)), task("t/2", Some(3))], &arns, "app", WaitUntil::Stopped).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 3);
        let e = judge(&[task("t/1", None), task("t/2", Some(0))], &arns, "app", WaitUntil::Stopped).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 1);
        let failed = json!({"taskArn": "t/1", "lastStatus": "STOPPED", "stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError"});
        let e = judge(&[failed], &arns[..1], "app", WaitUntil::Stopped).unwrap_err();
        assert!(e.to_string().contains("CannotPullContainerError"));
    }
}
