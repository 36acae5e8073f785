//! Whatever values a store hands back, the public accessors answer without panicking.

use std::time::{Duration, UNIX_EPOCH};

use session_tokens::store::{SessionRecord, SessionStore};
use session_tokens::{Aal, MemoryStore, SessionHandle};

use crate::support::*;

#[tokio::test]
async fn extreme_times_from_a_store_do_not_panic() {
    let store = std::sync::Arc::new(MemoryStore::new());
    // A custom store could hold anything; u64::MAX is past every SystemTime.
    let record = SessionRecord {
        handle: SessionHandle::from_bytes([7; 32]),
        tenant: tenant("acme"),
        user: user("alice"),
        generation: 0,
        created_at: u64::MAX,
        expires_at: u64::MAX,
        last_seen_at: u64::MAX,
        authenticated_at: u64::MAX,
        aal: Aal::Aal1,
        amr: Vec::new(),
        ip: None,
        user_agent: None,
        label: None,
        revoked_at: None,
    };
    store.insert(&record).await.unwrap();
    let clock = ManualClock::new();
    let manager = manager(std::sync::Arc::clone(&store), &clock);
    let listed = manager
        .list_user(&tenant("acme"), &user("alice"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let info = &listed[0];
    // 9999-12-31T23:59:59Z: the latest time every platform holds.
    let latest = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    for time in [
        info.created_at(),
        info.expires_at(),
        info.last_seen_at(),
        info.authenticated_at(),
    ] {
        assert_eq!(time, latest);
    }
}
