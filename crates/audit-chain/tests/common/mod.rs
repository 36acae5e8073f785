//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use audit_chain::{
    Action, AuditLog, Event, ManualClock, MemoryStore, SigningKey, Store, TenantId, Timestamp,
};

/// A fixed signing key.
pub fn signer() -> SigningKey {
    SigningKey::from_seed("audit.test", &[42; 32]).expect("valid key name")
}

pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).expect("valid tenant")
}

pub fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-01T09:00:00Z").expect("valid time")
}

/// A log over `store` with a manual clock starting at [`start`] and the fixed key.
pub fn log<S: Store>(store: S) -> (AuditLog<S, ManualClock>, ManualClock) {
    let clock = ManualClock::new(start());
    let log = AuditLog::builder(store)
        .clock(clock.clone())
        .signer(signer())
        .build()
        .expect("valid configuration");
    (log, clock)
}

/// A varied event: the actor, action and outcome cycle with `i`.
pub fn event(tenant: &TenantId, i: u64) -> Event {
    let actor = format!("user-{}", i % 3);
    match i % 4 {
        0 => Event::login_succeeded(
            tenant.clone(),
            actor,
            "203.0.113.7".parse().expect("ip"),
            "Mozilla/5.0 (X11; Linux x86_64)",
        ),
        1 => Event::login_failed(
            tenant.clone(),
            actor,
            "2001:db8::7".parse().expect("ip"),
            "curl/8.5",
        ),
        2 => Event::approval_granted(tenant.clone(), actor, format!("invoice-{i}"))
            .detail("amount", i * 10),
        _ => Event::new(
            tenant.clone(),
            actor,
            Action::custom("billing.invoice.sent").expect("custom code"),
        )
        .detail("n", i),
    }
}

pub fn memory_log() -> (AuditLog<MemoryStore, ManualClock>, ManualClock) {
    log(MemoryStore::new())
}
