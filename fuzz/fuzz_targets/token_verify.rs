//! Arbitrary session tokens never panic and never verify unless genuine.
//!
//! The first byte picks a mode:
//! - even: the rest is the token text, verified as it comes (and read from a `Cookie`);
//! - odd: the rest is `header JSON 0xFF claims JSON`, signed with the manager's key, so the
//!   fuzzer reaches the claim checks and the store lookup behind the signature.
//!
//! The manager holds one live session whose `sid` the seed corpus knows, so the record
//! checks (tenant, user, level, generation, lifetimes) are reachable too.

#![no_main]

use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use session_tokens::{
    Clock, Error, KeySet, MemoryStore, RandomSource, SessionManager, SessionRequest, SigningKey,
    TenantId, UserId,
};

const SECRET: [u8; 32] = [0x11; 32];
/// 2025-01-01T00:00:00Z.
const NOW: u64 = 1_735_689_600;

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }
}

/// Session ids 00 01 02 ... 1f: the seed corpus signs claims naming that session.
struct CountingRandom;

impl RandomSource for CountingRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        for (i, byte) in dest.iter_mut().enumerate() {
            *byte = u8::try_from(i).unwrap_or(u8::MAX);
        }
        Ok(())
    }
}

fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

static MANAGER: LazyLock<(SessionManager, String)> = LazyLock::new(|| {
    let key = SigningKey::hs256("fuzz", &SECRET).expect("32-byte secret");
    let manager = SessionManager::builder(KeySet::new(key), MemoryStore::new())
        .issuer("https://auth.example.com")
        .audience("https://app.example.com")
        .idle_timeout(Duration::from_secs(3600))
        .dangerous()
        .clock(FixedClock)
        .random(CountingRandom)
        .done()
        .build()
        .expect("valid configuration");
    let request = SessionRequest::new(
        TenantId::new("acme").expect("tenant"),
        UserId::new("alice").expect("user"),
    )
    .amr(["pwd"]);
    let issued = ready(manager.issue(request)).expect("issue");
    let token = issued.token().expose().to_owned();
    (manager, token)
});

fn sign(header: &[u8], claims: &[u8]) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signer = (DEFAULT_PROVIDER.signer_factory)(&Algorithm::HS256, &EncodingKey::from_secret(&SECRET))
        .expect("HS256 signer");
    let signature = signer.try_sign(token.as_bytes()).expect("HMAC never fails");
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

fuzz_target!(|data: &[u8]| {
    let (manager, genuine) = &*MANAGER;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (token, signed) = if mode % 2 == 0 {
        (String::from_utf8_lossy(rest).into_owned(), false)
    } else {
        let split = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
        let claims = rest.get(split + 1..).unwrap_or_default();
        (sign(&rest[..split], claims), true)
    };
    match ready(manager.verify(&token)) {
        Ok(session) => {
            // Only the genuine session exists; whatever verified must be it.
            let expected = ready(manager.verify(genuine)).expect("the genuine token verifies");
            assert_eq!(session, expected, "a forged token verified as another session");
            assert!(signed || token == *genuine, "an unsigned change verified");
        }
        Err(Error::Invalid(_)) => {}
        Err(other) => panic!("verification failed with a non-rejection: {other:?}"),
    }
    if let Ok(value) = http::HeaderValue::from_bytes(rest) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, value);
        if let Ok(found) = manager.token_from_headers(&headers) {
            let _ = ready(manager.verify(found));
        }
    }
});
