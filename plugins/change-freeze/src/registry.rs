//! Allowed-registry patterns: `123456789012.dkr.ecr.*.amazonaws.com` (a registry host) or
//! `public.ecr.aws/myorg` (a host and a repository prefix). `*` matches any run of characters
//! within one `/`-separated segment; the host is compared case-insensitively.

use cortado_plugin_sdk::taskdef::ImageRef;

/// Whether `image` (as written in the task definition) comes from a registry `pattern` allows.
pub fn allowed(pattern: &str, image: &ImageRef) -> bool {
    let name = image.name();
    let want: Vec<&str> = pattern.trim().trim_end_matches('/').split('/').collect();
    let have: Vec<&str> = name.split('/').collect();
    if want.is_empty() || want.len() > have.len() {
        return false;
    }
    want.iter().zip(&have).enumerate().all(|(i, (w, h))| if i == 0 { glob(&w.to_ascii_lowercase(), &h.to_ascii_lowercase()) } else { glob(w, h) })
}

/// `*` matches any run of characters (including none); everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(pattern: &str, image: &str) -> bool {
        allowed(pattern, &ImageRef::parse(image))
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abc"));
        assert!(glob("a*c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*c", "abd"));
        assert!(!glob("abc", "abcd"));
    }

    #[test]
    fn ecr_any_region() {
        let p = "123456789012.dkr.ecr.*.amazonaws.com";
        assert!(ok(p, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"));
        assert!(ok(p, "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/team/app@sha256:00"));
        assert!(ok(p, "123456789012.DKR.ECR.us-east-1.amazonaws.com/app:v1"));
        assert!(!ok(p, "999999999999.dkr.ecr.us-east-1.amazonaws.com/app:v1"));
        assert!(!ok(p, "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:v1"));
    }

    #[test]
    fn host_and_path_prefix() {
        let p = "public.ecr.aws/myorg";
        assert!(ok(p, "public.ecr.aws/myorg/app:1"));
        assert!(ok(p, "public.ecr.aws/myorg/team/app:1"));
        assert!(!ok(p, "public.ecr.aws/myorgevil/app:1"));
        assert!(!ok(p, "public.ecr.aws/other/app:1"));
    }

    #[test]
    fn docker_hub() {
        assert!(ok("docker.io", "nginx:latest"));
        assert!(ok("docker.io/library", "nginx"));
        assert!(!ok("docker.io/myorg", "nginx"));
        assert!(!ok("public.ecr.aws", "nginx"));
    }
}
