//! The manual (docs/, an mdBook) cannot drift from the binary: its command reference is what
//! `cortado man --markdown` generates from the clap definitions, each page equals the command's
//! `--help`, every reference page is in the book's SUMMARY, and every relative link and anchor in
//! the book resolves. `mdbook build docs` itself runs in scripts/test.sh.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cortado_e2e::{cortado_bin, repo_root};

/// The width the reference is generated at (host/src/commands/docs.rs); clap reads COLUMNS.
const WIDTH: &str = "100";

const REGENERATE: &str = "regenerate it: cargo run -- man --markdown docs/src/reference";

fn src() -> PathBuf {
    repo_root().join("docs/src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `.md` file names in a directory, sorted.
fn pages_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect()
}

#[test]
fn the_committed_reference_is_what_the_binary_generates() {
    let out = tempfile::tempdir().expect("temp dir");
    let generated = Command::new(cortado_bin()).args(["man", "--markdown"]).arg(out.path()).output().expect("run cortado");
    assert!(generated.status.success(), "man --markdown: {}", String::from_utf8_lossy(&generated.stderr));
    let committed = src().join("reference");
    let (want, have) = (pages_in(out.path()), pages_in(&committed));
    assert_eq!(want, have, "docs/src/reference has other pages than the CLI's commands: {REGENERATE}");
    for name in &want {
        assert_eq!(read(&committed.join(name)), read(&out.path().join(name)), "docs/src/reference/{name} is stale: {REGENERATE}");
    }
}

/// Each ```text block under a `cortado …` heading, with the arguments that print it.
fn help_blocks(page: &str) -> Vec<(Vec<String>, String)> {
    let mut blocks = Vec::new();
    let mut words: Option<Vec<String>> = None;
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("# ").or_else(|| line.strip_prefix("## ")) {
            words = title.strip_prefix("cortado").map(|rest| rest.split_whitespace().map(str::to_owned).collect());
        } else if line == "```text" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            if let Some(w) = words.take() {
                blocks.push((w, block.join("\n")));
            }
        }
    }
    blocks
}

#[test]
fn every_reference_page_is_the_commands_help() {
    let dir = src().join("reference");
    let mut checked = 0;
    for name in pages_in(&dir) {
        let page = read(&dir.join(&name));
        let blocks = help_blocks(&page);
        assert!(!blocks.is_empty(), "{name}: no help block");
        for (words, block) in blocks {
            let help = Command::new(cortado_bin()).args(&words).arg("--help").env("COLUMNS", WIDTH).env_remove("NO_COLOR").output().expect("run cortado");
            assert!(help.status.success(), "cortado {} --help: {}", words.join(" "), String::from_utf8_lossy(&help.stderr));
            let help = String::from_utf8_lossy(&help.stdout);
            assert_eq!(block, help.trim_end(), "{name}: `cortado {} --help` differs from the page: {REGENERATE}", words.join(" "));
            checked += 1;
        }
    }
    // The index's block is `cortado --help`; then at least one page per command.
    assert!(checked > 30, "only {checked} help blocks were compared");
}

#[test]
fn every_reference_page_is_in_the_summary() {
    let summary = read(&src().join("SUMMARY.md"));
    for name in pages_in(&src().join("reference")) {
        assert!(summary.contains(&format!("(reference/{name})")), "docs/src/SUMMARY.md does not list reference/{name}");
    }
}

/// Every `](target)` in a page, outside code.
fn links(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Inline code spans may hold `](` (a regex, a Markdown sample): drop them first.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            found.push(rest[..end].split_whitespace().next().unwrap_or_default().to_owned());
            rest = &rest[end..];
        }
    }
    found
}

/// The anchors mdBook gives a page's headings: lower case, spaces to `-`, other punctuation dropped.
fn anchors(page: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in page.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let id: String = title
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_lowercase().next().unwrap_or(c)),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        out.insert(id);
    }
    out
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// A relative link's problem, if any: a missing file, or an anchor no heading of it has.
fn broken(from: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (file, anchor) = target.split_once('#').map_or((target, None), |(f, a)| (f, Some(a)));
    let path = if file.is_empty() { from.to_path_buf() } else { from.parent().unwrap_or(from).join(file) };
    if !path.exists() {
        return Some(format!("{target}: {} does not exist", path.display()));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if path.extension().is_some_and(|e| e == "md") && !anchors(&read(&path)).contains(anchor) {
        return Some(format!("{target}: no heading #{anchor} in {}", path.display()));
    }
    None
}

#[test]
fn every_relative_link_in_the_book_resolves() {
    let mut files = Vec::new();
    markdown_files(&src(), &mut files);
    assert!(files.len() > 20, "docs/src holds only {} pages", files.len());
    let mut problems = Vec::new();
    for file in &files {
        for target in links(&read(file)) {
            if let Some(p) = broken(file, &target) {
                problems.push(format!("{}: {p}", file.strip_prefix(repo_root()).unwrap_or(file).display()));
            }
        }
    }
    // And the README's links into the book.
    let readme = repo_root().join("README.md");
    for target in links(&read(&readme)) {
        if let Some(p) = broken(&readme, &target) {
            problems.push(format!("README.md: {p}"));
        }
    }
    assert!(problems.is_empty(), "broken links:\n{}", problems.join("\n"));
}

#[test]
fn the_readme_stays_short() {
    let size = read(&repo_root().join("README.md")).len();
    assert!(size <= 10 * 1024, "README.md is {size} bytes; the manual (docs/) is the place for detail");
}
