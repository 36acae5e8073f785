//! Sign-ins that meet trouble in the store: a password change, an administrator's
//! revocation or a sign-out of other devices in the middle, a cap that cannot be applied.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use session_tokens::{Aal, Error, Issued, KeySet, Reason, SessionManager};

use crate::support::*;

#[tokio::test]
async fn a_session_issued_during_a_password_change_dies_too() {
    let store = Arc::new(FaultyStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let current = manager.issue(request("acme", "alice")).await.unwrap();

    // A second sign-in reads generation 0, signs its token, and stalls before storing.
    let racing = stalled_sign_in(&store, &manager).await;

    // Meanwhile the password changes: generation 1, every stored session revoked.
    let renewed = manager.password_changed(current.session()).await.unwrap();
    // Now the stalled record lands, unrevoked, carrying generation 0.
    store.release_insert.notify_one();
    let racing = racing.await.unwrap().unwrap();

    assert_dead_beside_the_only_live(&manager, &racing, &renewed).await;
}

/// Starts `issue` for alice and returns once it has signed its token and stalled before
/// storing the record (under the generation it read before stalling).
async fn stalled_sign_in(
    store: &FaultyStore,
    manager: &SessionManager,
) -> tokio::task::JoinHandle<Result<Issued, Error>> {
    store.stall_next_insert.store(true, Ordering::SeqCst);
    let racing = tokio::spawn({
        let manager = manager.clone();
        async move { manager.issue(request("acme", "alice")).await }
    });
    store.insert_stalled.notified().await;
    racing
}

/// A sign-in for alice whose record lands just after an administrator revoked her
/// sessions (the account is suspended while the sign-in is between its checks and its
/// insert): the sign-in's session, and what `revoke_user` counted.
async fn sign_in_raced_by_revoke_user(
    store: &FaultyStore,
    manager: &SessionManager,
) -> (Issued, u64) {
    let racing = stalled_sign_in(store, manager).await;
    let revoked = manager
        .revoke_user(&tenant("acme"), &user("alice"))
        .await
        .expect("revoke_user");
    store.release_insert.notify_one();
    let issued = racing
        .await
        .expect("the sign-in task")
        .expect("the sign-in");
    (issued, revoked)
}

/// Alice has no session left to list.
async fn assert_no_sessions_listed(manager: &SessionManager) {
    let listed = manager
        .list_user(&tenant("acme"), &user("alice"))
        .await
        .expect("the list");
    assert!(listed.is_empty(), "{listed:?}");
}

/// `dead` is refused for its stale generation, and `live` verifies and is the only
/// session its user has listed.
async fn assert_dead_beside_the_only_live(manager: &SessionManager, dead: &Issued, live: &Issued) {
    let refused = manager
        .verify(dead.token().expose())
        .await
        .expect_err("the stale session is refused");
    assert_eq!(refused.rejection(), Some(Reason::StaleGeneration));
    let live = manager
        .verify(live.token().expose())
        .await
        .expect("the live session verifies");
    let listed = manager.list(&live).await.expect("the list");
    assert_eq!(listed.len(), 1, "the stale session is not listed");
    assert_eq!(listed[0].handle(), live.handle());
}

#[tokio::test]
async fn a_session_issued_during_an_administrator_revocation_dies_too() {
    let store = Arc::new(FaultyStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let earlier = manager.issue(request("acme", "alice")).await.unwrap();
    let (racing, revoked) = sign_in_raced_by_revoke_user(&store, &manager).await;
    assert_eq!(revoked, 1, "the stalled record is not stored yet");

    for token in [&racing, &earlier] {
        let refused = manager.verify(token.token().expose()).await.unwrap_err();
        assert_eq!(refused.rejection(), Some(Reason::StaleGeneration));
    }
    assert_no_sessions_listed(&manager).await;
}

/// A sign-in whose record landed after an administrator's revocation is dead; signing
/// out other devices or changing the password from it must not bring it back.
#[tokio::test]
async fn a_session_stale_from_birth_is_not_renewed() {
    for password_change in [false, true] {
        let store = Arc::new(FaultyStore::default());
        let clock = ManualClock::new();
        let manager = manager(Arc::clone(&store), &clock);
        let (stale, _) = sign_in_raced_by_revoke_user(&store, &manager).await;

        let refused = if password_change {
            manager.password_changed(stale.session()).await.unwrap_err()
        } else {
            manager.revoke_others(stale.session()).await.unwrap_err()
        };
        assert_eq!(
            refused.rejection(),
            Some(Reason::StaleGeneration),
            "password change: {password_change}"
        );
        assert_no_sessions_listed(&manager).await;
    }
}

#[tokio::test]
async fn a_session_issued_while_signing_out_other_devices_dies_too() {
    let store = Arc::new(FaultyStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let current = manager.issue(request("acme", "alice")).await.unwrap();
    let racing = stalled_sign_in(&store, &manager).await;

    let (kept, revoked) = manager.revoke_others(current.session()).await.unwrap();
    assert_eq!(revoked, 0, "the stalled record is not stored yet");
    store.release_insert.notify_one();
    let racing = racing.await.unwrap().unwrap();

    assert_dead_beside_the_only_live(&manager, &racing, &kept).await;
}

#[tokio::test]
async fn a_step_up_during_an_administrator_revocation_dies_too() {
    let store = Arc::new(FaultyStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let current = manager.issue(request("acme", "alice")).await.unwrap();

    // The step-up revokes the old session and stalls before storing its replacement.
    store.stall_next_insert.store(true, Ordering::SeqCst);
    let stepping = tokio::spawn({
        let (manager, session) = (manager.clone(), current.session().clone());
        async move { manager.step_up(&session, Aal::Aal2, ["otp"]).await }
    });
    store.insert_stalled.notified().await;
    manager
        .revoke_user(&tenant("acme"), &user("alice"))
        .await
        .unwrap();
    store.release_insert.notify_one();
    let stepped = stepping.await.unwrap().unwrap();

    let refused = manager.verify(stepped.token().expose()).await.unwrap_err();
    assert_eq!(refused.rejection(), Some(Reason::StaleGeneration));
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

/// When revoking one session or counting a user's sessions fails, the generation bump,
/// which is what kills every session, still runs: a password change, a sign-out of other
/// devices or an administrator's revocation that reports an error has not left the
/// sessions it was meant to end alive.
#[tokio::test]
async fn a_failed_revocation_still_bumps_the_generation() {
    for action in ["password change", "other devices", "revoke user"] {
        let store = Arc::new(FaultyStore::default());
        let clock = ManualClock::new();
        let manager = manager(Arc::clone(&store), &clock);
        let current = manager.issue(request("acme", "alice")).await.unwrap();
        let other = manager.issue(request("acme", "alice")).await.unwrap();
        store.revokes_fail.store(true, Ordering::SeqCst);

        let err = match action {
            "password change" => manager.password_changed(current.session()).await.map(drop),
            "other devices" => manager.revoke_others(current.session()).await.map(drop),
            _ => manager
                .revoke_user(&tenant("acme"), &user("alice"))
                .await
                .map(drop),
        }
        .expect_err(action);
        assert!(matches!(err, Error::Store(_)), "{action}: {err:?}");

        for issued in [&current, &other] {
            let refused = manager.verify(issued.token().expose()).await.unwrap_err();
            assert_eq!(
                refused.rejection(),
                Some(Reason::StaleGeneration),
                "{action}"
            );
        }
        assert_no_sessions_listed(&manager).await;
    }
}

/// When counting the other sessions fails but the renewal went through, signing out other
/// devices reports the error and leaves no live replacement that nobody was given.
#[tokio::test]
async fn a_replacement_that_is_not_handed_out_is_revoked() {
    let store = Arc::new(FaultyStore::default());
    let clock = ManualClock::new();
    let manager = manager(Arc::clone(&store), &clock);
    let current = manager.issue(request("acme", "alice")).await.unwrap();
    store.revoke_all_fails.store(true, Ordering::SeqCst);
    let err = manager.revoke_others(current.session()).await.unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert_no_sessions_listed(&manager).await;
}
