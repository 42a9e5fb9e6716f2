//! The shape of the host, checked on its source: only `apply/` calls an AWS operation that changes
//! anything, and no pipeline stage imports a stage above it. Both fail the suite (and CI) when a
//! change breaks them; a mutating call added under, say, `host/src/plan/` names its file and line.

use std::path::{Path, PathBuf};

use cortado_e2e::repo_root;

/// SDK operations (snake_case fluent builders) that change something, in every service cortado
/// links. A new mutating operation the host starts calling belongs here too.
const MUTATING: &[&str] = &[
    // ECS
    "register_task_definition",
    "deregister_task_definition",
    "delete_task_definitions",
    "create_service",
    "update_service",
    "delete_service",
    "tag_resource",
    "untag_resource",
    "run_task",
    "start_task",
    "stop_task",
    "execute_command",
    "create_task_set",
    "update_task_set",
    "delete_task_set",
    "update_service_primary_task_set",
    "stop_service_deployment",
    "continue_service_deployment",
    "register_daemon_task_definition",
    "delete_daemon_task_definition",
    "create_daemon",
    "update_daemon",
    "delete_daemon",
    "create_express_gateway_service",
    "update_express_gateway_service",
    "delete_express_gateway_service",
    "put_account_setting",
    "put_attributes",
    "update_container_instances_state",
    // Application Auto Scaling
    "register_scalable_target",
    "deregister_scalable_target",
    "put_scaling_policy",
    "delete_scaling_policy",
    "put_scheduled_action",
    // CodeDeploy
    "create_deployment",
    "stop_deployment",
    "continue_deployment",
    "put_lifecycle_event_hook_execution_status",
    // CloudWatch Logs
    "create_log_group",
    "create_log_stream",
    "put_log_events",
    "delete_log_group",
    // SSM, Secrets Manager, S3, IAM (cortado only reads these)
    "start_session",
    "put_parameter",
    "delete_parameter",
    "put_secret_value",
    "update_secret",
    "put_object",
    "delete_object",
    "create_role",
    "put_role_policy",
    "attach_role_policy",
];

/// Files outside `apply/` allowed to write to AWS, each with the operations and the reason.
/// `gate/s3chain.rs` is the S3 audit sink: a decision record is written *before* the approval that
/// `apply/` requires exists (write-ahead), so it cannot go through `apply/`; it creates only new
/// audit objects (`If-None-Match: *`) and never changes anything deployed. The local JSONL sink in
/// `gate/audit.rs` writes from the same layer.
const AUDIT_SINKS: &[(&str, &[&str])] = &[("gate/s3chain.rs", &["put_object"])];

/// Low to high. A module may import modules of its own rank or lower.
const RANKS: &[(&str, u32)] = &[
    ("error", 0),
    ("style", 0),
    ("progress", 0),
    ("interrupt", 0),
    // The one clock and the one hash.
    ("util", 0),
    ("env", 1),
    ("template", 1),
    ("jsonnet", 1),
    ("functions", 1),
    ("config", 2),
    ("definitions", 3),
    ("aws", 4),
    ("plugin", 5),
    ("diff", 6),
    ("context", 7),
    ("plan", 8),
    ("gate", 9),
    ("apply", 10),
    ("wait", 11),
    ("verify", 12),
    ("output", 13),
    // The one path of every mutating command: gate → apply → follow → outcome.
    ("ops", 13),
    // Many services as one release, each through the one path.
    ("stack", 14),
    // The top: commands parse (each file owns its clap Args) and present; cli.rs dispatches.
    ("commands", 15),
    ("cli", 15),
];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `host/src/plan/deploy.rs` → `plan`; `host/src/cli.rs` → `cli`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Code lines (comments dropped), numbered from 1.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// Every `(file:line, text)` where a mutating operation is called outside `apply/`.
pub fn mutating_calls_outside_apply(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        if module_of(src, &file) == "apply" {
            continue;
        }
        let rel = file.strip_prefix(src).expect("under src").to_string_lossy().replace('\\', "/");
        let allowed: &[&str] = AUDIT_SINKS.iter().find(|(f, _)| *f == rel).map(|(_, ops)| *ops).unwrap_or(&[]);
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in code_lines(&text) {
            for op in MUTATING {
                if allowed.contains(op) {
                    continue;
                }
                if line.contains(&format!(".{op}(")) || line.contains(&format!("::{op}(")) {
                    found.push(format!("{}:{n}: {op}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    found
}

/// The first path segment of each top-level member of a `{a::{b, c}, d}` group (`a`, `d`):
/// nested groups are skipped by depth, not cut at their first `}`.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(group[start..i].to_owned());
                return heads.iter().map(|h| h.trim().split("::").next().unwrap_or("").to_owned()).collect();
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(group[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    heads.push(group[start..].to_owned());
    heads.iter().map(|h| h.trim().split("::").next().unwrap_or("").to_owned()).collect()
}

/// The modules a path starting at `rest` names: one identifier, or a group's heads.
fn heads_at(rest: &str) -> Vec<String> {
    match rest.strip_prefix('{') {
        Some(group) => group_heads(group),
        None => vec![rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()],
    }
}

/// How deep a file's module is below the crate root: `plan/deploy.rs` 2, `plan/mod.rs` and
/// `cli.rs` 1, so that `super::super::x` in `plan/deploy.rs` names the crate's `x`.
fn depth_of(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).expect("under src");
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|f| f == "mod.rs" || f == "lib.rs" || f == "main.rs") { parts - 1 } else { parts }
}

/// Every `(file:line, text)` where a module names a module ranked above it (`crate::x`, the groups
/// of `use crate::{x, y::{z}}`, and `super::` chains that climb to the crate root).
pub fn upward_imports(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let own = module_of(src, &file);
        let Some(own_rank) = rank(&own) else { continue };
        let depth = depth_of(src, &file);
        let text = std::fs::read_to_string(&file).expect("read source");
        for (n, line) in code_lines(&text) {
            let mut named: Vec<String> = Vec::new();
            for (i, _) in line.match_indices("crate::") {
                named.extend(heads_at(&line[i + "crate::".len()..]));
            }
            for (i, _) in line.match_indices("super::") {
                // Only the start of a chain: `super::super::x` counts once, from its first `super`.
                if line[..i].ends_with("super::") {
                    continue;
                }
                let mut rest = &line[i..];
                let mut ups = 0;
                while let Some(r) = rest.strip_prefix("super::") {
                    rest = r;
                    ups += 1;
                }
                if ups >= depth {
                    named.extend(heads_at(rest));
                }
            }
            for m in named {
                if let Some(r) = rank(&m)
                    && r > own_rank
                {
                    found.push(format!("{}:{n}: {own} imports {m}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    found
}

fn host_src() -> PathBuf {
    repo_root().join("host/src")
}

#[test]
fn only_apply_calls_mutating_aws_operations() {
    let found = mutating_calls_outside_apply(&host_src());
    assert!(found.is_empty(), "mutating AWS calls outside host/src/apply/ (move them into apply/, behind a plan step):\n{}", found.join("\n"));
}

#[test]
fn no_stage_imports_a_stage_above_it() {
    let found = upward_imports(&host_src());
    assert!(found.is_empty(), "a module imports one above it (see RANKS in tests/tests/layering.rs):\n{}", found.join("\n"));
}

#[test]
fn the_checks_catch_what_they_look_for() {
    // The scanners themselves, on a scratch tree: a mutating call in plan/ and an upward import
    // in gate/ are both found; the same call in apply/ is not.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("plan")).unwrap();
    std::fs::create_dir_all(src.join("apply")).unwrap();
    std::fs::create_dir_all(src.join("gate")).unwrap();
    std::fs::write(src.join("plan/x.rs"), "fn f(c: &C) { c.update_service().send(); }\n// c.run_task() in a comment\n").unwrap();
    std::fs::write(src.join("apply/x.rs"), "fn f(c: &C) { c.update_service().send(); }\n").unwrap();
    std::fs::write(src.join("gate/x.rs"), "use crate::{plan::Plan, commands::App};\nuse crate::output::Style;\n").unwrap();
    // Nested groups and `super::` chains that climb to the crate root are imports too.
    std::fs::create_dir_all(src.join("plan/deep")).unwrap();
    std::fs::write(src.join("plan/y.rs"), "use crate::{config::{self, X}, apply::Apply};\nuse super::super::wait::W;\nuse super::deploy::D;\n").unwrap();
    std::fs::write(src.join("plan/deep/z.rs"), "use super::super::super::commands::C;\nuse super::super::gate;\n").unwrap();
    // The audit sink may create objects, and nothing else: a delete there is still found.
    std::fs::write(src.join("gate/s3chain.rs"), "fn f(c: &C) { c.put_object().send(); c.delete_object().send(); }\n").unwrap();
    let calls = mutating_calls_outside_apply(src);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().any(|c| c.contains("plan/x.rs:1: update_service")), "{calls:?}");
    assert!(calls.iter().any(|c| c.contains("gate/s3chain.rs:1: delete_object")), "{calls:?}");
    let ups = upward_imports(src);
    assert_eq!(ups.len(), 5, "{ups:?}");
    for expected in ["gate imports commands", "gate imports output", "plan imports apply", "plan imports wait", "plan imports commands"] {
        assert!(ups.iter().any(|u| u.contains(expected)), "{expected}: {ups:?}");
    }
}

/// The end-to-end tests are one binary (tests/Cargo.toml: `autotests = false`): a file in
/// tests/tests/ that main.rs does not declare would compile into nothing and never run.
#[test]
fn every_end_to_end_file_is_a_module_of_the_one_binary() {
    let dir = repo_root().join("tests/tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("tests/tests/main.rs");
    let declared: Vec<&str> = main.lines().filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';')).collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/tests") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" && !declared.contains(&stem) {
            missing.push(stem.to_owned());
        }
    }
    assert!(missing.is_empty(), "tests/tests/main.rs does not declare: {missing:?} (add `mod NAME;`)");
}
