//! audit-chain beside raw SHA-256 over the same bytes, in the same run: appends (memory,
//! segment files with group commit, SQLite), full verification of a large log, and an
//! inclusion proof in it.
//!
//! The large log holds 1 000 000 entries in a bench run and 10 000 in criterion's test
//! mode (`--test`) or an unoptimised build; it is built once per run.

use audit_chain::{
    AuditLog, Event, FileStore, MemoryStore, SignedCheckpoint, SigningKey, SqliteStore, Store,
    SystemClock, TenantId, Verifier,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

/// Events per append batch: one write and one flush each.
const BATCH: usize = 1000;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn tenant() -> TenantId {
    TenantId::new("acme").expect("tenant")
}

/// A typical login event, about 330 bytes once recorded.
fn event(i: usize) -> Event {
    Event::login_succeeded(
        tenant(),
        format!("user-{}", i % 5000),
        "203.0.113.7".parse().expect("ip"),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    )
    .detail("method", "password")
    .detail("mfa", "totp")
    .detail("session", format!("s-{i:08}"))
}

fn batch(start: usize) -> Vec<Event> {
    (start..start + BATCH).map(event).collect()
}

/// The canonical bytes of a batch, as the log records them, for the SHA-256 peer.
fn batch_bytes(log: &AuditLog<MemoryStore>) -> Vec<u8> {
    runtime().block_on(async {
        log.append_batch(batch(0)).await.expect("append");
        let mut bytes = Vec::new();
        for leaf in log.store().read(&tenant(), 0, BATCH).await.expect("read") {
            bytes.extend_from_slice(&leaf);
        }
        bytes
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("audit/append");
    group.throughput(Throughput::Elements(BATCH as u64));
    let label = format!("batch of {BATCH}");
    let rt = runtime();

    let memory = AuditLog::builder(MemoryStore::new()).build().expect("log");
    let bytes = batch_bytes(&memory);
    let mut next = BATCH;
    group.bench_function(BenchmarkId::new("palisade memory", &label), |b| {
        b.iter(|| {
            next += BATCH;
            rt.block_on(memory.append_batch(batch(next)))
                .expect("append")
        })
    });
    group.bench_function(BenchmarkId::new("sha256", &label), |b| {
        b.iter(|| sha256(black_box(&bytes)))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let file = AuditLog::builder(FileStore::open(dir.path().join("file")).expect("open"))
        .build()
        .expect("log");
    group.bench_function(
        BenchmarkId::new("palisade file (group commit)", &label),
        |b| {
            b.iter(|| {
                next += BATCH;
                rt.block_on(file.append_batch(batch(next))).expect("append")
            })
        },
    );

    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let sqlite = rt.block_on(SqliteStore::connect(&url)).expect("sqlite");
    let sqlite = AuditLog::builder(sqlite).build().expect("log");
    group.bench_function(BenchmarkId::new("palisade sqlite", &label), |b| {
        b.iter(|| {
            next += BATCH;
            rt.block_on(sqlite.append_batch(batch(next)))
                .expect("append")
        })
    });
    group.finish();
}

struct LargeLog {
    log: AuditLog<MemoryStore, SystemClock>,
    key: SigningKey,
    checkpoint: SignedCheckpoint,
    size: usize,
    /// Every leaf, back to back: what raw SHA-256 hashes.
    bytes: Vec<u8>,
}

fn large_log() -> &'static LargeLog {
    static LOG: OnceLock<LargeLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let quick = cfg!(debug_assertions) || std::env::args().any(|a| a == "--test");
        let size = if quick { 10_000 } else { 1_000_000 };
        let key = SigningKey::from_seed("bench", &[3; 32]).expect("key");
        let log = AuditLog::builder(MemoryStore::new())
            .signer(SigningKey::from_seed("bench", &[3; 32]).expect("key"))
            .build()
            .expect("log");
        runtime().block_on(async {
            let mut start = 0;
            while start < size {
                let events = (start..(start + 10_000).min(size)).map(event).collect();
                log.append_batch(events).await.expect("append");
                start += 10_000;
            }
            let mut bytes = Vec::new();
            for leaf in log.store().read(&tenant(), 0, size).await.expect("read") {
                bytes.extend_from_slice(&leaf);
            }
            let checkpoint = log.checkpoint(&tenant()).await.expect("checkpoint");
            LargeLog {
                log,
                key,
                checkpoint,
                size,
                bytes,
            }
        })
    })
}

impl LargeLog {
    /// The export: every leaf followed by a newline.
    fn export(&self) -> Vec<u8> {
        let leaves = runtime()
            .block_on(self.log.store().read(&tenant(), 0, self.size))
            .expect("read");
        let mut out = Vec::with_capacity(self.bytes.len() + self.size);
        for leaf in leaves {
            out.extend_from_slice(&leaf);
            out.push(b'\n');
        }
        out
    }
}

fn verify(c: &mut Criterion) {
    let large = large_log();
    let mut group = c.benchmark_group("audit/verify");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.throughput(Throughput::Bytes(large.bytes.len() as u64));
    let label = format!("{} entries", large.size);
    let store = large.log.store().clone();
    group.bench_function(BenchmarkId::new("palisade full log", &label), |b| {
        b.iter(|| {
            let verified = runtime()
                .block_on(Verifier::new().verify_log(&store, &tenant()))
                .expect("verifies");
            assert_eq!(verified.size, large.size as u64);
            verified
        })
    });
    let export = large.export();
    group.bench_function(BenchmarkId::new("palisade export", &label), |b| {
        b.iter(|| {
            let verified = Verifier::with_key(large.key.verifying_key())
                .verify_export(black_box(export.as_slice()), large.checkpoint.as_str())
                .expect("verifies");
            assert_eq!(verified.size, large.size as u64);
            verified
        })
    });
    group.bench_function(BenchmarkId::new("sha256", &label), |b| {
        b.iter(|| sha256(black_box(&large.bytes)))
    });
    group.finish();
}

fn prove(c: &mut Criterion) {
    let large = large_log();
    let mut group = c.benchmark_group("audit/prove");
    let label = format!("{} entries", large.size);
    let rt = runtime();
    let leaf = rt
        .block_on(
            large
                .log
                .store()
                .read(&tenant(), 123_456 % large.size as u64, 1),
        )
        .expect("read")
        .pop()
        .expect("leaf");
    let mut index = 0u64;
    group.bench_function(BenchmarkId::new("palisade inclusion proof", &label), |b| {
        b.iter(|| {
            index = (index + 7919) % large.size as u64;
            rt.block_on(large.log.prove(&tenant(), index, None))
                .expect("proof")
        })
    });
    group.bench_function(BenchmarkId::new("sha256", &label), |b| {
        b.iter(|| sha256(black_box(&leaf)))
    });
    group.finish();
}

criterion_group! {
    name = audit;
    config = palisade_benches::criterion();
    targets = append, verify, prove
}
criterion_main!(audit);
