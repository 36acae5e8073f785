//! Time, through a small trait so tests can drive it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic clock: the time elapsed since an epoch of the clock's choosing.
///
/// The in-memory store reads time only through this trait. Every value a clock returns
/// should be at or after every value it returned before; the store treats a clock that
/// steps back as standing still until it catches up.
pub trait Clock: Send + Sync + 'static {
    /// Time elapsed since this clock's epoch.
    fn now(&self) -> Duration;

    /// [`now`](Self::now) in whole microseconds, saturating. Override it only where it
    /// can be computed more cheaply than through a [`Duration`].
    #[inline]
    fn now_micros(&self) -> u64 {
        saturating_micros(self.now())
    }
}

/// The system's monotonic clock, read through the CPU's time-stamp counter where it is
/// reliable (the `quanta` crate), which costs a few nanoseconds instead of a system call.
#[derive(Clone)]
pub struct SystemClock {
    clock: quanta::Clock,
    origin: u64,
}

impl SystemClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Self { clock, origin }
    }

    #[inline]
    fn nanos(&self) -> u64 {
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemClock")
            .field("now", &self.now())
            .finish()
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    #[inline]
    fn now_micros(&self) -> u64 {
        self.nanos() / 1_000
    }
}

/// A clock that moves only when told to, for tests. Clones share one time.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    micros: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock standing at its epoch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (rounded down to whole microseconds).
    pub fn advance(&self, by: Duration) {
        self.micros
            .fetch_add(saturating_micros(by), Ordering::SeqCst);
    }

    /// Sets the clock to `to` since its epoch. Setting it back is allowed, to test how the
    /// limiter copes with a clock that misbehaves.
    pub fn set(&self, to: Duration) {
        self.micros.store(saturating_micros(to), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_micros(self.now_micros())
    }

    fn now_micros(&self) -> u64 {
        self.micros.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }

    fn now_micros(&self) -> u64 {
        (**self).now_micros()
    }
}

/// Whole microseconds in `d`, saturating at `u64::MAX` (584 542 years).
#[inline]
pub(crate) fn saturating_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told_and_clones_share_it() {
        let clock = FakeClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), Duration::ZERO);
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), Duration::from_millis(1500));
        clock.set(Duration::from_secs(1));
        assert_eq!(other.now(), Duration::from_secs(1));
    }

    #[test]
    fn system_clock_does_not_go_back() {
        let clock = SystemClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
    }
}
