//! Time and randomness, injected so tests are deterministic.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The current time in Unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the source fails; callers fail closed.
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's random source (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(buf).map_err(|_| Error::Random)
    }
}

/// A random 128-bit identifier as 32 lowercase hex digits.
pub(crate) fn random_id(random: &dyn Random) -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes)?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}
