//! Replays in memory: a second delivery of the same message is rejected, through the
//! window's last second; keys are namespaced per integration; schemes without a
//! timestamp need a TTL of their own; a released delivery can be retried. (Redis: the
//! `redis` test binary.)

use webhook_verify::{
    Error, GenericHmac, ManualClock, Message, Rejection, Scheme, Secret, SignRequest, Verifier,
};

use crate::{DAY, NOW, case, memory, rejection, second_delivery_is_replayed, secs};

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
        .guarded(&ManualClock::new(NOW), memory())
        .build()
        .unwrap();
    let headers = case.sign(b"first", NOW);
    let verified = verifier
        .verify(&case.message(&headers, b"first"))
        .await
        .unwrap();
    assert_eq!(verified.id(), Some("msg_2b8Yq1ZkR4TnVcWx0aPdLs9E"));
    let again = case.sign(b"second", NOW);
    assert_eq!(
        rejection(verifier.verify(&case.message(&again, b"second")).await),
        Rejection::Replayed
    );

    // GitHub: no signed id, so the signed bytes are the key, and an unsigned delivery
    // id cannot make a replay look new, nor become the verified id.
    let case = crate::case("github");
    let verifier = case
        .guarded(&ManualClock::new(NOW), memory())
        .build()
        .unwrap();
    let mut headers = case.sign(b"payload", NOW);
    headers.insert("x-github-delivery", crate::value("1"));
    let verified = verifier
        .verify(&case.message(&headers, b"payload"))
        .await
        .unwrap();
    assert_eq!(verified.id(), None, "an unsigned id is never reported");
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
        .guarded(&ManualClock::new(NOW), guard.clone())
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
async fn a_message_is_remembered_through_the_last_second_of_its_window() {
    let case = case("stripe");
    let clock = ManualClock::new(NOW);
    let verifier = case
        .guarded(&clock, memory())
        .max_age(secs(300))
        .max_future_skew(secs(60))
        .replay_clock_margin(secs(0))
        .build()
        .unwrap();
    assert_eq!(verifier.replay_ttl(), Some(secs(361)));
    // Signed 60 s in the future, so first seen as early as it can be: it stays
    // acceptable until 300 s after its timestamp, NOW + 360 included.
    let body = case.body(NOW + 60);
    let headers = case.sign(&body, NOW + 60);
    verifier
        .verify(&case.message(&headers, &body))
        .await
        .unwrap();
    for at in [NOW + 359, NOW + 360] {
        clock.set(at);
        assert_eq!(
            rejection(verifier.verify(&case.message(&headers, &body)).await),
            Rejection::Replayed,
            "at NOW + {}",
            at - NOW
        );
    }
    clock.set(NOW + 361);
    assert_eq!(
        rejection(verifier.verify(&case.message(&headers, &body)).await),
        Rejection::TimestampTooOld
    );
}

#[test]
fn the_replay_ttl_covers_the_window_a_second_and_the_clock_margin() {
    let case = case("stripe");
    let clock = ManualClock::new(NOW);
    let guarded = || case.guarded(&clock, memory()).tolerance(secs(300));
    // Default margin: 60 s.
    assert_eq!(
        guarded().build().unwrap().replay_ttl(),
        Some(secs(600 + 1 + 60))
    );
    assert_eq!(
        guarded()
            .replay_clock_margin(secs(5))
            .build()
            .unwrap()
            .replay_ttl(),
        Some(secs(606))
    );
    assert_eq!(
        guarded()
            .replay_ttl(secs(3600))
            .build()
            .unwrap()
            .replay_ttl(),
        Some(secs(3600))
    );
    // Shorter than the window would let a replay through after its key expired.
    let err = guarded().replay_ttl(secs(600)).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    // A TTL without a guard is a mistake, not a protection.
    let err = case
        .builder(&clock)
        .replay_ttl(secs(3600))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[tokio::test]
async fn schemes_without_a_timestamp_need_a_replay_ttl_and_keep_keys_for_it() {
    for label in ["github", "jira", "shopify", "twilio"] {
        let case = case(label);
        let err = case
            .builder(&ManualClock::new(NOW))
            .replay_guard(memory())
            .namespace(label)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(message) if message.contains("replay_ttl")),
            "{label}: {err}"
        );
    }
    // With one, a replay 23 hours later is still caught (the signature never expires);
    // after the TTL it is not, which is what the TTL means.
    let case = case("github");
    let clock = ManualClock::new(NOW);
    let verifier = case.guarded(&clock, memory()).build().unwrap();
    assert_eq!(verifier.replay_ttl(), Some(DAY));
    let headers = case.sign(b"payload", NOW);
    verifier
        .verify(&case.message(&headers, b"payload"))
        .await
        .unwrap();
    clock.set(NOW + 23 * 3600);
    assert_eq!(
        rejection(verifier.verify(&case.message(&headers, b"payload")).await),
        Rejection::Replayed
    );
    clock.set(NOW + 24 * 3600 + 1);
    verifier
        .verify(&case.message(&headers, b"payload"))
        .await
        .unwrap();
}

#[tokio::test]
async fn integrations_sharing_a_guard_do_not_share_message_ids() {
    // Fixed secrets and a guard: the namespace is required.
    let case = case("standard v1");
    let err = case
        .builder(&ManualClock::new(NOW))
        .replay_guard(memory())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(message) if message.contains("namespace")),
        "{err}"
    );

    // Two tenants' Standard Webhooks integrations share one guard. Tenant A controls
    // its own whsec_, learns a message id of B, and sends it to A's endpoint first.
    let guard = memory();
    let scheme = Scheme::StandardWebhooks;
    let tenant = |namespace: &str, secret: &str| {
        Verifier::builder(scheme.clone())
            .secret(Secret::parse(&scheme, secret).unwrap())
            .clock(ManualClock::new(NOW))
            .replay_guard(guard.clone())
            .namespace(namespace)
            .build()
            .unwrap()
    };
    let secret_a = "whsec_dGVuYW50IGEncyBvd24gc2VjcmV0IGtleSAwMQ==";
    let secret_b = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let a = tenant("tenant-a", secret_a);
    let b = tenant("tenant-b", secret_b);
    let sign = |secret: &str| {
        let mut case = crate::case("standard v1");
        case.signing = secret.to_owned();
        case.sign(b"{}", NOW)
    };
    let burnt = sign(secret_a);
    a.verify(&Message::new(&burnt, b"{}")).await.unwrap();
    // B's real delivery with the same id still goes through.
    let real = sign(secret_b);
    b.verify(&Message::new(&real, b"{}")).await.unwrap();
    assert_eq!(guard.len(), 2);
}

#[tokio::test]
async fn a_released_delivery_verifies_again() {
    let case = case("svix");
    let verifier = case
        .guarded(&ManualClock::new(NOW), memory())
        .build()
        .unwrap();
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let message = case.message(&headers, &body);
    let verified = verifier.verify(&message).await.unwrap();
    assert_eq!(
        rejection(verifier.verify(&message).await),
        Rejection::Replayed
    );
    // The handler failed: the sender's retry must get through, once.
    verifier.release(&verified).await.unwrap();
    verifier.verify(&message).await.unwrap();
    assert_eq!(
        rejection(verifier.verify(&message).await),
        Rejection::Replayed
    );

    // Another integration's record cannot be released through this verifier.
    let other = case
        .builder(&ManualClock::new(NOW))
        .replay_guard(memory())
        .namespace("svix:other")
        .build()
        .unwrap();
    let other_verified = other.verify(&message).await.unwrap();
    verifier.release(&other_verified).await.unwrap();
    assert_eq!(rejection(other.verify(&message).await), Rejection::Replayed);
}

#[tokio::test]
async fn a_generic_scheme_keys_on_its_signed_id() {
    let scheme = Scheme::Generic(
        GenericHmac::builder("x-acme-signature")
            .id_header("x-acme-id")
            .template("{id}.{body}")
            .build()
            .unwrap(),
    );
    let secret = "acme webhook secret 0001";
    let verifier = Verifier::builder(scheme.clone())
        .secret(Secret::parse(&scheme, secret).unwrap())
        .replay_guard(memory())
        .namespace("acme")
        .replay_ttl(DAY)
        .build()
        .unwrap();
    let signer = webhook_verify::Signer::new(
        scheme.clone(),
        webhook_verify::SigningSecret::parse(&scheme, secret).unwrap(),
    )
    .unwrap();
    let first = signer.sign(&SignRequest::new(b"one").id("evt_1")).unwrap();
    let verified = verifier
        .verify(&Message::new(&first, b"one"))
        .await
        .unwrap();
    assert_eq!(verified.id(), Some("evt_1"));
    let same_id = signer.sign(&SignRequest::new(b"two").id("evt_1")).unwrap();
    assert_eq!(
        rejection(verifier.verify(&Message::new(&same_id, b"two")).await),
        Rejection::Replayed
    );
}
