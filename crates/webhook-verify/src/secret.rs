//! Secrets: the keys that verify and sign, their rotation, and where they come from.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::Error;
use crate::scheme::Scheme;
use crate::time::unix_seconds;

/// A boxed, sendable future, as returned by the crate's async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

const WHSEC: &str = "whsec_";
const WHSK: &str = "whsk_";
const WHPK: &str = "whpk_";

/// The shortest HMAC key accepted: 16 bytes (128 bits). A provider-issued secret that
/// is shorter can only be used through [`dangerous`](crate::dangerous).
pub const MIN_HMAC_KEY_LEN: usize = 16;

/// The shortest `whsec_` secret accepted: 24 bytes once base64-decoded, the Standard
/// Webhooks minimum.
pub const MIN_WHSEC_LEN: usize = 24;

/// Key material that verifies deliveries: an HMAC key, or an Ed25519 public key.
///
/// Not `Clone`; HMAC keys are zeroized on drop and never printed.
pub struct Secret {
    pub(crate) key: VerifyKey,
}

pub(crate) enum VerifyKey {
    Hmac(Zeroizing<Vec<u8>>),
    Ed25519(VerifyingKey),
}

/// Key material that signs deliveries: an HMAC key, or an Ed25519 private key.
///
/// Not `Clone`; zeroized on drop and never printed.
pub struct SigningSecret {
    pub(crate) key: SignKey,
}

pub(crate) enum SignKey {
    Hmac(Zeroizing<Vec<u8>>),
    Ed25519(Box<SigningKey>),
}

/// Whether a key is parsed to verify or to sign: it decides what Discord's 64 hex
/// digits are (a public key, or a private seed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Verify,
    Sign,
}

/// Whether HMAC keys under the minimum length are refused (always, except through
/// [`dangerous`](crate::dangerous)).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    Checked,
    AllowShort,
}

/// A key in any of the providers' formats, before it is a [`Secret`] or a
/// [`SigningSecret`]: the one place that knows each scheme's key format.
enum Key {
    Hmac(Zeroizing<Vec<u8>>),
    Public(VerifyingKey),
    Private(Box<SigningKey>),
}

fn parse_key(scheme: &Scheme, text: &str, role: Role, length: Length) -> Result<Key, Error> {
    let text = text.trim();
    match scheme {
        Scheme::StandardWebhooks | Scheme::Svix => {
            if let Some(public) = text.strip_prefix(WHPK) {
                Ok(Key::Public(public_key(&*decode_key32(
                    public,
                    "whpk_ public key",
                    Codec::Base64,
                )?)?))
            } else if let Some(seed) = text.strip_prefix(WHSK) {
                let seed = decode_key32(seed, "whsk_ private key", Codec::Base64)?;
                Ok(Key::Private(Box::new(SigningKey::from_bytes(&seed))))
            } else if let Some(encoded) = text.strip_prefix(WHSEC) {
                let key = Zeroizing::new(
                    STANDARD
                        .decode(encoded)
                        .map_err(|_| Error::Secret("expected whsec_ followed by base64".into()))?,
                );
                Ok(Key::Hmac(hmac_key(
                    key,
                    MIN_WHSEC_LEN,
                    length,
                    "whsec_ secret",
                )?))
            } else {
                Err(Error::Secret(format!(
                    "a {scheme} secret starts with whsec_ (HMAC), whsk_ (Ed25519 private key) or whpk_ (Ed25519 public key); give raw key bytes to Secret::hmac"
                )))
            }
        }
        Scheme::Discord => match role {
            Role::Verify => Ok(Key::Public(public_key(&*decode_key32(
                text,
                "Discord public key",
                Codec::Hex,
            )?)?)),
            Role::Sign => discord_signing_key(text),
        },
        _ => Ok(Key::Hmac(hmac_key(
            Zeroizing::new(text.as_bytes().to_vec()),
            MIN_HMAC_KEY_LEN,
            length,
            "secret",
        )?)),
    }
}

impl Secret {
    /// Parses a verification secret in the provider's own format:
    ///
    /// | scheme | format |
    /// |---|---|
    /// | Standard Webhooks, Svix | `whsec_<base64>` of at least 24 bytes (HMAC, `v1`); `whpk_<base64>` Ed25519 public key (`v1a`); a `whsk_` private key is accepted too |
    /// | Stripe | the whole `whsec_...` string, used as is |
    /// | Discord | the application's public key, 64 hex digits |
    /// | every other scheme | the secret string, used as is |
    ///
    /// HMAC secrets must be at least [`MIN_HMAC_KEY_LEN`] bytes ([`MIN_WHSEC_LEN`] once
    /// decoded for `whsec_`); a provider-issued shorter one needs
    /// [`dangerous::short_secret`](crate::dangerous::short_secret).
    ///
    /// # Errors
    ///
    /// [`Error::Secret`] when the text is empty, too short, or not in the scheme's
    /// format (a Standard Webhooks secret without its `whsec_` prefix included).
    pub fn parse(scheme: &Scheme, text: &str) -> Result<Self, Error> {
        Self::parse_with(scheme, text, Length::Checked)
    }

    pub(crate) fn parse_with(scheme: &Scheme, text: &str, length: Length) -> Result<Self, Error> {
        let key = match parse_key(scheme, text, Role::Verify, length)? {
            Key::Hmac(key) => VerifyKey::Hmac(key),
            Key::Public(key) => VerifyKey::Ed25519(key),
            Key::Private(key) => VerifyKey::Ed25519(key.verifying_key()),
        };
        Ok(Self { key })
    }

    /// An HMAC key from raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Secret`] when `key` is shorter than [`MIN_HMAC_KEY_LEN`].
    pub fn hmac(key: impl Into<Vec<u8>>) -> Result<Self, Error> {
        Ok(Self {
            key: VerifyKey::Hmac(raw_hmac_key(key.into())?),
        })
    }

    /// An Ed25519 public key from its 32 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Secret`] when the bytes are not a point on the curve, or are a weak
    /// (small-order) key that would accept forged signatures.
    pub fn ed25519_public(key: &[u8; 32]) -> Result<Self, Error> {
        Ok(Self {
            key: VerifyKey::Ed25519(public_key(key)?),
        })
    }

    pub(crate) fn is_ed25519(&self) -> bool {
        matches!(self.key, VerifyKey::Ed25519(_))
    }
}

impl SigningSecret {
    /// Parses a signing secret in the provider's own format: as [`Secret::parse`], but
    /// Ed25519 schemes take the private key (`whsk_<base64 seed>` for Standard Webhooks;
    /// 64 hex digits of seed, or 128 of seed and public key, for Discord).
    ///
    /// # Errors
    ///
    /// [`Error::Secret`] when the text is empty, too short, not in the scheme's format,
    /// or a public key (which cannot sign).
    pub fn parse(scheme: &Scheme, text: &str) -> Result<Self, Error> {
        Self::parse_with(scheme, text, Length::Checked)
    }

    pub(crate) fn parse_with(scheme: &Scheme, text: &str, length: Length) -> Result<Self, Error> {
        let key = match parse_key(scheme, text, Role::Sign, length)? {
            Key::Hmac(key) => SignKey::Hmac(key),
            Key::Private(key) => SignKey::Ed25519(key),
            Key::Public(_) => {
                return Err(Error::Secret(
                    "a whpk_ public key verifies but cannot sign: give the whsk_ private key"
                        .into(),
                ));
            }
        };
        Ok(Self { key })
    }

    /// An HMAC key from raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Secret`] when `key` is shorter than [`MIN_HMAC_KEY_LEN`].
    pub fn hmac(key: impl Into<Vec<u8>>) -> Result<Self, Error> {
        Ok(Self {
            key: SignKey::Hmac(raw_hmac_key(key.into())?),
        })
    }

    /// An Ed25519 private key from its 32-byte seed.
    pub fn ed25519_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SignKey::Ed25519(Box::new(SigningKey::from_bytes(seed))),
        }
    }

    /// The matching verification secret (the same HMAC key, or the Ed25519 public key).
    pub fn verifying(&self) -> Secret {
        let key = match &self.key {
            SignKey::Hmac(key) => VerifyKey::Hmac(key.clone()),
            SignKey::Ed25519(key) => VerifyKey::Ed25519(key.verifying_key()),
        };
        Secret { key }
    }

    /// The Ed25519 public key in the scheme's format (`whpk_<base64>`, or hex for
    /// Discord), or `None` for an HMAC secret. Handy to hand a public key to receivers.
    pub fn public_key(&self, scheme: &Scheme) -> Option<String> {
        match &self.key {
            SignKey::Hmac(_) => None,
            SignKey::Ed25519(key) => {
                let bytes = key.verifying_key().to_bytes();
                Some(match scheme {
                    Scheme::Discord => hex::encode(bytes),
                    _ => format!("{WHPK}{}", STANDARD.encode(bytes)),
                })
            }
        }
    }

    pub(crate) fn is_ed25519(&self) -> bool {
        matches!(self.key, SignKey::Ed25519(_))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            VerifyKey::Hmac(_) => f.write_str("Secret::Hmac([redacted])"),
            VerifyKey::Ed25519(key) => f
                .debug_tuple("Secret::Ed25519Public")
                .field(&hex::encode(key.as_bytes()))
                .finish(),
        }
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            SignKey::Hmac(_) => f.write_str("SigningSecret::Hmac([redacted])"),
            SignKey::Ed25519(_) => f.write_str("SigningSecret::Ed25519([redacted])"),
        }
    }
}

/// `key` if it is at least `min` bytes long (or, with [`Length::AllowShort`], not
/// empty); else an error that names `what` and the minimum.
fn hmac_key(
    key: Zeroizing<Vec<u8>>,
    min: usize,
    length: Length,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if key.is_empty() {
        return Err(Error::Secret(format!("the {what} is empty")));
    }
    if length == Length::Checked && key.len() < min {
        return Err(Error::Secret(format!(
            "the {what} is {} bytes, shorter than the minimum of {min}; a shorter secret issued by the provider can only be used through webhook_verify::dangerous",
            key.len()
        )));
    }
    Ok(key)
}

/// Raw key bytes given to `Secret::hmac` or `SigningSecret::hmac`.
fn raw_hmac_key(key: Vec<u8>) -> Result<Zeroizing<Vec<u8>>, Error> {
    hmac_key(
        Zeroizing::new(key),
        MIN_HMAC_KEY_LEN,
        Length::Checked,
        "key",
    )
}

fn public_key(key: &[u8; 32]) -> Result<VerifyingKey, Error> {
    let key = VerifyingKey::from_bytes(key)
        .map_err(|_| Error::Secret("not a valid Ed25519 public key".into()))?;
    if key.is_weak() {
        return Err(Error::Secret("weak Ed25519 public key".into()));
    }
    Ok(key)
}

#[derive(Clone, Copy)]
enum Codec {
    Hex,
    Base64,
}

/// 32 key bytes; zeroized wherever they are dropped, as they may be a private seed.
fn decode_key32(text: &str, what: &str, codec: Codec) -> Result<Zeroizing<[u8; 32]>, Error> {
    let bytes = Zeroizing::new(match codec {
        Codec::Hex => hex::decode(text).ok(),
        Codec::Base64 => STANDARD.decode(text).ok(),
    });
    let expected = match codec {
        Codec::Hex => "64 hex digits",
        Codec::Base64 => "base64 of 32 bytes",
    };
    let mut key = Zeroizing::new([0u8; 32]);
    match bytes.as_deref() {
        Some(bytes) if bytes.len() == 32 => {
            key.copy_from_slice(bytes);
            Ok(key)
        }
        _ => Err(Error::Secret(format!("{what}: expected {expected}"))),
    }
}

fn discord_signing_key(text: &str) -> Result<Key, Error> {
    const EXPECTED: &str =
        "Discord private key: expected 64 hex digits (seed) or 128 (seed and public key)";
    let bytes = Zeroizing::new(hex::decode(text).map_err(|_| Error::Secret(EXPECTED.into()))?);
    match bytes.len() {
        32 => {
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&bytes);
            Ok(Key::Private(Box::new(SigningKey::from_bytes(&seed))))
        }
        64 => {
            let mut pair = Zeroizing::new([0u8; 64]);
            pair.copy_from_slice(&bytes);
            let key = SigningKey::from_keypair_bytes(&pair).map_err(|_| {
                Error::Secret("Discord private key: the public half does not match the seed".into())
            })?;
            Ok(Key::Private(Box::new(key)))
        }
        _ => Err(Error::Secret(EXPECTED.into())),
    }
}

/// The secrets of one integration: the current one plus previous ones, each with an
/// optional not-after time, so that every integration rotates on its own.
///
/// A delivery verifies when it matches any secret still in force (now at or before
/// its not-after time). Secrets are tried in the order they were added.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use webhook_verify::{Scheme, Secret, SecretSet};
///
/// let retire_at = SystemTime::now() + Duration::from_secs(24 * 3600);
/// let secrets = SecretSet::new(Secret::parse(&Scheme::GitHub, "new secret: 7f3a9c2e81d4b6a0")?)
///     .with_previous(Secret::parse(&Scheme::GitHub, "old secret: 0c5e8b1f92a7d3e4")?, retire_at);
/// assert_eq!(secrets.len(), 2);
/// # Ok::<(), webhook_verify::Error>(())
/// ```
pub struct SecretSet {
    pub(crate) entries: Vec<SecretEntry>,
}

pub(crate) struct SecretEntry {
    pub(crate) secret: Secret,
    pub(crate) not_after: Option<i64>,
}

impl SecretSet {
    /// A set holding `current`, with no expiry.
    #[must_use]
    pub fn new(current: Secret) -> Self {
        Self {
            entries: vec![SecretEntry {
                secret: current,
                not_after: None,
            }],
        }
    }

    /// A set holding `current`, which stops verifying after `not_after` (an
    /// integration being wound down).
    #[must_use]
    pub fn expiring(current: Secret, not_after: SystemTime) -> Self {
        Self {
            entries: vec![SecretEntry {
                secret: current,
                not_after: Some(unix_seconds(not_after)),
            }],
        }
    }

    /// Adds a secret that stops verifying after `not_after`.
    #[must_use]
    pub fn with_previous(self, secret: Secret, not_after: SystemTime) -> Self {
        self.with(secret, Some(not_after))
    }

    /// Adds a secret with an optional not-after time.
    #[must_use]
    pub fn with(mut self, secret: Secret, not_after: Option<SystemTime>) -> Self {
        self.entries.push(SecretEntry {
            secret,
            not_after: not_after.map(unix_seconds),
        });
        self
    }

    /// How many secrets the set holds, expired or not.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always `false`: a set holds at least its current secret.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn in_force(&self, now: i64) -> impl Iterator<Item = (usize, &Secret)> {
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, entry)| entry.not_after.is_none_or(|limit| now <= limit))
            .map(|(index, entry)| (index, &entry.secret))
    }
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.entries
                    .iter()
                    .map(|entry| (&entry.secret, entry.not_after)),
            )
            .finish()
    }
}

/// Where the secrets of each integration live, looked up per delivery, so that they can
/// be kept sealed in a database and rotated without a restart.
///
/// Implementations should cache: the lookup runs once per delivery.
pub trait SecretSource: Send + Sync + 'static {
    /// The secrets of `integration`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownIntegration`] when there is no such integration;
    /// [`Error::SecretSource`] when the lookup itself fails. Either way the delivery
    /// is refused.
    fn secrets<'a>(&'a self, integration: &'a str) -> BoxFuture<'a, Result<Arc<SecretSet>, Error>>;
}

/// A [`SecretSource`] in memory: integration id to [`SecretSet`], replaceable at any
/// time (rotation takes effect on the next delivery).
#[derive(Default)]
pub struct MemorySecretSource {
    sets: RwLock<HashMap<String, Arc<SecretSet>>>,
}

impl MemorySecretSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) the secrets of `integration`.
    pub fn insert(&self, integration: impl Into<String>, secrets: SecretSet) {
        self.write().insert(integration.into(), Arc::new(secrets));
    }

    /// Removes `integration`; its deliveries are refused from now on.
    pub fn remove(&self, integration: &str) -> bool {
        self.write().remove(integration).is_some()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<SecretSet>>> {
        // A panic while holding the lock cannot leave the map half-written: every
        // write is a single insert or remove.
        self.sets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretSource for MemorySecretSource {
    fn secrets<'a>(&'a self, integration: &'a str) -> BoxFuture<'a, Result<Arc<SecretSet>, Error>> {
        let found = self
            .sets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(integration)
            .cloned();
        Box::pin(
            async move { found.ok_or_else(|| Error::UnknownIntegration(integration.to_owned())) },
        )
    }
}

impl fmt::Debug for MemorySecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sets = self
            .sets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut names: Vec<&String> = sets.keys().collect();
        names.sort();
        f.debug_struct("MemorySecretSource")
            .field("integrations", &names)
            .finish()
    }
}
