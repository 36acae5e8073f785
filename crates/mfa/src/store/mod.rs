//! Where MFA state lives: the [`MfaStore`] trait and its backends.
//!
//! A store keeps sealed TOTP seeds with their last accepted step, hashed recovery codes,
//! WebAuthn ceremony states, credentials and user handles. It never sees a plaintext seed
//! or recovery code. Every method is one atomic step; the replay guards
//! ([`MfaStore::accept_totp_step`], [`MfaStore::consume_recovery`],
//! [`MfaStore::take_ceremony`]) are single conditional writes, so two concurrent requests
//! cannot both win. Times are Unix seconds.

use std::future::Future;
use std::pin::Pin;

use crate::{StoreError, UserId};

mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;

/// The future a [`MfaStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A user's TOTP factor as stored: the seed only as an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// A random id for this enrollment; part of the seed's envelope binding.
    pub id: String,
    /// The seed, sealed with `envelope-crypto` and bound to the user and `id` (text armor).
    pub sealed_seed: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    /// Digits per code.
    pub digits: u8,
    /// Seconds per step.
    pub period: u64,
    /// Whether the user confirmed the enrollment with a first code.
    pub confirmed: bool,
    /// The last accepted time step; a code is accepted only for a newer step.
    pub last_step: Option<u64>,
    /// When the enrollment started.
    pub created_at: u64,
}

/// One recovery code as stored: its hash only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryHash {
    /// The code's position in its set.
    pub index: u32,
    /// The 32-byte hash of the normalized code.
    pub hash: Vec<u8>,
}

/// A user's current set of recovery codes, unused codes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySet {
    /// A random id for the set.
    pub set_id: String,
    /// The hash scheme: `sha256` or `argon2id$m=..,t=..,p=..`.
    pub scheme: String,
    /// The salt shared by the set's codes.
    pub salt: Vec<u8>,
    /// The codes not used yet.
    pub codes: Vec<RecoveryHash>,
    /// When the set was generated.
    pub created_at: u64,
}

/// A WebAuthn ceremony in progress, kept server-side until it finishes or expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    /// The user the ceremony is for.
    pub user: UserId,
    /// What the ceremony does, such as `register:passkey` or `authenticate:security-key`.
    pub kind: String,
    /// The `webauthn-rs` state, serialized as JSON (challenge, allowed credentials).
    pub state: String,
    /// After this time the ceremony no longer finishes.
    pub expires_at: u64,
}

/// A registered WebAuthn credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// The credential id, base64url without padding. Unique across users.
    pub id: String,
    /// The owner.
    pub user: UserId,
    /// `passkey` or `security-key`.
    pub kind: String,
    /// The user's name for it.
    pub name: String,
    /// The `webauthn-rs` credential (public key, counter, flags) as JSON.
    pub data: String,
    /// The last signature counter seen.
    pub counter: u32,
    /// When it was registered.
    pub created_at: u64,
    /// When it last signed in.
    pub last_used_at: Option<u64>,
}

/// Storage for MFA state. Implementations must be safe to share between tasks and,
/// for the SQL backends, between processes. [`MemoryStore`] is the reference
/// implementation; the crate's conformance suite runs the same checks on every backend.
pub trait MfaStore: Send + Sync + 'static {
    /// Stores a new, unconfirmed TOTP enrollment, replacing an unconfirmed one.
    /// Returns `false` (and changes nothing) when the user has a confirmed TOTP factor.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn put_totp<'a>(&'a self, user: &'a UserId, record: &'a TotpRecord) -> StoreFuture<'a, bool>;

    /// The user's TOTP record, confirmed or not.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn totp<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Option<TotpRecord>>;

    /// Atomically records `step` as the last accepted step of enrollment `id` and marks it
    /// confirmed, if and only if `step` is newer than the last accepted step. Returns
    /// whether it did: of two concurrent calls with the same step, exactly one succeeds.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn accept_totp_step<'a>(
        &'a self,
        user: &'a UserId,
        id: &'a str,
        step: u64,
    ) -> StoreFuture<'a, bool>;

    /// Removes the user's TOTP factor. Returns whether there was one.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn remove_totp<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, bool>;

    /// Replaces the user's recovery codes with `set` in one step: the old set is void.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn replace_recovery<'a>(
        &'a self,
        user: &'a UserId,
        set: &'a RecoverySet,
    ) -> StoreFuture<'a, ()>;

    /// The user's current set with its unused codes, if any.
    ///
    /// # Errors
    ///
    /// When the backend fails, or holds codes of more than one set for the user.
    fn recovery<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Option<RecoverySet>>;

    /// Atomically marks code `index` of set `set_id` used, if it is unused and the set is
    /// still current. Returns whether it did.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn consume_recovery<'a>(
        &'a self,
        user: &'a UserId,
        set_id: &'a str,
        index: u32,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Stores a ceremony under `id`.
    ///
    /// # Errors
    ///
    /// When `id` exists or the backend fails.
    fn put_ceremony<'a>(&'a self, id: &'a str, record: &'a CeremonyRecord) -> StoreFuture<'a, ()>;

    /// Removes and returns the ceremony `id`: a ceremony is taken at most once.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>>;

    /// Deletes ceremonies that expired at or before `now`. Returns how many.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn purge_ceremonies(&self, now: u64) -> StoreFuture<'_, u64>;

    /// Stores a new credential.
    ///
    /// # Errors
    ///
    /// When a credential with the same id exists (for any user) or the backend fails.
    fn add_credential<'a>(&'a self, record: &'a CredentialRecord) -> StoreFuture<'a, ()>;

    /// The user's credentials, oldest first.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn credentials<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<CredentialRecord>>;

    /// Stores the credential's new data and counter after a sign-in, if `counter` is above
    /// the stored one, or both are zero (an authenticator without a counter). Returns
    /// whether it did: of two sign-ins that race with one counter value, one is stored.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn update_credential<'a>(
        &'a self,
        user: &'a UserId,
        id: &'a str,
        data: &'a str,
        counter: u32,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Renames one of the user's credentials. Returns whether it exists.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn rename_credential<'a>(
        &'a self,
        user: &'a UserId,
        id: &'a str,
        name: &'a str,
    ) -> StoreFuture<'a, bool>;

    /// Removes one of the user's credentials. Returns whether it existed.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn remove_credential<'a>(&'a self, user: &'a UserId, id: &'a str) -> StoreFuture<'a, bool>;

    /// The user's WebAuthn user handle: the one stored, or else `candidate` (16 random
    /// bytes), stored first. Of two calls that race for a user without a handle, both
    /// return the one that was stored. A handle outlives the user's credentials (and
    /// [`Mfa::reset`](crate::Mfa::reset)), so an authenticator registered again replaces
    /// its old credential for the user.
    ///
    /// # Errors
    ///
    /// When `candidate` is another user's handle, or the backend fails.
    fn user_handle<'a>(
        &'a self,
        user: &'a UserId,
        candidate: &'a [u8; 16],
    ) -> StoreFuture<'a, [u8; 16]>;
}
