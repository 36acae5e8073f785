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
use std::path::PathBuf;
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

/// A time in nanoseconds with three significant digits (trailing zeros kept) and its
/// unit: `443 ns`, `1.30 µs`.
pub fn format_ns(ns: f64) -> String {
    let (value, unit) = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")]
        .into_iter()
        .find(|&(scale, _)| ns >= scale)
        .map_or((ns, "ns"), |(scale, unit)| (ns / scale, unit));
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.decimals$} {unit}")
}

/// A deterministic, non-trivial message of `len` bytes.
pub fn message(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)).to_le_bytes()[0])
        .collect()
}

/// What criterion was asked to do, for the measurements a bench binary takes outside
/// criterion: those measure only in [`Mode::Measure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Measure (`cargo bench`, `benches/report`).
    Measure,
    /// Run each bench once to check that it works (`--test`, the CI smoke run): run
    /// briefly and write nothing.
    Smoke,
    /// List the benches (`--list`): run nothing.
    List,
}

/// The mode of this bench binary, from its arguments.
pub fn mode() -> Mode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        Mode::List
    } else if args.iter().any(|a| a == "--test") {
        Mode::Smoke
    } else {
        Mode::Measure
    }
}

/// Writes a table of measurements that criterion does not take (bytes per key, ratios
/// timed alternately) for `benches/report`, as `<target>/palisade-bench-extra/<file>.json`.
/// Every row has one cell per column.
pub fn write_extra_table(
    file: &str,
    area: &str,
    title: &str,
    columns: &[&str],
    rows: &[Vec<String>],
) {
    let strings = |cells: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<String> = cells.map(json_string).collect();
        format!("[{}]", quoted.join(", "))
    };
    let rows: Vec<String> = rows
        .iter()
        .map(|row| strings(&mut row.iter().map(String::as_str)))
        .collect();
    let json = format!(
        "{{\"area\": {}, \"title\": {}, \"columns\": {}, \"rows\": [{}]}}\n",
        json_string(area),
        json_string(title),
        strings(&mut columns.iter().copied()),
        rows.join(", ")
    );
    let dir = target_dir().join("palisade-bench-extra");
    std::fs::create_dir_all(&dir).expect("the extra results directory");
    std::fs::write(dir.join(format!("{file}.json")), json).expect("the extra results file");
}

/// `<target>/<profile>/deps/<bench binary>` → `<target>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench binary");
    exe.ancestors()
        .nth(3)
        .expect("the bench binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("1.2 µs"), "\"1.2 µs\"");
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn times_keep_three_significant_digits() {
        assert_eq!(format_ns(443.4), "443 ns");
        assert_eq!(format_ns(1302.0), "1.30 µs");
        assert_eq!(format_ns(15_340.0), "15.3 µs");
        assert_eq!(format_ns(2.5e9), "2.50 s");
    }

    #[test]
    fn sizes_are_labelled_in_binary_units() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(1024), "1 KiB");
        assert_eq!(size_label(16 * 1024), "16 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(size_label(1000), "1000 B");
    }
}
