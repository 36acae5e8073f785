//! One shard's table: 12 bytes per entry for policies up to about an hour, 16 beyond.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::gcra::{Gcra, Step};

/// Policies whose tolerance (`emission × burst`) is at most this many microseconds (about
/// 61 minutes) keep their entries in the narrow table, as an offset of 32 bits.
const NARROW_MAX_TOLERANCE: u64 = 3_700_000_000;
/// A table is rebased (and swept) before use once its epoch is this far behind (500 s), so
/// a narrow offset is always below `NARROW_MAX_TOLERANCE + REBASE_AFTER < 2^32`.
const REBASE_AFTER: u64 = 500_000_000;

/// Keys are 64-bit fingerprints already: the table hashes nothing again.
#[derive(Default)]
pub(super) struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than `u64` and `Fp`, which the tables never have;
        // fold them anyway so the hasher stays correct if they ever do.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Build = BuildHasherDefault<Fingerprint>;

/// A 64-bit fingerprint stored with 4-byte alignment, so that an entry with a 32-bit
/// value takes 12 bytes rather than 16.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fp([u32; 2]);

impl Fp {
    fn new(fp: u64) -> Self {
        let [a, b, c, d, e, f, g, h] = fp.to_le_bytes();
        Self([
            u32::from_le_bytes([a, b, c, d]),
            u32::from_le_bytes([e, f, g, h]),
        ])
    }

    fn get(self) -> u64 {
        u64::from(self.0[0]) | (u64::from(self.0[1]) << 32)
    }
}

impl Hash for Fp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.get());
    }
}

/// Whether a policy's entries go to the wide table.
#[inline]
pub(super) fn is_wide(gcra: &Gcra) -> bool {
    gcra.tolerance > NARROW_MAX_TOLERANCE
}

/// Fingerprint → TAT, in two maps: `narrow` holds `TAT − epoch` in 32 bits, `wide` the
/// TAT itself. A policy always uses the same map, so a key is in both only after a
/// policy of its name moved across the line (then the other entry is never read again
/// and expires).
#[derive(Default)]
pub(super) struct Table {
    narrow: HashMap<Fp, u32, Build>,
    wide: HashMap<u64, u64, Build>,
    /// Microseconds of the store's clock; never after any `now` the table has been used
    /// with, never ahead of any narrow entry's TAT.
    epoch: u64,
}

impl Table {
    pub(super) fn len(&self) -> usize {
        self.narrow.len() + self.wide.len()
    }

    /// Readies the table for use at `now` and returns the time to use: `now`, or the
    /// table's epoch if the clock stepped back (time then stands still until it catches up).
    #[inline]
    pub(super) fn prepare(&mut self, now: u64) -> u64 {
        let now = now.max(self.epoch);
        if now - self.epoch > REBASE_AFTER {
            self.sweep(now);
        }
        now
    }

    /// The TAT held for `fp`, if any.
    #[inline]
    pub(super) fn get(&self, fp: u64, wide: bool) -> Option<u64> {
        if wide {
            self.wide.get(&fp).copied()
        } else {
            self.narrow
                .get(&Fp::new(fp))
                .map(|offset| self.epoch + u64::from(*offset))
        }
    }

    /// Stores `tat` (at or after the prepared `now`) for `fp`.
    #[inline]
    pub(super) fn set(&mut self, fp: u64, wide: bool, tat: u64) {
        if wide {
            self.wide.insert(fp, tat);
        } else {
            // Fits by construction (see REBASE_AFTER); saturating would only be stricter.
            let offset = u32::try_from(tat.saturating_sub(self.epoch)).unwrap_or(u32::MAX);
            self.narrow.insert(Fp::new(fp), offset);
        }
    }

    /// Forgets `fp`.
    pub(super) fn remove(&mut self, fp: u64, wide: bool) {
        if wide {
            self.wide.remove(&fp);
        } else {
            self.narrow.remove(&Fp::new(fp));
        }
    }

    /// Moves `fp`'s TAT back by `by` (a refund), dropping the entry when its bucket is
    /// then full at `now` (the prepared time). Nothing happens to a key not held: its
    /// bucket is already full.
    pub(super) fn refund(&mut self, fp: u64, wide: bool, by: u64, now: u64) {
        let Some(tat) = self.get(fp, wide) else {
            return;
        };
        let tat = tat.saturating_sub(by);
        if tat <= now {
            self.remove(fp, wide);
        } else {
            self.set(fp, wide, tat);
        }
    }

    /// Runs one GCRA step on an entry already held, charging it when admitted; `None`
    /// when `fp` is not held.
    #[inline]
    pub(super) fn charge_held(&mut self, fp: u64, gcra: &Gcra, now: u64) -> Option<Step> {
        // A refusal stores nothing, except a TAT capped to the tolerance (see gcra.rs).
        if is_wide(gcra) {
            let tat = self.wide.get_mut(&fp)?;
            let step = gcra.step(*tat, now);
            if step.allowed || gcra.capped(*tat, now).is_some() {
                *tat = step.tat;
            }
            Some(step)
        } else {
            let epoch = self.epoch;
            let offset = self.narrow.get_mut(&Fp::new(fp))?;
            let stored = epoch + u64::from(*offset);
            let step = gcra.step(stored, now);
            if step.allowed || gcra.capped(stored, now).is_some() {
                *offset = u32::try_from(step.tat.saturating_sub(epoch)).unwrap_or(u32::MAX);
            }
            Some(step)
        }
    }

    /// Drops every entry whose bucket is full again at `now`, and moves the epoch to `now`.
    pub(super) fn sweep(&mut self, now: u64) {
        let old = self.epoch;
        let new = now.max(old);
        self.narrow.retain(|_, offset| {
            let tat = old + u64::from(*offset);
            // A live entry's new offset is smaller than its old one, so it always fits.
            tat > new && u32::try_from(tat - new).map(|o| *offset = o).is_ok()
        });
        self.wide.retain(|_, tat| *tat > new);
        self.epoch = new;
        shrink(&mut self.narrow);
        shrink(&mut self.wide);
    }

    /// Drops at least `count` entries, those whose buckets are nearest to full (the
    /// smallest TATs).
    pub(super) fn drop_nearest_refill(&mut self, count: usize) {
        let epoch = self.epoch;
        let mut tats: Vec<u64> = self
            .narrow
            .values()
            .map(|offset| epoch + u64::from(*offset))
            .chain(self.wide.values().copied())
            .collect();
        if count == 0 || tats.is_empty() {
            return;
        }
        let count = count.min(tats.len());
        let (below, threshold, _) = tats.select_nth_unstable(count - 1);
        let threshold = *threshold;
        // Every entry below the threshold goes, and of those exactly at it (keys made in
        // the same instant share one), only as many as make up `count`: ties must not
        // take more of the shard than asked.
        let strictly_below = below.iter().filter(|tat| **tat < threshold).count();
        let mut ties = count - strictly_below;
        let mut keep = |tat: u64| {
            if tat > threshold {
                true
            } else if tat < threshold {
                false
            } else if ties > 0 {
                ties -= 1;
                false
            } else {
                true
            }
        };
        self.narrow
            .retain(|_, offset| keep(epoch + u64::from(*offset)));
        self.wide.retain(|_, tat| keep(*tat));
    }
}

/// Gives memory back after a flood has passed.
fn shrink<K: Eq + Hash, V>(map: &mut HashMap<K, V, Build>) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        let len = map.len();
        map.shrink_to(len * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURLY: Gcra = Gcra {
        emission: 360_000_000,
        tolerance: 3_600_000_000,
        increment: 360_000_000,
    };
    const DAILY: Gcra = Gcra {
        emission: 8_640_000_000,
        tolerance: 86_400_000_000,
        increment: 8_640_000_000,
    };

    #[test]
    fn entries_take_twelve_bytes_up_to_an_hour_and_sixteen_beyond() {
        assert_eq!(std::mem::size_of::<(Fp, u32)>(), 12);
        assert_eq!(std::mem::size_of::<(u64, u64)>(), 16);
        assert!(!is_wide(&HOURLY));
        assert!(is_wide(&DAILY));
    }

    #[test]
    fn narrow_offsets_survive_rebasing_and_stale_ones_go() {
        let mut t = Table::default();
        let now = t.prepare(10);
        t.set(1, false, now + HOURLY.tolerance);
        t.set(2, false, now + 5);
        t.set(3, true, now + DAILY.tolerance);
        // Long after: the table rebases before use, keeping only live entries, exactly.
        let later = t.prepare(10 + REBASE_AFTER + 1);
        assert_eq!(t.get(1, false), Some(10 + HOURLY.tolerance));
        assert_eq!(t.get(2, false), None);
        assert_eq!(t.get(3, true), Some(10 + DAILY.tolerance));
        assert_eq!(t.len(), 2);
        // An hourly TAT set right before the next rebase still fits in 32 bits.
        let edge = later + REBASE_AFTER;
        let now = t.prepare(edge);
        assert_eq!(now, edge);
        t.set(4, false, now + HOURLY.tolerance);
        assert_eq!(t.get(4, false), Some(edge + HOURLY.tolerance));
    }

    #[test]
    fn a_clock_that_steps_back_stands_still() {
        let mut t = Table::default();
        t.sweep(1_000);
        assert_eq!(t.prepare(400), 1_000);
    }

    #[test]
    fn dropping_nearest_refill_drops_exactly_as_many_when_tats_tie() {
        let mut t = Table::default();
        // Keys made in one instant share a TAT: dropping 3 of 10 must not drop all 10.
        for fp in 0..10u64 {
            t.set(fp, fp % 2 == 0, 500);
        }
        t.set(10, false, 400);
        t.drop_nearest_refill(3);
        assert_eq!(t.len(), 8);
        assert_eq!(t.get(10, false), None, "the lowest TAT goes first");
    }

    #[test]
    fn dropping_nearest_refill_keeps_the_latest_tats() {
        let mut t = Table::default();
        for fp in 0..10u64 {
            t.set(fp, fp % 2 == 0, 100 + fp);
        }
        t.drop_nearest_refill(4);
        assert_eq!(t.len(), 6);
        assert_eq!(t.get(3, false), None);
        assert_eq!(t.get(4, true), Some(104));
        assert_eq!(t.get(9, false), Some(109));
    }
}
