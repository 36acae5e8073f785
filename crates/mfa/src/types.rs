//! Small domain types.

use std::fmt;

use crate::{Error, Method};

/// A user's identifier as the application knows it (1 to 256 bytes, no control characters).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Checks and wraps a user id.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when it is empty, longer than 256 bytes or has control characters.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
            return Err(Error::Input(
                "a user id is 1 to 256 bytes without control characters",
            ));
        }
        Ok(Self(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({:?})", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A successful second-factor verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Verified {
    pub(crate) method: Method,
    pub(crate) recovery_codes_left: Option<usize>,
    pub(crate) credential: Option<String>,
}

impl Verified {
    /// The method that verified.
    pub fn method(&self) -> Method {
        self.method
    }

    /// After a recovery code: how many unused codes the user has left.
    pub fn recovery_codes_left(&self) -> Option<usize> {
        self.recovery_codes_left
    }

    /// After WebAuthn: the credential id (base64url) that signed.
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }
}
