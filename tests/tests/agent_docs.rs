//! `cortado docs` (the manual in the binary as sections, for people and agents) and `cortado
//! skills install` (the agentskills.io skill file). No AWS: these read only the binary.

use cortado_e2e::Project;
use serde_json::Value;

fn json_of(out: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(out).unwrap_or_else(|e| panic!("{e}: {out}")).as_array().cloned().expect("a JSON array")
}

#[test]
fn docs_lists_indexes_and_searches_the_guide_and_the_reference() {
    let p = Project::new();
    let run = p.run(&["docs", "--list", "--json"], &[]);
    run.expect_code(0);
    let pages = json_of(&run.stdout);
    for want in ["guide/deploy.md", "guide/from-ecspresso.md", "plugins/overview.md", "reference/index.md", "reference/tasks.md"] {
        assert!(pages.iter().any(|s| s["page"] == want), "{want} missing: {}", run.stdout);
    }
    for s in &pages {
        assert!(s["title"].as_str().is_some_and(|t| !t.is_empty()) && s["anchor"].is_string() && s["level"] == 1 && s.get("text").is_none(), "{s}");
    }

    // The index: every heading with its page#anchor, subcommands of the reference included.
    let run = p.run(&["docs", "--index"], &[]);
    run.expect_code(0);
    assert!(run.stdout.lines().any(|l| l == "  cortado tasks logs\treference/tasks.md#cortado-tasks-logs"), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l == "How deploy works\tguide/deploy.md#how-deploy-works"), "{}", run.stdout);

    // --search finds a flag (a value starting with --), in the reference generated from --help.
    let run = p.run(&["docs", "--search", "--wait-until", "--json"], &[]);
    run.expect_code(0);
    let found = json_of(&run.stdout);
    assert!(!found.is_empty());
    for s in &found {
        let hay = format!("{} {}", s["title"].as_str().unwrap(), s["text"].as_str().unwrap()).to_lowercase();
        assert!(hay.contains("--wait-until"), "{s}");
    }
    let deploy = found.iter().find(|s| s["page"] == "reference/deploy.md" && s["anchor"] == "cortado-deploy").expect("cortado deploy's reference");
    assert!(deploy["text"].as_str().unwrap().contains("deployed|stable|paused|ecs:STAGE"), "{deploy}");
    // Text output: each section under its heading with where it is.
    let run = p.run(&["docs", "--search", "tasks logs"], &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("## cortado tasks logs\n<!-- reference/tasks.md#cortado-tasks-logs -->"), "{}", run.stdout);
    assert!(run.stdout.contains("--follow"), "{}", run.stdout);

    let run = p.run(&["docs", "--search", "no-such-words-anywhere"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("no section mentions it"), "{}", run.stderr);
    let run = p.run(&["docs", "--list", "--index"], &[]);
    run.expect_code(2);
}

const SKILL: &str = ".agents/skills/cortado/SKILL.md";

#[test]
fn skills_install_writes_the_skill_and_keeps_an_edited_one() {
    let p = Project::new();
    std::fs::create_dir_all(p.path(".git")).unwrap();
    let show = p.run(&["skills", "show"], &[]);
    show.expect_code(0);
    let run = p.run(&["skills", "install", "--scope", "repo"], &[]);
    run.expect_code(0);
    let text = p.read(SKILL);
    assert_eq!(text, show.stdout);
    // agentskills.io: YAML front matter with name (the directory's) and description, then Markdown.
    let front = text.strip_prefix("---\n").and_then(|t| t.split_once("\n---\n")).expect("front matter").0;
    assert!(front.lines().any(|l| l == "name: cortado"), "{front}");
    let description = front.lines().find_map(|l| l.strip_prefix("description: ")).expect("a description");
    assert!(!description.is_empty() && description.len() <= 1024);
    assert!(text.contains("cortado docs --search"), "{text}");

    // Again: up to date, nothing changes.
    p.run(&["skills", "install", "--scope", "repo"], &[]).expect_code(0);
    assert_eq!(p.read(SKILL), text);
    // Edited by hand: refused without --force, and the edit is kept.
    let edited = text.replace("## Before changing anything", "## Before changing anything (our team's rules)");
    p.write(SKILL, &edited);
    let run = p.run(&["skills", "install", "--scope", "repo"], &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("was edited since cortado wrote it") && run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(p.read(SKILL), edited);
    p.run(&["skills", "install", "--scope", "repo", "--force"], &[]).expect_code(0);
    assert_eq!(p.read(SKILL), text);

    // --scope user writes under $HOME.
    let home = tempfile::tempdir().unwrap();
    let run = p.run(&["skills", "install"], &[("HOME", &home.path().display().to_string())]);
    run.expect_code(0);
    assert_eq!(std::fs::read_to_string(home.path().join(SKILL)).unwrap(), text);
}
