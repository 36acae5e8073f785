//! Time comes in through [`Clock`], so tests are deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::entry::Timestamp;

/// A source of wall-clock time for the log's recorded times.
///
/// The log never records a time earlier than the previous entry's, whatever the clock
/// says, so a clock stepping backwards cannot reorder the log.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Timestamp::from_unix_micros(micros).unwrap_or(Timestamp::MAX)
    }
}

/// A clock that only moves when told to: for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.unix_micros())))
    }

    /// Sets the time (backwards too).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.unix_micros(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `micros` microseconds.
    pub fn advance_micros(&self, micros: i64) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.0.load(Ordering::SeqCst)).unwrap_or(Timestamp::MAX)
    }
}
