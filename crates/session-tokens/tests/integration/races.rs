//! Sign-ins that meet trouble in the store: a password change in the middle, a cap that
//! cannot be applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use session_tokens::store::{Lookup, SessionRecord, SessionStore, StoreFuture};
use session_tokens::{
    Error, KeySet, MemoryStore, Reason, SessionHandle, StoreError, TenantId, UserId,
};
use tokio::sync::Notify;

use crate::support::*;

/// A memory store whose next `insert`, once armed, waits for the test's go-ahead: the
/// issuing request has read the user's generation and signed its token, and stalls
/// just before its record is stored. Its `revoke_oldest` can be made to fail.
#[derive(Default)]
struct StallingStore {
    inner: MemoryStore,
    armed: AtomicBool,
    reached: Notify,
    release: Notify,
    cap_fails: AtomicBool,
}

impl SessionStore for StallingStore {
    fn insert<'a>(&'a self, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if self.armed.swap(false, Ordering::SeqCst) {
                self.reached.notify_one();
                self.release.notified().await;
            }
            self.inner.insert(record).await
        })
    }
    fn lookup<'a>(&'a self, handle: &'a SessionHandle) -> StoreFuture<'a, Option<Lookup>> {
        self.inner.lookup(handle)
    }
    fn touch<'a>(&'a self, handle: &'a SessionHandle, now: u64, min: u64) -> StoreFuture<'a, bool> {
        self.inner.touch(handle, now, min)
    }
    fn list<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
        limit: usize,
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        self.inner.list(tenant, user, now, limit)
    }
    fn generation<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId) -> StoreFuture<'a, u64> {
        self.inner.generation(tenant, user)
    }
    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        handle: &'a SessionHandle,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        self.inner.revoke(tenant, user, handle, now)
    }
    fn revoke_all<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: Option<&'a SessionHandle>,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        self.inner.revoke_all(tenant, user, keep, now)
    }
    fn revoke_oldest<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: &'a SessionHandle,
        others: usize,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        if self.cap_fails.load(Ordering::SeqCst) {
            return Box::pin(async { Err(StoreError::msg("revoke_oldest")) });
        }
        self.inner.revoke_oldest(tenant, user, keep, others, now)
    }
    fn bump_generation<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        self.inner.bump_generation(tenant, user, now)
    }
    fn purge(&self, before: u64) -> StoreFuture<'_, u64> {
        self.inner.purge(before)
    }
}

#[tokio::test]
async fn a_session_issued_during_a_password_change_dies_too() {
    let store = Arc::new(StallingStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let current = manager.issue(request("acme", "alice")).await.unwrap();

    // A second sign-in reads generation 0, signs its token, and stalls before storing.
    store.armed.store(true, Ordering::SeqCst);
    let racing = tokio::spawn({
        let manager = manager.clone();
        async move { manager.issue(request("acme", "alice")).await }
    });
    store.reached.notified().await;

    // Meanwhile the password changes: generation 1, every stored session revoked.
    let renewed = manager.password_changed(current.session()).await.unwrap();
    // Now the stalled record lands, unrevoked, carrying generation 0.
    store.release.notify_one();
    let racing = racing.await.unwrap().unwrap();

    let refused = manager.verify(racing.token().expose()).await.unwrap_err();
    assert_eq!(refused.rejection(), Some(Reason::StaleGeneration));
    let renewed_session = manager.verify(renewed.token().expose()).await.unwrap();
    let listed = manager.list(&renewed_session).await.unwrap();
    assert_eq!(listed.len(), 1, "the stale session is not listed either");
    assert_eq!(listed[0].handle(), renewed_session.handle());
}

#[tokio::test]
async fn a_sign_in_whose_cap_cannot_be_applied_is_not_handed_out() {
    let store = Arc::new(StallingStore::default());
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs_key()), Arc::clone(&store), &clock)
        .max_sessions_per_user(1)
        .build()
        .unwrap();
    let first = manager.issue(request("acme", "alice")).await.unwrap();
    store.cap_fails.store(true, Ordering::SeqCst);
    let err = manager.issue(request("acme", "alice")).await.unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    // The record stored before the cap failed is revoked; the first session lives on.
    let listed = manager
        .list_user(&tenant("acme"), &user("alice"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].handle(), first.session().handle());
}
