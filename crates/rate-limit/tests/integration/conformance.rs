//! The conformance suite every store passes. It reads no clock of its own: policies are
//! long enough (hours) that nothing refills while it runs, whatever clock the store uses.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::hourly;
use rate_limit::{Check, Decision, Error, LoginCheck, LoginLimiter, MemoryStore, Policy, Store};

async fn check<S: Store>(store: &S, checks: &[(&Policy, &str)]) -> Decision {
    let checks: Vec<Check<'_>> = checks.iter().map(|(p, k)| Check::new(p, *k)).collect();
    store.check(&checks).await.expect("the store answers")
}

/// Asserts `got` is `want` less at most two seconds of elapsed time.
fn about(got: Option<Duration>, want: Duration) {
    let got = got.expect("a refusal carries a wait");
    assert!(
        got <= want && got + Duration::from_secs(2) >= want,
        "{got:?} vs {want:?}"
    );
}

/// Runs every conformance check against `store`. Keys are unique to this call.
pub(crate) async fn suite<S: Store>(store: S) {
    let store = Arc::new(store);
    burst_then_refusal(&store).await;
    keys_and_policies_are_independent(&store).await;
    a_refusal_charges_no_policy(&store).await;
    the_same_counter_twice_is_charged_twice(&store).await;
    cost_above_one(&store).await;
    reset_restores_the_burst(&store).await;
    too_many_checks_is_a_configuration_error(&store).await;
    logins_count_failures_only(&store).await;
}

async fn burst_then_refusal<S: Store>(store: &S) {
    let p = hourly("conf-burst", 5);
    for left in (0..5).rev() {
        let d = check(store, &[(&p, "k")]).await;
        assert!(d.is_allowed());
        assert_eq!(d.remaining(), left);
        assert_eq!(d.retry_after(), None);
    }
    let refused = check(store, &[(&p, "k")]).await;
    assert!(!refused.is_allowed());
    assert_eq!(refused.remaining(), 0);
    // One unit comes back every 720 s.
    about(refused.retry_after(), Duration::from_secs(720));
    assert_eq!(refused.retry_after_header().as_deref(), Some("720"));
    assert!(refused.reset() <= Duration::from_secs(3600));
    assert!(refused.reset() + Duration::from_secs(2) >= Duration::from_secs(3600));
}

async fn keys_and_policies_are_independent<S: Store>(store: &S) {
    let (a, b) = (hourly("conf-ind-a", 1), hourly("conf-ind-b", 1));
    assert!(check(store, &[(&a, "k1")]).await.is_allowed());
    assert!(!check(store, &[(&a, "k1")]).await.is_allowed());
    assert!(check(store, &[(&a, "k2")]).await.is_allowed());
    assert!(check(store, &[(&b, "k1")]).await.is_allowed());
}

async fn a_refusal_charges_no_policy<S: Store>(store: &S) {
    let (small, large) = (
        hourly("conf-atomic-small", 2),
        hourly("conf-atomic-large", 10),
    );
    for _ in 0..2 {
        assert!(
            check(store, &[(&small, "k"), (&large, "k")])
                .await
                .is_allowed()
        );
    }
    for _ in 0..3 {
        let refused = check(store, &[(&small, "k"), (&large, "k")]).await;
        assert!(!refused.is_allowed());
        let [s, l] = refused.policies() else {
            panic!("two outcomes")
        };
        assert!(!s.is_allowed() && l.is_allowed());
        assert_eq!(
            l.remaining(),
            8,
            "a refused request reports the uncharged quota"
        );
        assert!(
            refused
                .problem_json()
                .contains(r#""violated-policies":["conf-atomic-small"]"#)
        );
    }
    // Three refusals later the large policy still has 10 - 2 = 8 left: this takes one.
    let alone = check(store, &[(&large, "k")]).await;
    assert!(alone.is_allowed());
    assert_eq!(alone.remaining(), 7);
}

async fn the_same_counter_twice_is_charged_twice<S: Store>(store: &S) {
    let p = hourly("conf-twice", 3);
    let d = check(store, &[(&p, "k"), (&p, "k")]).await;
    assert!(d.is_allowed());
    assert_eq!(d.remaining(), 1);
    assert!(!check(store, &[(&p, "k"), (&p, "k")]).await.is_allowed());
    let last = check(store, &[(&p, "k")]).await;
    assert!(last.is_allowed(), "the refused pair charged nothing");
    assert_eq!(last.remaining(), 0);
}

async fn cost_above_one<S: Store>(store: &S) {
    let p = Policy::builder(
        "conf-cost",
        NonZeroU32::new(10).expect("non-zero"),
        Duration::from_secs(3600),
    )
    .cost(NonZeroU32::new(4).expect("non-zero"))
    .build()
    .expect("a valid configuration");
    let first = check(store, &[(&p, "k")]).await;
    assert_eq!((first.is_allowed(), first.remaining()), (true, 1));
    let second = check(store, &[(&p, "k")]).await;
    assert_eq!((second.is_allowed(), second.remaining()), (true, 0));
    let third = check(store, &[(&p, "k")]).await;
    assert!(!third.is_allowed());
    // 2 units left, 4 needed: two emission intervals of 360 s.
    about(third.retry_after(), Duration::from_secs(720));
    assert_eq!(
        third.rate_limit_policy_header(),
        r#""conf-cost";q=2;w=3600"#
    );
}

async fn reset_restores_the_burst<S: Store>(store: &S) {
    let p = hourly("conf-reset", 2);
    assert!(check(store, &[(&p, "k")]).await.is_allowed());
    assert!(check(store, &[(&p, "k")]).await.is_allowed());
    assert!(!check(store, &[(&p, "k")]).await.is_allowed());
    store.reset(&p, b"k").await.expect("the store answers");
    let after = check(store, &[(&p, "k")]).await;
    assert!(after.is_allowed());
    assert_eq!(after.remaining(), 1);
}

async fn too_many_checks_is_a_configuration_error<S: Store>(store: &S) {
    let p = hourly("conf-many", 100);
    let checks = vec![Check::new(&p, "k"); rate_limit::MAX_CHECKS + 1];
    assert!(matches!(store.check(&checks).await, Err(Error::Config(_))));
    let empty = store.check(&[]).await.expect("the store answers");
    assert!(empty.is_allowed() && empty.policies().is_empty());
}

async fn logins_count_failures_only<S: Store>(store: &Arc<S>) {
    let login = LoginLimiter::new(Arc::clone(store), hourly("conf-login", 3));
    // Successes never use up the quota.
    for _ in 0..10 {
        let LoginCheck::Allowed(attempt) = login.begin(b"ip").await.expect("the store answers")
        else {
            panic!("successful logins are never limited");
        };
        attempt.succeeded().await.expect("the store answers");
    }
    // Three failures (one by dropping the attempt unreported) use it up.
    for i in 0..3 {
        let LoginCheck::Allowed(attempt) = login.begin(b"ip").await.expect("the store answers")
        else {
            panic!("failure {i} is within the quota");
        };
        if i == 2 {
            drop(attempt);
        } else {
            attempt.failed();
        }
    }
    let LoginCheck::Limited(decision) = login.begin(b"ip").await.expect("the store answers") else {
        panic!("the fourth attempt after three failures is limited");
    };
    about(decision.retry_after(), Duration::from_secs(1200));
    // Another key is not affected.
    assert!(matches!(
        login.begin(b"other").await.expect("the store answers"),
        LoginCheck::Allowed(_)
    ));
}

#[tokio::test]
async fn the_memory_store_conforms() {
    suite(MemoryStore::new()).await;
}
