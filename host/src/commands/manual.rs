//! `cortado docs`: the manual inside the binary, as sections (page, title, anchor, level, text)
//! for people and for agents (`--json`). The guide pages are the book's own (`docs/src`, embedded
//! at build time); the command reference is generated from the clap definitions at run time, as
//! `cortado man --markdown` writes it, so the two cannot disagree with the binary.

use anyhow::Result;
use serde_json::{Value, json};

/// The book's pages embedded in the binary, in SUMMARY.md's order (the reference comes after,
/// generated).
const PAGES: &[(&str, &str)] = &[
    ("introduction.md", include_str!("../../../docs/src/introduction.md")),
    ("guide/install.md", include_str!("../../../docs/src/guide/install.md")),
    ("guide/quick-start.md", include_str!("../../../docs/src/guide/quick-start.md")),
    ("guide/config.md", include_str!("../../../docs/src/guide/config.md")),
    ("guide/templates.md", include_str!("../../../docs/src/guide/templates.md")),
    ("guide/commands.md", include_str!("../../../docs/src/guide/commands.md")),
    ("guide/deploy.md", include_str!("../../../docs/src/guide/deploy.md")),
    ("guide/verify-run-tasks-exec.md", include_str!("../../../docs/src/guide/verify-run-tasks-exec.md")),
    ("guide/native-deployments.md", include_str!("../../../docs/src/guide/native-deployments.md")),
    ("guide/daemons.md", include_str!("../../../docs/src/guide/daemons.md")),
    ("guide/stacks.md", include_str!("../../../docs/src/guide/stacks.md")),
    ("guide/gates-and-audit.md", include_str!("../../../docs/src/guide/gates-and-audit.md")),
    ("guide/teams.md", include_str!("../../../docs/src/guide/teams.md")),
    ("guide/ci.md", include_str!("../../../docs/src/guide/ci.md")),
    ("guide/from-ecspresso.md", include_str!("../../../docs/src/guide/from-ecspresso.md")),
    ("plugins/overview.md", include_str!("../../../docs/src/plugins/overview.md")),
    ("plugins/grants.md", include_str!("../../../docs/src/plugins/grants.md")),
    ("plugins/wit.md", include_str!("../../../docs/src/plugins/wit.md")),
    ("plugins/sdks.md", include_str!("../../../docs/src/plugins/sdks.md")),
    ("plugins/testing.md", include_str!("../../../docs/src/plugins/testing.md")),
];

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").args(["list", "index", "search"])))]
pub struct DocsArgs {
    /// List the pages (path and title)
    #[arg(long)]
    pub list: bool,
    /// List every section: its title, indented by level, and its page#anchor
    #[arg(long)]
    pub index: bool,
    /// Print the sections whose title or text contains TEXT (case-insensitive; a flag like --wait-until works)
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub search: Option<String>,
    /// JSON instead of text: an array of sections {page, title, anchor, level[, text]}
    #[arg(long)]
    pub json: bool,
}

/// One section of a page: a heading and the text up to the next heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub page: String,
    pub title: String,
    pub anchor: String,
    pub level: usize,
    pub text: String,
}

impl Section {
    fn json(&self, with_text: bool) -> Value {
        let mut v = json!({"page": self.page, "title": self.title, "anchor": self.anchor, "level": self.level});
        if with_text {
            v["text"] = json!(self.text);
        }
        v
    }
}

impl DocsArgs {
    /// `cortado docs`.
    pub fn exec(self) -> Result<()> {
        let sections = sections();
        let mut out = std::io::stdout().lock();
        if self.list {
            let pages: Vec<&Section> = sections.iter().filter(|s| s.level == 1).collect();
            return print(&mut out, self.json, &pages, false, |s| format!("{}\t{}", s.page, s.title));
        }
        if self.index {
            let all: Vec<&Section> = sections.iter().collect();
            return print(&mut out, self.json, &all, false, |s| format!("{}{}\t{}#{}", "  ".repeat(s.level.saturating_sub(1)), s.title, s.page, s.anchor));
        }
        let chosen: Vec<&Section> = match &self.search {
            Some(text) => search(&sections, text),
            None => sections.iter().collect(),
        };
        if chosen.is_empty()
            && let Some(text) = &self.search
        {
            return Err(crate::error::InputError::new(format!("docs --search {text:?}: no section mentions it")).into());
        }
        print(&mut out, self.json, &chosen, true, |s| {
            format!("{} {}\n<!-- {}#{} -->\n\n{}\n", "#".repeat(s.level), s.title, s.page, s.anchor, s.text.trim_end())
        })
    }
}

/// Text lines from `line`, or one JSON array.
fn print(out: &mut impl std::io::Write, json: bool, sections: &[&Section], with_text: bool, line: impl Fn(&Section) -> String) -> Result<()> {
    if json {
        let v: Vec<Value> = sections.iter().map(|s| s.json(with_text)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for s in sections {
            writeln!(out, "{}", line(s))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The sections whose title or text contains `text`, case-insensitively.
pub fn search<'a>(sections: &'a [Section], text: &str) -> Vec<&'a Section> {
    let needle = text.to_lowercase();
    sections.iter().filter(|s| s.title.to_lowercase().contains(&needle) || s.text.to_lowercase().contains(&needle)).collect()
}

/// Every section of the manual: the embedded guide pages, then the generated command reference.
pub fn sections() -> Vec<Section> {
    let mut all = Vec::new();
    for (page, text) in PAGES {
        all.extend(split(page, text));
    }
    for (name, text) in super::docs::reference_pages() {
        all.extend(split(&format!("reference/{name}"), &text));
    }
    all
}

/// Splits a Markdown page at its headings (not those inside fenced code blocks).
pub fn split(page: &str, markdown: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut fenced = false;
    // The reference pages' "generated, do not edit" comment is for the book's editors, not readers.
    for line in markdown.lines().filter(|l| !l.starts_with("<!-- Generated by")) {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let heading = (!fenced).then(|| heading(line)).flatten();
        match (heading, sections.last_mut()) {
            (Some((level, title)), _) => {
                sections.push(Section { page: page.to_owned(), anchor: anchor(&title), title, level, text: String::new() });
            }
            (None, Some(s)) => {
                s.text.push_str(line);
                s.text.push('\n');
            }
            (None, None) if !line.trim().is_empty() => {
                // Text before the first heading: a section titled after the page.
                sections.push(Section { page: page.to_owned(), title: page.to_owned(), anchor: String::new(), level: 1, text: format!("{line}\n") });
            }
            (None, None) => {}
        }
    }
    for s in &mut sections {
        s.text = s.text.trim().to_owned();
    }
    sections
}

/// `## Title` → `(2, "Title")`.
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let rest = line.get(level..)?;
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| (level, rest.trim().trim_end_matches('#').trim().to_owned()))
}

/// mdBook's anchor for a heading: lowercase, spaces to `-`, only letters, digits, `-` and `_` kept.
pub fn anchor(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_split_at_headings_outside_code() {
        let md = "# Top\n\nintro\n\n## A `flag` here\n\ntext\n```text\n# not a heading\n```\n### Deep\nmore\n";
        let s = split("p.md", md);
        let titles: Vec<(&str, usize, &str)> = s.iter().map(|s| (s.title.as_str(), s.level, s.anchor.as_str())).collect();
        assert_eq!(titles, [("Top", 1, "top"), ("A `flag` here", 2, "a-flag-here"), ("Deep", 3, "deep")]);
        assert!(s[1].text.contains("# not a heading"));
        assert_eq!(anchor("cortado tasks logs"), "cortado-tasks-logs");
    }

    #[test]
    fn the_manual_has_the_guide_and_the_reference() {
        let all = sections();
        assert!(all.iter().any(|s| s.page == "guide/deploy.md" && s.level == 1));
        assert!(all.iter().any(|s| s.page == "reference/deploy.md" && s.title == "cortado deploy"));
        assert!(search(&all, "--wait-until").iter().any(|s| s.page == "reference/deploy.md"));
    }
}
