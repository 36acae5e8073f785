//! Domain values: identifiers, assurance levels, the token string.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::Error;

/// Longest tenant or user id, in bytes.
pub(crate) const MAX_ID_LEN: usize = 255;

fn check_id(kind: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::Input(format!("{kind} must not be empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::Input(format!(
            "{kind} is {} bytes, at most {MAX_ID_LEN} allowed",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::Input(format!(
            "{kind} must not contain control characters"
        )));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("A ", $kind, ": 1 to 255 bytes of UTF-8 without control characters.")]
            ///
            /// # Errors
            ///
            /// [`Error::Input`] when the value is empty, too long or holds a control character.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_id($kind, &value)?;
                Ok(Self(value))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// The tenant (organisation) a session belongs to: the token's `org` claim.
    TenantId,
    "tenant id"
);
id_type!(
    /// The user a session belongs to: the token's `sub` claim.
    UserId,
    "user id"
);

/// Authenticator assurance level (NIST SP 800-63B), ordered: `Aal1 < Aal2 < Aal3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aal {
    /// Single-factor authentication (a password).
    Aal1,
    /// Two factors (a password and TOTP, or a passkey).
    Aal2,
    /// A hardware-bound, phishing-resistant authenticator.
    Aal3,
}

impl Aal {
    /// The level as its number, 1 to 3 (the `aal` claim).
    pub fn level(self) -> u8 {
        match self {
            Self::Aal1 => 1,
            Self::Aal2 => 2,
            Self::Aal3 => 3,
        }
    }

    /// The level numbered `level`, if it is 1, 2 or 3.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::Aal1),
            2 => Some(Self::Aal2),
            3 => Some(Self::Aal3),
            _ => None,
        }
    }
}

impl fmt::Display for Aal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aal{}", self.level())
    }
}

/// Length of a session id in the `sid` claim: 32 random bytes in unpadded base64url.
pub(crate) const SID_LEN: usize = 43;

/// The public, stable name of a session: the SHA-256 of its secret session id.
///
/// This is what the store keys records by, what [`SessionInfo`](crate::SessionInfo) lists
/// and what a "sign out that device" request sends back. It cannot be turned into a token:
/// the session id stays inside the signed token only. Displayed and parsed as 43 characters
/// of unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle([u8; 32]);

impl SessionHandle {
    /// The handle of the session whose `sid` claim is `sid`.
    pub(crate) fn of_sid(sid: &str) -> Self {
        Self(Sha256::digest(sid.as_bytes()).into())
    }

    /// The handle from its 32 stored bytes (for store implementations).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes a store keys the session by.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionHandle({self})")
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; SID_LEN];
        let n = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut buf)
            .map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for SessionHandle {
    type Err = Error;

    /// Parses the 43-character base64url form.
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::Input("a session handle is 43 characters of base64url".into());
        if s.len() != SID_LEN {
            return Err(invalid());
        }
        let mut out = [0u8; 33];
        match URL_SAFE_NO_PAD.decode_slice(s, &mut out) {
            Ok(32) => {
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&out[..32]);
                Ok(Self(bytes))
            }
            _ => Err(invalid()),
        }
    }
}

/// A signed session token: the bearer credential that goes into the cookie.
///
/// `Debug` is redacted and the text is zeroized on drop; read it with
/// [`SessionToken::expose`] only to put it on the wire.
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    pub(crate) fn new(token: Zeroizing<String>) -> Self {
        Self(token)
    }

    /// The compact JWS text. Handle with care: whoever holds it holds the session.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_long_and_control_characters() {
        assert!(UserId::new("alice").is_ok());
        assert!(matches!(UserId::new(""), Err(Error::Input(_))));
        assert!(matches!(
            TenantId::new("a".repeat(256)),
            Err(Error::Input(_))
        ));
        assert!(TenantId::new("a".repeat(255)).is_ok());
        assert!(matches!(UserId::new("a\nb"), Err(Error::Input(_))));
    }

    #[test]
    fn handles_round_trip_through_text() {
        let handle = SessionHandle::of_sid("some session id");
        let text = handle.to_string();
        assert_eq!(text.len(), SID_LEN);
        assert_eq!(text.parse::<SessionHandle>().unwrap(), handle);
        assert!("short".parse::<SessionHandle>().is_err());
        assert!("!".repeat(43).parse::<SessionHandle>().is_err());
    }

    #[test]
    fn handle_is_sha256_of_the_sid() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        let handle = SessionHandle::of_sid("abc");
        assert_eq!(
            handle.as_bytes()[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "{handle:?}"
        );
    }

    #[test]
    fn levels_are_ordered_and_numbered() {
        assert!(Aal::Aal1 < Aal::Aal2 && Aal::Aal2 < Aal::Aal3);
        for aal in [Aal::Aal1, Aal::Aal2, Aal::Aal3] {
            assert_eq!(Aal::from_level(aal.level()), Some(aal));
        }
        assert_eq!(Aal::from_level(0), None);
        assert_eq!(Aal::from_level(4), None);
    }

    #[test]
    fn tokens_do_not_print() {
        let token = SessionToken::new(Zeroizing::new("eyJ.secret.token".into()));
        assert_eq!(format!("{token:?}"), "SessionToken([redacted])");
    }
}
