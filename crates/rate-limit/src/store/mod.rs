//! Where the limiter keeps its counters.

use std::future::Future;
use std::sync::Arc;

use crate::{Decision, Error, Policy};

pub(crate) mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;
mod table;

/// The most checks one call may carry: a request is rarely under more than a few policies.
pub const MAX_CHECKS: usize = 16;

/// One policy applied to one key, as part of a [`Store::check`].
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    policy: &'a Policy,
    key: &'a [u8],
}

impl<'a> Check<'a> {
    /// `policy` applied to `key` (a client IP, a user id, ...). Keys are opaque bytes;
    /// the same key under two policies names two independent counters.
    #[inline]
    pub fn new(policy: &'a Policy, key: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Self {
            policy,
            key: key.as_ref(),
        }
    }

    /// The policy.
    #[inline]
    pub fn policy(&self) -> &'a Policy {
        self.policy
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &'a [u8] {
        self.key
    }
}

/// A place to keep GCRA state: [`MemoryStore`](crate::MemoryStore) in one process,
/// [`RedisStore`](crate::RedisStore) (feature `redis`) across many.
///
/// Every implementation passes the same conformance suite (`tests/conformance.rs`).
pub trait Store: Send + Sync + 'static {
    /// Decides one request under every check at once, all or nothing: when every check
    /// admits it, each is charged; when any denies it, none is charged. The same
    /// policy and key twice in one call are charged twice.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for more than [`MAX_CHECKS`] checks; [`Error::Unavailable`] when
    /// the backend fails; [`Error::StoreFull`] from a full in-memory store set to refuse
    /// new keys. No request was charged when an error is returned.
    fn check(&self, checks: &[Check<'_>]) -> impl Future<Output = Result<Decision, Error>> + Send;

    /// Forgets `key`'s state under `policy`, restoring its full burst.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the backend fails.
    fn reset(&self, policy: &Policy, key: &[u8]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Gives back what one admitted request cost `key` under `policy`, as if it had not
    /// been charged, and never past a full bucket. Other charges stay: unlike
    /// [`reset`](Self::reset), a refund can only undo a request that was admitted, so a
    /// caller cannot wipe out earlier failures with it.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the backend fails; nothing was refunded.
    fn refund(&self, policy: &Policy, key: &[u8])
    -> impl Future<Output = Result<(), Error>> + Send;
}

impl<S: Store> Store for Arc<S> {
    fn check(&self, checks: &[Check<'_>]) -> impl Future<Output = Result<Decision, Error>> + Send {
        (**self).check(checks)
    }

    fn reset(&self, policy: &Policy, key: &[u8]) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).reset(policy, key)
    }

    fn refund(
        &self,
        policy: &Policy,
        key: &[u8],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).refund(policy, key)
    }
}

pub(crate) fn too_many_checks(n: usize) -> Error {
    Error::Config(format!(
        "a check carries {n} policies; at most {MAX_CHECKS} are allowed"
    ))
}
