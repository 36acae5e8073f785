//! Randomness and time, injected through small traits so tests are deterministic.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A source of cryptographically secure random bytes: nonces, new keys, data keys.
///
/// Production code uses [`OsRandom`]. A deterministic implementation is for tests and
/// known-answer vectors only: two envelopes sealed under one key with the same nonce
/// lose confidentiality for both.
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when no randomness is available; callers fail closed.
    fn fill(&self, dest: &mut [u8]) -> Result<()>;
}

/// The operating system's random number generator (`getrandom`): one system call per
/// fill. Used for keys; [`ThreadRandom`] is the faster default for nonces.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        getrandom::fill(dest).map_err(|_| Error::Random)
    }
}

/// Nonces for sealing: a per-thread ChaCha20 generator keyed from the operating system,
/// re-keyed in a child process after `fork`, and hedged with the clock. The default nonce
/// source of every [`Sealer`](crate::Sealer).
///
/// A `getrandom` system call per seal costs several times a draw from this generator
/// (`BENCHMARKS.md`, envelope/nonce), so each thread instead keeps a ChaCha20 generator
/// (the construction behind `rand`'s `StdRng`) keyed with 32 bytes from the operating
/// system and draws nonces from it, with no system call at all:
///
/// - **Re-keyed** from the operating system after every 64 KiB of output (about 2 700
///   nonces), and in a child process after `fork`, so a child never repeats its parent's
///   nonces. Forks are counted by a `pthread_atfork` child handler (the `forkguard`
///   crate), the mechanism OpenSSL's and `rand` 0.8's generators use; checking the
///   counter is one atomic load, where checking the process id is a system call per seal.
///   `fork` in the C library, and so every Rust API that forks, runs the handler. A child
///   made by a raw `clone` system call that bypasses the C library does not: such a
///   process gives its sealers [`OsRandom`].
/// - **Hedged**: each output is XORed with the wall-clock time in nanoseconds. Two copies of
///   one process restored from a virtual-machine snapshot hold the same generator state;
///   the clock makes their nonces differ unless both seal in the same nanosecond.
/// - The generator state is zeroized when the thread exits, and a failure to key it (or
///   to register the fork handler) is [`Error::Random`], never a weaker nonce.
///
/// For keys, [`OsRandom`] (one system call per key) is used instead. A process that is
/// snapshotted and cloned while running, where even the clock hedge is not enough, can
/// give its sealers [`OsRandom`] with [`Sealer::with_random`](crate::Sealer::with_random).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

/// Bytes a thread's generator hands out before it is keyed afresh.
const RESEED_AFTER: usize = 64 * 1024;

struct ThreadGenerator {
    rng: ChaCha20Rng,
    /// Tells whether this process has forked since the generator was keyed.
    fork: forkguard::Guard,
    drawn: usize,
}

impl ThreadGenerator {
    fn keyed() -> Result<Self> {
        // The guard first: a fork between keying and guarding would go unnoticed.
        let fork = forkguard::Guard::try_new().map_err(|_| Error::Random)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRandom.fill(seed.as_mut_slice())?;
        Ok(Self {
            rng: ChaCha20Rng::from_seed(*seed),
            fork,
            drawn: 0,
        })
    }

    /// Whether the generator may hand out more bytes: not past its budget, and still in
    /// the process that keyed it.
    fn usable(&mut self) -> bool {
        !self.fork.detected_fork() && self.drawn < RESEED_AFTER
    }
}

thread_local! {
    static GENERATOR: RefCell<Option<ThreadGenerator>> = const { RefCell::new(None) };
}

impl Random for ThreadRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        let drawn = GENERATOR.try_with(|cell| -> Result<()> {
            let mut slot = cell.try_borrow_mut().map_err(|_| Error::Random)?;
            if !slot.as_mut().is_some_and(ThreadGenerator::usable) {
                *slot = Some(ThreadGenerator::keyed()?);
            }
            let generator = slot.as_mut().ok_or_else(|| Error::Random)?;
            generator.rng.fill_bytes(dest);
            generator.drawn = generator.drawn.saturating_add(dest.len());
            Ok(())
        });
        match drawn {
            Ok(result) => result?,
            // The thread is exiting and its generator is gone: ask the kernel directly.
            Err(_) => return OsRandom.fill(dest),
        }
        // Nanoseconds since 1970 fit in 64 bits until 2554; the hedge covers 8 bytes.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .to_le_bytes();
        for (byte, hedge) in dest.iter_mut().zip(nanos) {
            *byte ^= hedge;
        }
        Ok(())
    }
}

/// The current time, for the creation dates of keys and wrapped data keys.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_random_never_repeats_and_rekeys_after_its_budget() {
        let mut seen = std::collections::HashSet::new();
        // Enough nonces to cross the re-keying threshold twice.
        for _ in 0..(2 * RESEED_AFTER / 24 + 10) {
            let mut nonce = [0u8; 24];
            ThreadRandom.fill(&mut nonce).unwrap();
            // Only the bytes the clock hedge leaves alone: the generator must not repeat.
            let drawn: [u8; 16] = nonce[8..].try_into().unwrap();
            assert!(seen.insert(drawn), "a nonce repeated");
        }
        GENERATOR.with(|cell| {
            let drawn = cell.borrow().as_ref().map(|g| g.drawn).unwrap();
            assert!(drawn < RESEED_AFTER, "re-keyed: {drawn} bytes since");
        });
    }

    #[test]
    fn thread_random_fills_any_length() {
        for len in [0usize, 1, 16, 24, 63, 64, 65, 1000] {
            let mut a = vec![0u8; len];
            let mut b = vec![0u8; len];
            ThreadRandom.fill(&mut a).unwrap();
            ThreadRandom.fill(&mut b).unwrap();
            // Past the 8 bytes the clock hedges, the generator alone must differ.
            if len >= 16 {
                assert_ne!(a[8..], b[8..], "{len}");
            }
        }
    }
}
