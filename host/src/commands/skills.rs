//! `cortado skills install|show`: an agent skill for cortado in the agentskills.io layout
//! (`.agents/skills/cortado/SKILL.md`, YAML front matter `name` and `description`, then Markdown),
//! as ecspresso v2.8's `skills install` writes one for ecspresso. `--scope user` (the default)
//! writes under `$HOME`, `--scope repo` at the root of the repository the current directory is in.
//!
//! The file ends with a line holding the sha256 of what cortado wrote: a later install replaces
//! a file that still matches it (an older cortado's, untouched), and refuses, without `--force`,
//! one that was edited since.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::env::Env;
use crate::error::InputError;

#[derive(clap::Subcommand, Debug)]
pub enum SkillsCommand {
    /// Write the cortado skill file (.agents/skills/cortado/SKILL.md) for agents
    Install(InstallArgs),
    /// Print the skill file cortado would write
    Show,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// $HOME/.agents/skills/cortado/SKILL.md
    #[default]
    User,
    /// .agents/skills/cortado/SKILL.md at the root of the current repository (or here)
    Repo,
}

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Where to install
    #[arg(long, value_enum, default_value_t = Scope::User)]
    pub scope: Scope,
    /// Replace a skill file that was edited since cortado wrote it
    #[arg(long)]
    pub force: bool,
}

/// The skill's directory name and `name` (agentskills.io: lowercase, matching the directory).
const NAME: &str = "cortado";
const MARK: &str = "<!-- written by `cortado skills install`; sha256 of the text above: ";

const BODY: &str = r#"# cortado

cortado deploys Amazon ECS services from a config file (`cortado.yml`, or an ecspresso config as is)
with its service and task definition files. It reads ecspresso's configs and flags.

## Before changing anything

- Read what a command will do: `cortado diff` (local definitions against what runs), then
  `cortado deploy --dry-run` (the exact AWS requests, gates evaluated, nothing changed).
- `cortado verify` checks every resource the definitions refer to (roles, images, secrets, logs).
- `cortado status` shows the service, its deployments and recent events.
- Never pass `--force` or `--override GATE` unless the user asked for it: gates guard production.

## Commands you will use

- `cortado deploy [--wait-until deployed|stable|paused|ecs:STAGE|codedeploy:EVENT]`, `cortado rollback`, `cortado wait`.
- `cortado continue [--rollback]` answers a PAUSE hook of a BLUE_GREEN/LINEAR/CANARY deployment.
- `cortado tasks list|find|stop|trace|logs`: the service's tasks; `tasks logs --id ID -d 10m`
  prints a task's container logs (`--log-format json` for JSON lines).
- `cortado exec run|portforward|cp`: ECS Exec (needs session-manager-plugin).
- `cortado render`, `cortado iam-policy`, `cortado audit`, `cortado evidence`.

## Finding the right flag

The manual is in the binary: `cortado docs --search TEXT --json` returns the sections (page, title,
anchor, text) that mention TEXT, `cortado docs --index` lists every section, and every command has
`--help`. Prefer these to guessing: they match the installed version.

## Output for machines

`--output json` (or `--log-format json`) on deploy, scale, refresh, rollback, wait and verify
writes one JSON object per line; the last one is the result. Exit codes: 0 success, 1 failure (a
rolled-back deployment included), 2 bad input (nothing was changed).
"#;

/// The file as written: front matter, body, and the digest line.
pub fn skill_file() -> String {
    let description = "Deploy and operate Amazon ECS services with cortado (ecspresso-compatible): diff, deploy, \
rollback, wait, tasks, exec, verify. Use when the user works on ECS service or task definitions, a cortado.yml or \
ecspresso.yml, or asks about a deployment.";
    let text = format!("---\nname: {NAME}\ndescription: {description}\nmetadata:\n  cortado-version: \"{}\"\n---\n\n{BODY}", env!("CARGO_PKG_VERSION"));
    format!("{text}\n{MARK}{} -->\n", crate::util::sha256_hex(text.as_bytes()))
}

/// Whether `existing` is a file cortado wrote and nobody edited since (any cortado version).
fn untouched(existing: &str) -> bool {
    let Some(at) = existing.rfind(MARK) else { return false };
    let (text, mark) = existing.split_at(at);
    let Some(text) = text.strip_suffix('\n') else { return false };
    let digest = mark[MARK.len()..].trim_end().trim_end_matches("-->").trim();
    digest == crate::util::sha256_hex(text.as_bytes())
}

impl SkillsCommand {
    /// `cortado skills`.
    pub fn exec(self, env: &Env) -> Result<()> {
        match self {
            SkillsCommand::Show => {
                print!("{}", skill_file());
                Ok(())
            }
            SkillsCommand::Install(a) => install(&target(a.scope, env)?, a.force),
        }
    }
}

/// `<root>/.agents/skills/cortado/SKILL.md` for the scope.
fn target(scope: Scope, env: &Env) -> Result<PathBuf> {
    let root = match scope {
        Scope::User => PathBuf::from(env.get("HOME").filter(|h| !h.is_empty()).ok_or_else(|| InputError::new("skills install --scope user: HOME is not set"))?),
        Scope::Repo => {
            let here = std::env::current_dir().context("reading the current directory")?;
            repo_root(&here).unwrap_or(here)
        }
    };
    Ok(root.join(".agents/skills").join(NAME).join("SKILL.md"))
}

/// The nearest directory at or above `dir` holding `.git`.
fn repo_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

/// Writes the skill unless an edited one is there (then only with `force`).
fn install(path: &Path, force: bool) -> Result<()> {
    let wanted = skill_file();
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == wanted => {
            tracing::info!("{} is up to date", path.display());
            return Ok(());
        }
        Ok(existing) if !force && !untouched(&existing) => {
            return Err(InputError::new(format!("{} was edited since cortado wrote it: not replaced (pass --force to replace it)", path.display())).into());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, &wanted).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!("wrote {}", path.display());
    println!("{}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_front_matter_and_knows_it_is_untouched() {
        let f = skill_file();
        assert!(f.starts_with("---\nname: cortado\ndescription: "), "{f}");
        assert!(untouched(&f));
        assert!(!untouched(&f.replace("# cortado\n", "# cortado (mine)\n")));
        assert!(!untouched("hand written\n"));
    }
}
