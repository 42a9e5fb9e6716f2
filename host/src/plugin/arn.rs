//! ARNs as the broker authorizes them: all five fields of the resource a plugin names (partition,
//! service, region, account, resource) against the five fields of a grant's pattern.
//!
//! IAM matches an ARN field by field, with `*` and `?` inside a field; so does this module. A
//! grant pattern that is not an ARN (`*`, or a legacy glob) is matched against the whole ARN text.
//! Matching is case-sensitive, as IAM does for resources.

use super::grants::glob_match;

pub use crate::aws::arn::{Arn, Partition};

/// The partition a region belongs to (`cn-north-1` → `aws-cn`, `us-gov-west-1` → `aws-us-gov`).
pub fn partition_of(region: &str) -> &'static str {
    Partition::of_region(region).as_str()
}

/// How far a grant pattern matches an ARN whose account may not be known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Yes,
    No,
    /// Every field but the account matches, and the pattern names a concrete account.
    NeedsAccount,
}

/// Matches `pattern` against `arn`; `arn.account == None` means "not looked up yet".
pub fn matches(pattern: &str, partition: &str, service: &str, region: &str, account: Option<&str>, resource: &str) -> Match {
    if pattern == "*" {
        return Match::Yes;
    }
    let Some(p) = Arn::parse(pattern) else {
        // Not an ARN pattern: a glob over the whole text, which needs the account when it has one.
        return match account {
            Some(a) => bool_match(glob_match(pattern, &format!("arn:{partition}:{service}:{region}:{a}:{resource}"))),
            None if glob_match(pattern, &format!("arn:{partition}:{service}:{region}:*:{resource}")) => Match::NeedsAccount,
            None => Match::No,
        };
    };
    let others = glob_match(&p.partition, partition) && glob_match(&p.service, service) && glob_match(&p.region, region) && glob_match(&p.resource, resource);
    if !others {
        return Match::No;
    }
    match account {
        Some(a) => bool_match(glob_match(&p.account, a)),
        // `*` (or an all-`*` field) matches whatever the account is.
        None if p.account.chars().all(|c| c == '*') && !p.account.is_empty() => Match::Yes,
        None if p.account.is_empty() => Match::No,
        None => Match::NeedsAccount,
    }
}

fn bool_match(b: bool) -> Match {
    if b { Match::Yes } else { Match::No }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, arn: &str) -> Match {
        let a = Arn::parse(arn).unwrap();
        matches(pattern, &a.partition, &a.service, &a.region, Some(&a.account), &a.resource)
    }

    #[test]
    fn every_field_is_matched() {
        let g = "arn:aws:ssm:us-east-1:111111111111:parameter/app/*";
        assert_eq!(m(g, "arn:aws:ssm:us-east-1:111111111111:parameter/app/db"), Match::Yes);
        assert_eq!(m(g, "arn:aws:ssm:us-east-1:999999999999:parameter/app/db"), Match::No, "cross-account");
        assert_eq!(m(g, "arn:aws:ssm:eu-west-1:111111111111:parameter/app/db"), Match::No, "cross-region");
        assert_eq!(m(g, "arn:aws-cn:ssm:us-east-1:111111111111:parameter/app/db"), Match::No, "other partition");
        assert_eq!(m(g, "arn:aws:secretsmanager:us-east-1:111111111111:parameter/app/db"), Match::No, "other service");
        assert_eq!(m("arn:*:ssm:*:*:parameter/app/*", "arn:aws-us-gov:ssm:us-gov-west-1:1:parameter/app/x"), Match::Yes);
        assert_eq!(m("arn:aws:ssm:us-east-?:*:parameter/app/*", "arn:aws:ssm:us-east-2:1:parameter/app/x"), Match::Yes);
    }

    #[test]
    fn an_unknown_account_is_looked_up_only_when_the_pattern_names_one() {
        let r = "parameter/app/db";
        assert_eq!(matches("arn:aws:ssm:*:*:parameter/app/*", "aws", "ssm", "us-east-1", None, r), Match::Yes);
        assert_eq!(matches("arn:aws:ssm:*:1111:parameter/app/*", "aws", "ssm", "us-east-1", None, r), Match::NeedsAccount);
        assert_eq!(matches("arn:aws:ssm:*:1111:parameter/other/*", "aws", "ssm", "us-east-1", None, r), Match::No);
        assert_eq!(matches("*", "aws", "ssm", "us-east-1", None, r), Match::Yes);
    }

    #[test]
    fn partitions_follow_regions() {
        assert_eq!(partition_of("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-east-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-central-1"), "aws");
        assert!(Arn::parse("arn:aws:ssm:r:1").is_none());
        assert_eq!(Arn::parse("arn:aws:secretsmanager:r:1:secret:db-Ab").unwrap().resource, "secret:db-Ab");
    }
}
