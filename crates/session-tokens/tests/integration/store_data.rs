//! Whatever values a store hands back, the public accessors answer without panicking.

use std::time::{Duration, UNIX_EPOCH};

use session_tokens::MemoryStore;
use session_tokens::store::SessionStore;

use crate::support::*;

#[tokio::test]
async fn extreme_times_from_a_store_do_not_panic() {
    let store = std::sync::Arc::new(MemoryStore::new());
    // A custom store could hold anything; u64::MAX is past every SystemTime.
    let mut record = record(7, "acme", "alice", 0);
    record.created_at = u64::MAX;
    record.expires_at = u64::MAX;
    record.last_seen_at = u64::MAX;
    record.authenticated_at = u64::MAX;
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
