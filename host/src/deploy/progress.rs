//! How a rollout is shown: a live spinner on a terminal (indicatif), plain timestamped lines in CI,
//! or one JSON object per line for machines (`--output json`).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::output::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    Json,
}

pub struct Reporter {
    pub mode: Mode,
    bar: Option<ProgressBar>,
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
        Reporter { mode, bar: None, style: Style::stdout() }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }

    fn emit(&self, v: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }

    /// A log-like message (what cortado does).
    pub fn info(&self, msg: &str) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "info", "time": jiff::Timestamp::now().to_string(), "message": msg})),
            Mode::Tty => self.line(msg),
            Mode::Plain => self.line(&format!("{} {msg}", now_local())),
        }
    }

    /// A service event from ECS, with its own time.
    pub fn event(&self, created_at: &Value, message: &str) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "event", "time": created_at, "message": message})),
            _ => self.line(&format!("{} {message}", crate::commands::status::format_time(created_at))),
        }
    }

    /// The deployments table, when it changed.
    pub fn deployments(&self, lines: &[String], raw: &Value) {
        match self.mode {
            Mode::Json => self.emit(json!({"type": "deployments", "time": jiff::Timestamp::now().to_string(), "deployments": raw})),
            _ => {
                let mut text = String::from("Deployments:");
                for l in lines {
                    text.push('\n');
                    text.push_str(l);
                }
                self.line(&text);
            }
        }
    }

    /// The spinner's status text (terminal only).
    pub fn status(&mut self, msg: &str) {
        if self.mode != Mode::Tty {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_message(msg.to_owned());
    }

    /// A failure about to be returned as an error: main prints the error for people, so only
    /// machines get it here.
    pub fn fail(&mut self, msg: &str, detail: Value) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode == Mode::Json {
            self.result(false, msg, detail);
        }
    }

    /// The final word: success or failure, with details.
    pub fn result(&mut self, ok: bool, msg: &str, detail: Value) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
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

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
