//! Replay guards: remember each verified message for as long as it could verify again.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::Error;
use crate::secret::BoxFuture;
use crate::time::{duration_seconds, unix_seconds};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisReplayGuard;

/// Whether a message was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Freshness {
    /// First delivery: it is now remembered.
    Fresh,
    /// Delivered before, within the remembered period.
    Replayed,
}

/// Records message keys atomically: of two concurrent calls with the same key, exactly
/// one sees [`Freshness::Fresh`].
///
/// The verifier calls it only for deliveries whose signature and timestamp already
/// verified, with a key derived from the signed message id (Standard Webhooks, Svix)
/// or from a hash of the signed bytes (every other scheme), and a time to remember it
/// of at least the whole timestamp window (max age plus max future skew) plus one
/// second plus the clock margin ([`Verifier::replay_ttl`](crate::Verifier::replay_ttl)).
pub trait ReplayGuard: Send + Sync + 'static {
    /// Remembers `key` until `now + ttl`, that last second included, and says whether
    /// it was already remembered.
    ///
    /// # Errors
    ///
    /// [`Error::ReplayGuard`] when the store cannot answer; the delivery is then
    /// refused.
    fn check_and_remember<'a>(
        &'a self,
        key: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>>;

    /// Forgets `key`, so that the next delivery with it is fresh: called when the
    /// handler failed to process a delivery that was recorded, so the sender's retry is
    /// accepted ([`Verifier::release`](crate::Verifier::release)).
    ///
    /// # Errors
    ///
    /// [`Error::ReplayGuard`] when the store cannot answer; the key then stays until it
    /// expires, and retries are rejected as replays until then.
    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>>;
}

/// A replay guard in this process's memory, for single-instance services and tests.
///
/// Bounded: it holds at most `capacity` keys. Expired keys are swept when it fills up;
/// if it is still full, the delivery is refused with [`Error::ReplayGuard`] rather than
/// forgetting a key early (which would let a replay through). Size it for the peak
/// delivery rate times the timestamp window. Only verified deliveries are recorded,
/// so senders without the secret cannot fill it.
pub struct MemoryReplayGuard {
    capacity: NonZeroUsize,
    seen: Mutex<HashMap<String, i64>>,
}

impl MemoryReplayGuard {
    /// A guard holding at most `capacity` keys.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            capacity,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// How many keys are held, expired ones included until the next sweep.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // Every critical section leaves the map consistent, so a poisoned lock holds
        // usable data.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A key recorded at `now` with `ttl` is a replay up to and including `now + ttl`.
    fn check(&self, key: &str, now: i64, ttl: i64) -> Result<Freshness, Error> {
        let mut seen = self.lock();
        if let Some(&expires) = seen.get(key) {
            if now <= expires {
                return Ok(Freshness::Replayed);
            }
        } else if seen.len() >= self.capacity.get() {
            seen.retain(|_, expires| now <= *expires);
            if seen.len() >= self.capacity.get() {
                return Err(Error::ReplayGuard(format!(
                    "memory replay guard is full ({} unexpired keys): raise its capacity",
                    self.capacity
                )));
            }
        }
        seen.insert(key.to_owned(), now.saturating_add(ttl.max(1)));
        Ok(Freshness::Fresh)
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn check_and_remember<'a>(
        &'a self,
        key: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>> {
        let result = self.check(key, unix_seconds(now), duration_seconds(ttl));
        Box::pin(std::future::ready(result))
    }

    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        self.lock().remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl fmt::Debug for MemoryReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayGuard")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(capacity: usize) -> MemoryReplayGuard {
        MemoryReplayGuard::new(NonZeroUsize::new(capacity).unwrap())
    }

    #[test]
    fn a_key_is_fresh_once_then_replayed_through_its_last_second() {
        let guard = guard(8);
        assert_eq!(guard.check("a", 100, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a", 109, 10).unwrap(), Freshness::Replayed);
        assert_eq!(guard.check("b", 109, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a", 110, 10).unwrap(), Freshness::Replayed);
        assert_eq!(guard.check("a", 111, 10).unwrap(), Freshness::Fresh);
    }

    #[tokio::test]
    async fn a_forgotten_key_is_fresh_again() {
        let guard = guard(8);
        assert_eq!(guard.check("a", 100, 10).unwrap(), Freshness::Fresh);
        guard.forget("a").await.unwrap();
        assert!(guard.is_empty());
        assert_eq!(guard.check("a", 101, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a", 102, 10).unwrap(), Freshness::Replayed);
    }

    #[test]
    fn a_full_guard_sweeps_expired_keys_and_refuses_rather_than_forget() {
        let guard = guard(2);
        assert_eq!(guard.check("a", 0, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("b", 5, 10).unwrap(), Freshness::Fresh);
        assert!(matches!(
            guard.check("c", 6, 10),
            Err(Error::ReplayGuard(_))
        ));
        // "a" is remembered through 10: at 11 the sweep makes room, "b" stays.
        assert!(matches!(
            guard.check("c", 10, 10),
            Err(Error::ReplayGuard(_))
        ));
        assert_eq!(guard.check("c", 11, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("b", 12, 10).unwrap(), Freshness::Replayed);
        assert_eq!(guard.len(), 2);
    }
}
