//! ARNs and partitions: the one place that knows `arn:aws:` is not the only prefix.
//!
//! A region belongs to one partition (`cn-north-1` to `aws-cn`, `us-gov-west-1` to `aws-us-gov`),
//! and the partition decides both the ARN prefix and the endpoints' DNS suffix. Everything cortado
//! writes into an ARN, an IAM policy or an endpoint URL is built here from the configured region,
//! so that aws-cn and aws-us-gov users get their own ARNs instead of `arn:aws:` ones that IAM and
//! ECS reject.

use std::fmt;

/// An AWS partition cortado's credentials can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Partition {
    #[default]
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    /// Every partition, in the order ARN matching tries them.
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsUsGov, Partition::AwsCn];

    /// The partition of `region`. Unknown or wildcard regions (`*`, empty) are in `aws`, as the
    /// SDK's own partition table resolves them.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    /// `aws`, `aws-cn`, `aws-us-gov` → the partition; anything else is not one.
    pub fn parse(text: &str) -> Option<Partition> {
        Partition::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The partition's name, as it appears in an ARN.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// The DNS suffix of the partition's regional endpoints.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `https://SERVICE.REGION.SUFFIX`: a service's regional endpoint in the region's partition.
pub fn endpoint(service: &str, region: &str) -> String {
    format!("https://{service}.{region}.{}", Partition::of_region(region).dns_suffix())
}

/// An ARN split into its fields; `resource` keeps any further `:` (`secret:db-AbCdEf`).
///
/// The fields are text, not typed, because grant patterns are ARNs too and may hold `*` or `?` in
/// any field (`arn:*:ssm:*:*:parameter/app/*`); [`Arn::partition_kind`] types the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

impl Arn {
    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, or `None` when the text is not one.
    pub fn parse(text: &str) -> Option<Arn> {
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[1].is_empty() || parts[2].is_empty() || parts[5].is_empty() {
            return None;
        }
        Some(Arn { partition: parts[1].into(), service: parts[2].into(), region: parts[3].into(), account: parts[4].into(), resource: parts[5].into() })
    }

    /// An ARN in `region`'s partition. `region` and `account` may be `*` (policy resources) or
    /// empty (global resources: S3 objects, IAM roles, AWS-owned SSM documents).
    pub fn in_region(service: &str, region: &str, account: &str, resource: impl Into<String>) -> Arn {
        Arn::new(Partition::of_region(region), service, region, account, resource)
    }

    pub fn new(partition: Partition, service: &str, region: &str, account: &str, resource: impl Into<String>) -> Arn {
        Arn { partition: partition.as_str().into(), service: service.into(), region: region.into(), account: account.into(), resource: resource.into() }
    }

    /// The partition, when the field names one (not a pattern).
    pub fn partition_kind(&self) -> Option<Partition> {
        Partition::parse(&self.partition)
    }

    /// Is `text` an ARN of `service` in a real partition (`arn:aws-cn:ecs:…` for `ecs`)?
    pub fn is_of(text: &str, service: &str) -> bool {
        Arn::parse(text).is_some_and(|a| a.service == service && a.partition_kind().is_some())
    }

    /// Does any field other than the resource hold a wildcard? A concrete request never does; a
    /// plugin passing one is probing the matcher, not naming a resource.
    pub fn has_wildcard_location(&self) -> bool {
        [&self.partition, &self.service, &self.region, &self.account].iter().any(|f| f.contains(['*', '?']))
    }

    // The ARNs cortado builds. `region`/`account` are `*` in policies, concrete elsewhere.

    pub fn ecs_cluster(region: &str, account: &str, cluster: &str) -> Arn {
        Arn::in_region("ecs", region, account, format!("cluster/{cluster}"))
    }

    pub fn ecs_service(region: &str, account: &str, cluster: &str, service: &str) -> Arn {
        Arn::in_region("ecs", region, account, format!("service/{cluster}/{service}"))
    }

    /// `task` is a task id or `*`.
    pub fn ecs_task(region: &str, account: &str, cluster: &str, task: &str) -> Arn {
        Arn::in_region("ecs", region, account, format!("task/{cluster}/{task}"))
    }

    /// `family_revision` is `family:N`, or a pattern (`*`).
    pub fn ecs_task_definition(region: &str, account: &str, family_revision: &str) -> Arn {
        Arn::in_region("ecs", region, account, format!("task-definition/{family_revision}"))
    }

    pub fn ecs_service_deployment(region: &str, account: &str, cluster: &str, service: &str, id: &str) -> Arn {
        Arn::in_region("ecs", region, account, format!("service-deployment/{cluster}/{service}/{id}"))
    }

    pub fn ecs_service_revision(region: &str, account: &str, cluster: &str, service: &str, id: &str) -> Arn {
        Arn::in_region("ecs", region, account, format!("service-revision/{cluster}/{service}/{id}"))
    }

    /// `group` may end in a pattern (`*`); IAM's log-stream actions want `…:log-group:G:*`.
    pub fn log_group(region: &str, account: &str, group: &str) -> Arn {
        Arn::in_region("logs", region, account, format!("log-group:{group}"))
    }

    /// An SSM document; AWS-owned documents (`AWS-StartPortForwardingSession`) have no account.
    pub fn ssm_document(region: &str, account: &str, name: &str) -> Arn {
        Arn::in_region("ssm", region, account, format!("document/{name}"))
    }

    /// An SSM parameter by name: hierarchical names (`/app/db`) lose their leading `/`, which the
    /// ARN's `parameter/` stands for.
    pub fn ssm_parameter(region: &str, account: &str, name: &str) -> Arn {
        Arn::in_region("ssm", region, account, format!("parameter/{}", name.trim_start_matches('/')))
    }

    /// `name` is the secret's name plus its random suffix, or a pattern for it (`db-??????`).
    pub fn secret(region: &str, account: &str, name: &str) -> Arn {
        Arn::in_region("secretsmanager", region, account, format!("secret:{name}"))
    }

    pub fn ecr_repository(region: &str, account: &str, repository: &str) -> Arn {
        Arn::in_region("ecr", region, account, format!("repository/{repository}"))
    }

    /// `path_name` is `name` or `path/…/name`.
    pub fn iam_role(partition: Partition, account: &str, path_name: &str) -> Arn {
        Arn::new(partition, "iam", "", account, format!("role/{path_name}"))
    }

    /// `arn:P:s3:::BUCKET[/KEY]` (a bucket, an object, or a key pattern).
    pub fn s3(partition: Partition, bucket_key: &str) -> Arn {
        Arn::new(partition, "s3", "", "", bucket_key)
    }

    /// `(bucket, key)` of an S3 object ARN in any partition.
    pub fn s3_object(text: &str) -> Option<(String, String)> {
        let a = Arn::parse(text).filter(|a| a.service == "s3" && a.partition_kind().is_some() && a.region.is_empty() && a.account.is_empty())?;
        let (bucket, key) = a.resource.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty())?;
        Some((bucket.to_owned(), key.to_owned()))
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:{}:{}:{}:{}:{}", self.partition, self.service, self.region, self.account, self.resource)
    }
}

impl From<Arn> for String {
    fn from(a: Arn) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_name_their_partition() {
        assert_eq!(Partition::of_region("cn-north-1"), Partition::AwsCn);
        assert_eq!(Partition::of_region("cn-northwest-1"), Partition::AwsCn);
        assert_eq!(Partition::of_region("us-gov-west-1"), Partition::AwsUsGov);
        assert_eq!(Partition::of_region("us-gov-east-1"), Partition::AwsUsGov);
        assert_eq!(Partition::of_region("ap-northeast-1"), Partition::Aws);
        assert_eq!(Partition::of_region("*"), Partition::Aws);
        assert_eq!(Partition::of_region(""), Partition::Aws);
        for p in Partition::ALL {
            assert_eq!(Partition::parse(p.as_str()), Some(p));
        }
        assert_eq!(Partition::parse("aws-iso"), None);
    }

    #[test]
    fn dns_suffix_and_endpoints_follow_the_partition() {
        assert_eq!(Partition::Aws.dns_suffix(), "amazonaws.com");
        assert_eq!(Partition::AwsCn.dns_suffix(), "amazonaws.com.cn");
        assert_eq!(Partition::AwsUsGov.dns_suffix(), "amazonaws.com");
        assert_eq!(endpoint("ssm", "cn-north-1"), "https://ssm.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint("ssm", "us-gov-west-1"), "https://ssm.us-gov-west-1.amazonaws.com");
        assert_eq!(endpoint("ecs", "eu-west-1"), "https://ecs.eu-west-1.amazonaws.com");
    }

    #[test]
    fn builders_use_the_region_partition() {
        assert_eq!(Arn::ecs_cluster("cn-north-1", "*", "c").to_string(), "arn:aws-cn:ecs:cn-north-1:*:cluster/c");
        assert_eq!(Arn::ecs_service("us-gov-west-1", "1", "c", "s").to_string(), "arn:aws-us-gov:ecs:us-gov-west-1:1:service/c/s");
        assert_eq!(Arn::ecs_task("eu-west-1", "*", "c", "*").to_string(), "arn:aws:ecs:eu-west-1:*:task/c/*");
        assert_eq!(Arn::ecs_task_definition("cn-north-1", "*", "*").to_string(), "arn:aws-cn:ecs:cn-north-1:*:task-definition/*");
        assert_eq!(Arn::ecs_service_deployment("cn-north-1", "*", "c", "s", "*").to_string(), "arn:aws-cn:ecs:cn-north-1:*:service-deployment/c/s/*");
        assert_eq!(Arn::ecs_service_revision("us-gov-east-1", "*", "c", "s", "*").to_string(), "arn:aws-us-gov:ecs:us-gov-east-1:*:service-revision/c/s/*");
        assert_eq!(Arn::log_group("cn-north-1", "*", "/ecs/app").to_string(), "arn:aws-cn:logs:cn-north-1:*:log-group:/ecs/app");
        assert_eq!(Arn::ssm_document("us-gov-west-1", "", "AWS-X").to_string(), "arn:aws-us-gov:ssm:us-gov-west-1::document/AWS-X");
        assert_eq!(Arn::ssm_parameter("cn-north-1", "*", "/app/db").to_string(), "arn:aws-cn:ssm:cn-north-1:*:parameter/app/db");
        assert_eq!(Arn::secret("us-gov-west-1", "*", "db-??????").to_string(), "arn:aws-us-gov:secretsmanager:us-gov-west-1:*:secret:db-??????");
        assert_eq!(Arn::ecr_repository("cn-north-1", "1", "a/b").to_string(), "arn:aws-cn:ecr:cn-north-1:1:repository/a/b");
        assert_eq!(Arn::iam_role(Partition::AwsCn, "1", "r").to_string(), "arn:aws-cn:iam::1:role/r");
        assert_eq!(Arn::s3(Partition::AwsUsGov, "b/k/*").to_string(), "arn:aws-us-gov:s3:::b/k/*");
    }

    #[test]
    fn parse_and_display_round_trip_in_every_partition() {
        for text in [
            "arn:aws:ecs:us-east-1:123456789012:service/c/s",
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf:key::",
            "arn:aws-us-gov:s3:::bucket/key",
        ] {
            let a = Arn::parse(text).unwrap();
            assert_eq!(a.to_string(), text);
            assert!(a.partition_kind().is_some());
        }
        assert_eq!(Arn::parse("arn:aws-cn:secretsmanager:r:1:secret:db-Ab").unwrap().resource, "secret:db-Ab");
        assert!(Arn::parse("arn:aws:ssm:r:1").is_none());
        assert!(Arn::parse("not-an-arn").is_none());
        assert_eq!(Arn::parse("arn:*:ssm:*:*:parameter/x").unwrap().partition_kind(), None);
    }

    #[test]
    fn service_and_s3_object_checks_accept_every_partition() {
        assert!(Arn::is_of("arn:aws-cn:ecs:cn-north-1:1:task-definition/app:3", "ecs"));
        assert!(Arn::is_of("arn:aws-us-gov:kms:us-gov-west-1:1:key/k", "kms"));
        assert!(!Arn::is_of("arn:aws:ecr:us-east-1:1:repository/app", "ecs"));
        assert!(!Arn::is_of("arn:evil:ecs:r:1:task-definition/app:3", "ecs"));
        assert_eq!(Arn::s3_object("arn:aws-us-gov:s3:::b/k/x.env"), Some(("b".into(), "k/x.env".into())));
        assert_eq!(Arn::s3_object("arn:aws-cn:s3:::b/k"), Some(("b".into(), "k".into())));
        assert_eq!(Arn::s3_object("arn:aws:s3:::bucket"), None);
        assert_eq!(Arn::s3_object("arn:aws:ssm:r:1:parameter/x"), None);
    }
}
