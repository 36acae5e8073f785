//! The conformance suite every store passes. It reads no clock of its own: policies are
//! long enough (hours) that nothing refills while it runs, whatever clock the store uses.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::hourly;
use rate_limit::{
    Check, Decision, Error, LoginAttempt, LoginCheck, LoginLimiter, MemoryStore, Policy, Store,
};

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
    a_refund_gives_back_one_request_and_never_more(&store).await;
    too_many_checks_is_a_configuration_error(&store).await;
    a_shorter_period_under_the_same_name_waits_its_own_time(&store).await;
    logins_count_failures_only(&store).await;
    a_success_does_not_forgive_other_failures(&store).await;
    concurrent_attempts_are_charged_before_their_verdict(&store).await;
    per_account_failures_add_up_and_reset_on_success(&store).await;
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

/// A policy redeployed with a shorter period keeps its name, and so its counters: a key
/// charged under the old period waits the new one's time, not the old one's. The
/// refusal stores the shorter wait, alone and beside another policy.
async fn a_shorter_period_under_the_same_name_waits_its_own_time<S: Store>(store: &S) {
    let hour = hourly("conf-shrink", 1);
    let ten_minutes = Policy::builder("conf-shrink", NonZeroU32::MIN, Duration::from_secs(600))
        .build()
        .expect("a valid configuration");
    let other = hourly("conf-shrink-beside", 100);
    for (key, beside) in [("k", None), ("m", Some(&other))] {
        assert!(check(store, &[(&hour, key)]).await.is_allowed());
        let mut checks = vec![(&ten_minutes, key)];
        checks.extend(beside.map(|other| (other, key)));
        let refused = check(store, &checks).await;
        assert!(!refused.is_allowed());
        about(refused.retry_after(), Duration::from_secs(600));
        assert!(
            refused.reset() <= Duration::from_secs(600),
            "{:?}",
            refused.reset()
        );
        // Read under the hourly policy again, the counter holds the ten-minute wait.
        let again = check(store, &[(&hour, key)]).await;
        about(again.retry_after(), Duration::from_secs(600));
    }
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

/// Begins a login that must be admitted.
async fn admitted<'a, S: Store>(
    login: &'a LoginLimiter<Arc<S>>,
    client: &str,
    account: &str,
) -> LoginAttempt<'a, Arc<S>> {
    match login
        .begin(client.as_bytes(), account.as_bytes())
        .await
        .expect("the store answers")
    {
        LoginCheck::Allowed(attempt) => attempt,
        LoginCheck::Limited(d) => panic!("{client} at {account} was limited: {d:?}"),
    }
}

/// Begins a login that must be refused, and returns the refusal.
async fn refusal<S: Store>(login: &LoginLimiter<Arc<S>>, client: &str, account: &str) -> Decision {
    match login
        .begin(client.as_bytes(), account.as_bytes())
        .await
        .expect("the store answers")
    {
        LoginCheck::Limited(d) => d,
        LoginCheck::Allowed(_) => panic!("{client} at {account} was not limited"),
    }
}

/// Begins a login that must be refused.
async fn limited<S: Store>(login: &LoginLimiter<Arc<S>>, client: &str, account: &str) {
    assert!(!refusal(login, client, account).await.is_allowed());
}

async fn logins_count_failures_only<S: Store>(store: &Arc<S>) {
    let login = LoginLimiter::new(Arc::clone(store), hourly("conf-login", 3));
    // Successes never use up the quota.
    for _ in 0..10 {
        admitted(&login, "ip", "alice")
            .await
            .succeeded()
            .await
            .expect("the store answers");
    }
    // Three failures (one by dropping the attempt unreported) use it up.
    for i in 0..3 {
        let attempt = admitted(&login, "ip", "alice").await;
        if i == 2 {
            drop(attempt);
        } else {
            attempt.failed();
        }
    }
    let decision = refusal(&login, "ip", "alice").await;
    about(decision.retry_after(), Duration::from_secs(1200));
    // Another client is not affected.
    admitted(&login, "other", "alice").await.failed();
}

/// A client that owns an account must not be able to log into it to wipe out its
/// failed guesses at other accounts: a success gives back its own attempt only.
async fn a_success_does_not_forgive_other_failures<S: Store>(store: &Arc<S>) {
    let login = LoginLimiter::new(Arc::clone(store), hourly("conf-login-own", 3));
    for round in 0..5 {
        let attacker = format!("attacker-{round}");
        admitted(&login, &attacker, "victim").await.failed();
        admitted(&login, &attacker, "own")
            .await
            .succeeded()
            .await
            .expect("the store answers");
        admitted(&login, &attacker, "victim").await.failed();
        admitted(&login, &attacker, "own")
            .await
            .succeeded()
            .await
            .expect("the store answers");
        admitted(&login, &attacker, "victim").await.failed();
        // Three failures, whatever succeeded in between: the fourth guess is refused ...
        let refused = refusal(&login, &attacker, "victim").await;
        assert_eq!(refused.remaining(), 0);
        // ... and so is a login to the attacker's own account, until the window passes.
        limited(&login, &attacker, "own").await;
    }
}

/// Attempts still being verified hold their charge: concurrent guesses cannot pass the
/// quota, and a success refunds only its own attempt.
async fn concurrent_attempts_are_charged_before_their_verdict<S: Store>(store: &Arc<S>) {
    let login = LoginLimiter::new(Arc::clone(store), hourly("conf-login-race", 3));
    let a = admitted(&login, "racer", "victim").await;
    let b = admitted(&login, "racer", "victim").await;
    let c = admitted(&login, "racer", "victim").await;
    limited(&login, "racer", "victim").await;
    a.succeeded().await.expect("the store answers");
    let d = admitted(&login, "racer", "victim").await;
    limited(&login, "racer", "victim").await;
    // Two more successes refund two attempts, no more.
    b.succeeded().await.expect("the store answers");
    c.succeeded().await.expect("the store answers");
    d.failed();
    admitted(&login, "racer", "victim").await.failed();
    admitted(&login, "racer", "victim").await.failed();
    limited(&login, "racer", "victim").await;
}

/// Under a per-account policy, failures at one account from many clients add up, and
/// only a success at that account resets them.
async fn per_account_failures_add_up_and_reset_on_success<S: Store>(store: &Arc<S>) {
    let login = LoginLimiter::new(Arc::clone(store), hourly("conf-login-ip", 100))
        .per_account(hourly("conf-login-acct", 3));
    for client in ["c1", "c2", "c3"] {
        let attempt = admitted(&login, client, "erin").await;
        // A client sees its own quota, not how many failures others made at erin.
        let names: Vec<&str> = attempt
            .decision()
            .policies()
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(names, ["conf-login-ip"], "{client}");
        attempt.failed();
    }
    let refused = refusal(&login, "c4", "erin").await;
    assert_eq!(refused.policies()[1].name(), "conf-login-acct");
    // The refused attempt charged its client nothing: all or nothing.
    assert_eq!(refused.policies()[0].remaining(), 100);
    // A success at another account resets nothing for erin.
    admitted(&login, "c1", "dave")
        .await
        .succeeded()
        .await
        .expect("the store answers");
    limited(&login, "c1", "erin").await;

    // Two failures at carol, then carol logs in: her failures are forgotten, so three
    // more fit before the next refusal.
    admitted(&login, "c5", "carol").await.failed();
    admitted(&login, "c6", "carol").await.failed();
    admitted(&login, "c7", "carol")
        .await
        .succeeded()
        .await
        .expect("the store answers");
    for client in ["c8", "c9", "c10"] {
        admitted(&login, client, "carol").await.failed();
    }
    limited(&login, "c11", "carol").await;
}

async fn a_refund_gives_back_one_request_and_never_more<S: Store>(store: &S) {
    let p = hourly("conf-refund", 3);
    for _ in 0..3 {
        assert!(check(store, &[(&p, "k")]).await.is_allowed());
    }
    store.refund(&p, b"k").await.expect("the store answers");
    let after = check(store, &[(&p, "k")]).await;
    assert!(after.is_allowed());
    assert_eq!(after.remaining(), 0);
    assert!(!check(store, &[(&p, "k")]).await.is_allowed());
    // Refunds past a full bucket are lost, not banked.
    for _ in 0..10 {
        store.refund(&p, b"fresh").await.expect("the store answers");
    }
    assert_eq!(check(store, &[(&p, "fresh")]).await.remaining(), 2);
}

#[tokio::test]
async fn the_memory_store_conforms() {
    suite(MemoryStore::new()).await;
}
