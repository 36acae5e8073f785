//! One verifier per integration: scheme, secrets, windows, body cap, clock, replay guard.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::crypto;
use crate::error::{Error, Rejection};
use crate::replay::{Freshness, ReplayGuard};
use crate::scheme::{Algorithm, HmacAlgorithm, Inputs, Kind, Scheme};
use crate::secret::{SecretSet, SecretSource, VerifyKey};
use crate::time::{Clock, SystemClock, duration_seconds, from_unix_seconds, unix_seconds};

/// The body cap when none is set: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// An inbound delivery: its headers, its raw body, and (for Twilio) the full URL the
/// sender posted to.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    headers: &'a HeaderMap,
    body: &'a [u8],
    url: Option<&'a str>,
}

impl<'a> Message<'a> {
    /// A delivery with these headers and this raw body (any bytes, UTF-8 or not).
    pub fn new(headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        Self {
            headers,
            body,
            url: None,
        }
    }

    /// The full URL the sender posted to, scheme, host, path and query included, as
    /// the sender saw it (Twilio signs it).
    #[must_use]
    pub fn with_url(mut self, url: &'a str) -> Self {
        self.url = Some(url);
        self
    }
}

/// Proof that a delivery verified, with what the verifier learnt about it.
///
/// Only a [`Verifier`] makes one. The tower layer puts it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    scheme: &'static str,
    id: Option<String>,
    timestamp: Option<i64>,
    secret_index: usize,
}

impl Verified {
    /// The scheme's name (`stripe`, `standard`, ...).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The signed message id (Standard Webhooks, Svix, a generic scheme with `{id}`).
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The signed timestamp in Unix seconds, when the scheme has one.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Which secret matched, in the order of the [`SecretSet`]: 0 is the first added
    /// (usually the current one). Watch it to know when an old secret is unused.
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }
}

enum Secrets {
    Fixed(Arc<SecretSet>),
    Source {
        source: Arc<dyn SecretSource>,
        integration: String,
    },
}

/// Verifies the deliveries of one integration.
///
/// Checks, in order: the body cap, the scheme's headers, the timestamp window (max age
/// and max future skew, separately), the signatures against every secret in force
/// (constant-time, lengths first; a header with several signatures verifies when any
/// one does), Linear's body timestamp, and last the replay guard, so that only
/// authentic deliveries are ever recorded.
///
/// ```
/// use http::HeaderMap;
/// use webhook_verify::{Message, Scheme, Secret, Verifier};
///
/// let verifier = Verifier::builder(Scheme::GitHub)
///     .secret(Secret::parse(&Scheme::GitHub, "It's a Secret to Everybody")?)
///     .build()?;
/// let mut headers = HeaderMap::new();
/// headers.insert(
///     "x-hub-signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
/// );
/// let verified = verifier.verify_sync(&Message::new(&headers, b"Hello, World!"))?;
/// assert_eq!(verified.scheme(), "github");
/// assert!(verifier.verify_sync(&Message::new(&headers, b"Hello, World?")).is_err());
/// # Ok::<(), webhook_verify::Error>(())
/// ```
pub struct Verifier {
    scheme: Scheme,
    secrets: Secrets,
    max_age: Duration,
    max_future_skew: Duration,
    body_limit: usize,
    clock: Arc<dyn Clock>,
    replay: Option<Arc<dyn ReplayGuard>>,
    namespace: String,
}

/// Builds a [`Verifier`]. Secrets (or a secret source) are required; everything else
/// has a safe default.
#[must_use]
pub struct VerifierBuilder {
    scheme: Scheme,
    secrets: Option<Secrets>,
    max_age: Duration,
    max_future_skew: Duration,
    body_limit: usize,
    clock: Arc<dyn Clock>,
    replay: Option<Arc<dyn ReplayGuard>>,
    namespace: Option<String>,
}

impl Verifier {
    /// Starts a verifier for `scheme`, with the provider's recommended window
    /// ([`Scheme::default_tolerance`]) for both max age and max future skew, a 1 MiB
    /// body cap, the system clock and no replay guard.
    pub fn builder(scheme: Scheme) -> VerifierBuilder {
        let tolerance = scheme.default_tolerance();
        VerifierBuilder {
            scheme,
            secrets: None,
            max_age: tolerance,
            max_future_skew: tolerance,
            body_limit: DEFAULT_BODY_LIMIT,
            clock: Arc::new(SystemClock),
            replay: None,
            namespace: None,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The body cap in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// How long the replay guard remembers a message: the whole timestamp window.
    pub fn replay_window(&self) -> Duration {
        self.max_age.saturating_add(self.max_future_skew)
    }

    /// Verifies a delivery completely, replay guard included.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the [`Rejection`] when the delivery does not verify;
    /// [`Error::UnknownIntegration`], [`Error::SecretSource`] or [`Error::Config`] when
    /// the secrets cannot be had or do not suit the scheme; [`Error::ReplayGuard`] when
    /// the replay guard cannot answer. No error ever lets the delivery through.
    pub async fn verify(&self, message: &Message<'_>) -> Result<Verified, Error> {
        let now = unix_seconds(self.clock.now());
        let secrets = match &self.secrets {
            Secrets::Fixed(set) => Arc::clone(set),
            Secrets::Source {
                source,
                integration,
            } => {
                let set = source.secrets(integration).await?;
                check_keys(&self.scheme, &set)?;
                set
            }
        };
        let checked = self.check(&secrets, message, now).inspect_err(log)?;
        if let Some(guard) = &self.replay {
            let key = self.replay_key(&checked);
            let freshness = guard
                .check_and_remember(&key, from_unix_seconds(now), self.replay_window())
                .await?;
            if freshness == Freshness::Replayed {
                let error = Error::Invalid(Rejection::Replayed);
                log(&error);
                return Err(error);
            }
        }
        Ok(checked.verified)
    }

    /// Verifies a delivery without awaiting anything: for verifiers with fixed secrets
    /// and no replay guard (a replay guard needs [`verify`](Self::verify)).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify); [`Error::Config`] when the verifier has a replay
    /// guard or a secret source, which only the async path consults.
    pub fn verify_sync(&self, message: &Message<'_>) -> Result<Verified, Error> {
        if self.replay.is_some() {
            return Err(Error::config(
                "this verifier has a replay guard: call verify().await",
            ));
        }
        let Secrets::Fixed(secrets) = &self.secrets else {
            return Err(Error::config(
                "this verifier reads a secret source: call verify().await",
            ));
        };
        let now = unix_seconds(self.clock.now());
        self.check(secrets, message, now)
            .map(|checked| checked.verified)
            .inspect_err(log)
    }

    fn check<'a>(
        &'a self,
        secrets: &SecretSet,
        message: &Message<'a>,
        now: i64,
    ) -> Result<Checked<'a>, Error> {
        if message.body.len() > self.body_limit {
            return Err(Rejection::BodyTooLarge.into());
        }
        let parsed = self.scheme.parse(message.headers)?;
        if let Some(timestamp) = parsed.timestamp {
            self.check_window(timestamp.unix, now)?;
        }
        let inputs = Inputs {
            id: parsed.id,
            timestamp: parsed.timestamp.map(|t| t.text),
            body: message.body,
            url: message.url,
        };
        if self.scheme.needs_url() && message.url.is_none() {
            return Err(Rejection::MissingUrl.into());
        }
        let pieces = self.scheme.content(&inputs)?;

        let mut any_secret = false;
        let mut usable = false;
        let mut matched = None;
        'secrets: for (index, secret) in secrets.in_force(now) {
            any_secret = true;
            match &secret.key {
                VerifyKey::Hmac(key) => {
                    let algorithm = match self.scheme.algorithm() {
                        Algorithm::Hmac(algorithm) => algorithm,
                        Algorithm::HmacOrEd25519 => HmacAlgorithm::Sha256,
                        Algorithm::Ed25519 => continue,
                    };
                    let mut tag = None;
                    for candidate in parsed.candidates.iter().filter(|c| c.kind == Kind::Hmac) {
                        usable = true;
                        let tag = tag.get_or_insert_with(|| crypto::hmac(algorithm, key, &pieces));
                        if tag.matches(candidate.tag.as_slice()) {
                            matched = Some(index);
                            break 'secrets;
                        }
                    }
                }
                VerifyKey::Ed25519(key) => {
                    for candidate in parsed.candidates.iter().filter(|c| c.kind == Kind::Ed25519) {
                        usable = true;
                        if crypto::ed25519_verify(key, &pieces, candidate.tag.as_slice()) {
                            matched = Some(index);
                            break 'secrets;
                        }
                    }
                }
            }
        }
        let Some(secret_index) = matched else {
            return Err(Error::Invalid(if !any_secret {
                Rejection::NoSecretInForce
            } else if usable {
                Rejection::SignatureMismatch
            } else {
                parsed
                    .first_error
                    .unwrap_or(Rejection::NoSupportedSignature)
            }));
        };

        let mut timestamp = parsed.timestamp.map(|t| t.unix);
        if matches!(self.scheme, Scheme::Linear) {
            let unix = linear_timestamp(message.body)?;
            self.check_window(unix, now)?;
            timestamp = Some(unix);
        }
        Ok(Checked {
            verified: Verified {
                scheme: self.scheme.name(),
                id: parsed.id.map(|id| String::from_utf8_lossy(id).into_owned()),
                timestamp,
                secret_index,
            },
            signed_id: parsed.id.filter(|_| self.scheme.id_is_signed()),
            pieces,
        })
    }

    fn check_window(&self, timestamp: i64, now: i64) -> Result<(), Rejection> {
        if now.saturating_sub(timestamp) > duration_seconds(self.max_age) {
            Err(Rejection::TimestampTooOld)
        } else if timestamp.saturating_sub(now) > duration_seconds(self.max_future_skew) {
            Err(Rejection::TimestampInFuture)
        } else {
            Ok(())
        }
    }

    /// `<namespace>:<hex SHA-256>` of the signed id, or of the signed bytes when the
    /// scheme has no signed id. Unsigned ids (GitHub's delivery id, Jira's identifier)
    /// are never used: a sender without the secret could change them at will.
    fn replay_key(&self, checked: &Checked<'_>) -> String {
        let mut hash = Sha256::new();
        match checked.signed_id {
            Some(id) => {
                hash.update(b"id\0");
                hash.update(id);
            }
            None => {
                hash.update(b"content\0");
                for piece in &checked.pieces {
                    hash.update(piece);
                }
            }
        }
        format!("{}:{}", self.namespace, hex::encode(hash.finalize()))
    }
}

struct Checked<'m> {
    verified: Verified,
    signed_id: Option<&'m [u8]>,
    pieces: Vec<std::borrow::Cow<'m, [u8]>>,
}

fn log(error: &Error) {
    match error.rejection() {
        Some(rejection) => {
            tracing::debug!(reason = rejection.code(), detail = %rejection, "webhook rejected")
        }
        None => tracing::warn!(error = %error, "webhook not verified"),
    }
}

/// Linear's `webhookTimestamp` (milliseconds) from the verified body, in seconds.
fn linear_timestamp(body: &[u8]) -> Result<i64, Rejection> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "webhookTimestamp")]
        webhook_timestamp: i64,
    }
    if std::str::from_utf8(body).is_err() {
        return Err(Rejection::NonUtf8Body);
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|_| {
        Rejection::MalformedBody("expected a JSON object with a numeric webhookTimestamp")
    })?;
    Ok(parsed.webhook_timestamp.div_euclid(1000))
}

fn check_keys(scheme: &Scheme, set: &SecretSet) -> Result<(), Error> {
    for entry in &set.entries {
        let ed25519 = entry.secret.is_ed25519();
        match (scheme.algorithm(), ed25519) {
            (Algorithm::Hmac(_), true) => {
                return Err(Error::config(format!(
                    "the {scheme} scheme verifies with an HMAC secret, not an Ed25519 key"
                )));
            }
            (Algorithm::Ed25519, false) => {
                return Err(Error::config(format!(
                    "the {scheme} scheme verifies with an Ed25519 public key, not an HMAC secret"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

impl VerifierBuilder {
    /// One secret, with no expiry.
    pub fn secret(self, secret: crate::Secret) -> Self {
        self.secrets(SecretSet::new(secret))
    }

    /// The integration's secrets: current and previous ones, with not-after times.
    pub fn secrets(mut self, secrets: SecretSet) -> Self {
        self.secrets = Some(Secrets::Fixed(Arc::new(secrets)));
        self
    }

    /// Looks the secrets of `integration` up in `source` on every delivery. The
    /// integration id also namespaces the replay guard's keys.
    pub fn secret_source(
        mut self,
        source: Arc<dyn SecretSource>,
        integration: impl Into<String>,
    ) -> Self {
        self.secrets = Some(Secrets::Source {
            source,
            integration: integration.into(),
        });
        self
    }

    /// How old a signed timestamp may be.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a signed timestamp may be (the sender's clock skew).
    pub fn max_future_skew(mut self, skew: Duration) -> Self {
        self.max_future_skew = skew;
        self
    }

    /// Sets both the max age and the max future skew.
    pub fn tolerance(self, tolerance: Duration) -> Self {
        self.max_age(tolerance).max_future_skew(tolerance)
    }

    /// The largest body accepted, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Where the time comes from (tests, `--now`).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Rejects a second delivery of the same message. Share one guard (a Redis one
    /// across instances) between verifiers freely: keys are namespaced.
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay = Some(guard);
        self
    }

    /// The replay guard's key namespace. Default: the integration id of a secret
    /// source, else the scheme's name. Give each integration its own when several
    /// with fixed secrets share a guard.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no secrets were given, a secret does not suit the
    /// scheme (an HMAC secret for Discord, an Ed25519 key for Stripe), or the body cap
    /// is zero.
    pub fn build(self) -> Result<Verifier, Error> {
        let secrets = self.secrets.ok_or_else(|| {
            Error::config("no secrets: call .secret(), .secrets() or .secret_source()")
        })?;
        if let Secrets::Fixed(set) = &secrets {
            check_keys(&self.scheme, set)?;
        }
        if self.body_limit == 0 {
            return Err(Error::config("the body limit must be at least 1 byte"));
        }
        let namespace = self.namespace.unwrap_or_else(|| match &secrets {
            Secrets::Source { integration, .. } => integration.clone(),
            Secrets::Fixed(_) => self.scheme.name().to_owned(),
        });
        Ok(Verifier {
            scheme: self.scheme,
            secrets,
            max_age: self.max_age,
            max_future_skew: self.max_future_skew,
            body_limit: self.body_limit,
            clock: self.clock,
            replay: self.replay,
            namespace,
        })
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Verifier");
        s.field("scheme", &self.scheme);
        match &self.secrets {
            Secrets::Fixed(set) => s.field("secrets", set),
            Secrets::Source { integration, .. } => s.field("secret_source", integration),
        };
        s.field("max_age", &self.max_age)
            .field("max_future_skew", &self.max_future_skew)
            .field("body_limit", &self.body_limit)
            .field("replay_guard", &self.replay.is_some())
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("scheme", &self.scheme)
            .field("max_age", &self.max_age)
            .field("max_future_skew", &self.max_future_skew)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}
