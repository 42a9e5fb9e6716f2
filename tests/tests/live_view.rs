//! The live view, for real: cortado runs in a pseudo-terminal (a tmux pane) against the simulator,
//! and the test reads the screen as a person would see it (`tmux capture-pane`), during the rollout
//! and after it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cortado_e2e::{Project, cortado_bin, sim, unique_region};
use serde_json::Value;

/// A private tmux server (its own socket), killed when the test ends however it ends.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn new(dir: &Path) -> Tmux {
        let found = Command::new("tmux").arg("-V").output().map(|o| o.status.success()).unwrap_or(false);
        assert!(found, "tmux is missing: scripts/setup.sh installs it");
        Tmux { socket: dir.join("tmux.sock") }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-S").arg(&self.socket).arg("-f").arg("/dev/null").args(args).output().expect("run tmux")
    }

    /// Starts `script` in a detached 160x45 pane.
    fn start(&self, script: &Path) {
        let out = self.tmux(&["new-session", "-d", "-s", "t", "-x", "160", "-y", "45", &script.display().to_string()]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The visible screen as text (no escape sequences).
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A shell script that runs cortado with the project's environment (and nothing else of the
/// test's), prints its exit code, and keeps the pane open so the final screen can be read.
fn script(p: &Project, args: &str) -> PathBuf {
    let mut env = format!("PATH={:?} HOME={:?} AWS_EC2_METADATA_DISABLED=true", std::env::var("PATH").unwrap_or_default(), p.dir.path());
    for (k, v) in &p.env {
        env.push_str(&format!(" {k}={v:?}"));
    }
    let text = format!("#!/bin/sh\ncd {:?}\nenv -i TERM=\"$TERM\" {env} {:?} {args}\necho \"EXIT=$?\"\nexec sleep 600\n", p.dir.path(), cortado_bin());
    p.write("run.sh", &text);
    let path = p.path("run.sh");
    Command::new("chmod").arg("+x").arg(&path).status().expect("chmod");
    path
}

#[test]
fn deploy_on_a_terminal_shows_a_live_block_and_ends_on_the_result() {
    let sim = sim();
    let region = unique_region("live");
    let seed = sim.seed(&region, &region);
    let p = Project::against(sim, &region);
    let (cluster, service) = (seed["ecs"]["clusterName"].as_str().unwrap(), seed["ecs"]["serviceName"].as_str().unwrap());
    p.run(&["init", "--cluster", cluster, "--service", service], &[]).expect_code(0);
    let td = p.read("ecs-task-def.json");
    let mut v: Value = serde_json::from_str(&td).unwrap();
    let image = v["containerDefinitions"][0]["image"].as_str().unwrap().to_owned();
    v["containerDefinitions"][0]["image"] = Value::String(format!("{}:live", image.rsplit_once(':').map(|(b, _)| b).unwrap_or(&image)));
    p.write("ecs-task-def.json", &serde_json::to_string_pretty(&v).unwrap());

    let tmux = Tmux::new(p.dir.path());
    tmux.start(&script(&p, "deploy --tasks 3"));
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut during = Vec::new();
    let last = loop {
        let screen = tmux.screen();
        if screen.contains("EXIT=") {
            break screen;
        }
        assert!(Instant::now() < deadline, "cortado did not finish within 90 s; screen:\n{screen}");
        during.push(screen);
        std::thread::sleep(Duration::from_millis(150));
    };

    // While it waited: the block with this deployment's line, a running/desired bar, and the
    // ticking status line below it.
    let family = v["family"].as_str().unwrap();
    let bar_line = |s: &str| s.lines().any(|l| l.contains(&format!("PRIMARY {family}:2 [")) && l.contains("/3 running") && l.contains("IN_PROGRESS"));
    let live: Vec<&String> = during.iter().filter(|s| bar_line(s)).collect();
    assert!(
        !live.is_empty(),
        "no live deployment block was ever on the screen; the last screens:\n{}",
        during.iter().rev().take(3).cloned().collect::<Vec<_>>().join("\n----\n")
    );
    assert!(live.iter().any(|s| s.contains("deployment ") && s.contains("desired:3")), "no status line under the block:\n{}", live[0]);

    // The final screen: events scrolled above, the block in its final state, then the result.
    assert!(last.contains("EXIT=0"), "{last}");
    assert!(last.contains(&format!("registered task definition {family}:2")), "{last}");
    assert!(last.contains("has reached a steady state."), "events are not shown:\n{last}");
    let final_line = last.lines().find(|l| l.contains(&format!("PRIMARY {family}:2 ["))).unwrap_or_else(|| panic!("no final block:\n{last}"));
    assert!(final_line.contains("[====================] 3/3 running") && final_line.contains("COMPLETED"), "{final_line}");
    let lines: Vec<&str> = last.lines().collect();
    let pos = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not on the screen:\n{last}"));
    assert!(pos("has reached a steady state.") < pos(&format!("PRIMARY {family}:2 [")), "events must scroll above the block:\n{last}");
    assert!(pos(&format!("PRIMARY {family}:2 [")) < pos("is stable: deployment completed"), "the result comes last:\n{last}");
    // The plain line log is for pipes and CI, not for the terminal.
    assert!(!last.contains("Deployments:"), "{last}");
}
