//! Helpers for the JSON documents the host hands to verifiers and gates: containers of a rendered
//! task definition, and container image references.

use serde_json::Value;

/// A container of a task definition: its name and image as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
}

/// The containers of a rendered task definition (JSON).
///
/// Accepts what ecspresso accepts: keys in any letter case (`containerDefinitions`,
/// `ContainerDefinitions`), and the output of `aws ecs describe-task-definition` (a top-level
/// `taskDefinition` wrapper). A container without an image has `image == ""`.
pub fn containers(task_definition: &str) -> Result<Vec<Container>, String> {
    let doc: Value = serde_json::from_str(task_definition).map_err(|e| format!("the task definition is not valid JSON: {e}"))?;
    let mut td = &doc;
    if let Some(inner) = get_ci(td, "taskDefinition").filter(|v| !v.is_null()) {
        td = inner;
    }
    if !td.is_object() {
        return Err("the task definition is not a JSON object".into());
    }
    let defs = match get_ci(td, "containerDefinitions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("containerDefinitions is not a list".into()),
    };
    Ok(defs
        .iter()
        .map(|c| Container {
            name: get_ci(c, "name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            image: get_ci(c, "image").and_then(Value::as_str).unwrap_or_default().to_owned(),
        })
        .collect())
}

/// An object member by key, matching the key's letter case loosely (exact match first).
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    o.get(key).or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// A parsed container image reference, following Docker's rules: the first path component is a
/// registry host when it contains `.` or `:` or is `localhost`; otherwise the image is on Docker Hub
/// (`docker.io`, and a single-component name gets the `library/` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, with port if any (`123456789012.dkr.ecr.us-east-1.amazonaws.com`,
    /// `localhost:5000`, `docker.io`).
    pub registry: String,
    /// Repository path inside the registry (`myorg/app`, `library/nginx`).
    pub repository: String,
    /// The tag, if written (`v1.2.3`); `None` means Docker's implicit `latest`.
    pub tag: Option<String>,
    /// The digest, if pinned (`sha256:...`).
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> ImageRef {
        let image = image.trim();
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_owned())),
            None => (image, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if first.contains('.') || first.contains(':') || first == "localhost" => (first.to_owned(), path),
            _ => ("docker.io".to_owned(), rest),
        };
        // The tag is after the last ':' of the last path component (a ':' earlier belongs to a
        // registry port, handled above).
        let last_slash = path.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repo, tag) = match path[last_slash..].rfind(':') {
            Some(i) => (&path[..last_slash + i], Some(path[last_slash + i + 1..].to_owned())),
            None => (path, None),
        };
        let repository = if registry == "docker.io" && !repo.contains('/') { format!("library/{repo}") } else { repo.to_owned() };
        ImageRef { registry, repository, tag, digest }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Pinned by a `sha256:` digest.
    pub fn is_pinned(&self) -> bool {
        self.digest.as_deref().is_some_and(|d| d.starts_with("sha256:") && d.len() > "sha256:".len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_any_case_and_wrapper() {
        let td = r#"{"family":"app","containerDefinitions":[{"name":"app","image":"nginx:1"},{"name":"side"}]}"#;
        assert_eq!(
            containers(td).unwrap(),
            vec![Container { name: "app".into(), image: "nginx:1".into() }, Container { name: "side".into(), image: "".into() }]
        );
        let wrapped = r#"{"taskDefinition":{"ContainerDefinitions":[{"Name":"a","Image":"x"}]},"tags":[]}"#;
        assert_eq!(containers(wrapped).unwrap(), vec![Container { name: "a".into(), image: "x".into() }]);
        assert_eq!(containers(r#"{"family":"x"}"#).unwrap(), vec![]);
        assert!(containers("[").is_err());
        assert!(containers("[]").is_err());
    }

    #[test]
    fn image_refs() {
        let r = ImageRef::parse("nginx");
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref(), r.digest.as_deref()), ("docker.io", "library/nginx", None, None));
        let r = ImageRef::parse("nginx:alpine");
        assert_eq!((r.repository.as_str(), r.tag.as_deref()), ("library/nginx", Some("alpine")));
        let r = ImageRef::parse("myorg/app:v1");
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()), ("docker.io", "myorg/app", Some("v1")));
        let r = ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1.2.3");
        assert_eq!(r.registry, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(r.name(), "123456789012.dkr.ecr.us-east-1.amazonaws.com/app");
        let r = ImageRef::parse("localhost:5000/team/app");
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()), ("localhost:5000", "team/app", None));
        let r = ImageRef::parse("registry.example.com:443/app:1@sha256:abcd");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref(), r.digest.as_deref()),
            ("registry.example.com:443", "app", Some("1"), Some("sha256:abcd"))
        );
        assert!(r.is_pinned());
        let r = ImageRef::parse("public.ecr.aws/myorg/app@sha256:0123");
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref(), r.is_pinned()), ("public.ecr.aws", "myorg/app", None, true));
        assert!(!ImageRef::parse("app@sha256:").is_pinned());
        assert!(!ImageRef::parse("app@md5:12").is_pinned());
    }
}
