//! Replays: a second delivery of the same message is rejected, in memory, in Redis, and
//! across two verifier instances sharing Redis.

use std::num::NonZeroUsize;
use std::sync::Arc;

use webhook_verify::{ManualClock, MemoryReplayGuard, Rejection, ReplayGuard};

use crate::{Case, NOW, case, rejection, secs};

fn memory() -> Arc<MemoryReplayGuard> {
    Arc::new(MemoryReplayGuard::new(
        NonZeroUsize::new(1000).expect("capacity"),
    ))
}

/// Delivers `case`'s message twice through a verifier guarded by `guard`: the first
/// verifies, the second is a replay.
async fn second_delivery_is_replayed(case: &Case, guard: Arc<dyn ReplayGuard>) {
    let verifier = case
        .builder(&ManualClock::new(NOW))
        .replay_guard(guard)
        .build()
        .expect("verifier");
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let message = case.message(&headers, &body);
    if let Err(err) = verifier.verify(&message).await {
        panic!("{}: first delivery: {err}", case.label);
    }
    assert_eq!(
        rejection(verifier.verify(&message).await),
        Rejection::Replayed,
        "{}",
        case.label
    );
}

#[tokio::test]
async fn a_second_delivery_is_rejected_in_memory_for_every_scheme() {
    for case in crate::cases() {
        let guard = memory();
        second_delivery_is_replayed(&case, guard.clone()).await;
        assert_eq!(guard.len(), 1);
    }
}

#[tokio::test]
async fn the_replay_key_is_the_signed_id_or_the_signed_bytes() {
    // Standard Webhooks: the same id with another body is the same message.
    let case = case("standard v1");
    let verifier = case
        .builder(&ManualClock::new(NOW))
        .replay_guard(memory())
        .build()
        .unwrap();
    let headers = case.sign(b"first", NOW);
    verifier
        .verify(&case.message(&headers, b"first"))
        .await
        .unwrap();
    let again = case.sign(b"second", NOW);
    assert_eq!(
        rejection(verifier.verify(&case.message(&again, b"second")).await),
        Rejection::Replayed
    );

    // GitHub: no signed id, so the signed bytes are the key, and an unsigned delivery
    // id cannot make a replay look new.
    let case = crate::case("github");
    let verifier = case
        .builder(&ManualClock::new(NOW))
        .replay_guard(memory())
        .build()
        .unwrap();
    let mut headers = case.sign(b"payload", NOW);
    headers.insert("x-github-delivery", crate::value("1"));
    verifier
        .verify(&case.message(&headers, b"payload"))
        .await
        .unwrap();
    headers.insert("x-github-delivery", crate::value("2"));
    assert_eq!(
        rejection(verifier.verify(&case.message(&headers, b"payload")).await),
        Rejection::Replayed
    );
    let other = case.sign(b"other payload", NOW);
    verifier
        .verify(&case.message(&other, b"other payload"))
        .await
        .unwrap();
}

#[tokio::test]
async fn forged_deliveries_are_never_recorded() {
    let case = case("standard v1");
    let guard = memory();
    let verifier = case
        .builder(&ManualClock::new(NOW))
        .replay_guard(guard.clone())
        .build()
        .unwrap();
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    // Someone without the secret sends the real id first.
    let mut forged = headers.clone();
    forged.insert(
        "webhook-signature",
        crate::value("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
    );
    assert_eq!(
        rejection(verifier.verify(&case.message(&forged, &body)).await),
        Rejection::SignatureMismatch
    );
    assert!(guard.is_empty());
    verifier
        .verify(&case.message(&headers, &body))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_message_is_remembered_for_the_whole_window() {
    let case = case("stripe");
    let clock = ManualClock::new(NOW);
    let verifier = case
        .builder(&clock)
        .max_age(secs(300))
        .max_future_skew(secs(60))
        .replay_guard(memory())
        .build()
        .unwrap();
    assert_eq!(verifier.replay_window(), secs(360));
    // Signed 60 s in the future: it stays acceptable until 300 s after that.
    let body = case.body(NOW + 60);
    let headers = case.sign(&body, NOW + 60);
    verifier
        .verify(&case.message(&headers, &body))
        .await
        .unwrap();
    clock.set(NOW + 359);
    assert_eq!(
        rejection(verifier.verify(&case.message(&headers, &body)).await),
        Rejection::Replayed
    );
    clock.set(NOW + 361);
    assert_eq!(
        rejection(verifier.verify(&case.message(&headers, &body)).await),
        Rejection::TimestampTooOld
    );
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use webhook_verify::{Freshness, RedisReplayGuard};

    #[tokio::test]
    async fn a_second_delivery_is_rejected_with_redis() {
        let Some(redis) = palisade_test_support::redis("webhook_replay_single") else {
            return;
        };
        let guard = Arc::new(
            RedisReplayGuard::connect(redis.url(), redis.prefix())
                .await
                .unwrap(),
        );
        for label in ["standard v1", "stripe", "discord"] {
            second_delivery_is_replayed(&case(label), guard.clone()).await;
        }
    }

    #[tokio::test]
    async fn two_verifier_instances_sharing_redis_reject_each_others_replays() {
        let Some(redis) = palisade_test_support::redis("webhook_replay_shared") else {
            return;
        };
        let case = case("svix");
        // Two instances: their own connections, verifiers and clocks.
        let instance = |guard: RedisReplayGuard| {
            case.builder(&ManualClock::new(NOW))
                .replay_guard(Arc::new(guard))
                .build()
                .unwrap()
        };
        let a = instance(
            RedisReplayGuard::connect(redis.url(), redis.prefix())
                .await
                .unwrap(),
        );
        let b = instance(
            RedisReplayGuard::connect(redis.url(), redis.prefix())
                .await
                .unwrap(),
        );

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
    async fn redis_keys_expire_after_the_window() {
        let Some(redis) = palisade_test_support::redis("webhook_replay_ttl") else {
            return;
        };
        let guard = RedisReplayGuard::connect(redis.url(), redis.prefix())
            .await
            .unwrap();
        let now = std::time::SystemTime::now();
        assert_eq!(
            guard.check_and_remember("k", now, secs(1)).await.unwrap(),
            Freshness::Fresh
        );
        assert_eq!(
            guard.check_and_remember("k", now, secs(1)).await.unwrap(),
            Freshness::Replayed
        );
        // Generous margin: Redis expires keys on its own clock.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(
            guard.check_and_remember("k", now, secs(1)).await.unwrap(),
            Freshness::Fresh
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_refuses_the_delivery() {
        // Nothing listens on port 1: the guard cannot connect, so there is no verifier
        // that could let a delivery through.
        let err = RedisReplayGuard::connect("redis://127.0.0.1:1", "x:")
            .await
            .unwrap_err();
        assert!(
            matches!(err, webhook_verify::Error::ReplayGuard(_)),
            "{err}"
        );
    }
}
