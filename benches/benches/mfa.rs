//! Verifying a TOTP code through `mfa` (seed opened from its envelope, +-1 step window,
//! atomic replay guard on the memory store), beside `totp-rs`'s bare `check` of the same
//! code, in the same run.
//!
//! Each iteration verifies a fresh code one step after the last (the replay guard refuses
//! a code twice); code generation happens in the untimed setup for both.
//!
//! Target: under 10x the bare check (the envelope open and the store step are the cost of
//! sealed seeds and replay safety).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use envelope_crypto::Keyring;
use mfa::{Clock, MemoryStore, Mfa, SEED_PURPOSE, TotpParams, TotpSecret, UserId, totp_code};

struct StepClock(AtomicU64);

impl Clock for StepClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

const T0: u64 = 1_767_225_600;

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("totp/verify");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let clock = Arc::new(StepClock(AtomicU64::new(T0)));
    let keyring = Keyring::generate().expect("keyring");
    let mfa = Mfa::builder(
        Arc::new(MemoryStore::new()),
        keyring.sealer(SEED_PURPOSE).expect("sealer"),
        "Bench",
    )
    .clock(clock.clone())
    .build()
    .expect("mfa");
    let user = UserId::new("bench-user").expect("user");
    let enrollment = runtime
        .block_on(mfa.totp_enroll(&user, "bench"))
        .expect("enroll");
    let secret = TotpSecret::from_base32(enrollment.secret_base32()).expect("secret");
    let params = TotpParams::default();
    let confirmed = runtime
        .block_on(mfa.totp_confirm(&user, &totp_code(&secret, &params, T0)))
        .expect("confirm");
    assert_eq!(confirmed.method(), mfa::Method::Totp);

    // Criterion makes a whole batch of inputs before running any, so each input carries
    // its own time and the clock is set to it just before that code is verified.
    let mut step_time = T0;
    group.bench_function(BenchmarkId::new("palisade", "replay guard, memory"), |b| {
        b.iter_batched(
            || {
                step_time += 30;
                (totp_code(&secret, &params, step_time), step_time)
            },
            |(code, at)| {
                clock.0.store(at, Ordering::SeqCst);
                runtime
                    .block_on(mfa.totp_verify(&user, black_box(&code)))
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });

    let bare = totp_rs::Builder::new()
        .with_secret(
            data_encoding::BASE32_NOPAD
                .decode(enrollment.secret_base32().as_bytes())
                .expect("base32"),
        )
        .with_skew(1)
        .build()
        .expect("totp-rs");
    let mut time = T0;
    group.bench_function(BenchmarkId::new("totp-rs", "replay guard, memory"), |b| {
        b.iter_batched(
            || {
                time += 30;
                (bare.generate(time).to_string(), time)
            },
            |(code, at)| bare.check(black_box(&code), at).expect("valid"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = palisade_benches::criterion();
    targets = verify
}
criterion_main!(benches);
