//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong in this crate.
///
/// Verification failures are one opaque variant, [`Error::Invalid`]: a wrong code, a
/// replayed code, an unknown or expired ceremony and a bad signature all look the same
/// from outside. The other variants say what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The code, recovery code or WebAuthn response did not verify (wrong, replayed,
    /// expired, or for a factor that is not enrolled).
    #[error("invalid")]
    Invalid,
    /// A WebAuthn authenticator's signature counter did not move forward: the credential
    /// may have been cloned. The authentication is refused; alert the user.
    #[error("the signature counter of credential {credential} went backwards: it may be cloned")]
    CounterRegression {
        /// The credential id (base64url), as listed by [`crate::WebAuthn::list`].
        credential: String,
    },
    /// Malformed input: a base32 secret, an `otpauth://` URI, a code that is not digits.
    #[error("malformed input: {0}")]
    Input(&'static str),
    /// A configuration value is out of range or missing.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The user already has a confirmed factor of this kind; remove it first.
    #[error("already enrolled: remove the confirmed factor before enrolling a new one")]
    AlreadyEnrolled,
    /// The policy change would leave the instance's owners without a way to sign in.
    #[error("refused: {0}")]
    WouldLockOut(String),
    /// Sealing or opening a seed failed (wrong keyring, tampered or moved envelope).
    #[error("seed envelope: {0}")]
    Crypto(#[from] envelope_crypto::Error),
    /// The random source failed.
    #[error("the random source failed")]
    Random,
    /// WebAuthn could not start a ceremony (configuration or internal error).
    #[error("webauthn: {0}")]
    WebAuthn(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A storage backend failed.
#[derive(Debug, thiserror::Error)]
pub struct StoreError {
    op: &'static str,
    message: String,
}

impl StoreError {
    /// A failure of operation `op` (such as `"accept_totp_step"`).
    pub fn new(op: &'static str, err: impl fmt::Display) -> Self {
        Self {
            op,
            message: err.to_string(),
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> &'static str {
        self.op
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mfa store: {} failed: {}", self.op, self.message)
    }
}
