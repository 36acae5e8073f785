//! Replays in Redis: a second delivery is rejected, with one instance and across two
//! verifier instances sharing the server; keys live for the TTL the verifier asks; a
//! released delivery is fresh again. Needs the `redis` feature and a server
//! (`PALISADE_TEST_REDIS`).

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use webhook_verify::{
    Error, Freshness, ManualClock, RedisReplayGuard, Rejection, ReplayGuard, Verifier,
};

use support::{Case, NOW, case, rejection, second_delivery_is_replayed, secs};

async fn guard(redis: &palisade_test_support::RedisPrefix) -> Arc<RedisReplayGuard> {
    Arc::new(
        RedisReplayGuard::connect(redis.url(), redis.prefix())
            .await
            .expect("redis"),
    )
}

/// A verifier for `case` as one instance of a service: its own connection and clock.
async fn instance(case: &Case, redis: &palisade_test_support::RedisPrefix) -> Verifier {
    case.guarded(&ManualClock::new(NOW), guard(redis).await)
        .build()
        .expect("verifier")
}

#[tokio::test]
async fn a_second_delivery_is_rejected_with_redis() {
    let Some(redis) = palisade_test_support::redis("webhook_replay_single") else {
        return;
    };
    let guard = guard(&redis).await;
    for label in ["standard v1", "stripe", "discord", "github"] {
        second_delivery_is_replayed(&case(label), guard.clone()).await;
    }
}

#[tokio::test]
async fn two_verifier_instances_sharing_redis_reject_each_others_replays() {
    let Some(redis) = palisade_test_support::redis("webhook_replay_shared") else {
        return;
    };
    let case = case("svix");
    let (a, b) = (instance(&case, &redis).await, instance(&case, &redis).await);

    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    a.verify(&case.message(&headers, &body)).await.unwrap();
    assert_eq!(
        rejection(b.verify(&case.message(&headers, &body)).await),
        Rejection::Replayed
    );
    assert_eq!(
        rejection(a.verify(&case.message(&headers, &body)).await),
        Rejection::Replayed
    );

    // Concurrent first deliveries of a new message: exactly one wins.
    let body = b"{\"race\":true}".to_vec();
    let headers = case
        .signer()
        .sign(
            &webhook_verify::SignRequest::new(&body)
                .id("msg_race")
                .timestamp(NOW),
        )
        .unwrap();
    let message = case.message(&headers, &body);
    let (ra, rb) = tokio::join!(a.verify(&message), b.verify(&message));
    assert_eq!(
        usize::from(ra.is_ok()) + usize::from(rb.is_ok()),
        1,
        "{ra:?} {rb:?}"
    );
}

#[tokio::test]
async fn a_key_lives_for_the_window_a_second_and_the_margin() {
    let Some(redis) = palisade_test_support::redis("webhook_replay_key_ttl") else {
        return;
    };
    let case = case("stripe");
    let verifier = case
        .guarded(&ManualClock::new(NOW), guard(&redis).await)
        .tolerance(secs(300))
        .replay_clock_margin(secs(30))
        .build()
        .unwrap();
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    verifier
        .verify(&case.message(&headers, &body))
        .await
        .unwrap();
    // Read the one key's TTL straight from the server.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", redis.prefix()))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&keys[0])
        .query_async(&mut connection)
        .await
        .unwrap();
    // 600 s window + 1 s + 30 s margin; a second may pass before TTL answers.
    assert!((630..=631).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn redis_keys_expire_after_their_ttl_and_can_be_forgotten() {
    let Some(redis) = palisade_test_support::redis("webhook_replay_ttl") else {
        return;
    };
    let guard = guard(&redis).await;
    let now = std::time::SystemTime::now();
    assert_eq!(
        guard
            .check_and_remember("k", "t", now, secs(1))
            .await
            .unwrap(),
        Freshness::Fresh
    );
    assert_eq!(
        guard
            .check_and_remember("k", "t", now, secs(1))
            .await
            .unwrap(),
        Freshness::Replayed
    );
    // Generous margin: Redis expires keys on its own clock.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        guard
            .check_and_remember("k", "t", now, secs(1))
            .await
            .unwrap(),
        Freshness::Fresh
    );
    // Forgotten only under the token it was recorded with.
    guard.forget("k", "another").await.unwrap();
    assert_eq!(
        guard
            .check_and_remember("k", "u", now, secs(60))
            .await
            .unwrap(),
        Freshness::Replayed
    );
    guard.forget("k", "t").await.unwrap();
    assert_eq!(
        guard
            .check_and_remember("k", "t", now, secs(60))
            .await
            .unwrap(),
        Freshness::Fresh
    );
}

#[tokio::test]
async fn a_released_delivery_is_fresh_again_for_every_instance() {
    let Some(redis) = palisade_test_support::redis("webhook_replay_release") else {
        return;
    };
    let case = case("standard v1");
    let (a, b) = (instance(&case, &redis).await, instance(&case, &redis).await);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let message = case.message(&headers, &body);
    let verified = a.verify(&message).await.unwrap();
    a.release(&verified).await.unwrap();
    b.verify(&message).await.unwrap();
    assert_eq!(rejection(a.verify(&message).await), Rejection::Replayed);
}

#[tokio::test]
async fn an_unreachable_redis_refuses_the_delivery() {
    // Nothing listens on port 1: the guard cannot connect, so there is no verifier
    // that could let a delivery through.
    let err = RedisReplayGuard::connect("redis://127.0.0.1:1", "x:")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ReplayGuard(_)), "{err}");
}
