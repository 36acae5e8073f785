//! rate-limit beside governor, in the same run: a check of one hot key, the insertion of
//! new keys, and memory per key; then Redis checks over one connection, one at a time and
//! many in flight.
//!
//! Bytes per key are measured from the resident set size (`/proc/self/statm`) of a fresh
//! child process (this binary, re-run) that inserts the keys, once per implementation, so
//! neither inherits the other's freed memory. They are written to
//! `<target>/palisade-bench-extra/rate-limit.json` for `benches/report`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use governor::{Quota, RateLimiter};
use rate_limit::{Check, MemoryStore, Policy, RedisStore, Store};

/// The child-process switch: `palisade <keys>` or `governor <keys>`.
const RSS_CHILD: &str = "RATE_LIMIT_BENCH_RSS_CHILD";
const RSS_KEYS: [u64; 2] = [100_000, 1_000_000];

fn per_second(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

/// The finest policy both limiters can hold, one unit per microsecond, so a hot key keeps
/// being admitted for a while.
fn policy() -> Policy {
    Policy::builder("bench", per_second(1_000_000), Duration::from_secs(1))
        .build()
        .expect("a valid policy")
}

fn governor_quota() -> Quota {
    Quota::per_second(per_second(1_000_000))
}

/// A policy under which a new key stays in the table for the whole run: 1000 per hour.
fn long_policy() -> Policy {
    Policy::builder("bench-long", per_second(1_000), Duration::from_secs(3600))
        .build()
        .expect("a valid policy")
}

fn long_governor_quota() -> Quota {
    Quota::per_hour(per_second(1_000))
}

fn big_store() -> MemoryStore {
    // A cap above anything the benches insert, so eviction never runs here.
    MemoryStore::builder()
        .max_keys(64_000_000)
        .build()
        .expect("a valid store")
}

fn hot_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate-limit/hot-key check");
    group.throughput(Throughput::Elements(1));
    let store = big_store();
    let policy = policy();
    let key = 42u64.to_le_bytes();
    group.bench_function(BenchmarkId::new("palisade", "u64 key"), |b| {
        b.iter(|| {
            store
                .check_sync(&[Check::new(&policy, black_box(&key))])
                .expect("no error")
                .is_allowed()
        })
    });
    let governor = RateLimiter::keyed(governor_quota());
    group.bench_function(BenchmarkId::new("governor", "u64 key"), |b| {
        b.iter(|| governor.check_key(black_box(&42u64)).is_ok())
    });
    group.finish();
}

fn new_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate-limit/new-key insert");
    group.throughput(Throughput::Elements(1));
    let policy = long_policy();
    // Each sample starts from an empty limiter, so table growth is part of the cost.
    group.bench_function(BenchmarkId::new("palisade", "u64 key"), |b| {
        b.iter_custom(|iters| {
            let store = big_store();
            let start = Instant::now();
            for key in 0..iters {
                let decision = store.check_sync(&[Check::new(&policy, &key.to_le_bytes())]);
                black_box(decision.expect("no error").is_allowed());
            }
            start.elapsed()
        })
    });
    group.bench_function(BenchmarkId::new("governor", "u64 key"), |b| {
        b.iter_custom(|iters| {
            let governor = RateLimiter::keyed(long_governor_quota());
            let start = Instant::now();
            for key in 0..iters {
                black_box(governor.check_key(&key).is_ok());
            }
            start.elapsed()
        })
    });
    group.finish();
}

fn redis_checks(c: &mut Criterion) {
    let Some(prefix) = palisade_test_support::redis("bench_rate_limit") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = runtime
        .block_on(async {
            RedisStore::builder(prefix.url())
                .prefix(prefix.prefix())
                .build()
        })
        .expect("a valid Redis URL");
    let policy = std::sync::Arc::new(policy());
    let mut group = c.benchmark_group("rate-limit/redis check");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        BenchmarkId::new("palisade", "one connection, sequential"),
        |b| {
            let mut i = 0u32;
            b.iter(|| {
                i = (i + 1) % 1_000;
                runtime
                    .block_on(store.check(&[Check::new(&policy, &i.to_le_bytes())]))
                    .expect("Redis answers")
                    .is_allowed()
            })
        },
    );
    const IN_FLIGHT: u32 = 64;
    group.throughput(Throughput::Elements(u64::from(IN_FLIGHT)));
    group.bench_function(
        BenchmarkId::new("palisade", "one connection, 64 pipelined"),
        |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..IN_FLIGHT)
                        .map(|i| {
                            let (store, policy) = (store.clone(), policy.clone());
                            tokio::spawn(async move {
                                store
                                    .check(&[Check::new(&policy, &i.to_le_bytes())])
                                    .await
                                    .expect("Redis answers")
                                    .is_allowed()
                            })
                        })
                        .collect();
                    for task in tasks {
                        black_box(task.await.expect("the check completes"));
                    }
                })
            })
        },
    );
    group.finish();
}

criterion_group! {
    name = rate_limit;
    config = palisade_benches::criterion();
    targets = hot_key, new_key, redis_checks
}

fn main() {
    if let Ok(spec) = std::env::var(RSS_CHILD) {
        rss_child(&spec);
        return;
    }
    rate_limit();
    // Memory is measured outside criterion's test mode only: it takes seconds.
    if palisade_benches::mode() == palisade_benches::Mode::Measure {
        bytes_per_key();
    }
    Criterion::default().configure_from_args().final_summary();
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> u64 {
    const PAGE: u64 = 4096;
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .expect("statm's second field");
    resident * PAGE
}

/// In a child process: insert `keys` keys into one implementation and print the growth
/// of the resident set per key.
fn rss_child(spec: &str) {
    let (which, keys) = spec.split_once(' ').expect("`<impl> <keys>`");
    let keys: u64 = keys.parse().expect("a key count");
    let policy = long_policy();
    let before = rss_bytes();
    let after = match which {
        "palisade" => {
            let store = big_store();
            for key in 0..keys {
                black_box(
                    store
                        .check_sync(&[Check::new(&policy, &key.to_le_bytes())])
                        .is_ok(),
                );
            }
            assert_eq!(store.len() as u64, keys);
            rss_bytes()
        }
        "governor" => {
            let governor = RateLimiter::keyed(long_governor_quota());
            for key in 0..keys {
                black_box(governor.check_key(&key).is_ok());
            }
            assert_eq!(governor.len() as u64, keys);
            rss_bytes()
        }
        other => panic!("unknown implementation {other}"),
    };
    println!("{:.1}", (after.saturating_sub(before)) as f64 / keys as f64);
}

fn bytes_per_key() {
    let exe = std::env::current_exe().expect("the bench binary");
    let measure = |which: &str, keys: u64| -> f64 {
        let output = Command::new(&exe)
            .env(RSS_CHILD, format!("{which} {keys}"))
            .output()
            .expect("the bench binary runs again");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("bytes per key")
    };
    let mut rows = Vec::new();
    for keys in RSS_KEYS {
        let ours = measure("palisade", keys);
        let governor = measure("governor", keys);
        println!(
            "rate-limit/bytes per key ({keys} u64 keys): palisade {ours:.1} B, governor {governor:.1} B"
        );
        rows.push(vec![
            format!("{keys} u64 keys"),
            format!("{ours:.1} B"),
            format!("{governor:.1} B"),
            format!("{:.2}x", governor / ours),
        ]);
    }
    palisade_benches::write_extra_table(
        "rate-limit",
        "rate-limit",
        "Memory per key (resident set growth in a fresh process)",
        &["keys", "palisade", "governor", "governor / palisade"],
        &rows,
    );
}
