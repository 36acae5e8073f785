//! The crate's one error type.

use crate::keyring::KeyVersion;

/// Everything that can go wrong in this crate.
///
/// Verification failures are deliberately opaque: a forged, truncated, tampered or
/// misbound envelope, a commitment mismatch and a failed authentication tag are all
/// [`Error::Invalid`], so an attacker learns nothing from the error. Configuration errors
/// (a missing or short key, a malformed keyring) say what to fix and never contain key
/// bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The envelope did not verify: malformed, tampered, sealed under another key, or
    /// opened with another purpose or binding than it was sealed with.
    #[error("invalid envelope")]
    Invalid,

    /// The envelope was sealed under a key version that has been retired, so it no
    /// longer opens. Rewrap envelopes before retiring the version that sealed them.
    #[error("key version {0} is retired: envelopes sealed under it no longer open")]
    RetiredKey(KeyVersion),

    /// The plaintext is longer than AES-GCM can encrypt under one nonce (64 GiB).
    #[error("message too long for AES-GCM")]
    MessageTooLong,

    /// The envelope names a key version that the keyring does not hold.
    #[error("key version {0} is not in the keyring")]
    UnknownKeyVersion(KeyVersion),

    /// No keyring was configured: neither the `PALISADE_KEYRING` environment variable nor
    /// a keyring file.
    #[error(
        "no keyring configured: set PALISADE_KEYRING to the keyring text or pass a keyring file"
    )]
    KeyringNotConfigured,

    /// The keyring text or an operation on it is wrong; the message says what to fix.
    #[error("keyring: {0}")]
    Keyring(String),

    /// A keyring file could not be read or written.
    #[error("keyring file {path}: {source}")]
    KeyringFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A key given directly (a customer-managed key, a data key) has the wrong length.
    #[error("key must be exactly 32 bytes, got {0}")]
    KeyLength(usize),

    /// A purpose, tenant or binding value is not acceptable; the message says why.
    #[error("binding: {0}")]
    Binding(String),

    /// The tenant has no data key (never created, or shredded).
    #[error("tenant {0:?} has no data key")]
    NoDataKey(String),

    /// A wrapped data key was made by another key-encryption key than the one given.
    #[error("data key of tenant {tenant:?} is wrapped by {found:?}, not {expected:?}")]
    WrongKek {
        /// The tenant.
        tenant: String,
        /// The key-encryption key the stored data key names.
        found: String,
        /// The key-encryption key that was asked to unwrap it.
        expected: String,
    },

    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,

    /// A store of wrapped keys, or the source or sink of a rotation, failed.
    #[error("store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// A batch rotation stopped at the item `id`; items before it are done and the
    /// rotator's cursor points at the last of them.
    #[error("rotation stopped at item {id}: {source}")]
    Rotation {
        /// The item that could not be rotated, as its `Display` form.
        id: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps a storage error (a database driver's, say) for [`WrappedKeyStore`] and
    /// rotation sources and sinks.
    ///
    /// [`WrappedKeyStore`]: crate::WrappedKeyStore
    pub fn store(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Store(err.into())
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
