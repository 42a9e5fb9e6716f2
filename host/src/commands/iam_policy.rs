//! `cortado iam-policy`: the IAM policy this config needs — the actions of the commands cortado
//! runs for it, scoped to its cluster, service and roles where IAM allows, plus every plugin grant.
//! ecspresso users assemble this by hand from its README.

use anyhow::Result;
use serde_json::{Value, json};

use super::{App, iam_refs};
use crate::aws::arn::{Arn, Partition};
use crate::aws::controller::Controller;
use crate::config::{Grant, PluginConfig};
use crate::context::Globals;
use crate::env::Env;
use crate::plugin::grants;

/// `cortado iam-policy`: loads the config, then prints its policy.
pub fn exec(globals: Globals, env: Env) -> Result<()> {
    let app = App::load(globals, env)?;
    run(&app)
}

pub fn run(app: &App) -> Result<()> {
    let policy = build(app)?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(())
}

/// The daemon's name from its rendered definition file (None when it cannot be rendered offline).
fn daemon_name(app: &App) -> Option<&'static str> {
    let d = app.config.daemon.as_ref()?;
    let def = app.renderer().daemon_definition(&d.definition, None).ok()?;
    // Leaked once per `iam-policy` run: a short-lived process printing one document.
    Some(Box::leak(def.get("daemonName")?.as_str()?.to_owned().into_boxed_str()))
}

/// ECS Managed Daemons: the daemon task definitions (unscoped, like task definitions), the daemon
/// and its deployments and revisions.
fn daemon_statements(statements: &mut Vec<Value>, tagged: &mut Vec<String>, region: &str, cluster: &str, name: &str) {
    statements.push(json!({
        "Sid": "CortadoDaemonTaskDefinitions",
        "Effect": "Allow",
        "Action": ["ecs:DeleteDaemonTaskDefinition", "ecs:DescribeDaemonTaskDefinition", "ecs:ListDaemonTaskDefinitions", "ecs:RegisterDaemonTaskDefinition"],
        "Resource": "*"
    }));
    let partition = crate::aws::arn::Partition::of_region(region).as_str();
    let daemon_arn = format!("arn:{partition}:ecs:{region}:*:daemon/{cluster}/{name}");
    statements.push(json!({
        "Sid": "CortadoDaemon",
        "Effect": "Allow",
        "Action": ["ecs:CreateDaemon", "ecs:DeleteDaemon", "ecs:DescribeDaemon", "ecs:DescribeDaemonDeployments", "ecs:DescribeDaemonRevisions", "ecs:ListDaemonDeployments", "ecs:UpdateDaemon"],
        "Resource": [
            daemon_arn.clone(),
            format!("arn:{partition}:ecs:{region}:*:daemon-deployment/{cluster}/{name}/*"),
            format!("arn:{partition}:ecs:{region}:*:daemon-revision/{cluster}/{name}/*")
        ]
    }));
    tagged.push(daemon_arn);
    tagged.push(format!("arn:{partition}:ecs:{region}:*:daemon-task-definition/*"));
}

/// ECS Express mode: the four Express operations on the service's ARN (ECS does the rest with the
/// infrastructure role), PassRole for the roles the definition names — the execution and task roles
/// to ecs-tasks.amazonaws.com, the infrastructure role to ecs.amazonaws.com — and GetRole for
/// `verify`. Roles are read from the rendered express definition (none when it cannot be rendered).
fn express_statements(app: &App, statements: &mut Vec<Value>, service_arn: &str) {
    statements.push(json!({
        "Sid": "CortadoExpressService",
        "Effect": "Allow",
        "Action": ["ecs:CreateExpressGatewayService", "ecs:DeleteExpressGatewayService", "ecs:DescribeExpressGatewayService", "ecs:UpdateExpressGatewayService"],
        "Resource": service_arn
    }));
    let c = &app.config;
    let Some(def) = c.express_definition.as_ref().and_then(|p| app.renderer().express_definition(p, c.service.as_deref().unwrap_or(""), &c.cluster).ok())
    else {
        return;
    };
    let role = |k: &str| def.get(k).and_then(Value::as_str).map(str::to_owned);
    let task_roles: Vec<String> = ["executionRoleArn", "taskRoleArn"].iter().filter_map(|k| role(k)).collect();
    // iam:PassRole of `resource`, only to `service`.
    let pass_role = |sid: &str, resource: Value, service: &str| {
        json!({"Sid": sid, "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": resource,
               "Condition": {"StringEquals": {"iam:PassedToService": service}}})
    };
    if !task_roles.is_empty() {
        statements.push(pass_role("CortadoExpressPassTaskRoles", json!(task_roles), "ecs-tasks.amazonaws.com"));
    }
    if let Some(infra) = role("infrastructureRoleArn") {
        statements.push(pass_role("CortadoExpressPassInfrastructureRole", json!(infra), "ecs.amazonaws.com"));
    }
    let all: Vec<String> = ["executionRoleArn", "taskRoleArn", "infrastructureRoleArn"].iter().filter_map(|k| role(k)).collect();
    if !all.is_empty() {
        statements.push(json!({"Sid": "CortadoExpressVerifyRoles", "Effect": "Allow", "Action": ["iam:GetRole"], "Resource": all}));
    }
}

/// Statement Sids: `Cortado<Job>` for cortado's own calls, `Plugin<Name>` for a plugin's grants.
/// Every ARN is in the configured region's partition (`arn:aws-cn:` for `cn-north-1`); with no
/// region configured, regions are `*` in the `aws` partition.
pub fn build(app: &App) -> Result<Value> {
    let c = &app.config;
    let region = app.region().unwrap_or("*").to_owned();
    let partition = Partition::of_region(&region);
    // The cluster's name however the config spells it (a name or its ARN), as ARNs and the S3 keys
    // of locks and chains use it.
    let cluster = crate::aws::ecs::cluster_name(&c.cluster);
    let mut statements = Vec::new();
    let cluster_arn = Arn::ecs_cluster(&region, "*", cluster).to_string();
    // What the rendered definitions name (rendered without calling AWS beyond the plugins' reads).
    let td = c.task_definition.as_ref().and_then(|p| app.renderer().task_definition(p).ok());
    let mut refs = td.as_ref().map(|td| iam_refs::task_definition_refs(td, &region)).unwrap_or_default();
    let sd = c.service_definition.as_ref().and_then(|p| app.renderer().service_definition(p, c.service.as_deref()).ok());
    if let Some(sv) = &sd {
        iam_refs::add_service_definition_refs(&mut refs, sv);
    }
    let code_deploy = c.codedeploy.is_some() || sd.as_ref().is_some_and(|s| Controller::of(s) == Controller::CodeDeploy);
    let sources: Vec<String> = [&c.task_definition, &c.service_definition].into_iter().flatten().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    // Actions IAM cannot scope to a resource.
    statements.push(json!({
        "Sid": "CortadoTaskDefinitions",
        "Effect": "Allow",
        "Action": ["ecs:DeleteTaskDefinitions", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:ListTaskDefinitions", "ecs:RegisterTaskDefinition", "sts:GetCallerIdentity"],
        "Resource": "*"
    }));
    let mut tagged = vec![];
    if let Some(svc) = &c.service {
        let service_arn = Arn::ecs_service(&region, "*", cluster, svc).to_string();
        statements.push(json!({
            "Sid": "CortadoService",
            "Effect": "Allow",
            "Action": ["ecs:CreateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": service_arn
        }));
        // An Express service's scaling is ECS's (its scalingTarget, through the infrastructure role).
        if c.express_definition.is_none() {
            statements.push(json!({
                "Sid": "CortadoAutoScaling",
                "Effect": "Allow",
                "Action": ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:RegisterScalableTarget"],
                "Resource": "*"
            }));
        }
        statements.push(json!({
            "Sid": "CortadoServiceDeployments",
            "Effect": "Allow",
            "Action": ["ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecs:ListServiceDeployments", "ecs:StopServiceDeployment"],
            "Resource": [
                service_arn.clone(),
                Arn::ecs_service_deployment(&region, "*", cluster, svc, "*").to_string(),
                Arn::ecs_service_revision(&region, "*", cluster, svc, "*").to_string()
            ]
        }));
        if c.express_definition.is_some() {
            express_statements(app, &mut statements, &service_arn);
        }
        tagged.push(service_arn);
        // The CODE_DEPLOY controller, configured (`codedeploy:`) or in the service definition.
        if code_deploy {
            statements.push(json!({
                "Sid": "CortadoCodeDeploy",
                "Effect": "Allow",
                "Action": ["codedeploy:BatchGetApplications", "codedeploy:BatchGetDeploymentGroups", "codedeploy:ContinueDeployment", "codedeploy:CreateDeployment", "codedeploy:GetApplicationRevision", "codedeploy:GetDeployment", "codedeploy:GetDeploymentTarget", "codedeploy:ListApplications", "codedeploy:ListDeploymentGroups", "codedeploy:ListDeployments", "codedeploy:StopDeployment"],
                "Resource": "*"
            }));
        }
    }
    if let Some(d) = &c.daemon {
        daemon_statements(&mut statements, &mut tagged, &region, cluster, d.name.as_deref().or_else(|| daemon_name(app)).unwrap_or("*"));
    }
    tagged.push(Arn::ecs_task_definition(&region, "*", "*").to_string());
    statements.push(json!({
        "Sid": "CortadoTags",
        "Effect": "Allow",
        "Action": ["ecs:ListTagsForResource", "ecs:TagResource", "ecs:UntagResource"],
        "Resource": tagged
    }));
    statements.push(json!({
        "Sid": "CortadoTasks",
        "Effect": "Allow",
        "Action": ["ecs:DescribeClusters", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:RunTask", "ecs:StopTask"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}}
    }));
    statements.push(json!({
        "Sid": "CortadoLogs",
        "Effect": "Allow",
        "Action": ["logs:FilterLogEvents", "logs:GetLogEvents"],
        "Resource": Arn::log_group(&region, "*", "*").to_string()
    }));
    // verify: reads IAM cannot scope, then each read on exactly what the task definition names.
    statements.push(json!({
        "Sid": "CortadoVerify",
        "Effect": "Allow",
        "Action": ["elasticloadbalancing:DescribeTargetGroups", "logs:DescribeLogGroups", "ssm:DescribeParameters"],
        "Resource": "*"
    }));
    let mut scoped = |sid: &str, actions: &[&str], resources: Vec<String>| {
        if !resources.is_empty() {
            statements.push(json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}));
        }
    };
    scoped("CortadoVerifyImages", &["ecr:BatchGetImage"], refs.repositories.iter().cloned().collect());
    // pin_image_digests: the plan reads each ECR tag's digest (BatchGetImage), with the caller's
    // credentials (verify's statement above is for the execution role's view too).
    if c.pin_image_digests {
        scoped("CortadoPinImages", &["ecr:BatchGetImage"], refs.repositories.iter().cloned().collect());
    }
    scoped("CortadoVerifyRoles", &["iam:GetRole", "sts:AssumeRole"], refs.roles.iter().cloned().collect());
    scoped("CortadoVerifyServiceRoles", &["iam:GetRole"], refs.service_roles.iter().cloned().collect());
    scoped("CortadoVerifyHooks", &["lambda:GetFunction"], refs.lambda_functions.iter().cloned().collect());
    scoped("CortadoVerifyParameters", &["ssm:GetParameters"], refs.ssm_parameters.iter().cloned().collect());
    scoped("CortadoVerifySecrets", &["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], refs.secrets.iter().cloned().collect());
    scoped("CortadoVerifyEnvironmentFiles", &["s3:GetObject"], refs.env_files.iter().cloned().collect());
    scoped(
        "CortadoVerifyLogs",
        &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        refs.log_groups.iter().flat_map(|g| [g.clone(), format!("{g}:*")]).collect(),
    );
    // exec: ECS Exec into the cluster's tasks, and port forwarding through Session Manager.
    let tasks = Arn::ecs_task(&region, "*", cluster, "*").to_string();
    statements.push(json!({
        "Sid": "CortadoExec",
        "Effect": "Allow",
        "Action": ["ecs:ExecuteCommand"],
        "Resource": [cluster_arn.clone(), tasks.clone()]
    }));
    statements.push(json!({
        "Sid": "CortadoExecSession",
        "Effect": "Allow",
        "Action": ["ssm:StartSession"],
        "Resource": [
            tasks,
            Arn::ssm_document(&region, "", "AWS-StartPortForwardingSession").to_string(),
            Arn::ssm_document(&region, "", "AWS-StartPortForwardingSessionToRemoteHost").to_string()
        ]
    }));
    // iam:PassRole for the roles the task definition names.
    if !refs.roles.is_empty() {
        statements.push(json!({
            "Sid": "CortadoPassRole",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": refs.roles.iter().collect::<Vec<_>>(),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        }));
    }
    // The shared audit chain and deploy lock on S3, scoped to this service's keys under each prefix.
    let service = c.service.as_deref().unwrap_or("-");
    if let Some(url) = &c.audit_s3 {
        // GetObjectVersion: `audit verify` reads every version of the chain's head.json.
        let mut actions = vec!["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"];
        if c.audit_retention.is_some() {
            actions.push("s3:PutObjectRetention");
        }
        statements.push(json!({
            "Sid": "CortadoAuditLog",
            "Effect": "Allow",
            "Action": actions,
            "Resource": if c.signing_key.is_some() {
                json!([
                    Arn::s3(partition, &format!("{}/{}{}/{service}/*", url.bucket, url.prefix, cluster)).to_string(),
                    Arn::s3(partition, &format!("{}/{}evidence/{}/{service}/*", url.bucket, url.prefix, cluster)).to_string()
                ])
            } else {
                json!(Arn::s3(partition, &format!("{}/{}{}/{service}/*", url.bucket, url.prefix, cluster)).to_string())
            }
        }));
        statements.push(json!({
            "Sid": "CortadoAuditList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": Arn::s3(partition, &url.bucket).to_string(),
            "Condition": {"StringLike": {"s3:prefix": format!("{}*", url.prefix)}}
        }));
    }
    if let Some(crate::config::shared::Signing::Kms(arn)) = &c.signing_key {
        statements.push(json!({"Sid": "CortadoEvidenceSigning", "Effect": "Allow", "Action": ["kms:Sign", "kms:GetPublicKey"], "Resource": arn}));
    }
    if let Some(url) = &c.lock {
        statements.push(json!({
            "Sid": "CortadoDeployLock",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": Arn::s3(partition, &format!("{}/{}locks/{}/{service}", url.bucket, url.prefix, cluster)).to_string()
        }));
    }
    for lp in &app.plugins.plugins {
        if crate::plugin::external::is_external(&lp.config) {
            tracing::warn!(
                "plugin external runs a host process outside the sandbox: this policy cannot bound what it does (it has no AWS credentials unless config.env passes them)"
            );
            continue;
        }
        // tfc:/http: grants are cortado's own (URL reads by the host), not IAM actions.
        let g: Vec<_> = narrowed(&lp.config, &sources, &region).into_iter().filter(|g| grants::is_aws_action(&g.action)).collect();
        if g.is_empty() {
            continue;
        }
        // Grouped by effect and resource; a Deny is printed as written (IAM evaluates it the same way).
        let mut by_resource: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
        for x in &g {
            let actions = by_resource.entry((x.effect.as_str(), grants::iam_resource(&x.action, &x.resource))).or_default();
            if !actions.contains(&x.action.as_str()) {
                actions.push(x.action.as_str());
            }
        }
        for (i, ((effect, resource), actions)) in by_resource.into_iter().enumerate() {
            let sid: String = lp.config.name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let suffix = if i == 0 { String::new() } else { i.to_string() };
            statements.push(json!({
                "Sid": format!("Plugin{}{}{suffix}", sid[..1.min(sid.len())].to_ascii_uppercase(), sid.get(1..).unwrap_or("")),
                "Effect": effect,
                "Action": actions,
                "Resource": resource
            }));
        }
    }
    Ok(json!({"Version": "2012-10-17", "Statement": statements}))
}

/// The secret's ARN for IAM: a name gets Secrets Manager's random six-character suffix.
fn secret_arn(secret: &str, region: &str) -> String {
    if secret.starts_with("arn:") { secret.to_owned() } else { Arn::secret(region, "*", &format!("{secret}-??????")).to_string() }
}

/// A plugin's grants for the policy: the default `ssm` / `secretsmanager` plugins (implied grants,
/// family-wide) narrowed to the literal arguments their template calls pass, when every call's is
/// literal; a computed one keeps the family-wide grant, and a note says so.
fn narrowed(p: &PluginConfig, sources: &[String], region: &str) -> Vec<Grant> {
    let effective = grants::effective(p, Partition::of_region(region));
    if p.grants.is_some() || p.is_custom() {
        return effective;
    }
    let function = format!("{}{}", p.func_prefix, if p.name.eq_ignore_ascii_case("ssm") { "ssm" } else { "secretsmanager_arn" });
    let resource = |arg: &str| -> String {
        if arg.starts_with("arn:") {
            return arg.to_owned();
        }
        if p.name.eq_ignore_ascii_case("ssm") { Arn::ssm_parameter(region, "*", arg).to_string() } else { secret_arn(arg, region) }
    };
    if !(p.name.eq_ignore_ascii_case("ssm") || p.name.eq_ignore_ascii_case("secretsmanager")) {
        return effective;
    }
    let is_ssm = p.name.eq_ignore_ascii_case("ssm");
    match iam_refs::literal_arguments(sources, &function) {
        Some(args) => effective
            .iter()
            .flat_map(|g| {
                args.iter().filter_map(move |a| {
                    // The ssm plugin's GetSecretValue grant covers only `/aws/reference/secretsmanager/NAME`.
                    let reads_secret = is_ssm && g.action.eq_ignore_ascii_case("secretsmanager:GetSecretValue");
                    match crate::plugin::broker::secret_reference(a) {
                        Some(secret) if reads_secret => Some(Grant { resource: secret_arn(secret, region), ..g.clone() }),
                        None if reads_secret => None,
                        _ => Some(Grant { resource: resource(a), ..g.clone() }),
                    }
                })
            })
            .collect(),
        None => {
            tracing::warn!("iam-policy: a `{function}` call in the templates has a computed argument; plugin {:?} keeps its family-wide grant", p.name);
            effective
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use crate::context::{Context, Globals};
    use crate::env::Env;

    /// A project in `dir` for `region`: roles, an ECR image, a bare SSM name, an awslogs group, the
    /// S3 audit log and lock, and tfstate over S3 (an implied grant).
    fn project(dir: &Path, region: &str, registry: &str, cluster: &str) -> Context {
        let config = format!(
            "region: {region}\ncluster: {cluster}\nservice: web\ntask_definition: td.json\naudit_log: s3://audit/cortado/\nplugins:\n  - name: tfstate\n    config:\n      url: s3://states/env/terraform.tfstate\n"
        );
        let td = json!({"family": "web", "taskRoleArn": "arn:aws-cn:iam::123456789012:role/web-task", "containerDefinitions": [{
            "name": "app", "image": format!("123456789012.dkr.ecr.{region}.{registry}/web:v1"),
            "secrets": [{"name": "DB", "valueFrom": "/web/db"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}}
        }]});
        std::fs::write(dir.join("cortado.yml"), config).unwrap();
        std::fs::write(dir.join("td.json"), td.to_string()).unwrap();
        let globals = Globals { config: Some(dir.join("cortado.yml")), ..Default::default() };
        Context::load(globals, Env::from_pairs([])).unwrap()
    }

    /// Every string of the policy that is an ARN, in order.
    fn arns(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.starts_with("arn:") => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| arns(x, out)),
            Value::Object(m) => m.values().for_each(|x| arns(x, out)),
            _ => {}
        }
    }

    fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
        policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid} in {policy:#}"))
    }

    #[test]
    fn every_arn_is_in_the_region_partition() {
        // The cluster named, or given as its ARN: ARNs and S3 keys use its name either way.
        let cases = [
            ("cn-north-1", "aws-cn", "amazonaws.com.cn", "prod"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com", "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:cluster/prod"),
        ];
        for (region, partition, registry, cluster) in cases {
            let dir = tempfile::tempdir().unwrap();
            let policy = super::build(&project(dir.path(), region, registry, cluster)).unwrap();
            let mut found = Vec::new();
            arns(&policy, &mut found);
            // The task role is the operator's own ARN, printed as written; everything else cortado built.
            let built: Vec<&String> = found.iter().filter(|a| !a.contains(":iam::")).collect();
            assert!(built.len() > 10, "{policy:#}");
            let prefix = format!("arn:{partition}:");
            assert!(built.iter().all(|a| a.starts_with(&prefix)), "{region}: {built:#?}");
            let p = partition;
            assert_eq!(statement(&policy, "CortadoService")["Resource"], format!("arn:{p}:ecs:{region}:*:service/prod/web"));
            assert_eq!(statement(&policy, "CortadoTasks")["Condition"]["ArnEquals"]["ecs:cluster"], format!("arn:{p}:ecs:{region}:*:cluster/prod"));
            assert_eq!(statement(&policy, "CortadoVerifyImages")["Resource"], json!([format!("arn:{p}:ecr:{region}:123456789012:repository/web")]));
            assert_eq!(statement(&policy, "CortadoVerifyParameters")["Resource"], json!([format!("arn:{p}:ssm:{region}:*:parameter/web/db")]));
            assert_eq!(statement(&policy, "CortadoVerifyLogs")["Resource"][0], format!("arn:{p}:logs:{region}:*:log-group:/ecs/web"));
            assert_eq!(statement(&policy, "CortadoExecSession")["Resource"][1], format!("arn:{p}:ssm:{region}::document/AWS-StartPortForwardingSession"));
            assert_eq!(statement(&policy, "CortadoAuditList")["Resource"], format!("arn:{p}:s3:::audit"));
            assert_eq!(statement(&policy, "CortadoDeployLock")["Resource"], format!("arn:{p}:s3:::audit/cortado/locks/prod/web"));
            assert_eq!(statement(&policy, "PluginTfstate")["Resource"], format!("arn:{p}:s3:::states/env/terraform.tfstate"));
        }
    }
}
