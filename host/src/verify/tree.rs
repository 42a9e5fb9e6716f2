//! The verify result tree and its two renderings: ecspresso's indented OK/NG/SKIP tree for people
//! (§9.4 of the behaviour notes) and JSON for machines.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::style::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Ng,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Ng => "NG",
            Status::Skip => "SKIP",
        }
    }
}

/// The result of one check: a status and why (empty for a plain OK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome { status: Status::Ok, message: String::new() }
    }
    pub fn ok_with(msg: impl Into<String>) -> Self {
        Outcome { status: Status::Ok, message: msg.into() }
    }
    pub fn ng(msg: impl Into<String>) -> Self {
        Outcome { status: Status::Ng, message: msg.into() }
    }
    pub fn skip(msg: impl Into<String>) -> Self {
        Outcome { status: Status::Skip, message: msg.into() }
    }
}

/// One node of the tree. A node's own outcome comes from its own check (if it has one) and its
/// children: it is NG when its own check or any check below it is NG, so a problem deep in the
/// tree is visible at the top level too.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub outcome: Outcome,
    /// The same check (same display name) was already evaluated; this is its result.
    pub cached: bool,
    /// The node's own check (not one below it) is NG.
    pub own_ng: bool,
    pub children: Vec<Node>,
}

impl Node {
    pub fn leaf(name: impl Into<String>, outcome: Outcome) -> Self {
        let own_ng = outcome.status == Status::Ng;
        Node { name: name.into(), outcome, cached: false, own_ng, children: vec![] }
    }

    /// A parent node: `own` is its own check (None when it only groups its children).
    pub fn parent(name: impl Into<String>, own: Option<Outcome>, children: Vec<Node>) -> Self {
        let failed = children.iter().map(Node::failures).sum::<usize>();
        let below = format!("{failed} {} below", if failed == 1 { "problem" } else { "problems" });
        let own_ng = own.as_ref().is_some_and(|o| o.status == Status::Ng);
        let outcome = match own {
            Some(o) if own_ng && failed > 0 => Outcome::ng(format!("{}; {below}", o.message)),
            Some(o) if own_ng => o,
            _ if failed > 0 => Outcome::ng(below),
            Some(o) => o,
            None => Outcome::ok(),
        };
        Node { name: name.into(), outcome, cached: false, own_ng, children }
    }

    /// NG checks in this subtree: every failed check, its own and those below it.
    pub fn failures(&self) -> usize {
        usize::from(self.own_ng) + self.children.iter().map(Node::failures).sum::<usize>()
    }

    /// Counts of leaf outcomes: (ok, ng, skip).
    pub fn counts(&self) -> (usize, usize, usize) {
        if self.children.is_empty() {
            return match self.outcome.status {
                Status::Ok => (1, 0, 0),
                Status::Ng => (0, 1, 0),
                Status::Skip => (0, 0, 1),
            };
        }
        let (ok, ng, skip) = self.children.iter().map(Node::counts).fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        (ok, ng + usize::from(self.own_ng), skip)
    }
}

/// The indented tree: a node's name at two spaces per depth (top level is depth 1), its children
/// below it, then `--> [STATUS]` at the node's own depth, as ecspresso prints it.
pub fn render_text(nodes: &[Node], style: Style) -> String {
    let mut out = String::new();
    for n in nodes {
        write_node(&mut out, n, 1, style);
    }
    out
}

fn write_node(out: &mut String, n: &Node, depth: usize, style: Style) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{}", n.name);
    for c in &n.children {
        write_node(out, c, depth + 1, style);
    }
    let marker = format!("[{}]", n.outcome.status.as_str());
    let marker = match n.outcome.status {
        Status::Ok => style.green(&marker),
        Status::Ng => style.red(&marker),
        Status::Skip => style.cyan(&marker),
    };
    let cached = if n.cached { " (cached)" } else { "" };
    let message = if n.outcome.message.is_empty() { String::new() } else { format!(" {}", n.outcome.message) };
    let _ = writeln!(out, "{pad}--> {marker}{cached}{message}");
}

/// `{"ok": bool, "summary": {"ok","ng","skip"}, "checks": [node...]}`; a node is
/// `{"name","status","message","cached","children"}`.
pub fn render_json(nodes: &[Node]) -> Value {
    let (ok, ng, skip) = nodes.iter().map(Node::counts).fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    json!({
        "ok": ng == 0,
        "summary": {"ok": ok, "ng": ng, "skip": skip},
        "checks": nodes.iter().map(node_json).collect::<Vec<_>>(),
    })
}

fn node_json(n: &Node) -> Value {
    json!({
        "name": n.name,
        "status": n.outcome.status.as_str(),
        "message": n.outcome.message,
        "cached": n.cached,
        "children": n.children.iter().map(node_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Node> {
        let image = Node::leaf("Image[nginx:alpine]", Outcome::ok());
        let mut cached = Node::leaf("Image[nginx:alpine]", Outcome::ok());
        cached.cached = true;
        let logs = Node::leaf("LogConfiguration[awslogs-group=g]", Outcome::skip("putting logs to g"));
        let c1 = Node::parent("ContainerDefinition[nginx]", None, vec![image, logs]);
        let c2 = Node::parent("ContainerDefinition[sidecar]", None, vec![cached]);
        let role = Node::leaf("TaskRole[arn:aws:iam::1:role/r]", Outcome::ng("role r does not exist"));
        vec![Node::parent("TaskDefinition", None, vec![role, c1, c2]), Node::leaf("Cluster", Outcome::ok())]
    }

    #[test]
    fn text_tree_has_ecspresso_shape() {
        let text = render_text(&sample(), Style { color: false });
        assert_eq!(
            text,
            "  TaskDefinition
    TaskRole[arn:aws:iam::1:role/r]
    --> [NG] role r does not exist
    ContainerDefinition[nginx]
      Image[nginx:alpine]
      --> [OK]
      LogConfiguration[awslogs-group=g]
      --> [SKIP] putting logs to g
    --> [OK]
    ContainerDefinition[sidecar]
      Image[nginx:alpine]
      --> [OK] (cached)
    --> [OK]
  --> [NG] 1 problem below
  Cluster
  --> [OK]
"
        );
    }

    #[test]
    fn json_counts_leaves() {
        let v = render_json(&sample());
        assert_eq!(v["ok"], false);
        assert_eq!(v["summary"], json!({"ok": 3, "ng": 1, "skip": 1}));
        assert_eq!(v["checks"][0]["children"][0]["status"], "NG");
        assert_eq!(v["checks"][0]["children"][2]["children"][0]["cached"], true);
    }

    #[test]
    fn own_failure_wins_over_children() {
        let n = Node::parent("ServiceDefinition", Some(Outcome::ng("no networkConfiguration")), vec![Node::leaf("x", Outcome::ok())]);
        assert_eq!(n.outcome.message, "no networkConfiguration");
        assert_eq!(n.failures(), 1);
        assert_eq!(render_json(&[n])["summary"], json!({"ok": 1, "ng": 1, "skip": 0}));
        let n = Node::parent("P", Some(Outcome::ng("own")), vec![Node::leaf("x", Outcome::ng("a")), Node::leaf("y", Outcome::ng("b"))]);
        assert_eq!(n.failures(), 3);
        assert_eq!(n.outcome.message, "own; 2 problems below");
    }
}
