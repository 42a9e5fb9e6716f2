//! The command line as a new user meets it: completion scripts that load, a man page, help with
//! the global options apart and every option described, `--tasks` that refuses nonsense, and the
//! GitHub Action's install script (against a file:// release).

use std::process::Command;

use cortado_e2e::{Project, cortado_bin, repo_root};

fn cortado(args: &[&str]) -> std::process::Output {
    Command::new(cortado_bin()).args(args).env_remove("NO_COLOR").output().expect("run cortado")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn completion_scripts_load_in_bash_and_zsh() {
    let bin = cortado_bin();
    let bin = bin.display();
    let bash = Command::new("bash").arg("-c").arg(format!("set -e; source <({bin} completion bash); complete -p cortado")).output().expect("bash");
    assert!(bash.status.success() && bash.stderr.is_empty(), "bash: {}{}", stdout(&bash), String::from_utf8_lossy(&bash.stderr));
    assert!(stdout(&bash).contains("cortado"), "no completion registered: {}", stdout(&bash));
    let zsh_found = Command::new("zsh").arg("-c").arg("true").status().map(|s| s.success()).unwrap_or(false);
    assert!(zsh_found, "zsh is missing: scripts/setup.sh installs it");
    let zsh = Command::new("zsh")
        .arg("-f")
        .arg("-c")
        .arg(format!("autoload -U compinit && compinit -u && source <({bin} completion zsh) && (( $+functions[_cortado] ))"))
        .env("HOME", tempfile::tempdir().unwrap().path())
        .output()
        .expect("zsh");
    assert!(zsh.status.success() && zsh.stderr.is_empty(), "zsh: {}{}", stdout(&zsh), String::from_utf8_lossy(&zsh.stderr));
    for shell in ["fish", "powershell", "elvish"] {
        let o = cortado(&["completion", shell]);
        assert!(o.status.success() && stdout(&o).contains("deploy"), "{shell}");
    }
    assert_eq!(cortado(&["completion", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_page_covers_every_command() {
    let o = cortado(&["man"]);
    assert!(o.status.success());
    let page = stdout(&o);
    assert!(page.starts_with(".ie") || page.contains(".TH cortado"), "{}", &page[..page.len().min(200)]);
    assert!(page.contains("deploy") && page.contains("completion"));
    let dir = tempfile::tempdir().unwrap();
    let o = cortado(&["man", "--dir", &dir.path().display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for page in ["cortado.1", "cortado-deploy.1", "cortado-plugin-inspect.1"] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
}

/// The subcommands `cortado --help` lists, and their own subcommands (`plugin list`, …).
fn subcommands(prefix: &[&str]) -> Vec<Vec<String>> {
    let mut args: Vec<&str> = prefix.to_vec();
    args.push("--help");
    let help = stdout(&cortado(&args));
    let Some(section) = help.split("Commands:\n").nth(1) else { return vec![] };
    let mut out = Vec::new();
    for line in section.lines().take_while(|l| l.starts_with("  ")) {
        let name = line.split_whitespace().next().unwrap_or("");
        if name.is_empty() || name == "help" || line.starts_with("   ") {
            continue;
        }
        let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        path.push(name.to_owned());
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        out.extend(subcommands(&refs));
        out.push(path);
    }
    out
}

/// Option and argument entries of a help text that have no description: the entry line holds
/// nothing after its name, and the next line is not its (more indented) description.
fn undescribed(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help.lines().collect();
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let entry = line.trim_start();
        if !(2..=6).contains(&indent) || !(entry.starts_with('-') || entry.starts_with('<') || entry.starts_with('[')) {
            continue;
        }
        let same_line = entry.contains("  ");
        let next_is_description = lines.get(i + 1).is_some_and(|n| n.len() - n.trim_start().len() > 6 && !n.trim().is_empty());
        if !same_line && !next_is_description {
            missing.push(entry.to_owned());
        }
    }
    missing
}

#[test]
fn every_subcommand_help_has_global_options_apart_and_every_option_described() {
    let commands = subcommands(&[]);
    assert!(commands.len() > 25, "{commands:?}");
    let mut problems = Vec::new();
    for path in std::iter::once(vec![]).chain(commands) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = cortado(&args);
        let help = stdout(&o);
        let name = if path.is_empty() { "cortado".to_owned() } else { path.join(" ") };
        if !o.status.success() {
            problems.push(format!("{name}: --help exited {:?}", o.status.code()));
        }
        let is_group = help.contains("Commands:\n");
        if !is_group && !help.contains("\nGlobal options:\n") {
            problems.push(format!("{name}: no \"Global options:\" heading"));
        }
        if let Some(own) = help.split("\nGlobal options:\n").next()
            && own.contains("--config")
        {
            problems.push(format!("{name}: global options mixed into its own"));
        }
        for entry in undescribed(&help) {
            problems.push(format!("{name}: {entry} has no description"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_help_checker_finds_an_undescribed_option() {
    let help = "Options:\n      --described\n          It says what it does\n      --bare\n      --inline  Short help\n  -h, --help\n          Print help\n";
    assert_eq!(undescribed(help), vec!["--bare".to_owned()]);
}

#[test]
fn tasks_takes_a_count_or_unchanged_and_refuses_other_negatives() {
    let p = Project::new();
    for bad in ["-5", "three", "-2"] {
        let run = p.run(&["deploy", "--tasks", bad], &[]);
        run.expect_code(2);
        assert!(run.stderr.contains("is not a task count: use a number ≥ 0, or `unchanged`"), "{}", run.stderr);
    }
    // -1 (ecspresso) and `unchanged` parse: the command goes on to look for a config.
    for ok in ["-1", "unchanged", "0", "3"] {
        let run = p.run(&["scale", "--tasks", ok, "--dry-run"], &[]);
        run.expect_code(2);
        assert!(run.stderr.contains("no config file found"), "{ok}: {}", run.stderr);
    }
}

/// A fake release directory with `cortado-<target>.tar.gz` for this machine.
fn release(dir: &std::path::Path, version: &str) -> (String, String) {
    let arch = if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" };
    let os = if cfg!(target_os = "macos") { "apple-darwin" } else { "unknown-linux-gnu" };
    let asset = format!("cortado-{arch}-{os}.tar.gz");
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    // Stripped, as release binaries are (profile.release `strip`): 110 MB instead of 190 MB to pack
    // and unpack; a plain copy where `strip` is missing.
    let stripped = Command::new("strip").arg("-o").arg(stage.join("cortado")).arg(cortado_bin()).status();
    if !stripped.is_ok_and(|s| s.success()) {
        std::fs::copy(cortado_bin(), stage.join("cortado")).unwrap();
    }
    let vdir = dir.join(version);
    std::fs::create_dir_all(&vdir).unwrap();
    // gzip's fastest level: the asset is a debug binary (5 s of CPU at the default level unstripped).
    let ok = Command::new("tar").args(["-I", "gzip -1", "-cf"]).arg(vdir.join(&asset)).arg("-C").arg(&stage).arg("cortado").status().unwrap();
    assert!(ok.success());
    let sum = Command::new("sha256sum").arg(vdir.join(&asset)).output().unwrap();
    (asset, stdout(&sum).split_whitespace().next().unwrap().to_owned())
}

fn install(base: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/install.sh")).env("CORTADO_BASE_URL", base);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run install.sh")
}

#[test]
fn the_action_installs_a_chosen_version_from_a_file_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, sum) = release(&tmp.path().join("releases"), "v0.1.0");
    let base = format!("file://{}", tmp.path().join("releases").display());
    let bin_dir = tmp.path().join("bin");
    let github_path = tmp.path().join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let dir = bin_dir.display().to_string();
    let gp = github_path.display().to_string();
    let o = install(&base, &[("CORTADO_VERSION", "0.1.0"), ("CORTADO_SHA256", &sum), ("CORTADO_INSTALL_DIR", &dir), ("GITHUB_PATH", &gp)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).trim(), format!("{dir}/cortado"));
    let v = Command::new(bin_dir.join("cortado")).arg("version").output().unwrap();
    assert!(stdout(&v).starts_with("cortado "), "{}", stdout(&v));
    assert_eq!(std::fs::read_to_string(&github_path).unwrap().trim(), dir);

    // A wrong checksum, a missing version and an unsupported OS each fail and install nothing.
    let other = tmp.path().join("other");
    let od = other.display().to_string();
    let bad = install(&base, &[("CORTADO_VERSION", "v0.1.0"), ("CORTADO_SHA256", "00"), ("CORTADO_INSTALL_DIR", &od)]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("expected 00"), "{}", String::from_utf8_lossy(&bad.stderr));
    let missing = install(&base, &[("CORTADO_VERSION", "9.9.9"), ("CORTADO_INSTALL_DIR", &od)]);
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("cannot download"));
    let windows = install(&base, &[("CORTADO_OS", "MINGW64_NT"), ("CORTADO_INSTALL_DIR", &od)]);
    assert!(!windows.status.success() && String::from_utf8_lossy(&windows.stderr).contains("Linux and macOS runners only"));
    assert!(!other.exists(), "a failed install left files behind");
}

/// `latest` from a GitHub-style base (`…/releases/download`) is GitHub's
/// `…/releases/latest/download/ASSET`, not a release tagged `latest`.
#[test]
fn latest_follows_githubs_latest_release_url() {
    let tmp = tempfile::tempdir().unwrap();
    release(&tmp.path().join("releases/latest/download"), ".");
    let base = format!("file://{}", tmp.path().join("releases/download").display());
    let dir = tmp.path().join("bin").display().to_string();
    let o = install(&base, &[("CORTADO_VERSION", "latest"), ("CORTADO_INSTALL_DIR", &dir)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/releases/latest/download/cortado-"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The release workflow builds exactly the assets install.sh asks for, from a tag it checks
/// against the binary's version.
#[test]
fn the_release_workflow_publishes_what_the_installer_fetches() {
    let wf = std::fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap();
    let installer = std::fs::read_to_string(repo_root().join("scripts/install.sh")).unwrap();
    for target in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-apple-darwin", "aarch64-apple-darwin"] {
        assert!(installer.contains(target.split_once('-').unwrap().1), "install.sh lost {target}");
        assert!(wf.contains(&format!("target: {target}")), "release.yml does not build {target}");
    }
    assert!(installer.contains("asset=\"cortado-$(target).tar.gz\""));
    assert!(wf.contains("cortado-${{ matrix.target }}.tar.gz"), "asset name differs from install.sh's");
    assert!(wf.contains("scripts/build-plugins.sh"), "the bundled plugins must be built before the binary");
    assert!(wf.contains("--locked"));
}

#[test]
fn action_yml_runs_the_install_script() {
    let action = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    assert!(action.contains("using: composite"));
    assert!(action.contains("$GITHUB_ACTION_PATH/scripts/install.sh"));
    assert!(repo_root().join("scripts/install.sh").is_file());
}
