//! The peers every later bench is measured against: AES-256-GCM through RustCrypto
//! `aes-gcm` and `aws-lc-rs`, and HMAC-SHA256 through RustCrypto `hmac` and `aws-lc-rs`.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as LcNonce, UnboundKey};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use palisade_benches::{SMALL_MEDIUM_LARGE, message, size_label};
use sha2::Sha256;
use std::hint::black_box;

const KEY: [u8; 32] = [7; 32];
const NONCE: [u8; 12] = [9; 12];

fn aes_256_gcm_seal(c: &mut Criterion) {
    let mut group = c.benchmark_group("aead/aes-256-gcm seal");
    let rustcrypto = Aes256Gcm::new(&KEY.into());
    let aws_lc = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("32-byte key"));
    for size in SMALL_MEDIUM_LARGE {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = message(size);
        group.bench_function(BenchmarkId::new("aes-gcm", size_label(size)), |b| {
            b.iter(|| {
                rustcrypto
                    .encrypt_inout_detached(&Nonce::from(NONCE), b"", buf.as_mut_slice().into())
                    .expect("seal")
            })
        });
        group.bench_function(BenchmarkId::new("aws-lc-rs", size_label(size)), |b| {
            b.iter(|| {
                aws_lc
                    .seal_in_place_separate_tag(
                        LcNonce::assume_unique_for_key(NONCE),
                        Aad::empty(),
                        &mut buf,
                    )
                    .expect("seal")
            })
        });
    }
    group.finish();
}

fn hmac_sha256(c: &mut Criterion) {
    let mut group = c.benchmark_group("mac/hmac-sha256");
    let aws_lc = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEY);
    for size in [1024, 1 << 20] {
        group.throughput(Throughput::Bytes(size as u64));
        let msg = message(size);
        group.bench_function(BenchmarkId::new("hmac", size_label(size)), |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&KEY).expect("any key length");
                mac.update(black_box(&msg));
                mac.finalize().into_bytes()
            })
        });
        group.bench_function(BenchmarkId::new("aws-lc-rs", size_label(size)), |b| {
            b.iter(|| aws_lc_rs::hmac::sign(&aws_lc, black_box(&msg)))
        });
    }
    group.finish();
}

criterion_group! {
    name = peers;
    config = palisade_benches::criterion();
    targets = aes_256_gcm_seal, hmac_sha256
}
criterion_main!(peers);
