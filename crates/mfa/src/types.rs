//! Small domain types.

use std::fmt;

use crate::{Error, Method};

/// The longest user id, in bytes: the same bound as `session-tokens` puts on the user ids
/// of its sessions, so an id one crate accepts the other accepts too.
const MAX_USER_ID_LEN: usize = 255;

/// A user's identifier as the application knows it (1 to 255 bytes, no control characters).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Checks and wraps a user id.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when it is empty, longer than 255 bytes or has control characters.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_USER_ID_LEN || id.chars().any(char::is_control) {
            return Err(Error::Input(
                "a user id is 1 to 255 bytes without control characters",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_1_to_255_bytes_without_control_characters() {
        assert_eq!(UserId::new("u").unwrap().as_str(), "u");
        assert!(UserId::new("a".repeat(255)).is_ok());
        // The bound is in bytes, not characters.
        assert!(UserId::new("é".repeat(127)).is_ok());
        for bad in [
            String::new(),
            "a".repeat(256),
            "é".repeat(128),
            "alice\n".to_owned(),
            "\u{7f}".to_owned(),
        ] {
            assert!(
                matches!(UserId::new(bad.clone()), Err(Error::Input(_))),
                "{bad:?} accepted"
            );
        }
    }
}
