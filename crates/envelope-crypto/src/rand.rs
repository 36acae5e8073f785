//! Randomness and time, injected through small traits so tests are deterministic.

use std::time::SystemTime;

use crate::error::{Error, Result};

/// A source of cryptographically secure random bytes: nonces, new keys, data keys.
///
/// Production code uses [`OsRandom`]. A deterministic implementation is for tests and
/// known-answer vectors only: two envelopes sealed under one key with the same nonce
/// lose confidentiality for both.
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when no randomness is available; callers fail closed.
    fn fill(&self, dest: &mut [u8]) -> Result<()>;
}

/// The operating system's random number generator (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        getrandom::fill(dest).map_err(|_| Error::Random)
    }
}

/// The current time, for the creation dates of keys and wrapped data keys.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
