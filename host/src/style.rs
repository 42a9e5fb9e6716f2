//! ANSI colour for people, decided in one place by the conventions users set in their shells:
//! `NO_COLOR` (present and not empty) turns it off, `CLICOLOR_FORCE` (not empty, not `0`) turns it
//! on even through a pipe, `CLICOLOR=0` and `TERM=dumb` turn it off, and otherwise a stream is
//! coloured when it is a terminal. Below every stage, so that gates can colour their verdicts
//! without importing `output/`.

use std::io::IsTerminal;

/// ANSI styling that is a no-op when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

/// The colour decision for a stream, from the variables that steer it. `var` reads one variable
/// (the process environment in [`Style::stdout`]; a table in tests).
pub fn wants_color(is_terminal: bool, var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| var(k).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    if set("CLICOLOR").as_deref() == Some("0") || is_dumb_terminal(&var) {
        return false;
    }
    is_terminal
}

/// `TERM=dumb` (Emacs shells, some CI runners): no escape sequences, no cursor movement.
pub fn is_dumb_terminal(var: &impl Fn(&str) -> Option<String>) -> bool {
    var("TERM").as_deref() == Some("dumb")
}

fn process_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Whether stderr can show a live view: a terminal that understands cursor movement.
pub fn stderr_is_live_terminal() -> bool {
    std::io::stderr().is_terminal() && !is_dumb_terminal(&process_var)
}

impl Style {
    /// Colour for stdout, by the rules above.
    pub fn stdout() -> Self {
        Style { color: wants_color(std::io::stdout().is_terminal(), process_var) }
    }
    /// Colour for stderr, by the rules above.
    pub fn stderr() -> Self {
        Style { color: wants_color(std::io::stderr().is_terminal(), process_var) }
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
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

#[cfg(test)]
mod tests {
    use super::wants_color;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_terminal_is_coloured_unless_told_otherwise() {
        assert!(wants_color(true, with(&[])));
        assert!(!wants_color(false, with(&[])));
        assert!(!wants_color(true, with(&[("NO_COLOR", "1")])));
        assert!(!wants_color(true, with(&[("TERM", "dumb")])));
        assert!(!wants_color(true, with(&[("CLICOLOR", "0")])));
    }

    #[test]
    fn an_empty_no_color_is_not_set() {
        assert!(wants_color(true, with(&[("NO_COLOR", "")])));
    }

    #[test]
    fn clicolor_force_colours_a_pipe_but_not_past_no_color() {
        assert!(wants_color(false, with(&[("CLICOLOR_FORCE", "1")])));
        assert!(wants_color(false, with(&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")])));
        assert!(!wants_color(false, with(&[("CLICOLOR_FORCE", "0")])));
        assert!(!wants_color(false, with(&[("CLICOLOR_FORCE", "")])));
        assert!(!wants_color(true, with(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])));
    }
}
