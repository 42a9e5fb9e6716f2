//! `required_version`: hashicorp go-version constraints (`>= 2.0.0, < 3`, `~> v1.1.0`, `= 1.2`).

use semver::Version;

/// Checks `version` against a go-version constraint string. Err(message) if the constraint is
/// malformed; Ok(false) if it is not satisfied.
pub fn satisfies(constraint: &str, version: &Version) -> Result<bool, String> {
    let mut ok = true;
    for part in constraint.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("invalid version constraint {constraint:?}"));
        }
        let (op, rest) = split_op(part);
        let (v, given) = parse_loose(rest.trim()).ok_or_else(|| format!("invalid version constraint {part:?}"))?;
        let cmp = compare(version, &v);
        let this = match op {
            "" | "=" => cmp == std::cmp::Ordering::Equal,
            "!=" => cmp != std::cmp::Ordering::Equal,
            ">" => cmp == std::cmp::Ordering::Greater,
            ">=" => cmp != std::cmp::Ordering::Less,
            "<" => cmp == std::cmp::Ordering::Less,
            "<=" => cmp != std::cmp::Ordering::Greater,
            "~>" => {
                // Pessimistic: >= v, and below the next release of the second-to-last given segment.
                let upper = match given {
                    1 | 2 => Version::new(v.major + 1, 0, 0),
                    _ => Version::new(v.major, v.minor + 1, 0),
                };
                cmp != std::cmp::Ordering::Less && compare(version, &upper) == std::cmp::Ordering::Less
            }
            _ => return Err(format!("invalid operator in version constraint {part:?}")),
        };
        ok &= this;
    }
    Ok(ok)
}

fn split_op(s: &str) -> (&str, &str) {
    for op in ["~>", ">=", "<=", "!=", ">", "<", "="] {
        if let Some(rest) = s.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", s)
}

/// Parses `1`, `1.2`, `v1.2.3`, `1.2.3-rc1`; returns the version and how many numeric segments were given.
fn parse_loose(s: &str) -> Option<(Version, usize)> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let nums: Vec<u64> = core.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if nums.is_empty() || nums.len() > 3 {
        return None;
    }
    let mut v = Version::new(nums[0], *nums.get(1).unwrap_or(&0), *nums.get(2).unwrap_or(&0));
    if let Some(p) = pre {
        v.pre = semver::Prerelease::new(p).ok()?;
    }
    Some((v, nums.len()))
}

/// Compares ignoring build metadata, like go-version.
fn compare(a: &Version, b: &Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a.pre.cmp(&b.pre),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn go_version_constraints() {
        assert!(satisfies(">= 2.0.0, < 3", &v("2.3.1")).unwrap());
        assert!(!satisfies(">= 2.0.0, < 3", &v("3.0.0")).unwrap());
        assert!(satisfies("~> v1.1.0", &v("1.1.9")).unwrap());
        assert!(!satisfies("~> v1.1.0", &v("1.2.0")).unwrap());
        assert!(satisfies("~> 1.1", &v("1.9.0")).unwrap());
        assert!(satisfies("0.1.0", &v("0.1.0")).unwrap());
        assert!(satisfies("!= 0.2.0", &v("0.1.0")).unwrap());
        assert!(satisfies(">99", &v("0.1.0")).is_ok_and(|b| !b));
        assert!(satisfies(">= x.y", &v("0.1.0")).is_err());
        assert!(satisfies("=> 1.0", &v("0.1.0")).is_err());
    }
}
