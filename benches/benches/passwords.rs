//! Password hashing and verification beside the raw `argon2` and `bcrypt` crates, the
//! dummy verify for unknown users beside a real verify, and the policy check beside raw
//! `zxcvbn` on adversarial input, all in the same run.
//!
//! Argon2id runs at the OWASP minimum (m=19456 KiB, t=2, p=1) and bcrypt at cost 10, the
//! settings a service would use: tens of milliseconds per operation, so these groups take
//! 10 samples.

use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use criterion::BenchmarkId;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use passwords::{BcryptCost, Hasher, Policy};
use std::hint::black_box;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";
const BCRYPT_COST: u32 = 10;

/// Tens of milliseconds per iteration: 10 samples, over a longer window so the shared
/// machine's noise averages out.
fn slow_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    group
}

fn argon2id(c: &mut Criterion) {
    let ours = Hasher::new().expect("default hasher");
    let raw = argon2::Argon2::default();
    let stored = ours.hash(PASSWORD).expect("hash").into_string();

    let mut group = slow_group(c, "password/argon2id hash");
    group.bench_function("palisade", |b| {
        b.iter(|| ours.hash(black_box(PASSWORD)).expect("hash"))
    });
    group.bench_function("argon2", |b| {
        b.iter(|| {
            raw.hash_password(black_box(PASSWORD.as_bytes()))
                .expect("hash")
                .to_string()
        })
    });
    group.finish();

    let mut group = slow_group(c, "password/argon2id verify");
    group.bench_function("palisade", |b| {
        b.iter(|| ours.verify(black_box(PASSWORD), &stored).expect("valid"))
    });
    group.bench_function("argon2", |b| {
        b.iter(|| {
            let parsed = PhcHash::new(&stored).expect("PHC string");
            raw.verify_password(black_box(PASSWORD.as_bytes()), &parsed)
                .expect("valid")
        })
    });
    group.finish();
}

fn bcrypt(c: &mut Criterion) {
    let ours = Hasher::builder()
        .bcrypt(BcryptCost::new(BCRYPT_COST).expect("cost"))
        .build()
        .expect("bcrypt hasher");
    let stored = ours.hash(PASSWORD).expect("hash").into_string();

    let mut group = slow_group(c, "password/bcrypt hash");
    group.bench_function("palisade", |b| {
        b.iter(|| ours.hash(black_box(PASSWORD)).expect("hash"))
    });
    group.bench_function("bcrypt", |b| {
        b.iter(|| bcrypt::hash(black_box(PASSWORD), BCRYPT_COST).expect("hash"))
    });
    group.finish();

    let mut group = slow_group(c, "password/bcrypt verify");
    group.bench_function("palisade", |b| {
        b.iter(|| ours.verify(black_box(PASSWORD), &stored).expect("valid"))
    });
    group.bench_function("bcrypt", |b| {
        b.iter(|| assert!(bcrypt::verify(black_box(PASSWORD), &stored).expect("well formed")))
    });
    group.finish();
}

/// An unknown user's dummy verify beside a known user's real verify, same hasher: the
/// ratio should be 1.00x, or timing would tell which accounts exist.
fn dummy_verify(c: &mut Criterion) {
    let hasher = Hasher::new().expect("default hasher");
    let stored = hasher.hash(PASSWORD).expect("hash").into_string();
    let mut group = slow_group(c, "password/unknown user");
    group.bench_function("dummy verify", |b| {
        b.iter(|| {
            hasher
                .dummy_verify(black_box(PASSWORD))
                .expect_err("never valid")
        })
    });
    group.bench_function("real verify", |b| {
        b.iter(|| hasher.verify(black_box(PASSWORD), &stored).expect("valid"))
    });
    group.finish();
}

/// The policy check on the worst input found for zxcvbn's l33t matching (every l33t
/// character, repeated), beside raw zxcvbn on the same text. At 20 characters, the longest
/// a common password can be, the policy runs zxcvbn and costs what it costs; at 256, the
/// largest maximum a policy allows, it no longer runs zxcvbn at all.
fn policy_check(c: &mut Criterion) {
    let policy = Policy::builder()
        .max_chars(Policy::MAX_CHARS_LIMIT)
        .build()
        .expect("policy");
    let mut group = slow_group(c, "password/policy check");
    for len in [20, 256] {
        let l33t: String = "4@8({[<3691!|70$5+%2".chars().cycle().take(len).collect();
        assert!(policy.check(&l33t).is_ok(), "not a common password");
        let label = format!("{len}-char l33t");
        group.bench_with_input(BenchmarkId::new("palisade", &label), &l33t, |b, text| {
            b.iter(|| policy.check(black_box(text)))
        });
        group.bench_with_input(BenchmarkId::new("zxcvbn", &label), &l33t, |b, text| {
            b.iter(|| zxcvbn::zxcvbn(black_box(text), &[]).score())
        });
    }
    group.finish();
}

criterion_group! {
    name = passwords;
    config = palisade_benches::criterion();
    targets = argon2id, bcrypt, dummy_verify, policy_check
}
criterion_main!(passwords);
