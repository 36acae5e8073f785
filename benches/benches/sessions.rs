//! Session verification: `session-tokens` (signature, claims and one store lookup) beside a
//! raw `jsonwebtoken::decode` of the same token (signature and claims only), in the same
//! run, for HS256 and EdDSA; and the same verification against a SQLite store.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use session_tokens::{
    KeySet, MemoryStore, SessionManager, SessionRequest, SessionStore, SigningKey, SqliteStore,
    TenantId, UserId,
};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://app.example.com";
const HS_SECRET: [u8; 32] = [0x5a; 32];
const ED_SEED: [u8; 32] = [0x42; 32];

/// The claims a session token carries, as an application decoding it with jsonwebtoken
/// alone would declare them.
#[derive(Deserialize)]
#[expect(dead_code, reason = "decoded to measure the decoding")]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    org: String,
    sid: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    auth_time: u64,
    aal: u8,
    amr: Vec<String>,
    #[serde(rename = "gen")]
    generation: u64,
}

/// Runs a future that never waits (the memory store answers at once) without a runtime,
/// so the measurement holds no executor overhead.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

fn signing_key(algorithm: &str) -> SigningKey {
    match algorithm {
        "HS256" => SigningKey::hs256("bench", &HS_SECRET).expect("32-byte secret"),
        _ => SigningKey::ed25519_from_seed("bench", &ED_SEED).expect("seed"),
    }
}

fn raw_key_and_validation(algorithm: &str) -> (DecodingKey, Validation) {
    let (key, alg) = match algorithm {
        "HS256" => (
            DecodingKey::from_secret(&HS_SECRET),
            jsonwebtoken::Algorithm::HS256,
        ),
        _ => {
            let public = signing_key(algorithm)
                .ed25519_public_key()
                .expect("an Ed25519 key");
            (
                DecodingKey::from_ed_der(&public),
                jsonwebtoken::Algorithm::EdDSA,
            )
        }
    };
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    (key, validation)
}

fn manager(algorithm: &str, store: impl SessionStore) -> SessionManager {
    SessionManager::builder(KeySet::new(signing_key(algorithm)), store)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("valid configuration")
}

fn session_request() -> SessionRequest {
    SessionRequest::new(
        TenantId::new("acme").expect("tenant"),
        UserId::new("user-0042").expect("user"),
    )
    .amr(["pwd"])
    .ip("203.0.113.9".parse().expect("an IP address"))
    .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
    .label("laptop")
}

fn verify(c: &mut Criterion) {
    // The raw peer goes through jsonwebtoken's process-wide provider: pin it to RustCrypto,
    // the backend session-tokens uses.
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");

    let mut group = c.benchmark_group("sessions/verify");
    for algorithm in ["HS256", "EdDSA"] {
        let memory = manager(algorithm, MemoryStore::new());
        // Other users' sessions in the store, so the lookup is not into an empty map.
        for _ in 0..10_000 {
            ready(memory.issue(session_request())).expect("issue");
        }
        let issued = ready(memory.issue(session_request())).expect("issue");
        let token = issued.token().expose().to_owned();

        let sqlite_store = runtime
            .block_on(SqliteStore::open(
                dir.path().join(format!("{algorithm}.db")),
            ))
            .expect("SQLite store");
        let sqlite = manager(algorithm, sqlite_store);
        let sqlite_token = runtime
            .block_on(sqlite.issue(session_request()))
            .expect("issue")
            .token()
            .expose()
            .to_owned();

        let (raw_key, validation) = raw_key_and_validation(algorithm);
        jsonwebtoken::decode::<Claims>(&token, &raw_key, &validation)
            .expect("the peer accepts the token");

        group.bench_function(BenchmarkId::new("palisade-memory", algorithm), |b| {
            b.iter(|| ready(memory.verify(black_box(&token))).expect("valid session"))
        });
        group.bench_function(BenchmarkId::new("jsonwebtoken", algorithm), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Claims>(black_box(&token), &raw_key, &validation)
                    .expect("valid token")
            })
        });
        group.bench_function(BenchmarkId::new("palisade-sqlite", algorithm), |b| {
            b.iter(|| {
                runtime
                    .block_on(sqlite.verify(black_box(&sqlite_token)))
                    .expect("valid session")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = sessions;
    config = palisade_benches::criterion();
    targets = verify
}
criterion_main!(sessions);
