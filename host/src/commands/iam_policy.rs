//! `cortado iam-policy`: the IAM policy this config needs — the actions of the commands cortado
//! runs for it, scoped to its cluster, service and roles where IAM allows, plus every plugin grant.
//! ecspresso users assemble this by hand from its README.

use anyhow::Result;
use serde_json::{Value, json};

use super::{App, iam_refs};
use crate::config::{Grant, PluginConfig};
use crate::plugin::grants;

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
    let daemon_arn = format!("arn:aws:ecs:{region}:*:daemon/{cluster}/{name}");
    statements.push(json!({
        "Sid": "CortadoDaemon",
        "Effect": "Allow",
        "Action": ["ecs:CreateDaemon", "ecs:DeleteDaemon", "ecs:DescribeDaemon", "ecs:DescribeDaemonDeployments", "ecs:DescribeDaemonRevisions", "ecs:ListDaemonDeployments", "ecs:UpdateDaemon"],
        "Resource": [
            daemon_arn.clone(),
            format!("arn:aws:ecs:{region}:*:daemon-deployment/{cluster}/{name}/*"),
            format!("arn:aws:ecs:{region}:*:daemon-revision/{cluster}/{name}/*")
        ]
    }));
    tagged.push(daemon_arn);
    tagged.push(format!("arn:aws:ecs:{region}:*:daemon-task-definition/*"));
}

/// Statement Sids: `Cortado<Job>` for cortado's own calls, `Plugin<Name>` for a plugin's grants.
pub fn build(app: &App) -> Result<Value> {
    let c = &app.config;
    let region = c.region.clone().or_else(|| app.env.get("AWS_REGION").map(str::to_owned)).unwrap_or_else(|| "*".into());
    let mut statements = Vec::new();
    let cluster_arn = format!("arn:aws:ecs:{region}:*:cluster/{}", c.cluster);
    // What the rendered definitions name (rendered without calling AWS beyond the plugins' reads).
    let td = c.task_definition.as_ref().and_then(|p| app.renderer().task_definition(p).ok());
    let refs = td.as_ref().map(|td| iam_refs::task_definition_refs(td, &region)).unwrap_or_default();
    let sd = c.service_definition.as_ref().and_then(|p| app.renderer().service_definition(p, c.service.as_deref()).ok());
    let code_deploy =
        c.codedeploy.is_some() || sd.as_ref().and_then(|s| s.pointer("/deploymentController/type")).and_then(Value::as_str) == Some("CODE_DEPLOY");
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
        let service_arn = format!("arn:aws:ecs:{region}:*:service/{}/{svc}", c.cluster);
        statements.push(json!({
            "Sid": "CortadoService",
            "Effect": "Allow",
            "Action": ["ecs:CreateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": service_arn
        }));
        statements.push(json!({
            "Sid": "CortadoAutoScaling",
            "Effect": "Allow",
            "Action": ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:RegisterScalableTarget"],
            "Resource": "*"
        }));
        statements.push(json!({
            "Sid": "CortadoServiceDeployments",
            "Effect": "Allow",
            "Action": ["ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions", "ecs:ListServiceDeployments", "ecs:StopServiceDeployment"],
            "Resource": [
                service_arn.clone(),
                format!("arn:aws:ecs:{region}:*:service-deployment/{}/{svc}/*", c.cluster),
                format!("arn:aws:ecs:{region}:*:service-revision/{}/{svc}/*", c.cluster)
            ]
        }));
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
        daemon_statements(&mut statements, &mut tagged, &region, &c.cluster, d.name.as_deref().or_else(|| daemon_name(app)).unwrap_or("*"));
    }
    tagged.push(format!("arn:aws:ecs:{region}:*:task-definition/*"));
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
        "Action": ["logs:GetLogEvents"],
        "Resource": format!("arn:aws:logs:{region}:*:log-group:*")
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
    scoped("CortadoVerifyParameters", &["ssm:GetParameters"], refs.ssm_parameters.iter().cloned().collect());
    scoped("CortadoVerifySecrets", &["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], refs.secrets.iter().cloned().collect());
    scoped("CortadoVerifyEnvironmentFiles", &["s3:GetObject"], refs.env_files.iter().cloned().collect());
    scoped(
        "CortadoVerifyLogs",
        &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        refs.log_groups.iter().flat_map(|g| [g.clone(), format!("{g}:*")]).collect(),
    );
    // exec: ECS Exec into the cluster's tasks, and port forwarding through Session Manager.
    let tasks = format!("arn:aws:ecs:{region}:*:task/{}/*", c.cluster);
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
        "Resource": [tasks, format!("arn:aws:ssm:{region}::document/AWS-StartPortForwardingSession"), format!("arn:aws:ssm:{region}::document/AWS-StartPortForwardingSessionToRemoteHost")]
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
                    format!("arn:aws:s3:::{}/{}{}/{service}/*", url.bucket, url.prefix, c.cluster),
                    format!("arn:aws:s3:::{}/{}evidence/{}/{service}/*", url.bucket, url.prefix, c.cluster)
                ])
            } else {
                json!(format!("arn:aws:s3:::{}/{}{}/{service}/*", url.bucket, url.prefix, c.cluster))
            }
        }));
        statements.push(json!({
            "Sid": "CortadoAuditList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": format!("arn:aws:s3:::{}", url.bucket),
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
            "Resource": format!("arn:aws:s3:::{}/{}locks/{}/{service}", url.bucket, url.prefix, c.cluster)
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
    if secret.starts_with("arn:") { secret.to_owned() } else { format!("arn:aws:secretsmanager:{region}:*:secret:{secret}-??????") }
}

/// A plugin's grants for the policy: the default `ssm` / `secretsmanager` plugins (implied grants,
/// family-wide) narrowed to the literal arguments their template calls pass, when every call's is
/// literal; a computed one keeps the family-wide grant, and a note says so.
fn narrowed(p: &PluginConfig, sources: &[String], region: &str) -> Vec<Grant> {
    let effective = grants::effective(p);
    if p.grants.is_some() || p.path.is_some() {
        return effective;
    }
    let function = format!("{}{}", p.func_prefix, if p.name.eq_ignore_ascii_case("ssm") { "ssm" } else { "secretsmanager_arn" });
    let resource = |arg: &str| -> String {
        if arg.starts_with("arn:") {
            return arg.to_owned();
        }
        if p.name.eq_ignore_ascii_case("ssm") { format!("arn:aws:ssm:{region}:*:parameter/{}", arg.trim_start_matches('/')) } else { secret_arn(arg, region) }
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
