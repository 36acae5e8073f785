//! Rotation: an old secret verifies until its not-after, then fails; several signatures
//! in one header verify when any one does.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use webhook_verify::http::HeaderValue;
use webhook_verify::{
    Error, ManualClock, MemorySecretSource, Message, Rejection, Scheme, Secret, SecretSet, Verifier,
};

use crate::{NOW, case, rejection, value};

const NEW: &str = "whsec_bmV3IHNlY3JldCBmb3IgdGhlIGludGVncmF0aW9u";
const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const X: &str = "github secret x 0001";
const Y: &str = "github secret y 0002";

fn rotating(clock: &ManualClock, not_after: i64) -> Verifier {
    let scheme = Scheme::StandardWebhooks;
    let secrets = SecretSet::new(Secret::parse(&scheme, NEW).expect("secret")).with_previous(
        Secret::parse(&scheme, OLD).expect("secret"),
        UNIX_EPOCH + Duration::from_secs(u64::try_from(not_after).expect("not-after")),
    );
    Verifier::builder(scheme)
        .secrets(secrets)
        .clock(clock.clone())
        .build()
        .expect("verifier")
}

fn signed_with(secret: &str, at: i64) -> (webhook_verify::http::HeaderMap, Vec<u8>) {
    let mut case = case("standard v1");
    case.signing = secret.to_owned();
    let body = b"rotation".to_vec();
    (case.sign(&body, at), body)
}

#[test]
fn an_old_secret_verifies_until_its_not_after_then_fails() {
    let clock = ManualClock::new(NOW);
    let verifier = rotating(&clock, NOW + 3600);

    let (headers, body) = signed_with(OLD, NOW);
    let verified = verifier
        .verify_sync(&Message::new(&headers, &body))
        .unwrap();
    assert_eq!(verified.secret_index(), 1, "the previous secret matched");

    let (headers, body) = signed_with(NEW, NOW);
    assert_eq!(
        verifier
            .verify_sync(&Message::new(&headers, &body))
            .unwrap()
            .secret_index(),
        0
    );

    // The last second of the old secret.
    clock.set(NOW + 3600);
    let (headers, body) = signed_with(OLD, NOW + 3600);
    assert_eq!(
        verifier
            .verify_sync(&Message::new(&headers, &body))
            .unwrap()
            .secret_index(),
        1
    );

    // One second later it is gone; the new one still works.
    clock.set(NOW + 3601);
    let (headers, body) = signed_with(OLD, NOW + 3601);
    assert_eq!(
        rejection(verifier.verify_sync(&Message::new(&headers, &body))),
        Rejection::SignatureMismatch
    );
    let (headers, body) = signed_with(NEW, NOW + 3601);
    verifier
        .verify_sync(&Message::new(&headers, &body))
        .unwrap();
}

#[test]
fn with_every_secret_expired_nothing_verifies() {
    let clock = ManualClock::new(NOW);
    let scheme = Scheme::GitHub;
    let at = |unix: i64| UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap());
    let secrets = SecretSet::expiring(Secret::parse(&scheme, X).unwrap(), at(NOW + 10))
        .with_previous(Secret::parse(&scheme, Y).unwrap(), at(NOW));
    let verifier = Verifier::builder(scheme)
        .secrets(secrets)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut case = case("github");
    case.signing = X.to_owned();
    let headers = case.sign(b"body", NOW);
    verifier
        .verify_sync(&Message::new(&headers, b"body"))
        .unwrap();
    clock.set(NOW + 11);
    assert_eq!(
        rejection(verifier.verify_sync(&Message::new(&headers, b"body"))),
        Rejection::NoSecretInForce
    );
}

#[test]
fn a_header_with_one_valid_and_one_invalid_signature_verifies() {
    let case = case("standard v1");
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let verifier = case.verifier();
    let good = headers["webhook-signature"].to_str().unwrap().to_owned();
    let bad = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    for combined in [
        format!("{bad} {good}"),
        format!("{good} {bad}"),
        format!("v2,abc v1, {bad} v1,short {good}"),
    ] {
        let mut multi = headers.clone();
        multi.insert("webhook-signature", value(&combined));
        verifier
            .verify_sync(&Message::new(&multi, &body))
            .unwrap_or_else(|err| panic!("{combined}: {err}"));
    }
    // Only invalid ones: rejected.
    let mut multi = headers.clone();
    multi.insert("webhook-signature", value(&format!("{bad} {bad}")));
    assert_eq!(
        rejection(verifier.verify_sync(&Message::new(&multi, &body))),
        Rejection::SignatureMismatch
    );

    // Stripe sends one v1= per secret during a rotation.
    let case = crate::case("stripe");
    let headers = case.sign(&body, NOW);
    let verifier = case.verifier();
    let signed = headers["stripe-signature"].to_str().unwrap().to_owned();
    let (t, v1) = signed.split_once(",v1=").unwrap();
    let wrong = "0".repeat(64);
    for header in [
        format!("{t},v1={wrong},v1={v1}"),
        format!("{t},v0={wrong},v1={v1},v1={wrong}"),
    ] {
        let mut multi = headers.clone();
        multi.insert("stripe-signature", HeaderValue::from_str(&header).unwrap());
        verifier.verify_sync(&Message::new(&multi, &body)).unwrap();
    }
}

#[tokio::test]
async fn a_secret_source_rotates_without_rebuilding_the_verifier() {
    let source = Arc::new(MemorySecretSource::new());
    let scheme = Scheme::StandardWebhooks;
    source.insert("acme", SecretSet::new(Secret::parse(&scheme, OLD).unwrap()));
    let verifier = Verifier::builder(scheme.clone())
        .secret_source(source.clone(), "acme")
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let (old_headers, body) = signed_with(OLD, NOW);
    verifier
        .verify(&Message::new(&old_headers, &body))
        .await
        .unwrap();
    assert!(matches!(
        verifier.verify_sync(&Message::new(&old_headers, &body)),
        Err(Error::Config(_))
    ));

    source.insert("acme", SecretSet::new(Secret::parse(&scheme, NEW).unwrap()));
    let (new_headers, body) = signed_with(NEW, NOW);
    verifier
        .verify(&Message::new(&new_headers, &body))
        .await
        .unwrap();
    assert_eq!(
        rejection(verifier.verify(&Message::new(&old_headers, &body)).await),
        Rejection::SignatureMismatch
    );

    assert!(source.remove("acme"));
    assert!(matches!(
        verifier.verify(&Message::new(&new_headers, &body)).await,
        Err(Error::UnknownIntegration(name)) if name == "acme"
    ));
}
