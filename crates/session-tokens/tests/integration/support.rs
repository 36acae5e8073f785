//! Helpers shared by the integration tests: a manual clock, managers, token surgery.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;
use session_tokens::store::{Lookup, SessionRecord, StoreFuture};
use session_tokens::{
    Aal, Clock, KeySet, MemoryStore, SessionHandle, SessionManager, SessionManagerBuilder,
    SessionRequest, SessionStore, SigningKey, StoreError, TenantId, UserId,
};
use tokio::sync::Notify;

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

/// A live record `n` of `user_name` in `tenant_name`, created at `created_at` and ending
/// 1000 s later, with every optional field set.
pub(crate) fn record(n: u8, tenant_name: &str, user_name: &str, created_at: u64) -> SessionRecord {
    SessionRecord {
        handle: SessionHandle::from_bytes([n; 32]),
        tenant: tenant(tenant_name),
        user: user(user_name),
        generation: 0,
        created_at,
        expires_at: created_at + 1000,
        last_seen_at: created_at,
        authenticated_at: created_at,
        aal: Aal::Aal1,
        amr: vec!["pwd".into()],
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
        label: Some("work laptop".into()),
        revoked_at: None,
    }
}

/// A memory store with faults a test switches on: every call failing like an unreachable
/// database (`down`); the next insert stalling until the test releases it
/// (`stall_next_insert`, then `insert_stalled` / `release_insert`); `revoke_oldest`
/// failing (`cap_fails`); `revoke` and `revoke_all` failing while the rest works
/// (`revokes_fail`), or `revoke_all` alone (`revoke_all_fails`).
#[derive(Default)]
pub(crate) struct FaultyStore {
    inner: MemoryStore,
    pub(crate) down: AtomicBool,
    pub(crate) stall_next_insert: AtomicBool,
    pub(crate) insert_stalled: Notify,
    pub(crate) release_insert: Notify,
    pub(crate) cap_fails: AtomicBool,
    pub(crate) revokes_fail: AtomicBool,
    pub(crate) revoke_all_fails: AtomicBool,
}

impl FaultyStore {
    fn reach(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::new(
                operation,
                std::io::Error::other("connection refused"),
            ));
        }
        Ok(())
    }
}

impl SessionStore for FaultyStore {
    fn insert<'a>(&'a self, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.reach("insert")?;
            if self.stall_next_insert.swap(false, Ordering::SeqCst) {
                self.insert_stalled.notify_one();
                self.release_insert.notified().await;
            }
            self.inner.insert(record).await
        })
    }
    fn lookup<'a>(&'a self, handle: &'a SessionHandle) -> StoreFuture<'a, Option<Lookup>> {
        Box::pin(async move {
            self.reach("lookup")?;
            self.inner.lookup(handle).await
        })
    }
    fn touch<'a>(&'a self, handle: &'a SessionHandle, now: u64, min: u64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.reach("touch")?;
            self.inner.touch(handle, now, min).await
        })
    }
    fn list<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
        limit: usize,
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        Box::pin(async move {
            self.reach("list")?;
            self.inner.list(tenant, user, now, limit).await
        })
    }
    fn generation<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.reach("generation")?;
            self.inner.generation(tenant, user).await
        })
    }
    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        handle: &'a SessionHandle,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.reach("revoke")?;
            if self.revokes_fail.load(Ordering::SeqCst) {
                return Err(StoreError::msg("revoke"));
            }
            self.inner.revoke(tenant, user, handle, now).await
        })
    }
    fn revoke_all<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: Option<&'a SessionHandle>,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.reach("revoke_all")?;
            if self.revokes_fail.load(Ordering::SeqCst)
                || self.revoke_all_fails.load(Ordering::SeqCst)
            {
                return Err(StoreError::msg("revoke_all"));
            }
            self.inner.revoke_all(tenant, user, keep, now).await
        })
    }
    fn revoke_oldest<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: &'a SessionHandle,
        others: usize,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.reach("revoke_oldest")?;
            if self.cap_fails.load(Ordering::SeqCst) {
                return Err(StoreError::msg("revoke_oldest"));
            }
            self.inner
                .revoke_oldest(tenant, user, keep, others, now)
                .await
        })
    }
    fn bump_generation<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.reach("bump_generation")?;
            self.inner.bump_generation(tenant, user, now).await
        })
    }
    fn purge(&self, before: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            self.reach("purge")?;
            self.inner.purge(before).await
        })
    }
}
