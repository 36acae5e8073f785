//! Escape hatches that weaken a guarantee, for when a provider leaves no other choice.
//! Every use deserves a comment saying why.

use crate::error::Error;
use crate::scheme::Scheme;
use crate::secret::{Length, Secret, SigningSecret};

/// Parses a verification secret like [`Secret::parse`], but accepts an HMAC secret
/// shorter than [`MIN_HMAC_KEY_LEN`](crate::MIN_HMAC_KEY_LEN) (or a `whsec_` secret
/// shorter than [`MIN_WHSEC_LEN`](crate::MIN_WHSEC_LEN)): for a provider that issued
/// one, or a published known answer. A short key can be guessed offline from a single
/// captured delivery.
///
/// ```
/// use webhook_verify::{Scheme, Secret, dangerous};
///
/// // Twilio's documentation signs its example with the auth token "12345".
/// assert!(Secret::parse(&Scheme::Twilio, "12345").is_err());
/// let secret = dangerous::short_secret(&Scheme::Twilio, "12345")?;
/// # let _ = secret;
/// # Ok::<(), webhook_verify::Error>(())
/// ```
///
/// # Errors
///
/// As [`Secret::parse`], except for the length: an empty secret is still refused.
pub fn short_secret(scheme: &Scheme, text: &str) -> Result<Secret, Error> {
    Secret::parse_with(scheme, text, Length::AllowShort)
}

/// Parses a signing secret like [`SigningSecret::parse`], accepting a short HMAC secret
/// as [`short_secret`] does.
///
/// # Errors
///
/// As [`SigningSecret::parse`], except for the length: an empty secret is still refused.
pub fn short_signing_secret(scheme: &Scheme, text: &str) -> Result<SigningSecret, Error> {
    SigningSecret::parse_with(scheme, text, Length::AllowShort)
}
