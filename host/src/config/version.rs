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

/// Does `constraint` declare ecspresso v3 (`>= 3`, `~> 3.0`, `>= 3.1, < 4`)? It must rule out every
/// v2 release and admit some v3 one. The probes are the ends of each major line and every version
/// the constraint names, so bounds inside a line are seen. A malformed constraint declares nothing
/// (the required_version check reports it).
pub fn declares_v3(constraint: &str) -> bool {
    let mut named: Vec<Version> = constraint.split(',').filter_map(|p| parse_loose(split_op(p.trim()).1.trim()).map(|(v, _)| v)).collect();
    named.extend([Version::new(2, 0, 0), Version::new(2, 999, 999), Version::new(3, 0, 0), Version::new(3, 999, 999)]);
    let mut probes = Vec::new();
    for v in named {
        // Just above and at a named version: `> 3.1` admits 3.1.1, not 3.1.0.
        probes.push(Version::new(v.major, v.minor, v.patch + 1));
        probes.push(v);
    }
    let admits = |v: &Version| satisfies(constraint, v).unwrap_or(false);
    let v2 = probes.iter().filter(|v| v.major == 2).any(admits);
    let v3 = probes.iter().filter(|v| v.major == 3).any(admits);
    !v2 && v3
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

    #[test]
    fn which_constraints_declare_v3() {
        for c in [">= 3", "~> 3.0", ">= 3.1, < 4", "~> v3.0.0", "> 3.1", "3.0.0", ">= 3.0.0-rc1"] {
            assert!(declares_v3(c), "{c}");
        }
        for c in [">= 2", ">= 2.0.0, < 3", "~> 2.8", ">= 2.8, < 4", "< 3", ">= 4", "junk"] {
            assert!(!declares_v3(c), "{c}");
        }
    }
}
