//! The in-memory store: sharded, bounded, swept as traffic flows.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::clock::saturating_micros;
use crate::decision::PolicyOutcome;
use crate::gcra::Step;
use crate::store::table::{Table, is_wide};
use crate::store::{Check, MAX_CHECKS, Store, too_many_checks};
use crate::{Clock, Decision, Error, Policy, SystemClock};

/// The default key cap of [`MemoryStore::new`].
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;
/// The default interval in which traffic sweeps every shard once.
const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest sweep interval the sweeper thread keeps to.
const MIN_SWEEP_INTERVAL: Duration = Duration::from_millis(1);
/// A full shard under [`WhenFull::EvictNearestRefill`] drops at least this fraction of its
/// entries at once, so the cost of finding them is shared by many insertions.
const EVICT_FRACTION: usize = 8;
/// Each shard must hold at least this many keys, so one check always fits in a shard.
const MIN_KEYS_PER_SHARD: usize = MAX_CHECKS;

/// What a [`MemoryStore`] at its key cap does with a new key, once it has dropped every
/// expired one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhenFull {
    /// Drop the eighth of the full shard whose buckets are closest to full again, then
    /// store and judge the new key like any other: it is limited from its first request.
    /// Memory stays bounded and new clients are served; the price is that a flood of new
    /// keys can restore a dropped key's burst early (it was nearest to full anyway, and
    /// the keys a client has drained the most are the last to go). The default.
    #[default]
    EvictNearestRefill,
    /// Refuse the new key with [`Error::StoreFull`]; existing keys keep their state. The
    /// tower layer then applies the rule's fail-open or fail-closed choice.
    Reject,
}

/// One shard, alone on its cache lines so shards do not contend through false sharing.
#[repr(align(128))]
struct Shard(Mutex<Table>);

impl Shard {
    #[inline]
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing that runs under the lock panics midway through an update (each is one
        // insert, removal or store of an integer), so a poisoned lock still guards
        // consistent data.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The store's state, shared with its sweeper thread.
struct Core<C: Clock> {
    clock: C,
    hasher: RandomState,
    shards: Box<[Shard]>,
    shard_mask: u64,
    shard_cap: usize,
    when_full: WhenFull,
    sweep_step: u64,
    next_sweep: AtomicU64,
    sweep_cursor: AtomicUsize,
}

/// An in-memory [`Store`] for one process: concurrent, lock-light and bounded.
///
/// - **Concurrency.** Keys spread over independent shards, each a mutex around a hash
///   table; a check holds one shard's lock for a table lookup and a few integer
///   operations. A check of several policies locks the shards it touches in ascending
///   order, so it is atomic and cannot deadlock.
/// - **Compact state.** Each (policy, key) is one 12-byte entry (16 for policies whose
///   burst takes more than about an hour to earn back): a 64-bit fingerprint (SipHash of
///   the key under a random per-store key, mixed with a random per-policy salt) and the
///   GCRA arrival time, as a 32-bit offset where it fits. Two distinct (policy, key) pairs
///   share an entry with probability about 2⁻⁶⁴ per pair, and the only effect of sharing
///   is a stricter limit for both; a client cannot aim a collision without the secret
///   keys.
/// - **Bounded memory, no call needed.** An entry whose bucket is full again carries no
///   information and is dropped. A thread of the store's own (`rate-limit-sweep`, started
///   by the builder, stopped when the store is dropped) sweeps every shard once per
///   `sweep_interval` (default: one second), so every expired entry is gone within about
///   one interval, with or without traffic. Should the thread fail to start, a warning is
///   logged and checks sweep the shards in turn instead. The key cap
///   ([`DEFAULT_MAX_KEYS`] by default) is split evenly over the shards, rounded down, and
///   checked before every insertion, so the store never holds more than the cap; a full
///   shard first drops its expired entries, then does what [`WhenFull`] says. A new key
///   is never admitted without being stored and limited.
///
/// # Example
///
/// ```
/// use rate_limit::{Check, MemoryStore, Policy};
///
/// let store = MemoryStore::new();
/// let login = Policy::login();
/// let decision = store.check_sync(&[Check::new(&login, "203.0.113.7")])?;
/// assert!(decision.is_allowed());
/// assert_eq!(decision.remaining(), 9);
/// # Ok::<(), rate_limit::Error>(())
/// ```
pub struct MemoryStore<C: Clock = SystemClock> {
    core: Arc<Core<C>>,
    sweeper: Option<Sweeper>,
}

/// The handle of a store's sweeper thread: dropping the store stops it.
struct Sweeper {
    thread: std::thread::Thread,
    stop: Arc<AtomicBool>,
}

impl<C: Clock> Drop for MemoryStore<C> {
    fn drop(&mut self) {
        if let Some(sweeper) = &self.sweeper {
            sweeper.stop.store(true, Ordering::Relaxed);
            sweeper.thread.unpark();
        }
    }
}

impl<C: Clock> fmt::Debug for MemoryStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.core.shards.len())
            .field("max_keys", &self.max_keys())
            .field("when_full", &self.core.when_full)
            .field("background_sweep", &self.sweeper.is_some())
            .finish_non_exhaustive()
    }
}

impl MemoryStore<SystemClock> {
    /// A store with the system clock, [`DEFAULT_MAX_KEYS`], [`WhenFull::EvictNearestRefill`]
    /// and a sweeper thread running once a second.
    pub fn new() -> Self {
        // Valid on every machine: at most 64 shards of DEFAULT_MAX_KEYS / 64 keys each.
        let shards = default_shards();
        assemble(
            SystemClock::new(),
            shards,
            DEFAULT_MAX_KEYS / shards,
            WhenFull::default(),
            DEFAULT_SWEEP_INTERVAL,
        )
    }

    /// Configures a store.
    pub fn builder() -> MemoryStoreBuilder<SystemClock> {
        MemoryStoreBuilder {
            clock: SystemClock::new(),
            max_keys: DEFAULT_MAX_KEYS,
            shards: None,
            when_full: WhenFull::default(),
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
        }
    }
}

impl Default for MemoryStore<SystemClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> MemoryStore<C> {
    /// The number of entries held, counting expired ones not yet swept. Never more than
    /// [`max_keys`](Self::max_keys).
    pub fn len(&self) -> usize {
        self.core.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the store will hold: the configured cap rounded down to a
    /// multiple of the shard count.
    pub fn max_keys(&self) -> usize {
        self.core.shard_cap * self.core.shards.len()
    }

    /// [`Store::check`] without the future: decides now, on the calling thread.
    ///
    /// # Errors
    ///
    /// As [`Store::check`]: [`Error::Config`] for more than [`MAX_CHECKS`] checks,
    /// [`Error::StoreFull`] under [`WhenFull::Reject`].
    #[inline]
    pub fn check_sync(&self, checks: &[Check<'_>]) -> Result<Decision, Error> {
        self.core.check(checks)
    }

    /// [`Store::reset`] without the future.
    pub fn reset_sync(&self, policy: &Policy, key: &[u8]) {
        let core = &*self.core;
        let fp = core.fingerprint(policy, key);
        core.shard(fp).lock().remove(fp, is_wide(&policy.gcra()));
    }

    /// [`Store::refund`] without the future.
    pub fn refund_sync(&self, policy: &Policy, key: &[u8]) {
        let core = &*self.core;
        let now = core.now();
        let fp = core.fingerprint(policy, key);
        let gcra = policy.gcra();
        let mut table = core.shard(fp).lock();
        let now = table.prepare(now);
        table.refund(fp, is_wide(&gcra), gcra.increment, now);
    }
}

impl<C: Clock> Core<C> {
    #[inline]
    fn check(&self, checks: &[Check<'_>]) -> Result<Decision, Error> {
        match checks {
            [] => Ok(Decision::from_outcomes(Vec::new())),
            [one] => self.check_one(one.policy(), one.key()),
            many => self.check_many(many),
        }
    }

    #[inline]
    fn now(&self) -> u64 {
        self.clock.now_micros()
    }

    #[inline]
    fn fingerprint(&self, policy: &Policy, key: &[u8]) -> u64 {
        // SipHash of the key under this store's random key, mixed with the policy's
        // random salt: two (policy, key) pairs share a fingerprint with probability about
        // 2^-64, and a client knows neither secret.
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish() ^ policy.salt()
    }

    #[inline]
    fn shard_index(&self, fp: u64) -> usize {
        // The table uses the low and the top bits; the shard takes bits from the middle.
        usize::try_from((fp >> 32) & self.shard_mask).unwrap_or_default()
    }

    #[inline]
    fn shard(&self, fp: u64) -> &Shard {
        &self.shards[self.shard_index(fp)]
    }

    fn check_one(&self, policy: &Policy, key: &[u8]) -> Result<Decision, Error> {
        let now = self.now();
        self.maybe_sweep(now);
        let fp = self.fingerprint(policy, key);
        let gcra = policy.gcra();
        let step = {
            let mut table = self.shard(fp).lock();
            let now = table.prepare(now);
            match table.charge_held(fp, &gcra, now) {
                Some(step) => step,
                None => {
                    let step = gcra.step(0, now);
                    if step.allowed {
                        self.make_room(&mut table, now, |_| 1)?;
                        table.set(fp, is_wide(&gcra), step.tat);
                    }
                    step
                }
            }
        };
        Ok(Decision::single(PolicyOutcome::new(policy, &step)))
    }

    fn check_many(&self, checks: &[Check<'_>]) -> Result<Decision, Error> {
        let n = checks.len();
        if n > MAX_CHECKS {
            return Err(too_many_checks(n));
        }
        let mut now = self.now();
        self.maybe_sweep(now);

        let mut fps = [0u64; MAX_CHECKS];
        let mut wide = [false; MAX_CHECKS];
        let mut shards = [0usize; MAX_CHECKS];
        for (i, check) in checks.iter().enumerate() {
            fps[i] = self.fingerprint(check.policy(), check.key());
            wide[i] = is_wide(&check.policy().gcra());
            shards[i] = self.shard_index(fps[i]);
        }
        let mut order = shards;
        order[..n].sort_unstable();
        let mut locked: Vec<(usize, MutexGuard<'_, Table>)> = Vec::with_capacity(n);
        for &s in &order[..n] {
            if locked.last().is_none_or(|(last, _)| *last != s) {
                locked.push((s, self.shards[s].lock()));
            }
        }
        for (_, table) in &mut locked {
            now = table.prepare(now);
        }
        // Which of the locked tables holds each check's entry.
        let mut slot = [0usize; MAX_CHECKS];
        for i in 0..n {
            slot[i] = locked
                .iter()
                .position(|(s, _)| *s == shards[i])
                .unwrap_or_default();
        }

        // Make room for the new keys first, so no entry read below is dropped later.
        for (s, table) in &mut locked {
            let new = |table: &Table| {
                (0..n)
                    .filter(|&i| {
                        shards[i] == *s
                            && !fps[..i].contains(&fps[i])
                            && table.get(fps[i], wide[i]).is_none()
                    })
                    .count()
            };
            self.make_room(table, now, new)?;
        }

        let mut judged = [0u64; MAX_CHECKS];
        let mut steps = Vec::with_capacity(n);
        for i in 0..n {
            // An earlier check of the same entry in this call is judged as charged.
            let earlier = (0..i).rev().find(|&j| fps[j] == fps[i]);
            judged[i] = match earlier {
                Some(j) => steps.get(j).map_or(0, |s: &Step| s.tat),
                None => locked[slot[i]].1.get(fps[i], wide[i]).unwrap_or(0),
            };
            steps.push(checks[i].policy().gcra().step(judged[i], now));
        }
        if steps.iter().all(|s| s.allowed) {
            for i in 0..n {
                locked[slot[i]].1.set(fps[i], wide[i], steps[i].tat);
            }
        } else {
            for i in 0..n {
                let gcra = checks[i].policy().gcra();
                steps[i] = gcra.refused(judged[i], now);
                // Nothing is charged, but a TAT beyond the tolerance is capped (gcra.rs).
                let first = !fps[..i].contains(&fps[i]);
                if let (true, Some(capped)) = (first, gcra.capped(judged[i], now)) {
                    locked[slot[i]].1.set(fps[i], wide[i], capped);
                }
            }
        }
        drop(locked);
        Ok(Decision::from_outcomes(
            checks
                .iter()
                .zip(&steps)
                .map(|(check, step)| PolicyOutcome::new(check.policy(), step))
                .collect(),
        ))
    }

    /// Ensures `table` can take the new entries `new` counts without passing the shard's
    /// cap. `new` is asked again after every sweep or eviction, since either can drop an
    /// entry the caller has just seen held.
    fn make_room(
        &self,
        table: &mut Table,
        now: u64,
        new: impl Fn(&Table) -> usize,
    ) -> Result<(), Error> {
        let mut swept = false;
        loop {
            let wanted = table.len() + new(table);
            if wanted <= self.shard_cap {
                return Ok(());
            }
            if !swept {
                table.sweep(now);
                swept = true;
                continue;
            }
            match self.when_full {
                WhenFull::Reject => return Err(Error::StoreFull),
                WhenFull::EvictNearestRefill => {
                    // `new <= MAX_CHECKS <= shard_cap`, so the table is not empty here and
                    // each round drops at least one entry.
                    let excess = wanted - self.shard_cap;
                    table.drop_nearest_refill(excess.max(table.len() / EVICT_FRACTION));
                }
            }
        }
    }

    /// Sweeps every shard once, one lock at a time.
    fn sweep_all(&self) {
        let now = self.now();
        for shard in &self.shards {
            let mut table = shard.lock();
            let now = table.prepare(now);
            table.sweep(now);
        }
    }

    /// Sweeps the next shard when its turn has come. Called before any lock is held.
    #[inline]
    fn maybe_sweep(&self, now: u64) {
        let due = self.next_sweep.load(Ordering::Relaxed);
        if now >= due {
            self.sweep_turn(due, now);
        }
    }

    #[cold]
    fn sweep_turn(&self, due: u64, now: u64) {
        let next = now.saturating_add(self.sweep_step);
        if self
            .next_sweep
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // another thread took this turn
        }
        let cursor = self.sweep_cursor.fetch_add(1, Ordering::Relaxed);
        let mut table = self.shards[cursor % self.shards.len()].lock();
        let now = table.prepare(now);
        table.sweep(now);
    }
}

impl<C: Clock> Store for MemoryStore<C> {
    fn check(&self, checks: &[Check<'_>]) -> impl Future<Output = Result<Decision, Error>> + Send {
        std::future::ready(self.check_sync(checks))
    }

    fn reset(&self, policy: &Policy, key: &[u8]) -> impl Future<Output = Result<(), Error>> + Send {
        self.reset_sync(policy, key);
        std::future::ready(Ok(()))
    }

    fn refund(
        &self,
        policy: &Policy,
        key: &[u8],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        self.refund_sync(policy, key);
        std::future::ready(Ok(()))
    }
}

/// Configures a [`MemoryStore`]; see [`MemoryStore::builder`].
#[derive(Debug)]
#[must_use]
pub struct MemoryStoreBuilder<C> {
    clock: C,
    max_keys: usize,
    shards: Option<usize>,
    when_full: WhenFull,
    sweep_interval: Duration,
}

impl<C: Clock> MemoryStoreBuilder<C> {
    /// The clock to read (default: [`SystemClock`]); tests pass a
    /// [`FakeClock`](crate::FakeClock).
    pub fn clock<C2: Clock>(self, clock: C2) -> MemoryStoreBuilder<C2> {
        MemoryStoreBuilder {
            clock,
            max_keys: self.max_keys,
            shards: self.shards,
            when_full: self.when_full,
            sweep_interval: self.sweep_interval,
        }
    }

    /// The key cap (default [`DEFAULT_MAX_KEYS`]), rounded down to a multiple of the shard
    /// count. Each (policy, key) pair counts as one key.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// What a full store does with a new key (default [`WhenFull::EvictNearestRefill`]).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// How often the sweeper thread drops every shard's expired entries (default: one
    /// second; at least a millisecond).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The number of shards, a power of two (default: four per available CPU, from 4 to 64).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Checks the configuration and builds the store.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the shard count is not a power of two from 1 to 4096, or the
    /// cap leaves fewer than 16 keys per shard.
    pub fn build(self) -> Result<MemoryStore<C>, Error> {
        let shards = match self.shards {
            Some(n) if n.is_power_of_two() && n <= 4096 => n,
            Some(n) => {
                return Err(Error::Config(format!(
                    "the shard count must be a power of two from 1 to 4096, got {n}"
                )));
            }
            None => default_shards(),
        };
        let shard_cap = self.max_keys / shards;
        if shard_cap < MIN_KEYS_PER_SHARD {
            return Err(Error::Config(format!(
                "a cap of {} keys leaves fewer than {MIN_KEYS_PER_SHARD} per shard over {shards} shards: raise it to at least {}",
                self.max_keys,
                MIN_KEYS_PER_SHARD * shards
            )));
        }
        Ok(assemble(
            self.clock,
            shards,
            shard_cap,
            self.when_full,
            self.sweep_interval,
        ))
    }
}

fn assemble<C: Clock>(
    clock: C,
    shards: usize,
    shard_cap: usize,
    when_full: WhenFull,
    sweep_interval: Duration,
) -> MemoryStore<C> {
    let shard_count = u64::try_from(shards).unwrap_or(1);
    let core = Arc::new(Core {
        clock,
        hasher: RandomState::new(),
        shards: (0..shards).map(|_| Shard(Mutex::default())).collect(),
        shard_mask: shard_count - 1,
        shard_cap,
        when_full,
        sweep_step: (saturating_micros(sweep_interval) / shard_count).max(1),
        // No traffic sweep while a sweeper thread runs (see below).
        next_sweep: AtomicU64::new(u64::MAX),
        sweep_cursor: AtomicUsize::new(0),
    });
    let sweeper = spawn_sweeper(&core, sweep_interval);
    if sweeper.is_none() {
        // Without the thread, checks sweep the shards in turn as traffic flows.
        core.next_sweep.store(0, Ordering::Relaxed);
    }
    MemoryStore { core, sweeper }
}

/// Starts the thread that sweeps every shard once per `interval`, until the store is
/// dropped. It holds the store weakly, so it never keeps a dropped store alive.
fn spawn_sweeper<C: Clock>(core: &Arc<Core<C>>, interval: Duration) -> Option<Sweeper> {
    let weak: Weak<Core<C>> = Arc::downgrade(core);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let interval = interval.max(MIN_SWEEP_INTERVAL);
    let spawned = std::thread::Builder::new()
        .name("rate-limit-sweep".to_owned())
        .spawn(move || {
            loop {
                std::thread::park_timeout(interval);
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                match weak.upgrade() {
                    Some(core) => core.sweep_all(),
                    None => return,
                }
            }
        });
    match spawned {
        Ok(handle) => Some(Sweeper {
            thread: handle.thread().clone(),
            stop,
        }),
        Err(error) => {
            tracing::warn!(
                %error,
                "no sweeper thread for the rate-limit store: expired keys are swept as traffic flows"
            );
            None
        }
    }
}

fn default_shards() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    (cpus * 4).next_power_of_two().clamp(4, 64)
}
