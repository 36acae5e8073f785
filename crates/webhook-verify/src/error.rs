//! The crate's error type and the typed reasons a webhook is rejected.

use std::fmt;

use http::HeaderName;

/// Everything that can go wrong while verifying or signing a webhook.
///
/// A delivery that fails verification is always [`Error::Invalid`], whatever the
/// cause: the [`Rejection`] inside says why, for logs, and the HTTP layer turns every
/// one of them into the same `401`. The other variants are configuration or
/// infrastructure problems that an operator has to fix; none of them ever lets a
/// delivery through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The delivery did not verify. The reason is for logs, never for the sender.
    #[error("invalid: {0}")]
    Invalid(Rejection),
    /// The verifier or signer is set up wrongly; the message says what to fix.
    #[error("configuration: {0}")]
    Config(String),
    /// A secret could not be parsed; the message names the expected format.
    #[error("bad secret: {0}")]
    Secret(String),
    /// The secret source has no secrets for the integration.
    #[error("unknown integration {0:?}")]
    UnknownIntegration(String),
    /// The secret source failed (a database error, say).
    #[error("secret source failed: {0}")]
    SecretSource(String),
    /// The replay guard could not answer, so the delivery is refused (fail closed).
    #[error("replay guard unavailable: {0}")]
    ReplayGuard(String),
}

impl Error {
    /// The rejection, when this error is a failed verification.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Invalid(rejection) => Some(rejection),
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }
}

impl From<Rejection> for Error {
    fn from(rejection: Rejection) -> Self {
        Self::Invalid(rejection)
    }
}

/// Why a delivery was rejected. Meant for logs and metrics: senders only ever see a
/// uniform `401`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A header the scheme needs is absent.
    MissingHeader(HeaderName),
    /// A header is present but does not follow the scheme's format (or is repeated).
    MalformedHeader(HeaderName),
    /// A signature entry carries no signature at all (`v1,`).
    EmptySignature,
    /// A signature is not valid hex or base64.
    SignatureEncoding,
    /// A signature decodes to the wrong number of bytes.
    SignatureLength,
    /// The header carries no signature of a version this verifier accepts.
    NoSupportedSignature,
    /// Well-formed signatures, none of which matches any secret in force.
    SignatureMismatch,
    /// Every configured secret is past its not-after time.
    NoSecretInForce,
    /// The signed timestamp is older than the maximum age.
    TimestampTooOld,
    /// The signed timestamp is further in the future than the allowed skew.
    TimestampInFuture,
    /// The scheme must read the body (Linear's timestamp, Twilio's form parameters)
    /// and it is not UTF-8.
    NonUtf8Body,
    /// The scheme must read the body and it does not have the expected shape.
    MalformedBody(&'static str),
    /// The body is larger than the verifier's cap.
    BodyTooLarge,
    /// The scheme signs the request URL and none was given.
    MissingUrl,
    /// The same message was delivered before.
    Replayed,
}

impl Rejection {
    /// A short, stable code for logs and metrics (`signature_mismatch`, `replayed`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::EmptySignature => "empty_signature",
            Self::SignatureEncoding => "signature_encoding",
            Self::SignatureLength => "signature_length",
            Self::NoSupportedSignature => "no_supported_signature",
            Self::SignatureMismatch => "signature_mismatch",
            Self::NoSecretInForce => "no_secret_in_force",
            Self::TimestampTooOld => "timestamp_too_old",
            Self::TimestampInFuture => "timestamp_in_future",
            Self::NonUtf8Body => "non_utf8_body",
            Self::MalformedBody(_) => "malformed_body",
            Self::BodyTooLarge => "body_too_large",
            Self::MissingUrl => "missing_url",
            Self::Replayed => "replayed",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header {name}"),
            Self::MalformedHeader(name) => write!(f, "malformed header {name}"),
            Self::EmptySignature => f.write_str("empty signature"),
            Self::SignatureEncoding => f.write_str("signature is not valid hex or base64"),
            Self::SignatureLength => f.write_str("signature has the wrong length"),
            Self::NoSupportedSignature => f.write_str("no signature of a supported version"),
            Self::SignatureMismatch => f.write_str("signature mismatch"),
            Self::NoSecretInForce => f.write_str("no secret in force"),
            Self::TimestampTooOld => f.write_str("timestamp too old"),
            Self::TimestampInFuture => f.write_str("timestamp too far in the future"),
            Self::NonUtf8Body => f.write_str("body is not UTF-8"),
            Self::MalformedBody(what) => write!(f, "malformed body: {what}"),
            Self::BodyTooLarge => f.write_str("body too large"),
            Self::MissingUrl => f.write_str("no request URL to verify against"),
            Self::Replayed => f.write_str("replayed message"),
        }
    }
}
