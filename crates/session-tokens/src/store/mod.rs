//! Where session records live: the [`SessionStore`] trait and its backends.
//!
//! Records are keyed by the [`SessionHandle`] (the SHA-256 of the session id); no store
//! ever sees a session id or a token. Times are Unix seconds.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::{Aal, SessionHandle, StoreError, TenantId, UserId};

mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;

/// The future a [`SessionStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One session as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The SHA-256 of the session id: the record's key.
    pub handle: SessionHandle,
    /// The tenant.
    pub tenant: TenantId,
    /// The user.
    pub user: UserId,
    /// The user's session generation when the session was issued.
    pub generation: u64,
    /// When the session was issued.
    pub created_at: u64,
    /// The end of the session's absolute lifetime.
    pub expires_at: u64,
    /// The last recorded activity (updated by touch, at most once per touch interval).
    pub last_seen_at: u64,
    /// When the user last authenticated for this session.
    pub authenticated_at: u64,
    /// The authenticator assurance level reached.
    pub aal: Aal,
    /// The authentication methods used (RFC 8176 values such as `pwd`, `otp`, `hwk`).
    pub amr: Vec<String>,
    /// The client's IP address at sign-in.
    pub ip: Option<IpAddr>,
    /// The client's user agent at sign-in (at most 512 bytes).
    pub user_agent: Option<String>,
    /// A device label chosen by the user.
    pub label: Option<String>,
    /// When the session was revoked, if it was.
    pub revoked_at: Option<u64>,
}

/// A looked-up session with the user's current generation, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The record.
    pub record: SessionRecord,
    /// The user's generation now (0 until the first bump).
    pub current_generation: u64,
}

/// Storage for session records and per-user session generations.
///
/// Implementations must be safe to share between tasks and, for the SQL backends, between
/// processes: every method is a single atomic step. [`MemoryStore`] is the reference
/// implementation; the crate's conformance suite runs the same checks against every
/// backend.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new record.
    ///
    /// # Errors
    ///
    /// When a record with the same handle exists, or the backend fails.
    fn insert<'a>(&'a self, record: &'a SessionRecord) -> StoreFuture<'a, ()>;

    /// The record keyed `handle` (revoked or not) with its user's current generation, in
    /// one read; `None` when there is no such record.
    fn lookup<'a>(&'a self, handle: &'a SessionHandle) -> StoreFuture<'a, Option<Lookup>>;

    /// Sets `last_seen_at` to `now` if the record exists, is not revoked, and was last
    /// seen at or before `now - min_interval`. Returns whether it wrote.
    fn touch<'a>(
        &'a self,
        handle: &'a SessionHandle,
        now: u64,
        min_interval: u64,
    ) -> StoreFuture<'a, bool>;

    /// The user's live sessions: not revoked, `expires_at > now`, and of the user's current
    /// generation. Newest first (by `created_at`, then handle), at most `limit` of them.
    fn list<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
        limit: usize,
    ) -> StoreFuture<'a, Vec<SessionRecord>>;

    /// The user's current generation (0 until the first bump).
    fn generation<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId) -> StoreFuture<'a, u64>;

    /// Marks the record `handle` revoked at `now` if it belongs to the user and is not
    /// revoked yet. Returns whether it did.
    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        handle: &'a SessionHandle,
        now: u64,
    ) -> StoreFuture<'a, bool>;

    /// Marks every unrevoked record of the user revoked at `now`, except `keep`. Returns how
    /// many it revoked.
    fn revoke_all<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: Option<&'a SessionHandle>,
        now: u64,
    ) -> StoreFuture<'a, u64>;

    /// Caps a user's sessions: marks revoked at `now` every unrevoked record of the user
    /// except `keep` and the `others` newest records that are unrevoked and unexpired
    /// (`expires_at > now`), newest as [`SessionStore::list`] orders them. Returns how
    /// many it revoked.
    fn revoke_oldest<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: &'a SessionHandle,
        others: usize,
        now: u64,
    ) -> StoreFuture<'a, u64>;

    /// In one atomic step: increments the user's generation and marks every unrevoked
    /// record of the user revoked at `now`. Returns the new generation.
    fn bump_generation<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
    ) -> StoreFuture<'a, u64>;

    /// Deletes records whose `expires_at` or `revoked_at` is at or before `before`. Returns
    /// how many it deleted.
    fn purge(&self, before: u64) -> StoreFuture<'_, u64>;
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: SessionStore + ?Sized> SessionStore for $ty {
            fn insert<'a>(&'a self, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
                (**self).insert(record)
            }
            fn lookup<'a>(&'a self, handle: &'a SessionHandle) -> StoreFuture<'a, Option<Lookup>> {
                (**self).lookup(handle)
            }
            fn touch<'a>(&'a self, handle: &'a SessionHandle, now: u64, min_interval: u64) -> StoreFuture<'a, bool> {
                (**self).touch(handle, now, min_interval)
            }
            fn list<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId, now: u64, limit: usize) -> StoreFuture<'a, Vec<SessionRecord>> {
                (**self).list(tenant, user, now, limit)
            }
            fn generation<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId) -> StoreFuture<'a, u64> {
                (**self).generation(tenant, user)
            }
            fn revoke<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId, handle: &'a SessionHandle, now: u64) -> StoreFuture<'a, bool> {
                (**self).revoke(tenant, user, handle, now)
            }
            fn revoke_all<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId, keep: Option<&'a SessionHandle>, now: u64) -> StoreFuture<'a, u64> {
                (**self).revoke_all(tenant, user, keep, now)
            }
            fn revoke_oldest<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId, keep: &'a SessionHandle, others: usize, now: u64) -> StoreFuture<'a, u64> {
                (**self).revoke_oldest(tenant, user, keep, others, now)
            }
            fn bump_generation<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId, now: u64) -> StoreFuture<'a, u64> {
                (**self).bump_generation(tenant, user, now)
            }
            fn purge(&self, before: u64) -> StoreFuture<'_, u64> {
                (**self).purge(before)
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>);
