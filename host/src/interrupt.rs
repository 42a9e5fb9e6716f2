//! One Ctrl-C listener for the whole command.
//!
//! A listener made only while a wait sleeps misses a Ctrl-C that comes during an AWS call (once
//! tokio has taken over SIGINT, a signal nobody listens for is simply lost, so a hung request
//! could not be interrupted). [`install`] listens from the start of the command to its end;
//! [`interrupted`] resolves for everyone once Ctrl-C came. `cli` races the whole command against
//! it, so cortado stops at once, with the [`hint`] that the current stage left: what goes on in
//! AWS and how to resume.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::watch;

static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();
static HINT: Mutex<String> = Mutex::new(String::new());
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Raised on Ctrl-C: the command stopped; what goes on in AWS is in the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

fn flag() -> &'static watch::Sender<bool> {
    FLAG.get_or_init(|| watch::channel(false).0)
}

/// Starts the listener (inside the runtime; once per process).
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag().send_replace(true);
        }
    });
}

/// Resolves once Ctrl-C came (never, when no listener was installed).
pub async fn interrupted() {
    let mut rx = flag().subscribe();
    let _ = rx.wait_for(|hit| *hit).await;
}

/// What an interruption now would leave behind, and how to go on (the stage that starts sets it).
pub fn set_hint(hint: impl Into<String>) {
    if let Ok(mut h) = HINT.lock() {
        *h = hint.into();
    }
}

/// The message for an interruption now.
pub fn hint() -> String {
    let h = HINT.lock().map(|h| h.clone()).unwrap_or_default();
    if h.is_empty() { "interrupted; nothing was changed".to_owned() } else { h }
}
