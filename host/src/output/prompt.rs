//! Questions on the terminal: the one place cortado reads an answer from a person. The question
//! goes to stderr (stdout stays data), the answer comes from stdin, and without a terminal on stdin
//! there is nobody to ask: callers then refuse, skip or require a flag, each saying which.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, Result};

/// Asks `question` and returns the trimmed answer, or `None` when stdin is not a terminal.
pub fn ask(question: &str) -> Result<Option<String>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question}").and_then(|()| err.flush()).context("writing the question to stderr")?;
    drop(err);
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the answer from stdin")?;
    Ok(Some(answer.trim().to_owned()))
}

/// A yes/no question (`(y/N)` is appended): only `y` or `yes` is a yes; no terminal is a no.
pub fn confirm(question: &str) -> Result<bool> {
    Ok(ask(&format!("{question} (y/N) "))?.is_some_and(|a| is_yes(&a)))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Asks the person to type `expected` (a name or an ID) to confirm something that cannot be
/// undone: `Ok(None)` when they did, else why not (no terminal, or what they typed instead).
pub fn type_to_confirm(question: &str, expected: &str) -> Result<Option<Mismatch>> {
    Ok(match ask(question)? {
        None => Some(Mismatch::NoTerminal),
        Some(t) if t == expected => None,
        Some(t) => Some(Mismatch::Typed(t)),
    })
}

/// Why a typed confirmation failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    NoTerminal,
    Typed(String),
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_y_and_yes_are_yes() {
        for yes in ["y", "Y", "yes", "YES"] {
            assert!(super::is_yes(yes), "{yes}");
        }
        for no in ["", "n", "no", "yeah", "1"] {
            assert!(!super::is_yes(no), "{no}");
        }
    }
}
