//! Where wrapped data keys live.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::error::Result;

/// A tenant's data key as stored: wrapped by a key-encryption key. Holds no secret in
/// the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The tenant.
    pub tenant: String,
    /// The id of the key-encryption key that wrapped it.
    pub kek: String,
    /// The wrapped key (an envelope).
    pub wrapped: Vec<u8>,
    /// When the data key was created.
    pub created: SystemTime,
}

/// Storage of wrapped data keys, one per tenant.
///
/// Implementations: [`MemoryStore`], `SqliteStore` (feature `sqlite`) and
/// `PostgresStore` (feature `postgres`).
pub trait WrappedKeyStore: Send + Sync {
    /// The tenant's wrapped key, if any.
    fn get(&self, tenant: &str) -> impl Future<Output = Result<Option<WrappedKey>>> + Send;

    /// Stores a wrapped key unless the tenant already has one; returns whether it was
    /// stored. Atomic: of two concurrent inserts for one tenant, one wins.
    fn insert(&self, key: &WrappedKey) -> impl Future<Output = Result<bool>> + Send;

    /// Replaces the tenant's wrapped key if it still is `expected` (the wrapped bytes read
    /// before); returns whether it did: false when the tenant has no key, or another one
    /// was written meanwhile. Atomic, so a rewrap that read a key before it was shredded
    /// and created afresh never puts the shredded key back.
    fn replace(
        &self,
        expected: &[u8],
        key: &WrappedKey,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Deletes the tenant's wrapped key; returns whether there was one.
    fn delete(&self, tenant: &str) -> impl Future<Output = Result<bool>> + Send;
}

/// Wrapped keys in memory, for tests and single-process use. Clones share the keys.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    keys: Arc<Mutex<HashMap<String, WrappedKey>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, WrappedKey>) -> T) -> T {
        // The map holds no invariant a panic elsewhere could break.
        f(&mut self.keys.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl WrappedKeyStore for MemoryStore {
    async fn get(&self, tenant: &str) -> Result<Option<WrappedKey>> {
        Ok(self.with(|keys| keys.get(tenant).cloned()))
    }

    async fn insert(&self, key: &WrappedKey) -> Result<bool> {
        Ok(self.with(|keys| {
            if keys.contains_key(&key.tenant) {
                false
            } else {
                keys.insert(key.tenant.clone(), key.clone());
                true
            }
        }))
    }

    async fn replace(&self, expected: &[u8], key: &WrappedKey) -> Result<bool> {
        Ok(self.with(|keys| match keys.get_mut(&key.tenant) {
            Some(stored) if stored.wrapped == expected => {
                *stored = key.clone();
                true
            }
            _ => false,
        }))
    }

    async fn delete(&self, tenant: &str) -> Result<bool> {
        Ok(self.with(|keys| keys.remove(tenant).is_some()))
    }
}

/// Seconds since the Unix epoch, as the SQL stores keep `created_at`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn to_unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The inverse of [`to_unix`]; times before the epoch read as the epoch.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn from_unix(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}
