//! envelope-crypto: seal and open beside raw AES-256-GCM of the same backend, in the
//! same run, at 64 B, 256 B, 1 KiB, 16 KiB and 1 MiB.
//!
//! The raw peer is each library's own allocating one-shot API under a key set up once:
//! RustCrypto's `Aead::encrypt` / `Aead::decrypt`, and aws-lc-rs's
//! `seal_in_place_append_tag` / `open_in_place` on a fresh `Vec`. Both copy the input into
//! a new buffer, as a seal or open that returns a value must; the envelope adds the
//! XAES-256-GCM key derivation (two AES blocks, in AWS-LC on the aws-lc backend with a
//! VAES and AVX-512 CPU and in the `aes` crate otherwise, and a fresh AES-GCM key
//! schedule and GHASH key per message), the key commitment (one SHA-256 compression),
//! the binding, a random nonce (the default `ThreadRandom`: per-thread ChaCha20 with a
//! `pthread_atfork` counter for fork and the clock as a hedge) and, on open, zeroizing
//! the plaintext when it is dropped.
//!
//! After the criterion benches, the 256 B seal + open pair of each backend is timed once
//! more with the two sides alternating in rounds of about a millisecond (see
//! [`alternating`]), for a ratio that bursts of load on the shared machine do not skew;
//! `benches/report` puts it in its own table.
//!
//! Copies of 16 KiB and more go through glibc's `rep movsb`, which on some AMD CPUs runs
//! several times slower when source and destination share an offset within a page. Where
//! the allocator happens to put a peer's output buffer at its input's page offset, that
//! peer's seal (which copies its input first) is slowed by the copy, not by AES-GCM: a
//! row where a raw seal costs far more than the raw open of the same size is that
//! coincidence (`perf` shows the time in `__memmove_avx_unaligned_erms`).

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as LcNonce, UnboundKey};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use envelope_crypto::{Backend, Binding, Keyring, OsRandom, Random, Sealer, ThreadRandom};
use palisade_benches::{Mode, format_ns, message, size_label};

const SIZES: [usize; 5] = [64, 256, 1024, 16 * 1024, 1 << 20];
const KEY: [u8; 32] = [7; 32];
const NONCE: [u8; 12] = [9; 12];

/// A raw AES-256-GCM seal and open under a fixed key and nonce.
trait Raw {
    fn name(&self) -> &'static str;
    fn seal(&self, plaintext: &[u8]) -> Vec<u8>;
    fn open(&self, ciphertext: &[u8]) -> Vec<u8>;
}

struct RustCrypto(Aes256Gcm);

impl Raw for RustCrypto {
    fn name(&self) -> &'static str {
        "aes-gcm"
    }

    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        self.0
            .encrypt(&Nonce::from(NONCE), plaintext)
            .expect("seal")
    }

    fn open(&self, ciphertext: &[u8]) -> Vec<u8> {
        self.0
            .decrypt(&Nonce::from(NONCE), ciphertext)
            .expect("open")
    }
}

struct AwsLc(LessSafeKey);

impl Raw for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + 16);
        out.extend_from_slice(plaintext);
        self.0
            .seal_in_place_append_tag(
                LcNonce::assume_unique_for_key(NONCE),
                Aad::empty(),
                &mut out,
            )
            .expect("seal");
        out
    }

    fn open(&self, ciphertext: &[u8]) -> Vec<u8> {
        let mut out = ciphertext.to_vec();
        let len = self
            .0
            .open_in_place(
                LcNonce::assume_unique_for_key(NONCE),
                Aad::empty(),
                &mut out,
            )
            .expect("open")
            .len();
        out.truncate(len);
        out
    }
}

fn backends() -> Vec<(Backend, Box<dyn Raw>)> {
    vec![
        (
            Backend::RustCrypto,
            Box::new(RustCrypto(Aes256Gcm::new(&KEY.into()))),
        ),
        (
            Backend::AwsLc,
            Box::new(AwsLc(LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &KEY).expect("32-byte key"),
            ))),
        ),
    ]
}

fn sealer(keyring: &Keyring, backend: Backend) -> Sealer {
    keyring
        .sealer("bench.secret")
        .expect("valid purpose")
        .with_backend(backend)
}

fn binding() -> Binding {
    Binding::new().tenant("acme").record("user:42")
}

/// The sealer's default nonce source beside a `getrandom` system call per nonce.
fn nonce(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope/nonce");
    group.bench_function(BenchmarkId::new("palisade ThreadRandom", "24 B"), |b| {
        b.iter(|| {
            let mut nonce = [0u8; 24];
            ThreadRandom.fill(&mut nonce).expect("a nonce");
            nonce
        })
    });
    group.bench_function(BenchmarkId::new("getrandom", "24 B"), |b| {
        b.iter(|| {
            let mut nonce = [0u8; 24];
            OsRandom.fill(&mut nonce).expect("a nonce");
            nonce
        })
    });
    group.finish();
}

fn envelope(c: &mut Criterion) {
    let keyring = Keyring::generate().expect("keyring");
    let binding = binding();
    for (backend, raw) in backends() {
        let sealer = sealer(&keyring, backend);

        let mut group = c.benchmark_group(format!("envelope/seal ({backend})"));
        for size in SIZES {
            let plaintext = message(size);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("palisade", size_label(size)), |b| {
                b.iter(|| sealer.seal(black_box(&plaintext), &binding).expect("seal"))
            });
            group.bench_function(BenchmarkId::new(raw.name(), size_label(size)), |b| {
                b.iter(|| raw.seal(black_box(&plaintext)))
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("envelope/open ({backend})"));
        for size in SIZES {
            let plaintext = message(size);
            let envelope = sealer.seal(&plaintext, &binding).expect("seal");
            let ciphertext = raw.seal(&plaintext);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("palisade", size_label(size)), |b| {
                b.iter(|| sealer.open(black_box(&envelope), &binding).expect("open"))
            });
            group.bench_function(BenchmarkId::new(raw.name(), size_label(size)), |b| {
                b.iter(|| raw.open(black_box(&ciphertext)))
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("envelope/seal+open ({backend})"));
        for size in SIZES {
            let plaintext = message(size);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("palisade", size_label(size)), |b| {
                b.iter(|| {
                    let envelope = sealer.seal(black_box(&plaintext), &binding).expect("seal");
                    sealer.open(&envelope, &binding).expect("open")
                })
            });
            group.bench_function(BenchmarkId::new(raw.name(), size_label(size)), |b| {
                b.iter(|| raw.open(&raw.seal(black_box(&plaintext))))
            });
        }
        group.finish();
    }
}

/// Seal + open of 256 B beside the raw peer's, timed alternately, for each backend.
///
/// Criterion times one benchmark after another, seconds apart, and on a shared machine a
/// burst of load that lands on one side of a pair moves its ratio by a third or more.
/// Here the two sides alternate in rounds of `iterations` (about a millisecond each),
/// which side goes first alternates too, and each round gives one ratio: a burst that
/// outlasts a round slows both sides of it, and one that hits a single round is an
/// outlier that the median of `rounds` ratios leaves out. Returns the rows of the table
/// that `benches/report` adds to `BENCHMARKS.md`.
fn alternating(rounds: usize, iterations: u32) -> Vec<Vec<String>> {
    let keyring = Keyring::generate().expect("keyring");
    let binding = binding();
    let plaintext = message(256);
    let mut rows = Vec::new();
    for (backend, raw) in backends() {
        let sealer = sealer(&keyring, backend);
        let ours = || {
            let envelope = sealer.seal(black_box(&plaintext), &binding).expect("seal");
            black_box(sealer.open(&envelope, &binding).expect("open"));
        };
        let peer = || {
            black_box(raw.open(&raw.seal(black_box(&plaintext))));
        };
        // Nanoseconds per call over one round.
        let round = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(iterations)
        };
        // Warm-up: caches, the allocator's free lists and the thread's nonce generator.
        for _ in 0..3 {
            round(&ours);
            round(&peer);
        }
        let (mut ours_ns, mut peer_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..rounds {
            let (a, b) = if i % 2 == 0 {
                let a = round(&ours);
                (a, round(&peer))
            } else {
                let b = round(&peer);
                (round(&ours), b)
            };
            ours_ns.push(a);
            peer_ns.push(b);
            ratios.push(a / b);
        }
        let [low, ratio, high] = quartiles(&mut ratios);
        let (ours_ns, peer_ns) = (quartiles(&mut ours_ns)[1], quartiles(&mut peer_ns)[1]);
        println!(
            "envelope/seal+open alternately ({backend}) 256 B: palisade {}, {} {}, \
             palisade / raw {ratio:.2}x (quartiles {low:.2}x to {high:.2}x over {rounds} rounds)",
            format_ns(ours_ns),
            raw.name(),
            format_ns(peer_ns),
        );
        rows.push(vec![
            backend.to_string(),
            format_ns(ours_ns),
            raw.name().to_owned(),
            format_ns(peer_ns),
            format!("{ratio:.2}x"),
            format!("{low:.2}x to {high:.2}x"),
        ]);
    }
    rows
}

/// The lower quartile, median and upper quartile (nearest rank); sorts `values`.
fn quartiles(values: &mut [f64]) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let rank = |q: usize| {
        values
            .get((values.len() * q / 4).min(values.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    [rank(1), rank(2), rank(3)]
}

criterion_group! {
    name = benches;
    config = palisade_benches::criterion();
    targets = envelope, nonce
}

fn main() {
    benches();
    match palisade_benches::mode() {
        Mode::List => {}
        // Checks that the measurement runs; writes nothing.
        Mode::Smoke => {
            alternating(2, 10);
        }
        Mode::Measure => measure_alternating(),
    }
    Criterion::default().configure_from_args().final_summary();
}

/// The alternating measurement, written for `benches/report`.
fn measure_alternating() {
    let rounds = 400;
    let rows = alternating(rounds, 500);
    palisade_benches::write_extra_table(
        "envelope",
        "envelope",
        "seal + open of 256 B, timed alternately with raw AES-256-GCM (target: at most 3x)",
        &[
            "backend",
            "palisade seal + open",
            "raw peer",
            "raw seal + open",
            &format!("palisade / raw: median of {rounds} rounds"),
            "middle half of the rounds",
        ],
        &rows,
    );
}
