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

/// The latest time [`from_unix_secs`] returns: 9999-12-31T23:59:59Z, which every
/// platform's `SystemTime` can hold.
pub(crate) const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// The time `secs` seconds after the Unix epoch, saturating at [`MAX_UNIX_SECS`]: the
/// value may come from a store, and `UNIX_EPOCH + Duration` panics on overflow.
pub(crate) fn from_unix_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs.min(MAX_UNIX_SECS)))
        // Unreachable where year 9999 fits a `SystemTime`, which is everywhere Rust runs.
        .unwrap_or(UNIX_EPOCH)
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

    #[test]
    fn times_past_year_9999_saturate_instead_of_panicking() {
        assert_eq!(unix_secs(from_unix_secs(MAX_UNIX_SECS)), MAX_UNIX_SECS);
        for secs in [MAX_UNIX_SECS + 1, i64::MAX.unsigned_abs(), u64::MAX] {
            assert_eq!(unix_secs(from_unix_secs(secs)), MAX_UNIX_SECS);
        }
    }
}
