//! The crate's one error type.

use crate::pepper::PepperId;

/// Everything that can go wrong when hashing, verifying or configuring.
///
/// A wrong password is always [`Error::Invalid`], whatever the stored hash: the variant says
/// nothing about why. The other variants are about the input's shape, the stored hash or the
/// configuration, and say what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The password does not match the stored hash.
    #[error("invalid password")]
    Invalid,

    /// The password is longer than the scheme accepts. Nothing was truncated.
    #[error("password too long: at most {max} bytes are accepted")]
    PasswordTooLong {
        /// The largest accepted length in bytes.
        max: usize,
    },

    /// bcrypt was asked to hash a password with a NUL byte. bcrypt repeats the password
    /// and a NUL over 72 bytes, so `a` and `a\0a` would hash alike: such a password is
    /// refused for bcrypt (and never verifies against a bcrypt hash). Nothing was hashed.
    #[error("bcrypt cannot hash a password containing a NUL byte")]
    NulByte,

    /// The stored hash is not a well-formed hash string of a supported scheme.
    #[error("malformed password hash: {0}")]
    MalformedHash(&'static str),

    /// The stored hash asks for more work than the configured [`VerifyLimits`] allow; it
    /// was not verified.
    ///
    /// [`VerifyLimits`]: crate::VerifyLimits
    #[error(
        "password hash exceeds the verify limits: {0}; raise the limits if the hash is genuine"
    )]
    TooExpensive(String),

    /// The stored hash was made with a pepper key this hasher does not hold. It fails closed:
    /// the hash is never verified without its pepper.
    #[error(
        "password hash is peppered with key {0}, which is not configured: add it as a previous pepper key"
    )]
    UnknownPepperKey(PepperId),

    /// The hashing pool's queue is full; retry later (for example with HTTP 503).
    #[error("password hashing pool is busy")]
    Busy,

    /// A hashing worker stopped before it answered: the runtime is shutting down, or the
    /// hashing job panicked (a bug; logged at error level, without the panic message). The
    /// password was not verified and nothing was hashed.
    #[error("password hashing worker stopped before it answered")]
    WorkerStopped,

    /// The configuration is unusable; the message says what to change.
    #[error("invalid password hashing configuration: {0}")]
    Config(String),

    /// The random source failed, so no salt could be made.
    #[error("random source failed")]
    Random(#[source] std::io::Error),
}
