//! Verifying a Standard Webhooks delivery, beside raw HMAC-SHA256 over the same body and
//! the `svix` crate's `Webhook::verify`, in the same run.
//!
//! Targets: at 1 MiB at least 0.95x the throughput of raw HMAC-SHA256 (verification adds
//! no pass over the body); at 1 KiB faster than `svix`.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use palisade_benches::{message, size_label};
use sha2::Sha256;
use webhook_verify::http::HeaderMap;
use webhook_verify::{
    ManualClock, Message, Scheme, Secret, SignRequest, Signer, SigningSecret, Verifier,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("webhook/verify");
    // svix checks the timestamp against the system clock, so sign with the current time;
    // this crate's verifier reads a clock standing at that time, so however long the run
    // takes, its deliveries stay inside the window.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let now = i64::try_from(now).expect("seconds fit i64");
    let scheme = Scheme::StandardWebhooks;
    let signer = Signer::new(
        scheme.clone(),
        SigningSecret::parse(&scheme, SECRET).expect("secret"),
    )
    .expect("signer");
    let verifier = Verifier::builder(scheme.clone())
        .secret(Secret::parse(&scheme, SECRET).expect("secret"))
        .clock(ManualClock::new(now))
        .body_limit(2 << 20)
        .build()
        .expect("verifier");
    let svix = svix::webhooks::Webhook::new(SECRET).expect("svix secret");
    let key = base64_key();

    for size in [1024, 1 << 20] {
        group.throughput(Throughput::Bytes(size as u64));
        // svix only accepts UTF-8 bodies: use ASCII so both can verify the same bytes.
        let body: Vec<u8> = message(size).iter().map(|b| b'a' + b % 26).collect();
        let headers: HeaderMap = signer
            .sign(&SignRequest::new(&body).id(ID).timestamp(now))
            .expect("sign");
        verifier
            .verify_sync(&Message::new(&headers, &body))
            .expect("palisade verifies");
        svix.verify(&body, &headers).expect("svix verifies");

        group.bench_function(BenchmarkId::new("palisade", size_label(size)), |b| {
            b.iter(|| {
                verifier
                    .verify_sync(&Message::new(black_box(&headers), black_box(&body)))
                    .expect("valid")
            })
        });
        group.bench_function(BenchmarkId::new("hmac-sha256", size_label(size)), |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
                mac.update(black_box(&body));
                mac.finalize().into_bytes()
            })
        });
        group.bench_function(BenchmarkId::new("svix", size_label(size)), |b| {
            b.iter(|| {
                svix.verify(black_box(&body), black_box(&headers))
                    .expect("valid")
            })
        });
    }
    group.finish();
}

fn base64_key() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("base64 secret")
}

criterion_group! {
    name = webhooks;
    config = palisade_benches::criterion();
    targets = verify
}
criterion_main!(webhooks);
