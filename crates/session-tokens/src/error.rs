//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use crate::Aal;

/// Everything that can go wrong in this crate.
///
/// Verification failures are opaque: every reason a token or session is refused is the
/// one variant [`Error::Invalid`], whose `Display` says only "invalid session". The
/// [`Rejection`] inside carries the precise [`Reason`] for logs and tests; never send it
/// to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token or the session it names was refused. Answer with a bare 401.
    #[error("invalid session")]
    Invalid(Rejection),
    /// A state-changing request came from another site (see [`CsrfGuard`](crate::CsrfGuard)).
    /// Answer with a bare 403.
    #[error("cross-site request refused")]
    CrossSite,
    /// The action needs an authentication more recent than the session's.
    #[error("re-authentication required: the action needs an authentication within the last {}s", max_age.as_secs())]
    ReauthenticationRequired {
        /// The largest age the action accepts.
        max_age: Duration,
    },
    /// The action needs a higher authenticator assurance level than the session's.
    #[error("authenticator assurance level {required} required, the session has {actual}")]
    InsufficientAal {
        /// The level the action needs.
        required: Aal,
        /// The session's level.
        actual: Aal,
    },
    /// The configuration cannot be used; the message says what to fix.
    #[error("invalid session configuration: {0}")]
    Config(String),
    /// An argument cannot be used (an empty user id, an over-long label, ...); the message
    /// says what to fix.
    #[error("invalid argument: {0}")]
    Input(String),
    /// The `Set-Cookie` value would exceed the 4096 bytes browsers are required to keep.
    #[error(
        "session cookie would be {len} bytes, over the 4096-byte limit: shorten the ids or the amr list"
    )]
    CookieTooLarge {
        /// The length the cookie would have had.
        len: usize,
    },
    /// The session store failed. Security decisions fail closed on it.
    #[error("session store failed")]
    Store(#[source] StoreError),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// Signing a token failed (a key that does not match its algorithm).
    #[error("signing the session token failed")]
    Signing,
}

impl Error {
    /// The reason a token or session was refused, when this is [`Error::Invalid`].
    pub fn rejection(&self) -> Option<Reason> {
        match self {
            Self::Invalid(rejection) => Some(rejection.reason()),
            _ => None,
        }
    }

    pub(crate) fn invalid(reason: Reason) -> Self {
        Self::Invalid(Rejection(reason))
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Why a token or a session was refused. Its `Display` is the same for every reason
/// ("invalid session"); [`Rejection::reason`] tells them apart for logs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rejection(Reason);

impl Rejection {
    /// The precise reason, for logs and tests. Never return it to the client.
    pub fn reason(&self) -> Reason {
        self.0
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Rejection").field(&self.0).finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid session")
    }
}

/// The precise reason behind an [`Error::Invalid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No session token was presented.
    Missing,
    /// Not a well-formed token: bad shape, base64, JSON, a missing claim, over-long.
    Malformed,
    /// The header's `typ` is not this crate's session token type.
    WrongType,
    /// The header's `alg` is not on the allowlist, or not the algorithm of the key `kid`
    /// names (`none`, key confusion).
    AlgorithmNotAllowed,
    /// No key with the header's `kid` (absent, unknown or removed).
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// The `iss` claim is not the configured issuer.
    WrongIssuer,
    /// The `aud` claim is not the configured audience.
    WrongAudience,
    /// The token or the session is past its absolute lifetime.
    Expired,
    /// The token's `nbf` or `iat` lies in the future.
    NotYetValid,
    /// No session with the token's `sid` exists.
    UnknownSession,
    /// The session was revoked.
    Revoked,
    /// The user's session generation moved on (password change or reset).
    StaleGeneration,
    /// The session was idle for longer than the idle timeout.
    IdleExpired,
    /// The token's claims disagree with the session record (user, tenant, level).
    Mismatch,
}

/// A session store's failure: the backend's error, kept as the source.
///
/// Its `Display` names the failing operation only; the backend error is reachable through
/// [`std::error::Error::source`].
#[derive(Debug)]
pub struct StoreError {
    operation: &'static str,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A failure of `operation` (`"lookup"`, `"insert"`, ...) caused by `source`.
    pub fn new(
        operation: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            operation,
            source: Some(source.into()),
        }
    }

    /// A failure of `operation` without an underlying error (a poisoned lock, a value out
    /// of range).
    pub fn msg(operation: &'static str) -> Self {
        Self {
            operation,
            source: None,
        }
    }

    /// The operation that failed.
    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store {} failed", self.operation)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_displays_the_same() {
        for reason in [Reason::Expired, Reason::Revoked, Reason::BadSignature] {
            let err = Error::invalid(reason);
            assert_eq!(err.to_string(), "invalid session");
            assert_eq!(err.rejection(), Some(reason));
        }
    }

    #[test]
    fn store_errors_keep_their_source() {
        let err = StoreError::new("lookup", std::io::Error::other("disk on fire"));
        assert_eq!(err.to_string(), "session store lookup failed");
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "disk on fire");
    }
}
