//! Time and randomness, behind small traits so tests are deterministic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// Where the manager reads the time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Where the manager draws session ids from. Must be a cryptographically secure generator.
pub trait RandomSource: Send + Sync + 'static {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the generator fails; the manager then issues no session.
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's generator (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(dest).map_err(|_| Error::Random)
    }
}

/// Seconds since the Unix epoch; times before it count as 0.
pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The time `secs` seconds after the Unix epoch.
pub(crate) fn from_unix_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_fills_the_buffer() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        OsRandom.fill(&mut a).unwrap();
        OsRandom.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn unix_seconds_round_trip() {
        assert_eq!(unix_secs(from_unix_secs(1_700_000_000)), 1_700_000_000);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(5)), 0);
    }
}
