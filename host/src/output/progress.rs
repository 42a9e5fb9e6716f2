//! How a rollout is shown: a live view on a terminal ([`super::live`]: the deployments as a block
//! at the bottom, events scrolling above), plain timestamped lines in CI and pipes, or one JSON
//! object per line for machines (`--output json`). The stages talk to it through
//! [`crate::progress::Progress`].

use std::io::Write;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use super::Style;
use super::live::{Live, service_deployment_line};
use super::status::{format_deployment, format_time};
use crate::progress::Progress;
use crate::util::epoch_now;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    Json,
}

pub struct Reporter {
    pub mode: Mode,
    /// The live view, from the first thing waited on until the result (terminal mode only).
    live: Mutex<Option<Live>>,
    style: Style,
}

fn now_local() -> String {
    jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S").to_string()
}

impl Reporter {
    pub fn new(json_output: bool) -> Reporter {
        let mode = if json_output {
            Mode::Json
        } else if crate::style::stderr_is_live_terminal() {
            Mode::Tty
        } else {
            Mode::Plain
        };
        Reporter { mode, live: Mutex::new(None), style: Style::stdout() }
    }

    fn live(&self) -> Option<MutexGuard<'_, Option<Live>>> {
        self.live.lock().ok()
    }

    /// The live view, started on first use (terminal mode only).
    fn with_live(&self, f: impl FnOnce(&mut Live)) {
        if self.mode != Mode::Tty {
            return;
        }
        if let Some(mut guard) = self.live() {
            f(guard.get_or_insert_with(|| Live::new(Style::stderr())));
        }
    }

    /// A line for people: above the live view while there is one, else on stdout.
    fn line(&self, text: &str) {
        if let Some(guard) = self.live()
            && let Some(live) = guard.as_ref()
        {
            live.println(text);
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// One JSON object on its own line (stdout).
    pub fn emit(&self, v: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }

    /// Ends the live view, leaving its last state on the screen.
    fn finish_live(&self, last: &str) {
        if let Some(live) = self.live().and_then(|mut g| g.take()) {
            live.finish(last);
        }
    }

    /// A failure about to be returned as an error: main prints the error for people, so only
    /// machines get it here.
    pub fn fail(&self, msg: &str, detail: Value) {
        self.finish_live("failed");
        if self.mode == Mode::Json {
            self.result(false, msg, detail);
        }
    }

    /// The final word: success or failure, with details.
    pub fn result(&self, ok: bool, msg: &str, detail: Value) {
        self.finish_live(if ok { "done" } else { "failed" });
        match self.mode {
            Mode::Json => {
                let mut v = json!({"type": "result", "ok": ok, "time": crate::util::rfc3339_now_precise(), "message": msg});
                if let (Value::Object(o), Value::Object(d)) = (&mut v, detail) {
                    o.extend(d);
                }
                self.emit(v);
            }
            _ => {
                let text = if ok { self.style.green(msg) } else { self.style.red(msg) };
                self.line(&text);
            }
        }
    }
}

impl Progress for Reporter {
    fn info(&self, msg: &str) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "info", "time": crate::util::rfc3339_now_precise(), "message": msg})),
            Mode::Tty => self.line(msg),
            Mode::Plain => self.line(&format!("{} {msg}", now_local())),
        }
    }

    fn event(&self, created_at: &Value, message: &str) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "event", "time": created_at, "message": message})),
            _ => self.line(&format!("{} {message}", format_time(created_at))),
        }
    }

    fn deployments(&self, deployments: &[Value]) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "deployments", "time": crate::util::rfc3339_now_precise(), "deployments": deployments})),
            Mode::Tty => self.with_live(|live| live.deployments(deployments, epoch_now())),
            Mode::Plain => {
                let mut text = String::from("Deployments:");
                for d in deployments {
                    text.push('\n');
                    text.push_str(&format_deployment(d));
                }
                self.line(&text);
            }
        }
    }

    fn status(&self, msg: &str) {
        self.with_live(|live| live.status(msg));
    }

    fn service_deployment(&self, sd: &Value) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "service_deployment", "time": crate::util::rfc3339_now_precise(), "service_deployment": sd})),
            Mode::Tty => self.with_live(|live| live.service_deployment(sd)),
            Mode::Plain => self.line(&format!("{} {}", now_local(), service_deployment_line(sd))),
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish_live("");
    }
}
