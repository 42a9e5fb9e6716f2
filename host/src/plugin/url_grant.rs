//! `http:Get` grants: what a granted URL prefix matches.
//!
//! Both the grant and the URL a plugin asks for are normalised first (RFC 3986 §6.2.2), and the
//! request is sent for the normalised URL, so the text matched is the resource the server reads:
//! - scheme and host are lower-cased; the default port (80 for http, 443 for https) is dropped;
//! - percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes
//!   are kept with upper-case hex digits;
//! - dot segments (`.`, `..`, also when written `%2e`) are removed from the path;
//! - refused (not normalisable, so not matchable): userinfo (`user@host`), an encoded `/` or `\`
//!   in the path (`%2F`, `%5C`), a literal `\`, a fragment, a malformed escape, non-ASCII or
//!   control characters, a scheme other than http/https.
//!
//! Matching: `*` in the grant's scheme, host and path matches any run of characters; a `?` or `*`
//! in the grant's query matches itself unless the grant says `glob: true`. A plain `http://` URL
//! to a host other than loopback is granted only by a grant that itself starts with `http://`
//! (a wildcard scheme grants plain HTTP to loopback only). The broker never follows a redirect.

/// A normalised URL: `scheme://host[:port]/path` and, separately, the query without its `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normal {
    pub scheme: String,
    /// `host[:port]`, lower-cased, without a default port.
    pub authority: String,
    pub path: String,
    pub query: Option<String>,
}

impl Normal {
    /// The URL as it is matched and sent.
    pub fn to_url(&self) -> String {
        let base = format!("{}://{}{}", self.scheme, self.authority, self.path);
        match &self.query {
            Some(q) => format!("{base}?{q}"),
            None => base,
        }
    }

    /// Is the host loopback (`127.0.0.0/8`, `localhost`, `[::1]`)?
    pub fn is_loopback(&self) -> bool {
        let host = if self.authority.starts_with('[') {
            self.authority.split_once(']').map(|(h, _)| format!("{h}]")).unwrap_or_default()
        } else {
            self.authority.split(':').next().unwrap_or_default().to_owned()
        };
        host == "localhost" || host == "[::1]" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// Normalises a URL a plugin asks for (no wildcards), or says why it cannot be.
pub fn normalize(url: &str) -> Result<Normal, String> {
    parse(url, false)
}

/// Normalises a grant's URL pattern (`*` allowed), or says why it cannot be.
pub fn normalize_pattern(pattern: &str) -> Result<Normal, String> {
    parse(pattern, true)
}

fn parse(url: &str, pattern: bool) -> Result<Normal, String> {
    if let Some(c) = url.chars().find(|c| !c.is_ascii() || c.is_ascii_control() || *c == ' ') {
        return Err(format!("{c:?} must be percent-encoded"));
    }
    if url.contains('#') {
        return Err("a fragment (`#`) is not part of what is fetched".into());
    }
    if url.contains('\\') {
        return Err("a `\\` in a URL is read as `/` by some servers".into());
    }
    let (scheme, rest) = url.split_once("://").ok_or("not an absolute http(s):// URL")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        s if pattern && s.contains('*') => "",
        s => return Err(format!("scheme {s:?} is not http or https")),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("userinfo (`user@`) in a URL is refused".into());
    }
    if authority.is_empty() || authority.contains('%') {
        return Err("no host, or an encoded host".into());
    }
    let authority = normalize_authority(&authority.to_ascii_lowercase(), default_port, pattern)?;
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let path = percent_normalize(path, true)?;
    let path = remove_dot_segments(if path.is_empty() { "/" } else { &path });
    let query = query.map(|q| percent_normalize(q, false)).transpose()?;
    Ok(Normal { scheme, authority, path, query })
}

/// `host[:port]` without a default port; IPv6 hosts in brackets.
fn normalize_authority(authority: &str, default_port: &str, pattern: bool) -> Result<String, String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("an unclosed `[` in the host")?;
        (format!("[{ip}]"), after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("no host".into());
    }
    match port {
        None | Some("") => Ok(host),
        Some("*") if pattern => Ok(format!("{host}:*")),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            let p = p.trim_start_matches('0');
            let p = if p.is_empty() { "0" } else { p };
            Ok(if p == default_port { host } else { format!("{host}:{p}") })
        }
        Some(p) => Err(format!("port {p:?} is not a number")),
    }
}

/// Decodes escapes of unreserved characters and upper-cases the others; in a path, an encoded
/// `/` or `\` is refused (decoding it would change the segments, keeping it lets a server do so).
fn percent_normalize(text: &str, path: bool) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(hex) = hex else {
            return Err(format!("a malformed escape at {:?}", &text[i..text.len().min(i + 3)]));
        };
        let byte = u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        if path && (byte == b'/' || byte == b'\\') {
            return Err(format!("an encoded {:?} (%{hex}) in the path is refused", byte as char));
        }
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push_str(&hex.to_ascii_uppercase());
        }
        i += 3;
    }
    Ok(out)
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// `*` matches any run of characters; `?` is literal unless `question` (then one character).
pub fn wildcard_match(pattern: &str, text: &str, question: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && ((question && p[pi] == '?') || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Does an Allow grant `pattern` grant the normalised `url`? Its pattern must cover the URL, and
/// plain HTTP beyond loopback needs a pattern that says `http://` itself. See the module docs.
pub fn matches(pattern: &str, glob: bool, url: &Normal) -> bool {
    let plain_http_named = pattern.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("http://"));
    if url.scheme == "http" && !url.is_loopback() && !plain_http_named {
        return false;
    }
    covers(pattern, glob, url)
}

/// Does the grant `pattern` cover the normalised `url` (what a Deny grant is matched with)?
pub fn covers(pattern: &str, glob: bool, url: &Normal) -> bool {
    if pattern == "*" {
        return true;
    }
    let Ok(p) = normalize_pattern(pattern) else { return false };
    let base = |n: &Normal| format!("{}://{}{}", n.scheme, n.authority, n.path);
    match &p.query {
        // No query in the grant: a prefix (or exact URL) over everything, query included.
        None => wildcard_match(&base(&p), &url.to_url(), false),
        Some(q) => {
            wildcard_match(&base(&p), &base(url), false) && url.query.as_deref().is_some_and(|uq| if glob { wildcard_match(q, uq, true) } else { q == uq })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(u: &str) -> String {
        normalize(u).map(|n| n.to_url()).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn urls_are_normalised_per_rfc_3986() {
        assert_eq!(n("HTTP://Example.COM:80/prod/../secret/s.json"), "http://example.com/secret/s.json");
        assert_eq!(n("https://h:443/prod/%2e%2E/secret"), "https://h/secret");
        assert_eq!(n("https://h/prod/./a/%7Euser/%41"), "https://h/prod/a/~user/A");
        assert_eq!(n("https://h/a%3fb?x=%2f"), "https://h/a%3Fb?x=%2F");
        assert_eq!(n("https://h"), "https://h/");
        assert_eq!(n("https://h:8443/a/.."), "https://h:8443/");
        assert!(n("https://u:p@h/").starts_with("ERR"));
        assert!(n("https://h/prod/..%2fsecret").starts_with("ERR"));
        assert!(n("https://h/prod/..%5Csecret").starts_with("ERR"));
        assert!(n("https://h/prod\\..\\secret").starts_with("ERR"));
        assert!(n("https://h/%zz").starts_with("ERR"));
        assert!(n("https://h/a#b").starts_with("ERR"));
        assert!(n("ftp://h/a").starts_with("ERR"));
        assert!(n("https://h:x/a").starts_with("ERR"));
    }

    #[test]
    fn a_prefix_grant_holds_after_normalisation() {
        let m = |p: &str, u: &str| matches(p, false, &normalize(u).unwrap());
        assert!(m("http://127.0.0.1:9/prod/*", "http://127.0.0.1:9/prod/a.json"));
        assert!(!m("http://127.0.0.1:9/prod/*", "http://127.0.0.1:9/prod/../secret/a.json"));
        assert!(!m("http://127.0.0.1:9/prod/*", "http://127.0.0.1:9/prod/%2e%2e/secret/a.json"));
        assert!(m("HTTPS://H:443/prod/*", "https://h/prod/a"));
        // `?` and `*` in a query are literal unless the grant says glob.
        assert!(m("https://h/s?v=1", "https://h/s?v=1"));
        assert!(!m("https://h/s?v=?", "https://h/s?v=2"));
        assert!(!m("https://h/s?v=*", "https://h/s?v=2"));
        assert!(matches("https://h/s?v=*", true, &normalize("https://h/s?v=2").unwrap()));
        // Plain http beyond loopback only where the grant names http:// itself.
        assert!(!m("*://h.example/*", "http://h.example/a"));
        assert!(!m("*", "http://h.example/a"));
        assert!(m("http://h.example/*", "http://h.example/a"));
        assert!(m("*://h.example/*", "https://h.example/a"));
        assert!(m("*", "http://localhost:8/a"));
    }
}
