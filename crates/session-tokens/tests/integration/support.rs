//! Helpers shared by the integration tests: a manual clock, managers, token surgery.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;
use session_tokens::{
    Clock, KeySet, SessionManager, SessionManagerBuilder, SessionRequest, SessionStore, SigningKey,
    TenantId, UserId,
};

pub(crate) const ISSUER: &str = "https://auth.example.com";
pub(crate) const AUDIENCE: &str = "https://app.example.com";
pub(crate) const HS_SECRET: [u8; 32] = *b"0123456789abcdef0123456789abcdef";
pub(crate) const HS_KID: &str = "hs-2025";
pub(crate) const ED_SEED: [u8; 32] = [0x42; 32];
pub(crate) const ED_KID: &str = "ed-2025";
/// 2025-01-01T00:00:00Z.
pub(crate) const START: u64 = 1_735_689_600;

/// A clock the test moves by hand; clones share the time.
#[derive(Clone, Debug)]
pub(crate) struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicU64::new(START)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    pub(crate) fn secs(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn now_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.secs())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.now_time()
    }
}

pub(crate) fn hs_key() -> SigningKey {
    SigningKey::hs256(HS_KID, &HS_SECRET).expect("32-byte secret")
}

pub(crate) fn ed_key() -> SigningKey {
    SigningKey::ed25519_from_seed(ED_KID, &ED_SEED).expect("valid seed")
}

/// A builder with the test issuer, audience and clock.
pub(crate) fn builder(
    keys: KeySet,
    store: impl SessionStore,
    clock: &ManualClock,
) -> SessionManagerBuilder {
    SessionManager::builder(keys, store)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .dangerous()
        .clock(clock.clone())
        .done()
}

/// An HS256 manager over `store`.
pub(crate) fn manager(store: impl SessionStore, clock: &ManualClock) -> SessionManager {
    builder(KeySet::new(hs_key()), store, clock)
        .build()
        .expect("valid configuration")
}

pub(crate) fn tenant(name: &str) -> TenantId {
    TenantId::new(name).expect("valid tenant id")
}

pub(crate) fn user(name: &str) -> UserId {
    UserId::new(name).expect("valid user id")
}

pub(crate) fn request(tenant_name: &str, user_name: &str) -> SessionRequest {
    SessionRequest::new(tenant(tenant_name), user(user_name))
}

/// The three parts of a compact JWS, decoded: header JSON, claims JSON, signature bytes.
pub(crate) fn open(token: &str) -> (Value, Value, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three parts");
    let json = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    (
        json(parts[0]),
        json(parts[1]),
        URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url"),
    )
}

/// The `sid` claim of a token.
pub(crate) fn sid_of(token: &str) -> String {
    open(token).1["sid"]
        .as_str()
        .expect("sid is a string")
        .to_owned()
}

/// Signs `header` and `claims` as a compact JWS with jsonwebtoken's RustCrypto provider.
pub(crate) fn sign(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("JSON"));
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON")));
    let signer = (DEFAULT_PROVIDER.signer_factory)(&alg, key).expect("key matches algorithm");
    let signature = signer.try_sign(token.as_bytes()).expect("signing");
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// `token` with its header and claims changed by `edit`, signed again with the test HS256
/// key: a token the attacker could only make with the key.
pub(crate) fn resign_hs(token: &str, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let (mut header, mut claims, _) = open(token);
    edit(&mut header, &mut claims);
    sign(
        &header,
        &claims,
        Algorithm::HS256,
        &EncodingKey::from_secret(&HS_SECRET),
    )
}

/// `token` with its claims changed by `edit` and the original signature kept.
pub(crate) fn tamper_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let (_, mut claims, _) = open(token);
    edit(&mut claims);
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("JSON")),
        parts[2]
    )
}

/// The base64url HS256 signature of `signing_input` under the test key.
pub(crate) fn hs_signature(signing_input: &str) -> String {
    let key = EncodingKey::from_secret(&HS_SECRET);
    let signer = (DEFAULT_PROVIDER.signer_factory)(&Algorithm::HS256, &key).expect("HS256");
    URL_SAFE_NO_PAD.encode(signer.try_sign(signing_input.as_bytes()).expect("signing"))
}

/// A token made from `token`'s header and claims JSON *texts*, changed by `edit` as text
/// (whitespace, member order survive), and signed with the test HS256 key.
pub(crate) fn sign_segments(
    token: &str,
    edit: impl FnOnce(&str, &str) -> (String, String),
) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let text = |part: &str| {
        String::from_utf8(URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("UTF-8")
    };
    let (header, claims) = edit(&text(parts[0]), &text(parts[1]));
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = hs_signature(&signing_input);
    format!("{signing_input}.{signature}")
}
