//! The store conformance suite: the same checks, run against every backend.
//!
//! `store_contract` drives the [`SessionStore`] trait directly with explicit times;
//! `manager_contract` runs the session lifecycle through a [`SessionManager`] on the store.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use session_tokens::store::{SessionRecord, SessionStore};
use session_tokens::{Aal, Error, MemoryStore, Reason, Session, SessionHandle, SessionInfo};

use crate::support::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// No limit on a listing.
const ALL: usize = usize::MAX;

fn handles(records: &[SessionRecord]) -> Vec<SessionHandle> {
    records.iter().map(|r| r.handle).collect()
}

/// The [`SessionStore`] contract, driven with explicit times.
pub(crate) async fn store_contract(store: &dyn SessionStore) -> TestResult {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let (alice, bob) = (user("alice"), user("bob"));

    // Nothing yet.
    let r1 = record(1, "acme", "alice", 100);
    assert_eq!(store.lookup(&r1.handle).await?, None);
    assert_eq!(store.generation(&acme, &alice).await?, 0);
    assert!(store.list(&acme, &alice, 100, ALL).await?.is_empty());

    // Insert and read back, field for field.
    store.insert(&r1).await?;
    let found = store.lookup(&r1.handle).await?.expect("present");
    assert_eq!(found.record, r1);
    assert_eq!(found.current_generation, 0);
    assert!(store.insert(&r1).await.is_err(), "handles are unique");

    // Optional fields empty, and unusual but valid values, round trip too.
    let mut r2 = record(2, "acme", "alice", 150);
    (r2.ip, r2.user_agent, r2.label, r2.amr) = (None, None, None, Vec::new());
    r2.aal = Aal::Aal3;
    let mut r3 = record(3, "acme", "alice", 120);
    r3.ip = Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)));
    r3.user_agent = Some("Ünïcödé 🦀 agent".into());
    r3.label = Some("téléphone".into());
    r3.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
    r3.aal = Aal::Aal2;
    for r in [&r2, &r3] {
        store.insert(r).await?;
        assert_eq!(store.lookup(&r.handle).await?.expect("present").record, *r);
    }

    // Same user id in another tenant, and another user: kept apart.
    let other_tenant = record(4, "globex", "alice", 130);
    let other_user = record(5, "acme", "bob", 130);
    store.insert(&other_tenant).await?;
    store.insert(&other_user).await?;

    // List: live sessions of one user, newest first; expired ones left out; the newest
    // `limit` of them.
    let listed = store.list(&acme, &alice, 200, ALL).await?;
    assert_eq!(handles(&listed), [r2.handle, r3.handle, r1.handle]);
    assert_eq!(
        handles(&store.list(&acme, &alice, 200, 2).await?),
        [r2.handle, r3.handle]
    );
    assert!(store.list(&acme, &alice, 200, 0).await?.is_empty());
    assert_eq!(listed[1], r3);
    assert_eq!(
        handles(&store.list(&acme, &alice, 1125, ALL).await?),
        [r2.handle]
    );
    assert_eq!(
        handles(&store.list(&globex, &alice, 200, ALL).await?),
        [other_tenant.handle]
    );

    // Touch: only once the interval has passed since the last write.
    assert!(!store.touch(&r1.handle, 130, 60).await?, "too soon");
    assert!(store.touch(&r1.handle, 160, 60).await?);
    assert_eq!(
        store
            .lookup(&r1.handle)
            .await?
            .expect("present")
            .record
            .last_seen_at,
        160
    );
    assert!(!store.touch(&r1.handle, 200, 60).await?, "too soon again");
    assert!(
        !store
            .touch(&SessionHandle::from_bytes([99; 32]), 500, 60)
            .await?
    );

    // Revoke one: only its owner's, only once.
    assert!(
        !store.revoke(&globex, &alice, &r1.handle, 300).await?,
        "wrong tenant"
    );
    assert!(
        !store.revoke(&acme, &bob, &r1.handle, 300).await?,
        "wrong user"
    );
    assert!(store.revoke(&acme, &alice, &r1.handle, 300).await?);
    assert!(
        !store.revoke(&acme, &alice, &r1.handle, 301).await?,
        "already revoked"
    );
    let revoked = store.lookup(&r1.handle).await?.expect("present").record;
    assert_eq!(revoked.revoked_at, Some(300));
    assert!(
        !store.touch(&r1.handle, 900, 0).await?,
        "revoked records stay still"
    );
    assert_eq!(
        handles(&store.list(&acme, &alice, 310, ALL).await?),
        [r2.handle, r3.handle]
    );

    // Revoke all but one, then all.
    let r6 = record(6, "acme", "alice", 140);
    store.insert(&r6).await?;
    assert_eq!(
        store
            .revoke_all(&acme, &alice, Some(&r3.handle), 320)
            .await?,
        2
    );
    assert_eq!(
        handles(&store.list(&acme, &alice, 330, ALL).await?),
        [r3.handle]
    );
    assert_eq!(store.revoke_all(&acme, &alice, None, 340).await?, 1);
    assert!(store.list(&acme, &alice, 350, ALL).await?.is_empty());
    assert_eq!(
        handles(&store.list(&globex, &alice, 350, ALL).await?),
        [other_tenant.handle],
        "another tenant's alice is untouched"
    );
    assert_eq!(
        handles(&store.list(&acme, &bob, 350, ALL).await?),
        [other_user.handle]
    );

    // Generations: a bump revokes every session and is read with each lookup.
    let r7 = record(7, "acme", "alice", 400);
    store.insert(&r7).await?;
    assert_eq!(store.bump_generation(&acme, &alice, 410).await?, 1);
    assert_eq!(store.bump_generation(&acme, &alice, 420).await?, 2);
    assert_eq!(store.generation(&acme, &alice).await?, 2);
    assert_eq!(store.generation(&globex, &alice).await?, 0);
    let found = store.lookup(&r7.handle).await?.expect("present");
    assert_eq!(found.record.revoked_at, Some(410));
    assert_eq!(found.current_generation, 2);
    // A record of an old generation stored after the bump is not listed; a current one is.
    let mut stale = record(8, "acme", "alice", 430);
    stale.generation = 1;
    let mut fresh = record(9, "acme", "alice", 440);
    fresh.generation = 2;
    store.insert(&stale).await?;
    store.insert(&fresh).await?;
    assert_eq!(
        handles(&store.list(&acme, &alice, 450, ALL).await?),
        [fresh.handle]
    );
    assert_eq!(
        store
            .lookup(&stale.handle)
            .await?
            .expect("present")
            .current_generation,
        2
    );

    // Purge: expired (r1..r6 end at created + 1000) and revoked records go.
    let purged = store.purge(1140).await?;
    assert_eq!(
        purged,
        6 + 1,
        "r1, r2, r3, r6, other_tenant, other_user expired; r7 revoked"
    );
    assert_eq!(store.lookup(&r1.handle).await?, None);
    assert_eq!(store.lookup(&r7.handle).await?, None);
    assert!(store.lookup(&fresh.handle).await?.is_some());
    assert!(store.lookup(&stale.handle).await?.is_some());
    assert_eq!(
        store.generation(&acme, &alice).await?,
        2,
        "generations survive purges"
    );
    Ok(())
}

/// The per-user cap's store side: `revoke_oldest` keeps the given session and the newest
/// live others, as `list` orders them.
pub(crate) async fn store_cap_contract(store: &dyn SessionStore) -> TestResult {
    let (initech, peter, michael) = (tenant("initech"), user("peter"), user("michael"));
    let at = |n: u8, created_at: u64, expires_at: u64| {
        let mut r = record(n, "initech", "peter", created_at);
        r.expires_at = expires_at;
        r
    };
    let (a, b, c, d) = (
        at(20, 2000, 5000),
        at(21, 2001, 5000),
        at(22, 2002, 5000),
        at(23, 2003, 5000),
    );
    // The newest by creation, but expired at 2010: it holds no place among the kept.
    let ended = at(24, 2004, 2005);
    let other_user = record(25, "initech", "michael", 2000);
    for r in [&a, &b, &c, &d, &ended, &other_user] {
        store.insert(r).await?;
    }
    let revoked_at = |r: &SessionRecord| {
        let handle = r.handle;
        async move {
            store
                .lookup(&handle)
                .await
                .map(|found| found.expect("present").record.revoked_at)
        }
    };

    // Keep b (not the newest) and the two newest other live ones: d and c.
    assert_eq!(
        store
            .revoke_oldest(&initech, &peter, &b.handle, 2, 2010)
            .await?,
        2
    );
    assert_eq!(revoked_at(&a).await?, Some(2010));
    assert_eq!(revoked_at(&ended).await?, Some(2010));
    for r in [&b, &c, &d, &other_user] {
        assert_eq!(revoked_at(r).await?, None);
    }
    assert_eq!(
        handles(&store.list(&initech, &peter, 2010, ALL).await?),
        [d.handle, c.handle, b.handle]
    );
    // Already within the cap: nothing more.
    assert_eq!(
        store
            .revoke_oldest(&initech, &peter, &b.handle, 2, 2011)
            .await?,
        0
    );
    // Ties on the creation time go by handle, as in `list`: e (26) counts as the newer.
    let (e, f) = (at(26, 2006, 5000), at(27, 2006, 5000));
    store.insert(&f).await?;
    store.insert(&e).await?;
    assert_eq!(
        store
            .revoke_oldest(&initech, &peter, &d.handle, 1, 2012)
            .await?,
        3,
        "f, c and b"
    );
    assert_eq!(
        handles(&store.list(&initech, &peter, 2012, ALL).await?),
        [e.handle, d.handle]
    );
    // Keep only the given one.
    assert_eq!(
        store
            .revoke_oldest(&initech, &peter, &d.handle, 0, 2013)
            .await?,
        1
    );
    assert_eq!(
        handles(&store.list(&initech, &peter, 2013, ALL).await?),
        [d.handle]
    );
    assert_eq!(
        handles(&store.list(&initech, &michael, 2013, ALL).await?),
        [other_user.handle],
        "another user is untouched"
    );
    assert_eq!(
        store
            .revoke_oldest(&initech, &user("nobody"), &d.handle, 0, 2014)
            .await?,
        0
    );
    Ok(())
}

/// The per-user cap through a manager: a sign-in past the cap signs out the oldest.
pub(crate) async fn manager_cap_contract(store: Arc<dyn SessionStore>) -> TestResult {
    let clock = ManualClock::new();
    let manager = builder(
        session_tokens::KeySet::new(hs_key()),
        Arc::clone(&store),
        &clock,
    )
    .max_sessions_per_user(2)
    .build()?;
    let mut issued = Vec::new();
    for _ in 0..4 {
        issued.push(manager.issue(request("hooli", "gavin")).await?);
        clock.advance(Duration::from_secs(1));
    }
    for old in &issued[..2] {
        assert_eq!(
            refusal(manager.verify(old.token().expose()).await),
            Some(Reason::Revoked)
        );
    }
    let newest = manager.verify(issued[3].token().expose()).await?;
    assert!(manager.verify(issued[2].token().expose()).await.is_ok());
    assert_eq!(
        listed(&manager.list(&newest).await?),
        [
            (*issued[3].session().handle(), true),
            (*issued[2].session().handle(), false)
        ]
    );
    // Other users have caps of their own.
    let other = manager.issue(request("hooli", "richard")).await?;
    assert!(manager.verify(issued[2].token().expose()).await.is_ok());
    assert!(manager.verify(other.token().expose()).await.is_ok());
    idle_sessions_give_way_under_the_cap(store).await
}

/// Under the cap, a session that idled out goes before an older one still in use.
async fn idle_sessions_give_way_under_the_cap(store: Arc<dyn SessionStore>) -> TestResult {
    let clock = ManualClock::new();
    let manager = builder(session_tokens::KeySet::new(hs_key()), store, &clock)
        .max_sessions_per_user(2)
        .idle_timeout(Duration::from_secs(15 * 60))
        .build()?;
    let in_use = manager.issue(request("hooli", "jared")).await?;
    clock.advance(Duration::from_secs(1));
    let left = manager.issue(request("hooli", "jared")).await?;
    clock.advance(Duration::from_secs(10 * 60));
    let session = manager.verify(in_use.token().expose()).await?;
    assert!(manager.touch(&session).await?, "in use");
    clock.advance(Duration::from_secs(10 * 60));
    let newest = manager.issue(request("hooli", "jared")).await?;
    assert!(
        manager.verify(in_use.token().expose()).await.is_ok(),
        "kept"
    );
    assert!(manager.verify(newest.token().expose()).await.is_ok());
    assert_eq!(
        refusal(manager.verify(left.token().expose()).await),
        Some(Reason::Revoked)
    );
    Ok(())
}

/// The reason behind a refusal.
fn refusal(result: Result<Session, Error>) -> Option<Reason> {
    result.expect_err("expected a refusal").rejection()
}

fn listed(infos: &[SessionInfo]) -> Vec<(SessionHandle, bool)> {
    infos
        .iter()
        .map(|i| (*i.handle(), i.is_current()))
        .collect()
}

/// The session lifecycle through a manager on `store`.
pub(crate) async fn manager_contract(store: Arc<dyn SessionStore>) -> TestResult {
    let clock = ManualClock::new();
    let manager = builder(
        session_tokens::KeySet::new(hs_key()),
        Arc::clone(&store),
        &clock,
    )
    .idle_timeout(Duration::from_secs(3600))
    .touch_interval(Duration::from_secs(60))
    .build()?;
    let ip: IpAddr = "198.51.100.7".parse()?;

    // Issue three sessions for alice on three devices, one for bob.
    let laptop = manager
        .issue(
            request("acme", "alice")
                .amr(["pwd"])
                .ip(ip)
                .user_agent("Firefox/140")
                .label("laptop"),
        )
        .await?;
    clock.advance(Duration::from_secs(10));
    let phone = manager
        .issue(request("acme", "alice").label("phone"))
        .await?;
    clock.advance(Duration::from_secs(10));
    let tablet = manager
        .issue(request("acme", "alice").label("tablet"))
        .await?;

    // Verify returns the typed session.
    let session = manager.verify(laptop.token().expose()).await?;
    assert_eq!(session, *laptop.session());
    assert_eq!(
        (session.tenant().as_str(), session.user().as_str()),
        ("acme", "alice")
    );
    assert_eq!(session.aal(), Aal::Aal1);
    assert_eq!(session.amr(), ["pwd"]);
    assert_eq!(session.ip(), Some(ip));
    assert_eq!(session.user_agent(), Some("Firefox/140"));
    assert_eq!(session.label(), Some("laptop"));
    assert_eq!(
        session.expires_at().duration_since(session.created_at())?,
        Duration::from_secs(30 * 24 * 3600)
    );

    // List: newest first, the current one marked.
    let list = manager.list(&session).await?;
    assert_eq!(
        listed(&list),
        [
            (*tablet.session().handle(), false),
            (*phone.session().handle(), false),
            (*laptop.session().handle(), true),
        ]
    );
    assert_eq!(list[2].label(), Some("laptop"));
    assert_eq!(list[2].ip(), Some(ip));
    assert_eq!(list[2].user_agent(), Some("Firefox/140"));
    assert_eq!(list[2].created_at(), session.created_at());
    assert_eq!(list[2].last_seen_at(), session.last_seen_at());

    // Touch is throttled: nothing written within the interval, then one write.
    clock.advance(Duration::from_secs(30));
    assert!(!manager.touch(&session).await?);
    clock.advance(Duration::from_secs(60));
    assert!(manager.touch(&session).await?);
    let touched = manager.verify(laptop.token().expose()).await?;
    assert_eq!(touched.last_seen_at(), clock.now_time());
    assert!(!manager.touch(&touched).await?, "just written");

    // Idle sessions drop out of the list and stop verifying.
    clock.advance(Duration::from_secs(3000));
    manager
        .touch(&manager.verify(phone.token().expose()).await?)
        .await?;
    manager
        .touch(&manager.verify(laptop.token().expose()).await?)
        .await?;
    clock.advance(Duration::from_secs(1000));
    let session = manager.verify(laptop.token().expose()).await?;
    assert_eq!(
        listed(&manager.list(&session).await?),
        [
            (*phone.session().handle(), false),
            (*laptop.session().handle(), true)
        ],
        "the tablet idled out"
    );
    assert_eq!(
        refusal(manager.verify(tablet.token().expose()).await),
        Some(Reason::IdleExpired)
    );

    // Revoke one of one's own sessions; another user's handle is left alone.
    let bob = manager.issue(request("acme", "bob")).await?;
    assert!(manager.revoke(&session, phone.session().handle()).await?);
    assert!(!manager.revoke(&session, bob.session().handle()).await?);
    assert!(manager.verify(bob.token().expose()).await.is_ok());
    assert_eq!(
        refusal(manager.verify(phone.token().expose()).await),
        Some(Reason::Revoked)
    );

    // Revoke all but the current session, which goes on under a new sid with its times
    // kept; the old token of the current session stops working.
    let desktop = manager.issue(request("acme", "alice")).await?;
    let (laptop, revoked) = manager.revoke_others(&session).await?;
    assert_eq!(revoked, 2, "desktop and idle tablet");
    assert!(manager.verify(desktop.token().expose()).await.is_err());
    let replaced = session;
    let session = manager.verify(laptop.token().expose()).await?;
    assert_ne!(session.handle(), replaced.handle());
    assert_eq!(session.label(), Some("laptop"));
    assert_eq!(session.created_at(), replaced.created_at());
    assert_eq!(session.expires_at(), replaced.expires_at());
    assert_eq!(session.authenticated_at(), replaced.authenticated_at());
    assert_eq!(
        listed(&manager.list(&session).await?),
        [(*session.handle(), true)]
    );

    // Step up: a new sid at a higher level; the old token stops working.
    manager.require_aal(&session, Aal::Aal1)?;
    assert!(matches!(
        manager.require_aal(&session, Aal::Aal2),
        Err(Error::InsufficientAal {
            required: Aal::Aal2,
            actual: Aal::Aal1
        })
    ));
    let max_age = Duration::from_secs(300);
    assert!(matches!(
        manager.require_recent_auth(&session, max_age),
        Err(Error::ReauthenticationRequired { .. })
    ));
    let stepped = manager.step_up(&session, Aal::Aal2, ["otp"]).await?;
    let stepped_session = manager.verify(stepped.token().expose()).await?;
    assert_ne!(stepped_session.handle(), session.handle());
    assert_eq!(stepped_session.aal(), Aal::Aal2);
    assert_eq!(stepped_session.amr(), ["pwd", "otp"]);
    assert_eq!(
        stepped_session.label(),
        Some("laptop"),
        "the device is the same"
    );
    assert_eq!(stepped_session.authenticated_at(), clock.now_time());
    manager.require_aal(&stepped_session, Aal::Aal2)?;
    manager.require_recent_auth(&stepped_session, max_age)?;
    assert_eq!(
        refusal(manager.verify(laptop.token().expose()).await),
        Some(Reason::Revoked)
    );
    assert!(
        manager.step_up(&session, Aal::Aal3, ["hwk"]).await.is_err(),
        "old session is gone"
    );
    // Re-authenticating at the same level still rotates the sid, and never lowers the level.
    clock.advance(Duration::from_secs(600));
    assert!(
        manager
            .require_recent_auth(&stepped_session, max_age)
            .is_err()
    );
    let reauth = manager
        .step_up(&stepped_session, Aal::Aal1, ["pwd"])
        .await?;
    let reauth_session = manager.verify(reauth.token().expose()).await?;
    assert_ne!(reauth_session.handle(), stepped_session.handle());
    assert_eq!(reauth_session.aal(), Aal::Aal2);
    manager.require_recent_auth(&reauth_session, max_age)?;
    assert!(manager.verify(stepped.token().expose()).await.is_err());

    // Rotation after a privilege change: a new sid; the times, level and methods stay.
    clock.advance(Duration::from_secs(120));
    let rotated = manager.rotate(&reauth_session).await?;
    let rotated_session = manager.verify(rotated.token().expose()).await?;
    assert_ne!(rotated_session.handle(), reauth_session.handle());
    assert_eq!(
        refusal(manager.verify(reauth.token().expose()).await),
        Some(Reason::Revoked)
    );
    assert_eq!(
        (
            rotated_session.authenticated_at(),
            rotated_session.created_at(),
            rotated_session.expires_at(),
        ),
        (
            reauth_session.authenticated_at(),
            reauth_session.created_at(),
            reauth_session.expires_at(),
        )
    );
    assert_eq!(
        (
            rotated_session.aal(),
            rotated_session.amr(),
            rotated_session.label()
        ),
        (
            reauth_session.aal(),
            reauth_session.amr(),
            reauth_session.label()
        )
    );
    assert_eq!(rotated_session.last_seen_at(), clock.now_time());
    // Not a re-authentication: two minutes on, a one-minute freshness demand still fails.
    assert!(
        manager
            .require_recent_auth(&rotated_session, Duration::from_secs(60))
            .is_err()
    );
    assert_eq!(
        listed(&manager.list(&rotated_session).await?),
        [(*rotated_session.handle(), true)]
    );
    assert_eq!(
        refusal(
            manager
                .rotate(&reauth_session)
                .await
                .map(|i| i.session().clone())
        ),
        Some(Reason::Revoked),
        "a session is replaced once"
    );

    // Password change: every other session dies, the current one is re-issued.
    let other = manager.issue(request("acme", "alice")).await?;
    let renewed = manager.password_changed(&rotated_session).await?;
    for dead in [&reauth, &rotated, &other] {
        assert_eq!(
            refusal(manager.verify(dead.token().expose()).await),
            Some(Reason::StaleGeneration)
        );
    }
    let renewed_session = manager.verify(renewed.token().expose()).await?;
    assert_ne!(renewed_session.handle(), rotated_session.handle());
    assert_eq!(renewed_session.aal(), Aal::Aal2);
    assert_eq!(
        listed(&manager.list(&renewed_session).await?),
        [(*renewed_session.handle(), true)]
    );
    assert!(
        manager.verify(bob.token().expose()).await.is_ok(),
        "bob is unaffected"
    );

    // Revoke all, including the current session.
    manager.issue(request("acme", "alice")).await?;
    assert_eq!(manager.revoke_all(&renewed_session).await?, 2);
    assert!(manager.verify(renewed.token().expose()).await.is_err());
    assert!(
        manager
            .list_user(&tenant("acme"), &user("alice"))
            .await?
            .is_empty()
    );

    // Administrator revocation and password reset for bob.
    let bob_phone = manager.issue(request("acme", "bob")).await?;
    assert_eq!(
        manager
            .list_user(&tenant("acme"), &user("bob"))
            .await?
            .len(),
        2
    );
    assert_eq!(manager.revoke_user(&tenant("acme"), &user("bob")).await?, 2);
    assert!(manager.verify(bob_phone.token().expose()).await.is_err());
    let bob_again = manager.issue(request("acme", "bob")).await?;
    manager
        .password_reset(&tenant("acme"), &user("bob"))
        .await?;
    assert_eq!(
        refusal(manager.verify(bob_again.token().expose()).await),
        Some(Reason::StaleGeneration)
    );
    let bob_fresh = manager.issue(request("acme", "bob")).await?;
    assert!(
        manager.verify(bob_fresh.token().expose()).await.is_ok(),
        "new sign-ins work"
    );

    // Purge removes what can no longer verify, and nothing that can.
    clock.advance(Duration::from_secs(60));
    assert!(manager.purge().await? >= 8);
    assert!(manager.verify(bob_fresh.token().expose()).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn memory_store_conformance() {
    store_contract(&MemoryStore::new()).await.unwrap();
    store_cap_contract(&MemoryStore::new()).await.unwrap();
    manager_contract(Arc::new(MemoryStore::new()))
        .await
        .unwrap();
    manager_cap_contract(Arc::new(MemoryStore::new()))
        .await
        .unwrap();
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = session_tokens::SqliteStore::open(dir.path().join("contract.db"))
        .await
        .unwrap();
    store_contract(&store).await.unwrap();
    store_cap_contract(&store).await.unwrap();
    let store = session_tokens::SqliteStore::open(dir.path().join("manager.db"))
        .await
        .unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(store);
    manager_contract(Arc::clone(&store)).await.unwrap();
    manager_cap_contract(store).await.unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_store_conformance() {
    let Some(db) = palisade_test_support::postgres("session_store_contract").await else {
        return;
    };
    let store = session_tokens::PostgresStore::connect(db.url())
        .await
        .unwrap();
    store_contract(&store).await.unwrap();
    store_cap_contract(&store).await.unwrap();
    let Some(db2) = palisade_test_support::postgres("session_manager_contract").await else {
        return;
    };
    let store = session_tokens::PostgresStore::connect(db2.url())
        .await
        .unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(store);
    manager_contract(Arc::clone(&store)).await.unwrap();
    manager_cap_contract(store).await.unwrap();
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_migrations_run_once_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let clock = ManualClock::new();
    let issued = {
        let store = session_tokens::SqliteStore::open(&path).await.unwrap();
        manager(store, &clock)
            .issue(request("acme", "alice"))
            .await
            .unwrap()
    };
    let store = session_tokens::SqliteStore::open(&path).await.unwrap();
    store.migrate().await.unwrap();
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM palisade_session_migrations")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(versions, [1]);
    let manager = manager(store, &clock);
    assert!(
        manager.verify(issued.token().expose()).await.is_ok(),
        "sessions persist"
    );
}

#[tokio::test]
async fn listings_are_bounded() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let mut last = None;
    for _ in 0..session_tokens::LIST_LIMIT + 3 {
        last = Some(manager.issue(request("acme", "alice")).await.unwrap());
        clock.advance(Duration::from_secs(1));
    }
    let last = last.unwrap();
    let listed = manager.list(last.session()).await.unwrap();
    assert_eq!(listed.len(), session_tokens::LIST_LIMIT);
    assert!(listed[0].is_current(), "the newest come first");
}

#[tokio::test]
async fn a_cap_of_zero_is_a_configuration_error() {
    let clock = ManualClock::new();
    let err = builder(
        session_tokens::KeySet::new(hs_key()),
        MemoryStore::new(),
        &clock,
    )
    .max_sessions_per_user(0)
    .build()
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_are_safe_from_several_instances_at_once() {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    // Several processes starting together on one database file that none has migrated
    // yet: every migration succeeds (each takes the write lock before reading, and waits
    // its turn) and the migrations run once.
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("sessions.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        SqlitePoolOptions::new()
            .connect_with(options.clone())
            .await
            .unwrap()
            .close()
            .await;
        let mut stores = Vec::new();
        for _ in 0..8 {
            let pool = SqlitePoolOptions::new()
                .connect_with(options.clone())
                .await
                .unwrap();
            stores.push(session_tokens::SqliteStore::from_pool(pool));
        }
        let migrations: Vec<_> = stores
            .iter()
            .cloned()
            .map(|store| tokio::spawn(async move { store.migrate().await }))
            .collect();
        for migration in migrations {
            if let Err(e) = migration.await.unwrap() {
                panic!("round {round}: {e}: {:?}", std::error::Error::source(&e));
            }
        }
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM palisade_session_migrations")
                .fetch_all(stores[0].pool())
                .await
                .unwrap();
        assert_eq!(versions, [1]);
    }
}

/// Rounds of the concurrent-migration test: races need a few tries to show.
#[cfg(feature = "sqlite")]
const ROUNDS: usize = 10;

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_safe_from_several_instances_at_once() {
    let Some(db) = palisade_test_support::postgres("session_concurrent_migrations").await else {
        return;
    };
    let url = db.url().to_owned();
    let connects: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { session_tokens::PostgresStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for connect in connects {
        stores.push(connect.await.unwrap().unwrap());
    }
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM palisade_session_migrations")
        .fetch_all(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(versions, [1]);
}
