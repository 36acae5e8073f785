//! One verifier per integration: scheme, secrets, windows, body cap, clock, replay guard.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::crypto;
use crate::error::{Error, Rejection};
use crate::replay::{Freshness, ReplayGuard};
use crate::scheme::{Inputs, Kind, Parsed, Scheme};
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
    /// The replay guard's key and the token it was recorded under, when one recorded
    /// the delivery (see [`Verifier::release`]).
    replay_key: Option<(Arc<str>, Arc<str>)>,
}

impl Verified {
    /// The scheme's name (`stripe`, `standard`, ...).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The message id, only when the signature covers it (Standard Webhooks, Svix, a
    /// generic scheme with `{id}`): 1 to 256 letters, digits, `_` or `-`. Ids the
    /// sender does not sign (GitHub's `X-GitHub-Delivery`) are never returned: anyone
    /// could change them.
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

/// A replay guard, the namespace of this integration's keys in it, and how long each
/// key is kept.
struct Replay {
    guard: Arc<dyn ReplayGuard>,
    namespace: String,
    ttl: Duration,
}

/// How much longer than the timestamp window a replay guard remembers a message by
/// default, for clock differences between instances that share it: 60 s.
pub const DEFAULT_REPLAY_CLOCK_MARGIN: Duration = Duration::from_secs(60);

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
    replay: Option<Replay>,
}

/// Builds a [`Verifier`]. Secrets (or a secret source) are required; everything else
/// has a safe default, and a replay guard needs the settings its
/// [`replay_guard`](Self::replay_guard) method lists.
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
    replay_ttl: Option<Duration>,
    replay_clock_margin: Duration,
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
            replay_ttl: None,
            replay_clock_margin: DEFAULT_REPLAY_CLOCK_MARGIN,
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

    /// How long the replay guard remembers a message, `None` without a guard. For a
    /// scheme with a timestamp it is at least the whole window (max age plus max future
    /// skew), plus one second (windows count whole seconds, TTLs real time), plus the
    /// clock margin; for the others, the [`replay_ttl`](VerifierBuilder::replay_ttl)
    /// that had to be given.
    pub fn replay_ttl(&self) -> Option<Duration> {
        self.replay.as_ref().map(|replay| replay.ttl)
    }

    /// Checks what can be checked before the body is read: the scheme's headers are
    /// present and well formed, and the signed timestamp is inside the window. Read the
    /// body only when this passes, and a request without a plausible signature costs
    /// no body read ([`WebhookLayer`](crate::WebhookLayer) does so). It is no
    /// verification: call [`verify`](Self::verify) on the whole delivery next.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the [`Rejection`].
    pub fn check_headers(&self, headers: &HeaderMap) -> Result<(), Error> {
        let now = unix_seconds(self.clock.now());
        self.parse_in_window(headers, now)
            .map(drop)
            .map_err(Error::Invalid)
            .inspect_err(|error| self.log(error))
    }

    /// Verifies a delivery completely, replay guard included.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the [`Rejection`] when the delivery does not verify;
    /// [`Error::UnknownIntegration`], [`Error::SecretSource`] or [`Error::Config`] when
    /// the secrets cannot be had or do not suit the scheme; [`Error::ReplayGuard`] when
    /// the replay guard cannot answer. No error ever lets the delivery through. Every
    /// error is logged once (target `webhook_verify`: rejections at debug level, with
    /// the field `reason`; infrastructure errors at warn, configuration at error).
    pub async fn verify(&self, message: &Message<'_>) -> Result<Verified, Error> {
        self.verify_and_remember(message)
            .await
            .inspect_err(|error| self.log(error))
    }

    async fn verify_and_remember(&self, message: &Message<'_>) -> Result<Verified, Error> {
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
        let checked = self.check(&secrets, message, now)?;
        let mut verified = checked.verified;
        if let Some(replay) = &self.replay {
            let key = replay_key(&replay.namespace, checked.signed_id, &checked.pieces);
            let token = replay_token()?;
            let freshness = match replay
                .guard
                .check_and_remember(&key, &token, from_unix_seconds(now), replay.ttl)
                .await
            {
                Ok(freshness) => freshness,
                Err(error) => {
                    // The record may have been written before the answer was lost: take
                    // it back (only ours: it holds our token), so the sender's retry of
                    // this refused delivery is not refused as a replay. If that fails
                    // too, the key expires on its own.
                    let _ = replay.guard.forget(&key, &token).await;
                    return Err(error);
                }
            };
            if freshness == Freshness::Replayed {
                return Err(Error::Invalid(Rejection::Replayed));
            }
            verified.replay_key = Some((Arc::from(key), Arc::from(token)));
        }
        Ok(verified)
    }

    /// Verifies a delivery without awaiting anything: for verifiers with fixed secrets
    /// and no replay guard (a replay guard needs [`verify`](Self::verify)).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify); [`Error::Config`] when the verifier has a replay
    /// guard or a secret source, which only the async path consults.
    pub fn verify_sync(&self, message: &Message<'_>) -> Result<Verified, Error> {
        let result = if self.replay.is_some() {
            Err(Error::config(
                "this verifier has a replay guard: call verify().await",
            ))
        } else if let Secrets::Fixed(secrets) = &self.secrets {
            let now = unix_seconds(self.clock.now());
            self.check(secrets, message, now)
                .map(|checked| checked.verified)
        } else {
            Err(Error::config(
                "this verifier reads a secret source: call verify().await",
            ))
        };
        result.inspect_err(|error| self.log(error))
    }

    /// Forgets that `verified` was delivered, so that the sender's retry of it verifies
    /// again: for when the handler could not process it (a 5xx or an error; the tower
    /// layer does this itself). Without a replay guard, or for a delivery another
    /// integration verified, it does nothing.
    ///
    /// Keys are recorded before the handler runs, so a retry that arrives while it
    /// still runs is rejected as a replay; the sender retries later. A handler that
    /// fails after a side effect must be idempotent, as the retry runs it again. Only
    /// the record this delivery made is forgotten: the guard holds it under a random
    /// token of this verification, so releasing twice, or late, never forgets the record
    /// of a later delivery with the same key.
    ///
    /// # Errors
    ///
    /// [`Error::ReplayGuard`] when the guard cannot answer: the key then expires on its
    /// own, and retries are rejected until then.
    pub async fn release(&self, verified: &Verified) -> Result<(), Error> {
        let (Some(replay), Some((key, token))) = (&self.replay, &verified.replay_key) else {
            return Ok(());
        };
        // `<namespace>:<64 hex digits>`: the whole namespace must be this verifier's.
        let ours = key
            .strip_prefix(replay.namespace.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|hash| hash.len() == 64 && !hash.contains(':'));
        if !ours {
            return Ok(());
        }
        replay
            .guard
            .forget(key, token)
            .await
            .inspect_err(|error| self.log(error))
    }

    /// Headers parsed, and the timestamp (if in a header) inside the window.
    fn parse_in_window<'a>(
        &'a self,
        headers: &'a HeaderMap,
        now: i64,
    ) -> Result<Parsed<'a>, Rejection> {
        let parsed = self.scheme.parse(headers)?;
        if let Some(timestamp) = parsed.timestamp {
            self.check_window(timestamp.unix, now)?;
        }
        Ok(parsed)
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
        let parsed = self.parse_in_window(message.headers, now)?;
        let url = match (self.scheme.needs_url(), message.url) {
            (true, None) => return Err(Rejection::MissingUrl.into()),
            (true, Some(url)) => url,
            (false, _) => "",
        };
        let inputs = Inputs {
            id: parsed.id,
            timestamp: parsed.timestamp.map(|t| t.text),
            body: message.body,
            url,
        };
        let mut contents = self.scheme.contents_to_verify(&inputs)?;

        let mut any_secret = false;
        let mut usable = false;
        let mut matched = None;
        'contents: for pieces in &contents {
            for (index, secret) in secrets.in_force(now) {
                any_secret = true;
                let found = match &secret.key {
                    VerifyKey::Hmac(key) => {
                        let Some(algorithm) = self.scheme.hmac_algorithm() else {
                            continue;
                        };
                        let mut tag = None;
                        parsed
                            .candidates
                            .iter()
                            .filter(|c| c.kind == Kind::Hmac)
                            .any(|candidate| {
                                usable = true;
                                tag.get_or_insert_with(|| crypto::hmac(algorithm, key, pieces))
                                    .matches(&candidate.tag)
                            })
                    }
                    VerifyKey::Ed25519(key) => parsed
                        .candidates
                        .iter()
                        .filter(|c| c.kind == Kind::Ed25519)
                        .any(|candidate| {
                            usable = true;
                            crypto::ed25519_verify(key, pieces, &candidate.tag)
                        }),
                };
                if found {
                    matched = Some(index);
                    break 'contents;
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
        if self.scheme.timestamp_in_body() {
            let unix = linear_timestamp(message.body)?;
            self.check_window(unix, now)?;
            timestamp = Some(unix);
        }
        let signed_id = parsed.id.filter(|_| self.scheme.signs_id());
        // Message ids are ASCII letters, digits, `_` and `-` (checked when parsed), so
        // each byte is one char: nothing is lost or merged.
        let id = signed_id.map(|id| id.iter().copied().map(char::from).collect());
        // The first form of the signed bytes is the canonical one (see
        // `contents_to_verify`): the replay key never depends on which form matched.
        let pieces = contents.swap_remove(0);
        Ok(Checked {
            verified: Verified {
                scheme: self.scheme.name(),
                id,
                timestamp,
                secret_index,
                replay_key: None,
            },
            signed_id,
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

    /// Each failure is logged here and nowhere else: rejections (which anyone can cause)
    /// at debug level, so a flood of forgeries cannot flood the logs.
    fn log(&self, error: &Error) {
        let scheme = self.scheme.name();
        match error {
            Error::Invalid(rejection) => tracing::debug!(
                target: "webhook_verify",
                scheme,
                reason = rejection.code(),
                detail = %rejection,
                "webhook rejected"
            ),
            Error::Config(_) | Error::Secret(_) => {
                tracing::error!(target: "webhook_verify", scheme, error = %error, "webhook verifier misconfigured");
            }
            // Anyone can name an integration: not worth more than a debug line.
            Error::UnknownIntegration(_) => tracing::debug!(
                target: "webhook_verify",
                scheme,
                reason = "unknown_integration",
                "webhook rejected"
            ),
            _ => {
                tracing::warn!(target: "webhook_verify", scheme, error = %error, "webhook not verified")
            }
        }
    }
}

/// A random token for one attempt to record a key: 128 bits, hex.
fn replay_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::ReplayGuard(format!("no randomness for a replay token: {e}")))?;
    Ok(hex::encode(bytes))
}

/// `<namespace>:<hex SHA-256>` of the signed id, or of the signed bytes when the
/// scheme has no signed id. Unsigned ids (GitHub's delivery id, Jira's identifier)
/// are never used: a sender without the secret could change them at will.
fn replay_key(namespace: &str, signed_id: Option<&[u8]>, pieces: &[Cow<'_, [u8]>]) -> String {
    let mut hash = Sha256::new();
    match signed_id {
        Some(id) => {
            hash.update(b"id\0");
            hash.update(id);
        }
        None => {
            hash.update(b"content\0");
            for piece in pieces {
                hash.update(piece);
            }
        }
    }
    format!("{namespace}:{}", hex::encode(hash.finalize()))
}

struct Checked<'m> {
    verified: Verified,
    signed_id: Option<&'m [u8]>,
    pieces: Vec<Cow<'m, [u8]>>,
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
    set.entries
        .iter()
        .try_for_each(|entry| scheme.check_key(entry.secret.is_ed25519(), "verifies"))
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

    /// Rejects a second delivery of the same message. One guard (a Redis one across
    /// instances) can serve several verifiers: each integration's keys are in a
    /// namespace of their own. The guard's capacity (a
    /// [`MemoryReplayGuard`](crate::MemoryReplayGuard)'s key limit, a Redis server's
    /// `maxmemory`) is shared by all of them, though: where a tenant holds their own
    /// integration's secret, they could fill it (see the crate's threat model). With a
    /// guard, [`build`](Self::build) needs:
    ///
    /// - a [`namespace`](Self::namespace) when the secrets are fixed (with a secret
    ///   source, the integration id is the namespace);
    /// - a [`replay_ttl`](Self::replay_ttl) when the scheme signs no timestamp (GitHub,
    ///   Jira, Shopify, Twilio), as nothing else bounds how long a delivery verifies.
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay = Some(guard);
        self
    }

    /// The replay guard's key namespace: one per integration, such as its id. Required
    /// with fixed secrets and a replay guard, because verifiers sharing a guard must not
    /// share keys: otherwise a tenant who controls one integration's secret could send
    /// validly signed deliveries with another integration's message ids and have that
    /// integration's real deliveries rejected as replays. Default with a secret source:
    /// the integration id.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// How long the replay guard remembers each delivery. Required for schemes without
    /// a timestamp (GitHub, Jira, Shopify, Twilio), whose deliveries verify forever:
    /// make it at least as long as the sender retries (24 hours or more), and size the
    /// guard for it, since it holds one key (about 100 bytes in memory) per delivery
    /// in that time. For schemes with a timestamp the default is the window plus one
    /// second plus the clock margin, and a shorter TTL is refused.
    pub fn replay_ttl(mut self, ttl: Duration) -> Self {
        self.replay_ttl = Some(ttl);
        self
    }

    /// How much longer than the timestamp window the replay guard remembers a message,
    /// to cover clock differences between instances sharing it (a delivery first seen
    /// by an instance whose clock is behind). Default: 60 s.
    pub fn replay_clock_margin(mut self, margin: Duration) -> Self {
        self.replay_clock_margin = margin;
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no secrets were given, a secret does not suit the
    /// scheme (an HMAC secret for Discord, an Ed25519 key for Stripe), the body cap
    /// is zero, or the replay guard settings are incomplete or unsafe (see
    /// [`replay_guard`](Self::replay_guard)).
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
        let replay = match self.replay {
            None if self.replay_ttl.is_some() => {
                return Err(Error::config(
                    "replay_ttl is set but there is no replay_guard to remember deliveries",
                ));
            }
            None => None,
            Some(guard) => {
                let namespace = match (self.namespace, &secrets) {
                    (Some(namespace), _) => namespace,
                    (None, Secrets::Source { integration, .. }) => integration.clone(),
                    (None, Secrets::Fixed(_)) => {
                        return Err(Error::config(
                            "a replay guard with fixed secrets needs .namespace(\"<integration id>\"): integrations sharing a guard must not share keys, or one could burn another's message ids",
                        ));
                    }
                };
                if namespace.is_empty() {
                    return Err(Error::config("the replay namespace must not be empty"));
                }
                let ttl = replay_ttl(
                    &self.scheme,
                    self.max_age.saturating_add(self.max_future_skew),
                    self.replay_ttl,
                    self.replay_clock_margin,
                )?;
                Some(Replay {
                    guard,
                    namespace,
                    ttl,
                })
            }
        };
        Ok(Verifier {
            scheme: self.scheme,
            secrets,
            max_age: self.max_age,
            max_future_skew: self.max_future_skew,
            body_limit: self.body_limit,
            clock: self.clock,
            replay,
        })
    }
}

/// The replay TTL: the window, one second and the margin for a scheme with a timestamp
/// (never less), the configured one for a scheme without.
fn replay_ttl(
    scheme: &Scheme,
    window: Duration,
    configured: Option<Duration>,
    margin: Duration,
) -> Result<Duration, Error> {
    if !scheme.has_timestamp() {
        return configured.filter(|ttl| !ttl.is_zero()).ok_or_else(|| {
            Error::config(format!(
                "the {scheme} scheme signs no timestamp, so a captured delivery verifies forever: set replay_ttl to how long the guard remembers each delivery (24 hours or more; memory grows with the deliveries in that time)"
            ))
        });
    }
    let minimum = window
        .saturating_add(Duration::from_secs(1))
        .saturating_add(margin);
    match configured {
        Some(ttl) if ttl < minimum => Err(Error::config(format!(
            "replay_ttl {}s is shorter than the timestamp window plus one second plus the clock margin ({}s): a replay could verify after its key expired",
            ttl.as_secs(),
            minimum.as_secs()
        ))),
        Some(ttl) => Ok(ttl),
        None => Ok(minimum),
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
            .field(
                "replay",
                &self
                    .replay
                    .as_ref()
                    .map(|replay| (&replay.namespace, replay.ttl)),
            )
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
            .field("namespace", &self.namespace)
            .field("replay_ttl", &self.replay_ttl)
            .finish_non_exhaustive()
    }
}
