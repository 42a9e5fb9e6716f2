//! The image rule: pinned by digest is always fine; otherwise (unless a digest is required) the tag
//! must be present, not `latest`, and match the immutable-tags pattern when one is configured.

use cortado_plugin_sdk::Check;
use cortado_plugin_sdk::taskdef::ImageRef;
use regex_lite::Regex;
use serde::Deserialize;

pub const DEFAULT_PATTERN: &str = r"^v\d+\.\d+\.\d+$";

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub require_digest: bool,
    /// A regular expression (Rust `regex` syntax) tags must match; `null` or absent means the
    /// default `^v\d+\.\d+\.\d+$`, `""` means any tag except `latest`.
    #[serde(default)]
    pub immutable_tags_pattern: Option<String>,
}

#[derive(Debug)]
pub struct Policy {
    pub require_digest: bool,
    pub pattern: Option<Regex>,
}

impl Policy {
    pub fn from_config(c: Config) -> Result<Policy, String> {
        let source = c.immutable_tags_pattern.unwrap_or_else(|| DEFAULT_PATTERN.to_owned());
        let pattern = if source.is_empty() {
            None
        } else {
            Some(Regex::new(&source).map_err(|e| format!("immutable_tags_pattern {source:?} is not a valid regular expression: {e}"))?)
        };
        Ok(Policy { require_digest: c.require_digest, pattern })
    }

    /// The check for one container's image.
    pub fn check(&self, container: &str, image: &str) -> Check {
        let name = format!("image[{container}]");
        if image.trim().is_empty() {
            return Check::ng(name, "the container has no image");
        }
        let r = ImageRef::parse(image);
        if r.is_pinned() {
            return Check::ok(name, format!("{image} is pinned by digest"));
        }
        if self.require_digest {
            return Check::ng(name, format!("{image} is not pinned by a sha256 digest (require_digest is set)"));
        }
        match r.tag.as_deref() {
            None => Check::ng(name, format!("{image} has no tag, so it means latest, which is mutable")),
            Some("latest") => Check::ng(name, format!("{image} uses the mutable latest tag")),
            Some(tag) => match &self.pattern {
                Some(p) if !p.is_match(tag) => Check::ng(name, format!("tag {tag} of {image} does not match immutable_tags_pattern {}", p.as_str())),
                Some(p) => Check::ok(name, format!("tag {tag} matches {}", p.as_str())),
                None => Check::ok(name, format!("tag {tag} is not latest")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortado_plugin_sdk::CheckStatus::{self, Ng, Ok};

    fn policy(require_digest: bool, pattern: Option<&str>) -> Policy {
        Policy::from_config(Config { require_digest, immutable_tags_pattern: pattern.map(str::to_owned) }).unwrap()
    }

    fn status(p: &Policy, image: &str) -> CheckStatus {
        p.check("app", image).status
    }

    const DIGEST: &str = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn default_pattern() {
        let p = policy(false, None);
        assert_eq!(status(&p, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1.2.3"), Ok);
        assert_eq!(status(&p, "app:v1.2"), Ng);
        assert_eq!(status(&p, "app:1.2.3"), Ng);
        assert_eq!(status(&p, "app:latest"), Ng);
        assert_eq!(status(&p, "app"), Ng);
        assert_eq!(status(&p, "localhost:5000/app"), Ng);
        assert_eq!(status(&p, ""), Ng);
        assert_eq!(status(&p, &format!("app{DIGEST}")), Ok);
        assert_eq!(status(&p, &format!("app:latest{DIGEST}")), Ok);
        assert_eq!(p.check("web", "app:latest").name, "image[web]");
    }

    #[test]
    fn require_digest() {
        let p = policy(true, None);
        assert_eq!(status(&p, "app:v1.2.3"), Ng);
        assert_eq!(status(&p, &format!("app:v1.2.3{DIGEST}")), Ok);
        assert!(p.check("a", "app:v1.2.3").message.contains("require_digest"));
    }

    #[test]
    fn custom_and_empty_patterns() {
        let p = policy(false, Some(r"^(release|hotfix)-[0-9a-f]{7}$"));
        assert_eq!(status(&p, "app:release-abc1234"), Ok);
        assert_eq!(status(&p, "app:main-abc1234"), Ng);
        let p = policy(false, Some(""));
        assert_eq!(status(&p, "app:anything"), Ok);
        assert_eq!(status(&p, "app:latest"), Ng);
        assert!(Policy::from_config(Config { require_digest: false, immutable_tags_pattern: Some("(".into()) }).is_err());
    }
}
