#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod binding;
mod blind;
mod envelope;
mod error;
mod keyring;
mod rand;
mod rotate;
mod sealer;
mod secret;
mod tenant;
mod xaes;

pub mod dangerous {
    //! Primitives without the envelope's guarantees, for interoperability checks and
    //! known-answer tests. Nothing here commits to a key, binds to an owner or draws its
    //! own nonce: use [`Sealer`](crate::Sealer) for secrets.
    pub use crate::xaes::Xaes256Gcm;
}

pub use binding::{Binding, Purpose};
pub use blind::{BlindIndex, BlindTerm};
pub use envelope::{ARMOR_PREFIX, Algorithm, Envelope, FORMAT_VERSION, Header, OVERHEAD};
pub use error::{Error, Result};
pub use keyring::{
    KEYRING_ENV, KEYRING_MAGIC, KeyInfo, KeyState, KeyVersion, Keyring, MAX_KEY_LEN, MIN_KEY_LEN,
};
pub use rand::{Clock, OsRandom, Random, SystemClock, ThreadRandom};
pub use rotate::{Progress, Rewrapped, RotationItem, Rotator, Written};
pub use sealer::Sealer;
pub use secret::{Plaintext, SecretKey};
#[cfg(feature = "postgres")]
pub use tenant::PostgresStore;
#[cfg(feature = "sqlite")]
pub use tenant::SqliteStore;
pub use tenant::{
    CustomerKey, KeyEncryptionKey, LocalKek, MemoryStore, TenantKeys, WrappedKey, WrappedKeyStore,
};
pub use xaes::Backend;
