//! Sign-ins that meet trouble in the store: a password change in the middle, a cap that
//! cannot be applied.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use session_tokens::{Error, KeySet, Reason};

use crate::support::*;

#[tokio::test]
async fn a_session_issued_during_a_password_change_dies_too() {
    let store = Arc::new(FaultyStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let current = manager.issue(request("acme", "alice")).await.unwrap();

    // A second sign-in reads generation 0, signs its token, and stalls before storing.
    store.stall_next_insert.store(true, Ordering::SeqCst);
    let racing = tokio::spawn({
        let manager = manager.clone();
        async move { manager.issue(request("acme", "alice")).await }
    });
    store.insert_stalled.notified().await;

    // Meanwhile the password changes: generation 1, every stored session revoked.
    let renewed = manager.password_changed(current.session()).await.unwrap();
    // Now the stalled record lands, unrevoked, carrying generation 0.
    store.release_insert.notify_one();
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
    let store = Arc::new(FaultyStore::default());
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
