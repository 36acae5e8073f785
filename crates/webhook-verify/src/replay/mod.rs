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
    /// Remembers `key` until `now + ttl`, that last second included, under `token` (a
    /// random value of this one attempt), and says whether it was already remembered.
    ///
    /// # Errors
    ///
    /// [`Error::ReplayGuard`] when the store cannot answer; the delivery is then
    /// refused. The key may have been recorded all the same (a reply lost after the
    /// write): the verifier then asks the guard to [`forget`](Self::forget) it under
    /// the same token, so the sender's retry is not refused as a replay.
    fn check_and_remember<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>>;

    /// Forgets `key` if it is still remembered under `token`, so that the next delivery
    /// with it is fresh: called when the handler failed to process a delivery that was
    /// recorded, so the sender's retry is accepted
    /// ([`Verifier::release`](crate::Verifier::release)), and when recording it failed.
    /// A key remembered under another token (a later delivery's, recorded after this
    /// one expired or was forgotten) stays.
    ///
    /// # Errors
    ///
    /// [`Error::ReplayGuard`] when the store cannot answer; the key then stays until it
    /// expires, and retries are rejected as replays until then.
    fn forget<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), Error>>;
}

/// A replay guard in this process's memory, for single-instance services and tests.
///
/// Bounded: it holds at most `capacity` keys. Expired keys are swept when it fills up;
/// if it is still full, the delivery is refused with [`Error::ReplayGuard`] rather than
/// forgetting a key early (which would let a replay through). Size it for the peak
/// delivery rate times the timestamp window. Only verified deliveries are recorded,
/// so senders without the secret cannot fill it.
///
/// Where tenants hold their own integrations' secrets, one of them can fill a shared
/// guard with validly signed deliveries; [`MemoryReplayGuard::namespace_quota`] caps
/// what each namespace (each verifier's, such as an integration id: the part of a key
/// before its last `:`) may hold, so a full namespace refuses only its own deliveries.
pub struct MemoryReplayGuard {
    capacity: NonZeroUsize,
    quota: Option<NonZeroUsize>,
    state: Mutex<Seen>,
}

/// The keys held, with when each expires and the token it was recorded under, and how
/// many each namespace holds.
#[derive(Default)]
struct Seen {
    expires: HashMap<String, (i64, Box<str>)>,
    per_namespace: HashMap<String, usize>,
}

/// The namespace of a key: what comes before its last `:` (the verifier's keys are
/// `<namespace>:<hex digest>`), or nothing.
fn namespace_of(key: &str) -> &str {
    key.rsplit_once(':').map_or("", |(namespace, _)| namespace)
}

impl Seen {
    fn insert(&mut self, key: &str, expires: i64, token: &str) {
        if self
            .expires
            .insert(key.to_owned(), (expires, token.into()))
            .is_none()
        {
            *self
                .per_namespace
                .entry(namespace_of(key).to_owned())
                .or_default() += 1;
        }
    }

    /// Removes `key` if it was recorded under `token`.
    fn remove(&mut self, key: &str, token: &str) {
        if self
            .expires
            .get(key)
            .is_some_and(|(_, held)| held.as_ref() == token)
        {
            self.expires.remove(key);
            self.uncount(namespace_of(key));
        }
    }

    fn uncount(&mut self, namespace: &str) {
        if let Some(count) = self.per_namespace.get_mut(namespace) {
            *count -= 1;
            if *count == 0 {
                self.per_namespace.remove(namespace);
            }
        }
    }

    /// Forgets every key that expired before `now`.
    fn sweep(&mut self, now: i64) {
        let per_namespace = &mut self.per_namespace;
        self.expires.retain(|key, (expires, _)| {
            let keep = now <= *expires;
            if !keep && let Some(count) = per_namespace.get_mut(namespace_of(key)) {
                *count -= 1;
            }
            keep
        });
        per_namespace.retain(|_, count| *count > 0);
    }

    fn held_by(&self, namespace: &str) -> usize {
        self.per_namespace.get(namespace).copied().unwrap_or(0)
    }
}

impl MemoryReplayGuard {
    /// A guard holding at most `capacity` keys.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            capacity,
            quota: None,
            state: Mutex::new(Seen::default()),
        }
    }

    /// Caps the keys each namespace may hold at `quota` (and no more than the capacity):
    /// a namespace at its quota refuses its own deliveries with [`Error::ReplayGuard`]
    /// until its keys expire, and the others go on.
    #[must_use]
    pub fn namespace_quota(mut self, quota: NonZeroUsize) -> Self {
        self.quota = Some(quota);
        self
    }

    /// How many keys are held, expired ones included until the next sweep.
    pub fn len(&self) -> usize {
        self.lock().expires.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Every critical section leaves the maps consistent, so a poisoned lock holds
        // usable data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A key recorded at `now` with `ttl` is a replay up to and including `now + ttl`.
    fn check(&self, key: &str, token: &str, now: i64, ttl: i64) -> Result<Freshness, Error> {
        let mut seen = self.lock();
        let namespace = namespace_of(key);
        if let Some(&(expires, _)) = seen.expires.get(key) {
            if now <= expires {
                return Ok(Freshness::Replayed);
            }
        } else {
            let over_quota = |seen: &Seen| {
                self.quota
                    .is_some_and(|q| seen.held_by(namespace) >= q.get())
            };
            let full = |seen: &Seen| seen.expires.len() >= self.capacity.get();
            if full(&seen) || over_quota(&seen) {
                seen.sweep(now);
            }
            if full(&seen) {
                return Err(Error::ReplayGuard(format!(
                    "memory replay guard is full ({} unexpired keys): raise its capacity",
                    self.capacity
                )));
            }
            if over_quota(&seen) {
                return Err(Error::ReplayGuard(format!(
                    "namespace {namespace:?} holds its quota of unexpired keys in the memory replay guard"
                )));
            }
        }
        seen.insert(key, now.saturating_add(ttl.max(1)), token);
        Ok(Freshness::Fresh)
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn check_and_remember<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>> {
        let result = self.check(key, token, unix_seconds(now), duration_seconds(ttl));
        Box::pin(std::future::ready(result))
    }

    fn forget<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        self.lock().remove(key, token);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl fmt::Debug for MemoryReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayGuard")
            .field("capacity", &self.capacity)
            .field("namespace_quota", &self.quota)
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
        assert_eq!(guard.check("a", "t", 100, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a", "t", 109, 10).unwrap(), Freshness::Replayed);
        assert_eq!(guard.check("b", "t", 109, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a", "t", 110, 10).unwrap(), Freshness::Replayed);
        assert_eq!(guard.check("a", "t", 111, 10).unwrap(), Freshness::Fresh);
    }

    /// A key is forgotten only under the token it was recorded with: a late release of
    /// an earlier delivery does not forget the record of a later one.
    #[tokio::test]
    async fn a_key_is_forgotten_only_under_its_own_token() {
        let guard = guard(8);
        assert_eq!(
            guard.check("a", "first", 100, 10).unwrap(),
            Freshness::Fresh
        );
        guard.forget("a", "first").await.unwrap();
        assert_eq!(
            guard.check("a", "second", 101, 10).unwrap(),
            Freshness::Fresh
        );
        guard.forget("a", "first").await.unwrap();
        assert_eq!(
            guard.check("a", "third", 102, 10).unwrap(),
            Freshness::Replayed
        );
        assert_eq!(guard.len(), 1);
    }

    #[tokio::test]
    async fn a_forgotten_key_is_fresh_again() {
        let guard = guard(8);
        assert_eq!(guard.check("a", "t", 100, 10).unwrap(), Freshness::Fresh);
        guard.forget("a", "t").await.unwrap();
        assert!(guard.is_empty());
        assert_eq!(guard.check("a", "t", 101, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a", "t", 102, 10).unwrap(), Freshness::Replayed);
    }

    #[test]
    fn a_full_guard_sweeps_expired_keys_and_refuses_rather_than_forget() {
        let guard = guard(2);
        assert_eq!(guard.check("a", "t", 0, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("b", "t", 5, 10).unwrap(), Freshness::Fresh);
        assert!(matches!(
            guard.check("c", "t", 6, 10),
            Err(Error::ReplayGuard(_))
        ));
        // "a" is remembered through 10: at 11 the sweep makes room, "b" stays.
        assert!(matches!(
            guard.check("c", "t", 10, 10),
            Err(Error::ReplayGuard(_))
        ));
        assert_eq!(guard.check("c", "t", 11, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("b", "t", 12, 10).unwrap(), Freshness::Replayed);
        assert_eq!(guard.len(), 2);
    }

    /// A namespace that fills its quota refuses only its own keys; the others go on,
    /// and its room comes back as its keys expire or are forgotten.
    #[tokio::test]
    async fn a_namespace_at_its_quota_refuses_only_its_own_keys() {
        let guard = guard(8).namespace_quota(NonZeroUsize::new(2).unwrap());
        assert_eq!(guard.check("evil:1", "t", 0, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("evil:2", "t", 5, 10).unwrap(), Freshness::Fresh);
        assert!(matches!(
            guard.check("evil:3", "t", 6, 10),
            Err(Error::ReplayGuard(message)) if message.contains("\"evil\"")
        ));
        assert_eq!(guard.check("acme:1", "t", 6, 10).unwrap(), Freshness::Fresh);
        assert_eq!(guard.check("a:b:1", "t", 6, 10).unwrap(), Freshness::Fresh);
        // Replays are still told apart at the quota.
        assert_eq!(
            guard.check("evil:2", "t", 7, 10).unwrap(),
            Freshness::Replayed
        );
        // "evil:1" expires after 10: its room comes back.
        assert_eq!(
            guard.check("evil:3", "t", 11, 10).unwrap(),
            Freshness::Fresh
        );
        guard.forget("evil:2", "t").await.unwrap();
        assert_eq!(
            guard.check("evil:4", "t", 12, 10).unwrap(),
            Freshness::Fresh
        );
        assert!(guard.check("evil:5", "t", 12, 10).is_err());
        assert_eq!(guard.len(), 4);
    }
}
