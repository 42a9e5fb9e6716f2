//! Instantiation that survives a transient kernel refusal.
//!
//! wasmtime backs a module's initial linear memory with a memfd that it seals read-only
//! (copy-on-write instantiation). Linux refuses `F_SEAL_WRITE` with EBUSY while a page of that
//! file is transiently pinned, and the plugin's first call then failed with "cannot add seals to
//! the memfd" (seen once in ~90 plugin-loading runs on a 2-core machine). The failed attempt keeps
//! nothing: wasmtime builds the image again on the next instantiation. So such a failure is
//! retried, a bounded number of times; every other error is returned at once.

use std::time::Duration;

/// Attempts in all, the first one included.
const ATTEMPTS: u32 = 3;

/// Runs `instantiate` (which makes its own store) until it succeeds, fails otherwise than on a
/// busy memfd seal, or has been tried [`ATTEMPTS`] times.
pub fn instantiate<T>(mut instantiate: impl FnMut() -> wasmtime::Result<T>) -> wasmtime::Result<T> {
    let mut attempt = 1;
    loop {
        match instantiate() {
            Err(e) if attempt < ATTEMPTS && seal_was_busy(&e) => {
                tracing::debug!("instantiating again (attempt {attempt} of {ATTEMPTS} failed): {e:#}");
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Whether the error is the memfd's seal refused with EBUSY, anywhere in its chain.
fn seal_was_busy(e: &wasmtime::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        matches!(e.downcast_ref::<memfd::Error>(), Some(memfd::Error::AddSeals(io)) if io.raw_os_error() == Some(libc::EBUSY))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = e;
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::cell::Cell;

    use super::{ATTEMPTS, instantiate};

    fn busy_seal() -> wasmtime::Error {
        wasmtime::Error::from(memfd::Error::AddSeals(std::io::Error::from_raw_os_error(libc::EBUSY)))
    }

    #[test]
    fn a_busy_seal_is_tried_again_and_then_succeeds() {
        let calls = Cell::new(0);
        let out = instantiate(|| {
            calls.set(calls.get() + 1);
            if calls.get() < ATTEMPTS { Err(busy_seal().context("instantiating")) } else { Ok(7) }
        });
        assert_eq!(out.ok(), Some(7));
        assert_eq!(calls.get(), ATTEMPTS);
    }

    #[test]
    fn a_seal_busy_every_time_fails_after_the_last_attempt() {
        let calls = Cell::new(0);
        let out: wasmtime::Result<()> = instantiate(|| {
            calls.set(calls.get() + 1);
            Err(busy_seal())
        });
        let err = out.expect_err("never succeeds");
        assert!(format!("{err:#}").contains("cannot add seals to the memfd"), "{err:#}");
        assert_eq!(calls.get(), ATTEMPTS);
    }

    #[test]
    fn other_errors_are_not_retried() {
        for err in [
            || wasmtime::Error::msg("out of fuel"),
            || wasmtime::Error::from(memfd::Error::AddSeals(std::io::Error::from_raw_os_error(libc::EPERM))),
            || wasmtime::Error::from(memfd::Error::Create(std::io::Error::from_raw_os_error(libc::EBUSY))),
        ] {
            let calls = Cell::new(0);
            let out: wasmtime::Result<()> = instantiate(|| {
                calls.set(calls.get() + 1);
                Err(err())
            });
            assert!(out.is_err());
            assert_eq!(calls.get(), 1);
        }
    }
}
