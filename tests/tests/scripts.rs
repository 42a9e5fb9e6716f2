//! The suite's own steps as a newcomer and CI meet them: scripts/conformance.sh runs ecspresso's
//! conformance suite when `../shared/conformance` sits beside the repository, skips it in a plain
//! clone with one line saying why, and fails without it when `CI=true`.

use std::path::Path;
use std::process::{Command, Output};

use cortado_e2e::repo_root;

/// A stand-in repository holding the scripts under test, in `dir/repo`.
fn clone_scripts(dir: &Path) -> std::path::PathBuf {
    let scripts = dir.join("repo/scripts");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    for name in ["conformance.sh", "env.sh"] {
        std::fs::copy(repo_root().join("scripts").join(name), scripts.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    dir.join("repo")
}

fn conformance(repo: &Path, ci: Option<&str>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo.join("scripts/conformance.sh")).arg("/path/to/cortado").env_remove("CI");
    if let Some(ci) = ci {
        cmd.env("CI", ci);
    }
    cmd.output().expect("bash")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_plain_clone_skips_conformance_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = clone_scripts(dir.path());
    let out = conformance(&repo, None);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("conformance: skipped: ") && stdout.contains("shared/conformance/ecspresso/run.sh is not here"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
    // CI=false is a plain run too.
    assert_eq!(conformance(&repo, Some("false")).status.code(), Some(0));
}

#[test]
fn ci_requires_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = clone_scripts(dir.path());
    let out = conformance(&repo, Some("true"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("CI=true but the ecspresso conformance suite is missing"), "{stderr}");
}

#[test]
fn the_suite_beside_the_repository_runs_and_its_failure_fails_the_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = clone_scripts(dir.path());
    let suite = dir.path().join("shared/conformance/ecspresso");
    std::fs::create_dir_all(&suite).expect("mkdir");
    std::fs::write(suite.join("run.sh"), "echo \"ran against $1\"\nexit \"${SUITE_EXIT:-0}\"\n").expect("write");
    for ci in [None, Some("true")] {
        let out = conformance(&repo, ci);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{ci:?}: {stdout}{stderr}");
        assert_eq!(stdout, "ran against /path/to/cortado\n", "{ci:?}");
    }
    let out = Command::new("bash").arg(repo.join("scripts/conformance.sh")).arg("x").env("SUITE_EXIT", "3").output().expect("bash");
    assert_eq!(out.status.code(), Some(3), "a failing case fails the step");
}
