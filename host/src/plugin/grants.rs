//! What a plugin may ask the host to read: IAM-style (action, resource pattern) pairs.
//!
//! The operator writes them in the config (`grants:`); first-party plugins configured the ecspresso
//! way get the grants their configuration implies. The same list feeds the broker's checks and
//! `cortado iam-policy`, so the policy printed is exactly what plugins can use.

use crate::aws::arn::{Arn, Partition};
use crate::config::{Effect, Grant, PluginConfig};

/// `*` matches any run of characters (including none), `?` one character; case-sensitive, as ARNs.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    super::url_grant::wildcard_match(pattern, text, true)
}

/// Whether the grant's action pattern covers `action` (case-insensitively, as IAM compares actions).
pub fn action_matches(g: &Grant, action: &str) -> bool {
    glob_match(&g.action.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// True when an Allow grant covers `action` on `resource` and no Deny grant does (a Deny wins,
/// as in IAM). `http:Get` resources are matched as URLs (see [`super::url_grant`]): the caller
/// passes the normalised URL; other resources are globbed as text.
pub fn allows(grants: &[Grant], action: &str, resource: &str) -> bool {
    let url = if action.eq_ignore_ascii_case(HTTP_GET) {
        match super::url_grant::normalize(resource) {
            Ok(u) => Some(u),
            Err(_) => return false,
        }
    } else {
        None
    };
    let covers = |g: &Grant, allow: bool| {
        action_matches(g, action)
            && match &url {
                Some(u) if allow => super::url_grant::matches(&g.resource, g.glob, u),
                // A Deny whose URL cannot be normalised fails closed: it covers every URL.
                Some(u) => super::url_grant::normalize_pattern(&g.resource).is_err() || super::url_grant::covers(&g.resource, g.glob, u),
                None => glob_match(&g.resource, resource),
            }
    };
    let denied = grants.iter().any(|g| g.effect == Effect::Deny && covers(g, false));
    !denied && grants.iter().any(|g| g.effect == Effect::Allow && covers(g, true))
}

/// Reading a Terraform Cloud / HCP Terraform workspace's current state: resource
/// `remote://HOST/ORGANIZATION/WORKSPACE` (globs allowed: `remote://app.terraform.io/acme/*`).
pub const TFC_READ_STATE: &str = "tfc:ReadState";
/// Reading a container registry's manifests and blobs (WIT 0.4.0 `registry`): resource
/// `REGISTRY/REPOSITORY` as Docker names it, globs allowed (`127.0.0.1:*/shop/*`).
pub const REGISTRY_READ: &str = "registry:Read";
/// An HTTP(S) GET: resource a URL or URL prefix (`https://states.example.com/prod/*`).
pub const HTTP_GET: &str = "http:Get";

/// Is this an IAM action (one `iam-policy` can print), rather than one of cortado's own non-AWS grants?
pub fn is_aws_action(action: &str) -> bool {
    let service = action.split(':').next().unwrap_or_default();
    !service.eq_ignore_ascii_case("tfc") && !service.eq_ignore_ascii_case("http") && !service.eq_ignore_ascii_case("registry")
}

/// Brokered actions IAM cannot narrow to a resource (their policy statement needs `"Resource": "*"`);
/// the broker narrows them to the grant's pseudo-ARN or target group ARN itself.
pub const NO_RESOURCE_LEVEL: [&str; 2] = ["cloudwatch:GetMetricData", "elasticloadbalancing:DescribeTargetHealth"];

/// The `Resource` of the IAM statement for a grant: its resource, or `*` where IAM has none.
pub fn iam_resource<'a>(action: &str, resource: &'a str) -> &'a str {
    if NO_RESOURCE_LEVEL.iter().any(|a| a.eq_ignore_ascii_case(action)) { "*" } else { resource }
}

fn grant(action: &str, resource: impl Into<String>) -> Grant {
    Grant { action: action.into(), resource: resource.into(), ..Grant::default() }
}

/// The grants a plugin runs with: explicit ones when the config gives any; otherwise, for the
/// first-party plugins, what their ecspresso-style configuration implies, as ARNs of `partition`
/// (the configured region's: an `arn:aws:` grant would match nothing in aws-cn or aws-us-gov).
pub fn effective(p: &PluginConfig, partition: Partition) -> Vec<Grant> {
    if let Some(explicit) = &p.grants {
        return explicit.clone();
    }
    if p.is_custom() {
        return Vec::new();
    }
    match p.name.to_ascii_lowercase().as_str() {
        // ecspresso resolves any parameter or secret a template names.
        // ecspresso resolves `/aws/reference/secretsmanager/NAME` too, which needs GetSecretValue.
        "ssm" => vec![grant("ssm:GetParameter", "*"), grant("secretsmanager:GetSecretValue", "*")],
        "secretsmanager" => vec![grant("secretsmanager:DescribeSecret", "*")],
        "cloudformation" => vec![grant("cloudformation:DescribeStacks", "*"), grant("cloudformation:ListExports", "*")],
        // Exactly the metrics its config names (IAM cannot narrow GetMetricData; the broker does).
        "canary-analysis" => p
            .config
            .get("metrics")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter_map(|m| Some((m.get("namespace")?.as_str()?, m.get("metric")?.as_str()?)))
            .map(|(ns, metric)| grant("cloudwatch:GetMetricData", Arn::new(partition, "cloudwatch", "*", "*", format!("metric/{ns}/{metric}"))))
            .collect(),
        "tfstate" => match p.config.get("url").and_then(|u| u.as_str()) {
            Some(url) if url.starts_with("s3://") => vec![grant("s3:GetObject", Arn::s3(partition, &url["s3://".len()..]))],
            Some(url) if url.starts_with("remote://") => vec![grant(TFC_READ_STATE, url)],
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => vec![grant(HTTP_GET, url)],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("arn:aws:ssm:*:*:parameter/myapp/*", "arn:aws:ssm:us-east-1:123456789012:parameter/myapp/db/host"));
        assert!(!glob_match("arn:aws:ssm:*:*:parameter/myapp/*", "arn:aws:ssm:us-east-1:123456789012:parameter/other"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("abc", "abcd"));
    }

    #[test]
    fn canary_analysis_is_granted_exactly_its_configured_metrics() {
        let config = serde_json::json!({"metrics": [
            {"name": "e", "namespace": "AWS/ApplicationELB", "metric": "HTTPCode_Target_5XX_Count"},
            {"name": "l", "namespace": "AWS/ApplicationELB", "metric": "TargetResponseTime"},
        ]});
        let g = effective(&PluginConfig::named("canary-analysis", config.clone()), Partition::Aws);
        let pseudo = |m: &str| format!("arn:aws:cloudwatch:us-east-1:123456789012:metric/AWS/ApplicationELB/{m}");
        assert!(allows(&g, "cloudwatch:GetMetricData", &pseudo("HTTPCode_Target_5XX_Count")));
        assert!(allows(&g, "cloudwatch:GetMetricData", &pseudo("TargetResponseTime")));
        assert!(!allows(&g, "cloudwatch:GetMetricData", &pseudo("RequestCount")));
        assert!(!allows(&g, "cloudwatch:GetMetricData", "arn:aws:cloudwatch:us-east-1:123456789012:metric/Custom/HTTPCode_Target_5XX_Count"));
        assert!(effective(&PluginConfig::named("canary-analysis", serde_json::json!(null)), Partition::Aws).is_empty());
        // In aws-cn the same metrics are granted under `arn:aws-cn:`; `arn:aws:` would match nothing there.
        let cn = effective(&PluginConfig::named("canary-analysis", config), Partition::AwsCn);
        let cn_metric = "arn:aws-cn:cloudwatch:cn-north-1:123456789012:metric/AWS/ApplicationELB/TargetResponseTime";
        assert!(allows(&cn, "cloudwatch:GetMetricData", cn_metric));
        assert!(!allows(&g, "cloudwatch:GetMetricData", cn_metric));
    }

    #[test]
    fn tfstate_on_s3_is_granted_in_the_partition() {
        let p = PluginConfig::named("tfstate", serde_json::json!({"url": "s3://b/k/terraform.tfstate"}));
        assert_eq!(effective(&p, Partition::AwsUsGov)[0].resource, "arn:aws-us-gov:s3:::b/k/terraform.tfstate");
        assert_eq!(effective(&p, Partition::Aws)[0].resource, "arn:aws:s3:::b/k/terraform.tfstate");
    }

    #[test]
    fn a_deny_wins_over_any_allow() {
        let deny = Grant { effect: Effect::Deny, ..grant("ssm:*", "arn:aws:ssm:*:*:parameter/app/secret*") };
        let g = vec![grant("ssm:GetParameter", "*"), deny];
        assert!(allows(&g, "ssm:GetParameter", "arn:aws:ssm:r:1:parameter/app/db"));
        assert!(!allows(&g, "ssm:GetParameter", "arn:aws:ssm:r:1:parameter/app/secret/x"));
        let url = vec![grant(HTTP_GET, "https://h/*"), Grant { effect: Effect::Deny, ..grant(HTTP_GET, "*://h/private/*") }];
        assert!(allows(&url, HTTP_GET, "https://h/public/a"));
        assert!(!allows(&url, HTTP_GET, "https://H:443/public/../private/a"));
        let broken_deny = vec![grant(HTTP_GET, "https://h/*"), Grant { effect: Effect::Deny, ..grant(HTTP_GET, "https://u@h/private/*") }];
        assert!(!allows(&broken_deny, HTTP_GET, "https://h/public/a"), "a Deny that cannot be read denies everything");
    }

    #[test]
    fn actions_match_case_insensitively_and_with_wildcards() {
        let g = vec![grant("ssm:Get*", "arn:aws:ssm:*:*:parameter/app/*")];
        assert!(allows(&g, "ssm:GetParameter", "arn:aws:ssm:r:1:parameter/app/x"));
        assert!(allows(&g, "SSM:getparameters", "arn:aws:ssm:r:1:parameter/app/x"));
        assert!(!allows(&g, "ssm:PutParameter", "arn:aws:ssm:r:1:parameter/app/x"));
    }
}
