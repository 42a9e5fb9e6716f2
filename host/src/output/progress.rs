//! How a rollout is shown: a live spinner on a terminal (indicatif), plain timestamped lines in CI,
//! or one JSON object per line for machines (`--output json`). The stages talk to it through
//! [`crate::progress::Progress`].

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::Style;
use super::status::{format_deployment, format_time};
use crate::progress::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    Json,
}

pub struct Reporter {
    pub mode: Mode,
    bar: Mutex<Option<ProgressBar>>,
    style: Style,
}

fn now_local() -> String {
    jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S").to_string()
}

impl Reporter {
    pub fn new(json_output: bool) -> Reporter {
        let mode = if json_output {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Tty
        } else {
            Mode::Plain
        };
        Reporter { mode, bar: Mutex::new(None), style: Style::stdout() }
    }

    fn line(&self, text: &str) {
        match self.bar.lock().ok().as_ref().and_then(|b| b.as_ref().cloned()) {
            Some(bar) => bar.println(text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }

    /// One JSON object on its own line (stdout).
    pub fn emit(&self, v: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }

    fn clear_bar(&self) {
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }

    /// A failure about to be returned as an error: main prints the error for people, so only
    /// machines get it here.
    pub fn fail(&self, msg: &str, detail: Value) {
        self.clear_bar();
        if self.mode == Mode::Json {
            self.result(false, msg, detail);
        }
    }

    /// The final word: success or failure, with details.
    pub fn result(&self, ok: bool, msg: &str, detail: Value) {
        self.clear_bar();
        match self.mode {
            Mode::Json => {
                let mut v = json!({"type": "result", "ok": ok, "time": jiff::Timestamp::now().to_string(), "message": msg});
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
            Mode::Json => self.emit(json!({"type": "info", "time": jiff::Timestamp::now().to_string(), "message": msg})),
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
            Mode::Json => self.emit(json!({"type": "deployments", "time": jiff::Timestamp::now().to_string(), "deployments": deployments})),
            _ => {
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
        if self.mode != Mode::Tty {
            return;
        }
        let Ok(mut guard) = self.bar.lock() else { return };
        let bar = guard.get_or_insert_with(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_message(msg.to_owned());
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.clear_bar();
    }
}
