//! Stage last: how cortado talks to people and machines. Data goes to stdout, logs to stderr;
//! colour only on a terminal and never with NO_COLOR.

pub mod jsonnet_fmt;

use std::io::IsTerminal;

/// ANSI styling that is a no-op when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour for stdout when it is a terminal and NO_COLOR is unset, or when CLICOLOR_FORCE is set.
    pub fn stdout() -> Self {
        Style { color: forced() || (std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()) }
    }
    pub fn stderr() -> Self {
        Style { color: forced() || (std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()) }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// Sets up the log subscriber: level-tagged lines on stderr for cortado's own events (`--debug`
/// shows debug lines), warnings only from the libraries beneath it.
fn forced() -> bool {
    std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") && std::env::var_os("NO_COLOR").is_none()
}

/// ecspresso's `--[no-]color`, through the variables every colour decision reads (NO_COLOR,
/// CLICOLOR_FORCE), so child processes such as `diff --external` follow it too.
pub fn choose_color(color: bool, no_color: bool) {
    // SAFETY: called from `main` before the logger and the async runtime start, while the process
    // is single-threaded.
    unsafe {
        if no_color {
            std::env::set_var("NO_COLOR", "1");
        } else if color {
            std::env::remove_var("NO_COLOR");
            std::env::set_var("CLICOLOR_FORCE", "1");
        }
    }
}

pub fn init_logging(debug: bool) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let level = if debug { tracing::Level::DEBUG } else { tracing::Level::INFO };
    let filter = Targets::new().with_target("cortado", level).with_default(tracing::Level::WARN);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(Style::stderr().color).without_time();
    let _ = tracing_subscriber::registry().with(layer).with(filter).try_init();
}
