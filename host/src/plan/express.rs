//! Plans for an ECS Express service (`express_definition` in the config, ecspresso v2.6.5+):
//! deploy (CreateExpressGatewayService when there is none, UpdateExpressGatewayService with only
//! what Update accepts when the definition differs, nothing when it does not; the service's tags
//! with TagResource/UntagResource) and delete (DeleteExpressGatewayService). Each is a plan of
//! exact requests, gated and applied like a service's.
//!
//! A config that also names a `task_definition` deploys it as the service's custom task
//! definition (Express mode, 2026-07): registered unless the family's newest ACTIVE revision has the
//! same body, its ARN sent as `taskDefinitionArn`.

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use super::step::Step;
use super::{Plan, PlannedTd, Role, td_display, td_member};
use crate::aws::{Aws, express};
use crate::context::Context;
use crate::diff::Pair;
use crate::error::InputError;

/// The members of UpdateExpressGatewayService's input a definition can carry. `serviceName`,
/// `cluster`, `infrastructureRoleArn` and `tags` cannot change after creation.
const UPDATABLE: &[&str] = &[
    "executionRoleArn",
    "healthCheckPath",
    "primaryContainer",
    "taskRoleArn",
    "networkConfiguration",
    "cpu",
    "memory",
    "cpuArchitecture",
    "scalingTarget",
    "taskDefinitionArn",
];

/// What AWS fills in when a definition leaves it out (the API reference's defaults): equal to its
/// absence in a diff.
const DEFAULTS: &[(&str, &str)] = &[("cpu", "256"), ("memory", "512"), ("healthCheckPath", "/ping"), ("cpuArchitecture", "X86_64")];

/// Members ECS chooses when the definition leaves them out (the default VPC, scaling, a log group,
/// the task definition it manages): a remote value is compared only when the file sets one.
const CHOSEN_BY_ECS: &[&str] = &["/networkConfiguration", "/scalingTarget", "/taskDefinitionArn", "/primaryContainer/awsLogsConfiguration"];

/// Members a custom task definition (`taskDefinitionArn`) replaces: ECS still describes them.
const FROM_TASK_DEFINITION: &[&str] = &["/primaryContainer", "/executionRoleArn", "/taskRoleArn", "/cpu", "/memory", "/cpuArchitecture"];

/// The express definition file, rendered, and the custom task definition file when the config
/// names one (`task_definition`).
pub struct Local {
    pub name: String,
    pub definition: Value,
    pub task_definition: Option<Value>,
}

/// What runs: the ECS service of that name, and its Express view (None when there is none).
pub struct Remote {
    pub service: Option<Value>,
    pub express: Option<Value>,
    /// The Express service as CreateExpressGatewayService would take it (its newest configuration).
    pub definition: Option<Value>,
}

impl Remote {
    pub fn arn(&self) -> Option<&str> {
        self.express.as_ref().and_then(|e| e.get("serviceArn")).or_else(|| self.service.as_ref().and_then(|s| s.get("serviceArn"))).and_then(Value::as_str)
    }
}

pub struct ExpressPlan {
    pub plan: Plan,
    pub remote: Remote,
}

/// Renders the express definition (bad input fails before any AWS call).
pub fn local(ctx: &Context) -> Result<Local> {
    let path = ctx.config.express_definition.as_ref().ok_or_else(|| InputError::in_file(&ctx.config.path, "express_definition is not defined"))?;
    let name = ctx.config.service.clone().ok_or_else(|| InputError::in_file(&ctx.config.path, "key \"service\": an Express service needs its name"))?;
    let definition = ctx.renderer().express_definition(path, &name, &ctx.config.cluster)?;
    let task_definition = ctx.config.task_definition.as_ref().map(|p| ctx.renderer().task_definition(p)).transpose()?;
    let given: Vec<&str> = TASK_DEFINITION_MEMBERS.iter().copied().filter(|k| definition.get(*k).is_some()).collect();
    if definition.get("taskDefinitionArn").is_some() && !given.is_empty() {
        let keys = given.join(", ");
        return Err(InputError::in_file(
            path,
            format!("key \"taskDefinitionArn\": ECS refuses {keys} beside a custom task definition; remove one or the other"),
        )
        .into());
    }
    if task_definition.is_some() {
        let given: Vec<&str> = TASK_DEFINITION_MEMBERS.iter().copied().filter(|k| definition.get(*k).is_some()).collect();
        if !given.is_empty() || definition.get("taskDefinitionArn").is_some() {
            let keys = if given.is_empty() { "taskDefinitionArn".to_owned() } else { given.join(", ") };
            return Err(InputError::in_file(
                path,
                format!("{keys}: the config's task_definition is the service's task definition; remove them from the express definition"),
            )
            .into());
        }
    }
    Ok(Local { name, definition, task_definition })
}

/// What the config's task definition replaces in an express definition (ECS refuses them beside
/// `taskDefinitionArn`).
const TASK_DEFINITION_MEMBERS: &[&str] = &["primaryContainer", "executionRoleArn", "taskRoleArn", "cpu", "memory", "cpuArchitecture"];

/// Reads the config's service and, when it is an Express service, its Express view.
pub async fn remote(ctx: &Context, aws: &Aws, name: &str) -> Result<Remote> {
    let ecs = aws.ecs();
    let service = crate::aws::ecs::describe_service(&ecs, &ctx.config.cluster, name).await?;
    let Some(sv) = &service else { return Ok(Remote { service, express: None, definition: None }) };
    if !express::is_express(sv) {
        bail!(
            "service {name} in cluster {} is not an Express service (resourceManagementType {}): express_definition manages only services ECS manages",
            ctx.config.cluster,
            sv.get("resourceManagementType").and_then(Value::as_str).unwrap_or("CUSTOMER")
        );
    }
    let arn = sv.get("serviceArn").and_then(Value::as_str).context("DescribeServices returned no serviceArn")?;
    let found = express::describe(&ecs, arn).await?;
    let definition = found.as_ref().map(|e| with_service_tags(as_definition(e, name, &ctx.config.cluster), service.as_ref()));
    Ok(Remote { service, express: found, definition })
}

/// An Express service in CreateExpressGatewayService's terms: its infrastructure role and its newest
/// active configuration (ecspresso's DescribeExpressGatewayService view).
pub fn as_definition(svc: &Value, name: &str, cluster: &str) -> Value {
    let mut def = Map::new();
    def.insert("serviceName".into(), json!(name));
    def.insert("cluster".into(), json!(cluster));
    if let Some(r) = svc.get("infrastructureRoleArn") {
        def.insert("infrastructureRoleArn".into(), r.clone());
    }
    if let Some(Value::Object(c)) = express::newest_configuration(svc) {
        for k in UPDATABLE {
            if let Some(v) = c.get(*k).filter(|v| !v.is_null()) {
                def.insert((*k).into(), v.clone());
            }
        }
    }
    Value::Object(def)
}

/// The service's tags (DescribeServices answers them; DescribeExpressGatewayService only on request).
fn with_service_tags(mut def: Value, service: Option<&Value>) -> Value {
    if let (Value::Object(o), Some(tags)) = (&mut def, service.and_then(|s| s.get("tags"))) {
        o.insert("tags".into(), tags.clone());
    }
    def
}

/// A definition for comparison. The client token is not compared; tags are a set by key (those
/// `ignore.tags` names left out); AWS's defaults equal their absence; lists ECS may reorder are
/// sorted; a remote member ECS chose because the file (`local`) left it out is dropped.
pub fn normalise(def: &Value, local: Option<&Value>, ignore_tags: &[String]) -> Value {
    let mut d = def.clone();
    let Value::Object(o) = &mut d else { return d };
    o.remove("clientToken");
    tidy_tags(o, ignore_tags);
    for (k, default) in DEFAULTS {
        if o.get(*k).and_then(Value::as_str) == Some(default) {
            o.remove(*k);
        }
    }
    if let Some(local) = local {
        let custom_td = local.get("taskDefinitionArn").is_some();
        for p in CHOSEN_BY_ECS.iter().chain(if custom_td { FROM_TASK_DEFINITION } else { &[] }) {
            if local.pointer(p).is_none() {
                remove_pointer(&mut d, p);
            }
        }
    }
    tidy_scaling(&mut d);
    tidy_network(&mut d);
    tidy_container(&mut d);
    d
}

/// Tags sorted by key, ignored ones dropped, none equal to absent.
fn tidy_tags(o: &mut Map<String, Value>, ignore: &[String]) {
    let Some(Value::Array(tags)) = o.get_mut("tags") else { return };
    tags.retain(|t| t.get("key").and_then(Value::as_str).is_none_or(|k| !ignore.iter().any(|i| i == k)));
    tags.sort_by(|a, b| a.get("key").and_then(Value::as_str).cmp(&b.get("key").and_then(Value::as_str)));
    if tags.is_empty() {
        o.remove("tags");
    }
}

/// Without tags (they change through TagResource/UntagResource, not Update).
fn untagged(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(o) = &mut v {
        o.remove("tags");
    }
    v
}

/// Removes the member a JSON pointer names (a no-op when absent).
fn remove_pointer(v: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else { return };
    if let Some(Value::Object(o)) = v.pointer_mut(parent) {
        o.remove(key);
    }
}

/// The scaling target's documented defaults (metric AVERAGE_CPU, target value 60) equal absence.
fn tidy_scaling(d: &mut Value) {
    let Some(Value::Object(s)) = d.get_mut("scalingTarget") else { return };
    if s.get("autoScalingMetric").and_then(Value::as_str) == Some("AVERAGE_CPU") {
        s.remove("autoScalingMetric");
    }
    if s.get("autoScalingTargetValue").and_then(Value::as_i64) == Some(60) {
        s.remove("autoScalingTargetValue");
    }
    if s.is_empty() {
        remove_pointer(d, "/scalingTarget");
    }
}

/// Subnets and security groups are sets.
fn tidy_network(d: &mut Value) {
    let Some(Value::Object(n)) = d.get_mut("networkConfiguration") else { return };
    for k in ["subnets", "securityGroups"] {
        if let Some(Value::Array(a)) = n.get_mut(k) {
            a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
        }
    }
}

/// Environment variables and secrets are sets keyed by name (empty equals absent); the container
/// port's default is 80.
fn tidy_container(d: &mut Value) {
    let Some(Value::Object(c)) = d.get_mut("primaryContainer") else { return };
    if c.get("containerPort").and_then(Value::as_i64) == Some(80) {
        c.remove("containerPort");
    }
    for k in ["environment", "secrets", "command"] {
        match c.get_mut(k) {
            Some(Value::Array(a)) if a.is_empty() => {
                c.remove(k);
            }
            Some(Value::Array(a)) if k != "command" => a.sort_by(|x, y| x.get("name").and_then(Value::as_str).cmp(&y.get("name").and_then(Value::as_str))),
            _ => {}
        }
    }
}

/// UpdateExpressGatewayService's input: the service's ARN and the updatable members of the file.
/// Update keeps what a request leaves out, so environment variables and secrets the file dropped
/// are sent as empty lists (ecspresso does the same) to remove them.
fn update_input(arn: &str, local: &Value, remote: Option<&Value>) -> Value {
    let mut input = Map::new();
    input.insert("serviceArn".into(), json!(arn));
    for k in UPDATABLE {
        if let Some(v) = local.get(*k) {
            input.insert((*k).into(), v.clone());
        }
    }
    if let Some(Value::Object(pc)) = input.get_mut("primaryContainer") {
        for k in ["environment", "secrets"] {
            let remote_has = remote.and_then(|r| r.pointer(&format!("/primaryContainer/{k}"))).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
            if remote_has && !pc.contains_key(k) {
                pc.insert(k.into(), json!([]));
            }
        }
    }
    Value::Object(input)
}

/// `deploy`: create the Express service, or update it when its definition differs; register the
/// config's custom task definition first when it changed; then the service's tags.
pub async fn deploy(ctx: &Context, aws: &Aws, force_register: bool) -> Result<ExpressPlan> {
    let Compared { mut plan, local, remote, local_view, remote_view, .. } = compare(ctx, aws, force_register).await?;
    let ignore = &ctx.config.ignore.tags;
    let resource = format!("Express service {}", local.name);
    match (&remote.express, &remote.definition) {
        (Some(e), _) if express::status_code(e) == "DRAINING" => {
            bail!("Express service {} in cluster {} is being deleted (DRAINING): deploy again once it is gone", local.name, ctx.config.cluster)
        }
        (Some(_), Some(current)) => {
            check_unchangeable(ctx, &local.definition, current)?;
            let arn = remote.arn().context("the Express service has no serviceArn")?.to_owned();
            if remote_view.as_ref().map(untagged) != Some(untagged(&local_view)) {
                let input = update_input(&arn, &local.definition, Some(current));
                plan.service_after = Some(input.clone());
                plan.push(Step::ecs("UpdateExpressGatewayService", input, resource));
            }
            let remote_tags = remote.service.as_ref().and_then(|s| s.get("tags"));
            let (set, remove) = super::service::tag_changes(local.definition.get("tags"), remote_tags, ignore);
            if !set.is_empty() {
                plan.push(super::deploy::tag_step(&arn, &set));
            }
            if !remove.is_empty() {
                plan.push(super::deploy::untag_step(&arn, &remove));
            }
        }
        _ => {
            plan.service_after = Some(local.definition.clone());
            plan.push(Step::ecs("CreateExpressGatewayService", local.definition.clone(), resource));
        }
    }
    Ok(ExpressPlan { plan, remote })
}

/// A deploy's starting point: the plan with its diff (and the custom task definition's
/// registration, when it changed), the definitions and their comparable views.
pub struct Compared {
    pub plan: Plan,
    pub local: Local,
    pub remote: Remote,
    pub local_view: Value,
    pub remote_view: Option<Value>,
    /// What `diff` compares, in order: the express definition, then the custom task definition
    /// when it is to be registered (`plan.diff` is their unified diffs).
    pub pairs: Vec<Pair>,
}

/// Renders, reads what runs and compares (`diff` prints the result's `plan.diff`).
pub async fn compare(ctx: &Context, aws: &Aws, force_register: bool) -> Result<Compared> {
    let mut local = local(ctx)?;
    let remote = remote(ctx, aws, &local.name).await?;
    let mut plan = Plan::new("deploy", &ctx.config.cluster, Some(&local.name));
    let ignore = &ctx.config.ignore.tags;
    let path = ctx.config.express_definition.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    // The definition as compared: a task definition still to be registered reads as such.
    let mut shown = local.definition.clone();
    let mut td_pair = None;
    if let Some(td) = local.task_definition.clone() {
        let (member, pair) = custom_task_definition(ctx, aws, &mut plan, td, force_register).await?;
        shown["taskDefinitionArn"] = json!(td_display(&member));
        local.definition["taskDefinitionArn"] = member;
        td_pair = pair;
    }
    let local_view = normalise(&shown, None, ignore);
    let remote_view = remote.definition.as_ref().map(|r| normalise(r, Some(&shown), ignore));
    let remote_name = remote.arn().unwrap_or(&local.name).to_owned();
    let def_pair = Pair { remote: remote_view.clone(), local: local_view.clone(), remote_name, local_name: path };
    let pairs: Vec<Pair> = std::iter::once(def_pair).chain(td_pair).collect();
    plan.diff = pairs.iter().map(Pair::unified).collect();
    plan.service_before = remote.express.clone();
    Ok(Compared { plan, local, remote, local_view, remote_view, pairs })
}

/// The config's task definition: the family's newest ACTIVE revision when its body is the same,
/// else a RegisterTaskDefinition step. Returns the `taskDefinitionArn` member (an ARN or a
/// reference to the registered one) and, when it is to be registered, its comparison with the
/// family's newest revision.
async fn custom_task_definition(ctx: &Context, aws: &Aws, plan: &mut Plan, td: Value, force_register: bool) -> Result<(Value, Option<Pair>)> {
    let family = crate::definitions::family(&td).unwrap_or_default().to_owned();
    let arn = super::deploy::reuse_latest(&aws.ecs(), &family, &td, force_register).await?;
    let registered = arn.is_none().then(|| plan.push(super::deploy::register_step(&td)));
    let member = td_member(arn.as_deref(), registered);
    let mut pair = None;
    if let Some(path) = &ctx.config.task_definition
        && arn.is_none()
    {
        let latest = crate::aws::ecs::latest_task_definition_arn(&aws.ecs(), &family).await?;
        let current = match &latest {
            Some(a) => Some(crate::aws::ecs::registerable(&crate::aws::ecs::describe_task_definition(&aws.ecs(), a).await?.0, &Value::Null)),
            None => None,
        };
        pair = Some(Pair::task_definition(&td, current.as_ref(), latest.as_deref().unwrap_or(&family), &path.display().to_string()));
    }
    plan.task_definitions.push(PlannedTd { arn, body: td, role: Role::Runs });
    Ok((member, pair))
}

/// The infrastructure role cannot change after creation (UpdateExpressGatewayService has no such
/// member): refused before anything is sent, naming the file and key.
fn check_unchangeable(ctx: &Context, local: &Value, remote: &Value) -> Result<()> {
    let (l, r) = (local.get("infrastructureRoleArn"), remote.get("infrastructureRoleArn"));
    if r.is_some() && l != r {
        let path = ctx.config.express_definition.as_deref().unwrap_or(&ctx.config.path);
        let current = r.and_then(Value::as_str).unwrap_or("?");
        return Err(InputError::in_file(
            path,
            format!("key \"infrastructureRoleArn\": an Express service's infrastructure role cannot change after creation (it is {current}); delete the service and deploy again"),
        )
        .into());
    }
    Ok(())
}

/// `delete`: DeleteExpressGatewayService (ECS drains the tasks and removes the load balancer,
/// target groups, security groups and scaling policies it made).
pub async fn delete(ctx: &Context, aws: &Aws) -> Result<ExpressPlan> {
    let local = local(ctx)?;
    let remote = remote(ctx, aws, &local.name).await?;
    let Some(arn) = remote.express.as_ref().and_then(|e| e.get("serviceArn")).and_then(Value::as_str).map(str::to_owned) else {
        bail!("Express service {} is not found in cluster {}", local.name, ctx.config.cluster);
    };
    let mut plan = Plan::new("delete", &ctx.config.cluster, Some(&local.name));
    plan.service_before = remote.express.clone();
    plan.push(Step::ecs("DeleteExpressGatewayService", json!({"serviceArn": arn}), format!("Express service {}", local.name)));
    Ok(ExpressPlan { plan, remote })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_what_ecs_chose_equal_their_absence() {
        let local = json!({"serviceName": "web", "cluster": "c", "infrastructureRoleArn": "r",
            "primaryContainer": {"image": "nginx:1", "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
            "tags": [{"key": "k", "value": "v"}, {"key": "a", "value": "b"}]});
        let remote = json!({"serviceName": "web", "cluster": "c", "infrastructureRoleArn": "r", "cpu": "256",
            "tags": [{"key": "a", "value": "b"}, {"key": "k", "value": "v"}, {"key": "owned-elsewhere", "value": "x"}], "memory": "512", "healthCheckPath": "/ping",
            "cpuArchitecture": "X86_64", "taskDefinitionArn": "arn:td/web:1", "networkConfiguration": {"subnets": ["s2", "s1"]},
            "scalingTarget": {"minTaskCount": 1, "maxTaskCount": 20, "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60},
            "primaryContainer": {"image": "nginx:1", "containerPort": 80, "awsLogsConfiguration": {"logGroup": "g", "logStreamPrefix": "ecs"},
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}});
        let ignore = ["owned-elsewhere".to_owned()];
        assert_eq!(normalise(&remote, Some(&local), &ignore), normalise(&local, None, &ignore));
        let sized = json!({"serviceName": "web", "cluster": "c", "infrastructureRoleArn": "r", "cpu": "1024", "primaryContainer": {"image": "nginx:1"}});
        assert_ne!(normalise(&remote, Some(&sized), &[]), normalise(&sized, None, &[]), "a size the file sets is compared");
    }

    #[test]
    fn update_carries_only_what_update_accepts_and_clears_dropped_variables() {
        let local =
            json!({"serviceName": "web", "cluster": "c", "infrastructureRoleArn": "r", "tags": [], "cpu": "512", "primaryContainer": {"image": "nginx:2"}});
        let remote = json!({"primaryContainer": {"image": "nginx:1", "environment": [{"name": "A", "value": "1"}]}});
        let input = update_input("arn:svc", &local, Some(&remote));
        assert_eq!(input, json!({"serviceArn": "arn:svc", "cpu": "512", "primaryContainer": {"image": "nginx:2", "environment": []}}));
    }
}
