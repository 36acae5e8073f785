//! A bounded pool for hashing from async code.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::hasher::{Hasher, MAX_PASSWORD_LEN, Verified};
use crate::{Error, PasswordHash, Policy, Violation};

/// Runs a [`Hasher`]'s work on tokio's blocking threads, a bounded number at a time, with
/// a bounded queue in front.
///
/// Each argon2 hash holds its whole memory cost (19 MiB at the defaults) while it runs, so
/// an unbounded login flood would exhaust memory. The pool admits at most
/// `max_concurrent + max_queued` requests: `max_concurrent` hash at once on
/// [`tokio::task::spawn_blocking`], the rest wait in the queue holding only a copy of the
/// password, and any request beyond that fails at once with [`Error::Busy`] (answer it with
/// HTTP 503 and `Retry-After`). Memory is therefore bounded by `max_concurrent` times the
/// largest memory cost [`VerifyLimits`](crate::VerifyLimits) admits. The async runtime's
/// own threads never hash, so the rest of the service keeps running while the pool is full.
///
/// Cloning is cheap and shares the pool. A request whose future is dropped gives its place
/// back; one already hashing finishes its work first, and keeps its slot until then.
#[derive(Clone)]
pub struct HashingPool {
    inner: Arc<Inner>,
}

struct Inner {
    hasher: Hasher,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    max_admitted: usize,
    admitted: AtomicUsize,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    rejected: AtomicU64,
}

/// A snapshot of a [`HashingPool`]'s counters, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Hashes running now.
    pub running: usize,
    /// Requests admitted and waiting for a hashing slot.
    pub queued: usize,
    /// The most hashes that have ever run at the same time.
    pub peak_running: usize,
    /// Requests refused with [`Error::Busy`] so far. Refusals are logged only at debug
    /// level (a flood would otherwise flood the logs too): alert on this counter instead.
    pub rejected: u64,
}

impl HashingPool {
    /// A pool with `max_concurrent` = the number of CPUs and a queue of 8 per CPU.
    #[must_use]
    pub fn new(hasher: Hasher) -> Self {
        Self::builder(hasher).build()
    }

    /// A builder for a pool around `hasher`.
    pub fn builder(hasher: Hasher) -> PoolBuilder {
        let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        PoolBuilder {
            hasher,
            max_concurrent: cpus,
            max_queued: cpus.get().saturating_mul(8),
        }
    }

    /// [`Hasher::hash`] on the pool.
    ///
    /// # Errors
    ///
    /// As [`Hasher::hash`], and [`Error::Busy`] when the queue is full.
    pub async fn hash(&self, password: impl AsRef<[u8]>) -> Result<PasswordHash, Error> {
        let password = copy_password(password.as_ref())?;
        self.run(move |hasher| hasher.hash(&*password)).await
    }

    /// [`Hasher::verify`] on the pool.
    ///
    /// # Errors
    ///
    /// As [`Hasher::verify`], and [`Error::Busy`] when the queue is full.
    pub async fn verify(
        &self,
        password: impl AsRef<[u8]>,
        stored: &str,
    ) -> Result<Verified, Error> {
        let password = copy_password(password.as_ref())?;
        let stored = PasswordHash::parse(stored)?;
        self.run(move |hasher| hasher.verify_hash(&*password, &stored))
            .await
    }

    /// [`Hasher::verify_and_upgrade`] on the pool; the rehash, when there is one, runs in
    /// the same slot.
    ///
    /// # Errors
    ///
    /// As [`Hasher::verify_and_upgrade`], and [`Error::Busy`] when the queue is full.
    pub async fn verify_and_upgrade(
        &self,
        password: impl AsRef<[u8]>,
        stored: &str,
    ) -> Result<Option<PasswordHash>, Error> {
        let password = copy_password(password.as_ref())?;
        // Parsed once, here, so a malformed hash is refused before it takes a place.
        let stored = PasswordHash::parse(stored)?;
        self.run(move |hasher| hasher.verify_and_upgrade_hash(&password, &stored))
            .await
    }

    /// [`Hasher::dummy_verify`] on the pool: same queue, same slot, same work as
    /// [`HashingPool::verify`].
    ///
    /// # Errors
    ///
    /// As [`Hasher::dummy_verify`] (always an error), or [`Error::Busy`].
    pub async fn dummy_verify(&self, password: impl AsRef<[u8]>) -> Result<Verified, Error> {
        let password = copy_password(password.as_ref())?;
        self.run(move |hasher| hasher.dummy_verify(&*password))
            .await
    }

    /// [`Policy::check`] on the pool, for registration and password-change handlers: the
    /// check can cost as much as a hash on adversarial input, so it takes a slot like one.
    /// Input too long to pass is refused at once, without a slot.
    ///
    /// The outer `Result` is the pool's ([`Error::Busy`], [`Error::WorkerStopped`]); the
    /// inner one is the policy's verdict.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when the queue is full, [`Error::WorkerStopped`] when the worker
    /// stopped.
    pub async fn check_policy(
        &self,
        policy: &Policy,
        password: &str,
    ) -> Result<Result<(), Vec<Violation>>, Error> {
        if policy.is_over_input_bound(password) {
            return Ok(policy.check(password));
        }
        let password = Zeroizing::new(password.to_owned());
        let policy = policy.clone();
        self.run(move |_| Ok(policy.check(&password))).await
    }

    /// The hasher the pool runs.
    #[must_use]
    pub fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    /// The pool's counters now.
    #[must_use]
    pub fn metrics(&self) -> PoolMetrics {
        let running = self.inner.running.load(Ordering::SeqCst);
        let admitted = self.inner.admitted.load(Ordering::SeqCst);
        PoolMetrics {
            running,
            queued: admitted.saturating_sub(running),
            peak_running: self.inner.peak_running.load(Ordering::SeqCst),
            rejected: self.inner.rejected.load(Ordering::SeqCst),
        }
    }

    /// Admits the job (or refuses it at once), waits for a slot, runs it on a blocking
    /// thread.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Hasher) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let admission = Admission::try_new(&self.inner)?;
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::WorkerStopped)?;
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the caller stops waiting.
            let _admission = admission;
            let _permit = permit;
            let _running = Running::start(&inner);
            job(&inner.hasher)
        });
        match task.await {
            Ok(result) => result,
            Err(stopped) => {
                if stopped.is_panic() {
                    // A bug in the hashing code, not bad input. The payload is not logged:
                    // it could quote what the job was working on.
                    tracing::error!("password hashing job panicked; the request fails");
                }
                Err(Error::WorkerStopped)
            }
        }
    }
}

impl fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashingPool")
            .field("hasher", &self.inner.hasher)
            .field("max_concurrent", &self.inner.max_concurrent)
            .field(
                "max_queued",
                &(self.inner.max_admitted - self.inner.max_concurrent),
            )
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Configures a [`HashingPool`]. Start from [`HashingPool::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct PoolBuilder {
    hasher: Hasher,
    max_concurrent: NonZeroUsize,
    max_queued: usize,
}

impl PoolBuilder {
    /// How many hashes may run at once (default: the number of CPUs).
    pub fn max_concurrent(mut self, n: NonZeroUsize) -> Self {
        self.max_concurrent = n;
        self
    }

    /// How many requests may wait for a slot before more are refused with
    /// [`Error::Busy`] (default: 8 per CPU; 0 refuses whenever every slot is busy).
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = n;
        self
    }

    /// Builds the pool. It must be used inside a tokio runtime.
    #[must_use]
    pub fn build(self) -> HashingPool {
        let max_concurrent = self.max_concurrent.get();
        HashingPool {
            inner: Arc::new(Inner {
                hasher: self.hasher,
                permits: Arc::new(Semaphore::new(max_concurrent)),
                max_concurrent,
                max_admitted: max_concurrent.saturating_add(self.max_queued),
                admitted: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                peak_running: AtomicUsize::new(0),
                rejected: AtomicU64::new(0),
            }),
        }
    }
}

/// A place in the pool (running or queued), given back on drop.
struct Admission(Arc<Inner>);

impl Admission {
    fn try_new(inner: &Arc<Inner>) -> Result<Self, Error> {
        let admitted = inner
            .admitted
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < inner.max_admitted).then_some(n + 1)
            });
        match admitted {
            Ok(_) => Ok(Self(Arc::clone(inner))),
            Err(_) => {
                // One event per refusal would flood the logs in exactly the flood the pool
                // is there for: refusals are counted (`PoolMetrics::rejected`), and only
                // logged at debug level.
                inner.rejected.fetch_add(1, Ordering::SeqCst);
                tracing::debug!(
                    max_concurrent = inner.max_concurrent,
                    max_admitted = inner.max_admitted,
                    "password hashing pool full; request refused"
                );
                Err(Error::Busy)
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a job while it runs on its blocking thread.
struct Running<'a>(&'a Inner);

impl<'a> Running<'a> {
    fn start(inner: &'a Inner) -> Self {
        let now = inner.running.fetch_add(1, Ordering::SeqCst) + 1;
        inner.peak_running.fetch_max(now, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The queued copy of a password: length-checked before it waits, zeroized when done.
fn copy_password(password: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    // The hasher checks the exact limit; this only keeps huge inputs out of the queue.
    if password.len() > 4 * MAX_PASSWORD_LEN {
        return Err(Error::PasswordTooLong {
            max: MAX_PASSWORD_LEN,
        });
    }
    Ok(Zeroizing::new(password.to_vec()))
}
