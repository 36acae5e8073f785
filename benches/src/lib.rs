//! Shared conventions for Palisade's criterion benches.
//!
//! `benches/report` reads criterion's results and writes `BENCHMARKS.md`. It relies on
//! three naming rules, which every bench follows:
//!
//! - a benchmark group is named `<area>/<operation>` (`aead/seal`, `webhook/verify`); the
//!   area becomes a table in `BENCHMARKS.md`;
//! - a function id starting with `palisade` is this project's implementation; any other id
//!   names a peer (`aes-gcm`, `aws-lc-rs`, `governor`, ...); in a group without a
//!   `palisade` entry the first id in sort order is compared with the others;
//! - the parameter is the input size in bytes (or another label) and, where bytes flow,
//!   the group sets [`criterion::Throughput::Bytes`].
#![forbid(unsafe_code)]

use criterion::Criterion;
use std::time::Duration;

/// Message sizes for throughput benches: 64 B, 1 KiB and 1 MiB.
pub const SMALL_MEDIUM_LARGE: [usize; 3] = [64, 1024, 1 << 20];

/// A criterion configuration for a noisy two-core machine: short warm-up, enough samples
/// for a stable median, and command-line flags (`--test`, filters) still honoured.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

/// Human label for a byte size: `64 B`, `1 KiB`, `1 MiB`.
pub fn size_label(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// A deterministic, non-trivial message of `len` bytes.
pub fn message(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)).to_le_bytes()[0])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_labelled_in_binary_units() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(1024), "1 KiB");
        assert_eq!(size_label(16 * 1024), "16 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(size_label(1000), "1000 B");
    }
}
