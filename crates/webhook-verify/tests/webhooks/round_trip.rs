//! Every scheme: sign then verify; a flipped body byte, every changed header value and
//! a shifted timestamp are rejected.

use webhook_verify::http::HeaderValue;
use webhook_verify::{Rejection, Scheme};

use crate::{NOW, TWILIO_URL, cases, rejection};

/// The value with one significant character changed (a digit or letter, never only
/// its case, which hex ignores).
fn changed(value: &HeaderValue) -> HeaderValue {
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .expect("an alphanumeric character");
    bytes[i] = match bytes[i] {
        b'9' => b'0',
        b'f' => b'a',
        b'F' => b'A',
        b'z' => b'a',
        b'Z' => b'A',
        other => other + 1,
    };
    HeaderValue::from_bytes(&bytes).expect("header value")
}

#[test]
fn every_scheme_signs_then_verifies() {
    for case in cases() {
        let body = case.body(NOW);
        let headers = case.sign(&body, NOW);
        let verified = case
            .check(&case.verifier(), &headers, &body)
            .unwrap_or_else(|err| panic!("{}: {err}", case.label));
        assert_eq!(verified.scheme(), case.scheme.name(), "{}", case.label);
        assert_eq!(verified.secret_index(), 0);
        if case.scheme.has_timestamp() {
            assert_eq!(verified.timestamp(), Some(NOW), "{}", case.label);
        } else {
            assert_eq!(verified.timestamp(), None, "{}", case.label);
        }
    }
}

#[test]
fn every_scheme_rejects_a_flipped_body_byte() {
    for case in cases() {
        let body = case.body(NOW);
        let headers = case.sign(&body, NOW);
        let verifier = case.verifier();
        for position in [0, body.len() / 2, body.len() - 1] {
            let mut flipped = body.clone();
            flipped[position] ^= 0x01;
            let got = rejection(case.check(&verifier, &headers, &flipped));
            // Every scheme checks the signature over the raw bytes first, except Twilio,
            // which must decode its form parameters to know what was signed: a flip may
            // break their UTF-8 before any signature is checked.
            if case.scheme.needs_url() {
                assert!(
                    matches!(got, Rejection::SignatureMismatch | Rejection::NonUtf8Body),
                    "{} byte {position}: {got:?}",
                    case.label
                );
            } else {
                assert_eq!(
                    got,
                    Rejection::SignatureMismatch,
                    "{} byte {position}",
                    case.label
                );
            }
        }
    }
}

#[test]
fn every_scheme_rejects_any_changed_header_value() {
    for case in cases() {
        let body = case.body(NOW);
        let headers = case.sign(&body, NOW);
        let verifier = case.verifier();
        assert!(!headers.is_empty());
        for (name, original) in &headers {
            let mut tampered = headers.clone();
            tampered.insert(name.clone(), changed(original));
            let got = case.check(&verifier, &tampered, &body);
            assert!(
                got.is_err(),
                "{}: changing {name} still verified",
                case.label
            );
            let got = rejection(got);
            assert_ne!(got, Rejection::Replayed);
        }
    }
}

#[test]
fn every_timestamped_scheme_rejects_a_shifted_timestamp() {
    let mut timestamped = 0;
    for case in cases() {
        if !case.scheme.has_timestamp() {
            continue;
        }
        timestamped += 1;
        let verifier = case.verifier();
        let window = i64::try_from(case.scheme.default_tolerance().as_secs()).unwrap();
        // Validly signed, but at a time outside the window either way.
        for (shift, expected) in [
            (-window - 1, Rejection::TimestampTooOld),
            (window + 1, Rejection::TimestampInFuture),
        ] {
            let body = case.body(NOW + shift);
            let headers = case.sign(&body, NOW + shift);
            assert_eq!(
                rejection(case.check(&verifier, &headers, &body)),
                expected,
                "{} shifted {shift}",
                case.label
            );
        }
        // Signed now, but the timestamp moved after signing: the signature no longer fits.
        if !matches!(case.scheme, Scheme::Linear) {
            let body = case.body(NOW);
            let mut headers = case.sign(&body, NOW);
            let (now, before) = (NOW.to_string(), (NOW - 1).to_string());
            let mut moved = 0;
            for value in headers.values_mut() {
                let text = value.to_str().unwrap().to_owned();
                if text.contains(&now) {
                    *value = HeaderValue::from_str(&text.replace(&now, &before)).unwrap();
                    moved += 1;
                }
            }
            assert_eq!(moved, 1, "{}", case.label);
            assert_eq!(
                rejection(case.check(&verifier, &headers, &body)),
                Rejection::SignatureMismatch,
                "{}",
                case.label
            );
        }
    }
    assert_eq!(timestamped, 9, "schemes with a timestamp");
}

#[test]
fn twilio_rejects_another_url() {
    let case = crate::case("twilio");
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let verifier = case.verifier();
    let moved = TWILIO_URL.replace("tenant=7", "tenant=8");
    let message = webhook_verify::Message::new(&headers, &body).with_url(&moved);
    assert_eq!(
        rejection(verifier.verify_sync(&message)),
        Rejection::SignatureMismatch
    );
    let message = webhook_verify::Message::new(&headers, &body);
    assert_eq!(
        rejection(verifier.verify_sync(&message)),
        Rejection::MissingUrl
    );
}

/// Twilio has signed URLs with and without the default port; its validators accept
/// either form, and so does this one, but no other port.
#[test]
fn twilio_accepts_the_url_with_or_without_its_default_port() {
    let case = crate::case("twilio");
    let body = case.body(NOW);
    let verifier = case.verifier();
    let with_port = "https://example.com:443/twilio/voice?tenant=7";
    let sign = |url: &str| {
        case.signer()
            .sign(&webhook_verify::SignRequest::new(&body).url(url))
            .unwrap()
    };
    for (signed, seen) in [(with_port, TWILIO_URL), (TWILIO_URL, with_port)] {
        let headers = sign(signed);
        let message = webhook_verify::Message::new(&headers, &body).with_url(seen);
        verifier
            .verify_sync(&message)
            .unwrap_or_else(|err| panic!("signed {signed}, seen {seen}: {err}"));
    }
    let headers = sign("https://example.com:8443/twilio/voice?tenant=7");
    let message = webhook_verify::Message::new(&headers, &body).with_url(TWILIO_URL);
    assert_eq!(
        rejection(verifier.verify_sync(&message)),
        Rejection::SignatureMismatch
    );
}

#[test]
fn a_secret_of_the_wrong_kind_is_a_configuration_error() {
    let discord = crate::case("discord");
    let hmac =
        webhook_verify::Secret::parse(&Scheme::GitHub, "It's a Secret to Everybody").unwrap();
    let err = webhook_verify::Verifier::builder(Scheme::Discord)
        .secret(hmac)
        .build()
        .unwrap_err();
    assert!(matches!(err, webhook_verify::Error::Config(_)), "{err}");
    let ed = discord.secret();
    let err = webhook_verify::Verifier::builder(Scheme::Stripe)
        .secret(ed)
        .build()
        .unwrap_err();
    assert!(matches!(err, webhook_verify::Error::Config(_)), "{err}");
    let err = webhook_verify::SigningSecret::parse(
        &Scheme::StandardWebhooks,
        &crate::case("standard v1a").verifying,
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot sign"), "{err}");
}

#[test]
fn the_signer_refuses_what_verification_would_reject() {
    let case = crate::case("stripe");
    let signer = case.signer();
    // 18 digits verify; 19 never would, so they are not signed.
    let largest = 999_999_999_999_999_999;
    signer
        .sign(&webhook_verify::SignRequest::new(b"{}").timestamp(largest))
        .unwrap();
    for bad in [largest + 1, i64::MAX, -1] {
        assert!(
            matches!(
                signer.sign(&webhook_verify::SignRequest::new(b"{}").timestamp(bad)),
                Err(webhook_verify::Error::Config(_))
            ),
            "{bad}"
        );
    }
    let case = crate::case("standard v1");
    for id in ["", "msg.1", "msg 1"] {
        assert!(
            matches!(
                case.signer().sign(
                    &webhook_verify::SignRequest::new(b"{}")
                        .id(id)
                        .timestamp(NOW)
                ),
                Err(webhook_verify::Error::Config(_))
            ),
            "{id:?}"
        );
    }
}
