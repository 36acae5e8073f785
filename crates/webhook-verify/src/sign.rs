//! Signing: the headers an outbound delivery carries (and test deliveries).

use std::fmt;

use http::{HeaderMap, HeaderValue};

use crate::crypto;
use crate::error::Error;
use crate::scheme::{Inputs, MAX_TIMESTAMP, Scheme, is_message_id};
use crate::secret::{SignKey, SigningSecret};

/// What to sign: the raw body, and the id, timestamp and URL where the scheme uses them.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct SignRequest<'a> {
    body: &'a [u8],
    id: Option<&'a str>,
    timestamp: Option<i64>,
    url: Option<&'a str>,
}

impl<'a> SignRequest<'a> {
    /// A request to sign `body`.
    pub fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            id: None,
            timestamp: None,
            url: None,
        }
    }

    /// The message id (Standard Webhooks, Svix, a generic scheme with an id header): 1
    /// to 256 letters, digits, `_` or `-`.
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// The Unix timestamp in seconds, for schemes that sign one in a header: 0 to
    /// 999 999 999 999 999 999 (18 digits, what verification accepts).
    pub fn timestamp(mut self, unix: i64) -> Self {
        self.timestamp = Some(unix);
        self
    }

    /// The full URL the delivery is posted to (Twilio).
    pub fn url(mut self, url: &'a str) -> Self {
        self.url = Some(url);
        self
    }
}

/// Signs deliveries for one scheme with one secret.
///
/// ```
/// use webhook_verify::{Scheme, SignRequest, Signer, SigningSecret};
///
/// let secret = SigningSecret::parse(&Scheme::GitHub, "It's a Secret to Everybody")?;
/// let signer = Signer::new(Scheme::GitHub, secret)?;
/// let headers = signer.sign(&SignRequest::new(b"Hello, World!"))?;
/// assert_eq!(
///     headers["x-hub-signature-256"],
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/// );
/// # Ok::<(), webhook_verify::Error>(())
/// ```
pub struct Signer {
    scheme: Scheme,
    secret: SigningSecret,
}

impl Signer {
    /// A signer for `scheme` with `secret`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the secret does not suit the scheme (an HMAC secret for
    /// Discord, an Ed25519 key for an HMAC scheme).
    pub fn new(scheme: Scheme, secret: SigningSecret) -> Result<Self, Error> {
        scheme.check_key(secret.is_ed25519(), "signs")?;
        Ok(Self { scheme, secret })
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The headers to send with the body, in the scheme's order.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the scheme needs an id, a timestamp or a URL that the
    /// request lacks, or the id or timestamp is outside what verification accepts
    /// (so nothing is signed that could not verify); [`Error::Invalid`] when
    /// the scheme must read the body and cannot (Twilio's form parameters not UTF-8).
    pub fn sign(&self, request: &SignRequest<'_>) -> Result<HeaderMap, Error> {
        let scheme = &self.scheme;
        if scheme.signs_id() && !request.id.is_some_and(|id| is_message_id(id.as_bytes())) {
            return Err(Error::config(format!(
                "the {scheme} scheme signs a message id: give one of 1 to 256 letters, digits, _ or -"
            )));
        }
        if scheme.timestamp_in_header() {
            match request.timestamp {
                None => {
                    return Err(Error::config(format!(
                        "the {scheme} scheme signs a timestamp: give one"
                    )));
                }
                Some(t) if !(0..=MAX_TIMESTAMP).contains(&t) => {
                    return Err(Error::config(
                        "the timestamp must be from 0 (1970) to 999999999999999999 seconds",
                    ));
                }
                Some(_) => {}
            }
        }
        let url = match (scheme.needs_url(), request.url) {
            (true, None) => {
                return Err(Error::config(format!(
                    "the {scheme} scheme signs the request URL: give it"
                )));
            }
            (true, Some(url)) => url,
            (false, _) => "",
        };
        let timestamp = request.timestamp.map(|t| t.to_string());
        let inputs = Inputs {
            id: request.id.map(str::as_bytes),
            timestamp: timestamp.as_deref().map(str::as_bytes),
            body: request.body,
            url,
        };
        let pieces = scheme.content(&inputs)?;
        let signature = match &self.secret.key {
            // `new` checked that an HMAC key only goes to a scheme with an HMAC.
            SignKey::Hmac(key) => match scheme.hmac_algorithm() {
                Some(algorithm) => crypto::hmac(algorithm, key, &pieces),
                None => return Err(Error::config("this scheme does not sign with HMAC")),
            },
            SignKey::Ed25519(key) => crypto::ed25519_sign(key, &pieces),
        };
        let ed25519 = self.secret.is_ed25519();
        let mut headers = HeaderMap::new();
        for (name, value) in scheme.signed_headers(&inputs, signature.as_slice(), ed25519) {
            let value = HeaderValue::from_bytes(&value)
                .map_err(|_| Error::config(format!("{name} would not be a valid header value")))?;
            headers.insert(name, value);
        }
        Ok(headers)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("scheme", &self.scheme)
            .field("secret", &self.secret)
            .finish()
    }
}
