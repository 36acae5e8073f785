//! Where salts come from.

use std::fmt;

/// A source of cryptographically secure random bytes, used for salts.
///
/// The default is [`OsRandom`]. Known-answer tests can plug in a fixed source through
/// [`HasherBuilder::dangerous_random_source`](crate::HasherBuilder::dangerous_random_source)
/// to get reproducible hash strings; production code has no reason to, and the method's
/// name says so.
pub trait RandomSource: Send + Sync {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// When no random bytes can be had. Hashing then fails closed with
    /// [`Error::Random`](crate::Error::Random).
    fn fill(&self, dest: &mut [u8]) -> Result<(), std::io::Error>;
}

/// The operating system's random number generator (`getrandom`).
#[derive(Clone, Copy, Default)]
pub struct OsRandom;

impl fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OsRandom")
    }
}

impl RandomSource for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), std::io::Error> {
        getrandom::fill(dest).map_err(std::io::Error::from)
    }
}
