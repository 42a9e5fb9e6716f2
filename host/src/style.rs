//! ANSI colour for people, off when the stream is not a terminal or NO_COLOR is set. Below every
//! stage, so that gates can colour their verdicts without importing `output/`.

use std::io::IsTerminal;

/// ANSI styling that is a no-op when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour for stdout when it is a terminal and NO_COLOR is unset.
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

/// CLICOLOR_FORCE (non-empty, not 0) colours even off a terminal, unless NO_COLOR is set.
fn forced() -> bool {
    std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") && std::env::var_os("NO_COLOR").is_none()
}
