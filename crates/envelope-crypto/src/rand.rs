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
/// tied to the process that keyed it, and hedged with the clock. The default nonce
/// source of every [`Sealer`](crate::Sealer).
///
/// A `getrandom` system call per seal costs about twice a draw from this generator
/// (`BENCHMARKS.md`, envelope/nonce), so each thread instead keeps a ChaCha20 generator
/// (the construction behind `rand`'s `StdRng`) keyed with 32 bytes from the operating
/// system and draws nonces from it; its one system call per nonce is the `getpid` of the
/// fork check below, which does no work in the kernel:
///
/// - **Re-keyed** from the operating system after every 64 KiB of output (about 2 700
///   nonces), and whenever the process id differs from the one that keyed it: a child
///   process after `fork` never repeats its parent's nonces.
/// - **Hedged**: each output is XORed with the wall-clock time in nanoseconds. Two copies of
///   one process restored from a virtual-machine snapshot hold the same generator state;
///   the clock makes their nonces differ unless both seal in the same nanosecond.
/// - The generator state is zeroized when the thread exits, and a failure to key it is
///   [`Error::Random`], never a weaker nonce.
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
    pid: u32,
    drawn: usize,
}

impl ThreadGenerator {
    fn keyed(pid: u32) -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRandom.fill(seed.as_mut_slice())?;
        Ok(Self {
            rng: ChaCha20Rng::from_seed(*seed),
            pid,
            drawn: 0,
        })
    }
}

thread_local! {
    static GENERATOR: RefCell<Option<ThreadGenerator>> = const { RefCell::new(None) };
}

impl Random for ThreadRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        let pid = std::process::id();
        let drawn = GENERATOR.try_with(|cell| -> Result<()> {
            let mut slot = cell.try_borrow_mut().map_err(|_| Error::Random)?;
            let usable = matches!(&*slot, Some(g) if g.pid == pid && g.drawn < RESEED_AFTER);
            if !usable {
                *slot = Some(ThreadGenerator::keyed(pid)?);
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
    fn thread_random_rekeys_in_another_process() {
        let mut first = [0u8; 24];
        ThreadRandom.fill(&mut first).unwrap();
        // Pretend the generator was keyed by another process (our parent before a fork)
        // and remember what it would hand out next.
        let inherited = GENERATOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let generator = slot.as_mut().unwrap();
            generator.pid = generator.pid.wrapping_add(1);
            let mut copy = ChaCha20Rng::from_seed(generator.rng.get_seed());
            copy.set_word_pos(generator.rng.get_word_pos());
            let mut next = [0u8; 24];
            copy.fill_bytes(&mut next);
            next
        });
        let mut nonce = [0u8; 24];
        ThreadRandom.fill(&mut nonce).unwrap();
        // The clock hedge covers the first 8 bytes; compare the bytes it leaves alone.
        assert_ne!(
            nonce[8..],
            inherited[8..],
            "the child drew the parent's stream"
        );
        GENERATOR.with(|cell| {
            let slot = cell.borrow();
            let generator = slot.as_ref().unwrap();
            assert_eq!(generator.pid, std::process::id());
            assert_eq!(generator.drawn, 24);
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
