//! Bad input: a typed rejection each time, never a panic.

use proptest::prelude::*;
use webhook_verify::http::{HeaderMap, HeaderName, HeaderValue};
use webhook_verify::{ManualClock, Rejection};

use crate::{NOW, case, cases, rejected_with, rejection, signed_value, value};

fn name(text: &'static str) -> HeaderName {
    HeaderName::from_static(text)
}

#[test]
fn missing_header() {
    for case in cases() {
        let body = case.body(NOW);
        let headers = case.sign(&body, NOW);
        for missing in headers.keys() {
            let mut without = headers.clone();
            without.remove(missing);
            assert_eq!(
                rejection(case.check(&case.verifier(), &without, &body)),
                Rejection::MissingHeader(missing.clone()),
                "{}",
                case.label
            );
        }
    }
}

#[test]
fn malformed_header() {
    let tries: [(&str, &'static str, &str); 8] = [
        (
            "github",
            "x-hub-signature-256",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
        ),
        ("jira", "x-hub-signature", "757107ea"),
        ("slack", "x-slack-signature", "v1=00"),
        ("stripe", "stripe-signature", "v1=00,nonsense"),
        ("stripe", "stripe-signature", "v1=0000"),
        ("standard v1", "webhook-timestamp", "17e8"),
        ("discord", "x-signature-timestamp", "-1"),
        ("zoom", "x-zm-request-timestamp", "01700000000"),
    ];
    for (label, header, bad) in tries {
        assert_eq!(
            rejected_with(&case(label), header, bad),
            Rejection::MalformedHeader(name(header)),
            "{label}: {header}: {bad}"
        );
    }
    // A repeated signature header is ambiguous, so malformed.
    let case = case("github");
    let mut headers = case.sign(b"x", NOW);
    let copy = headers["x-hub-signature-256"].clone();
    headers.append("x-hub-signature-256", copy);
    assert_eq!(
        rejection(case.check(&case.verifier(), &headers, b"x")),
        Rejection::MalformedHeader(name("x-hub-signature-256"))
    );
}

#[test]
fn v1_with_an_empty_signature() {
    for (label, header, empty) in [
        ("standard v1", "webhook-signature", "v1,"),
        ("svix", "svix-signature", "v1,"),
        ("standard v1a", "webhook-signature", "v1a,"),
        ("github", "x-hub-signature-256", "sha256="),
        ("slack", "x-slack-signature", "v0="),
        ("linear", "linear-signature", ""),
        ("shopify", "x-shopify-hmac-sha256", ""),
        ("discord", "x-signature-ed25519", ""),
        ("twilio", "x-twilio-signature", ""),
    ] {
        assert_eq!(
            rejected_with(&case(label), header, empty),
            Rejection::EmptySignature,
            "{label}"
        );
    }
    assert_eq!(
        rejected_with(&case("stripe"), "stripe-signature", &format!("t={NOW},v1=")),
        Rejection::EmptySignature
    );
}

#[test]
fn wrong_length_hex() {
    for (label, header, prefix) in [
        ("github", "x-hub-signature-256", "sha256="),
        ("jira", "x-hub-signature", "sha256="),
        ("slack", "x-slack-signature", "v0="),
        ("zoom", "x-zm-signature", "v0="),
        ("linear", "linear-signature", ""),
        ("discord", "x-signature-ed25519", ""),
    ] {
        let case = case(label);
        let good = signed_value(&case, header);
        for bad in [
            format!("{good}00"),
            good[..good.len() - 2].to_owned(),
            format!("{prefix}abc"),
        ] {
            assert_eq!(
                rejected_with(&case, header, &bad),
                Rejection::SignatureLength,
                "{label}: {bad}"
            );
        }
        let bad = format!("{prefix}{}", "zz".repeat(32));
        assert_eq!(
            rejected_with(&case, header, &bad),
            Rejection::SignatureEncoding,
            "{label}"
        );
    }
}

#[test]
fn wrong_length_base64() {
    for (label, header, prefix) in [
        ("standard v1", "webhook-signature", "v1,"),
        ("standard v1a", "webhook-signature", "v1a,"),
        ("shopify", "x-shopify-hmac-sha256", ""),
        ("twilio", "x-twilio-signature", ""),
        ("generic", "x-acme-signature", "t="),
    ] {
        let case = case(label);
        // Valid base64 of one byte too few and of one too many.
        for len in [case_len(label) - 1, case_len(label) + 1] {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(vec![7u8; len]);
            let bad = format!("{prefix}{encoded}");
            assert_eq!(
                rejected_with(&case, header, &bad),
                Rejection::SignatureLength,
                "{label}: {bad}"
            );
        }
        let bad = format!("{prefix}{}", "*".repeat(44));
        assert_eq!(
            rejected_with(&case, header, &bad),
            Rejection::SignatureEncoding,
            "{label}"
        );
    }
}

fn case_len(label: &str) -> usize {
    match label {
        "standard v1a" | "generic" => 64,
        "twilio" => 20,
        _ => 32,
    }
}

#[test]
fn non_utf8_body() {
    // Schemes that sign bytes verify a non-UTF-8 body like any other.
    for case in cases() {
        if matches!(case.label, "linear" | "twilio") {
            continue;
        }
        let body = b"\xff\xfe\xfd binary \x00\x80".to_vec();
        let headers = case.sign(&body, NOW);
        case.check(&case.verifier(), &headers, &body)
            .unwrap_or_else(|err| panic!("{}: {err}", case.label));
    }
    // The two that must read the body say so, whether or not the signature is right.
    let case = case("linear");
    let body = b"webhookTimestamp=\xff".to_vec();
    let signed = case.sign(&body, NOW);
    assert_eq!(
        rejection(case.check(&case.verifier(), &signed, &body)),
        Rejection::NonUtf8Body
    );
    let case = crate::case("twilio");
    let mut headers = HeaderMap::new();
    headers.insert("x-twilio-signature", value("AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    let body = b"Body=\xff".to_vec();
    assert_eq!(
        rejection(case.check(&case.verifier(), &headers, &body)),
        Rejection::NonUtf8Body
    );
    // Twilio: percent-encoded bytes that decode to invalid UTF-8.
    let body = b"Body=%FF%FE".to_vec();
    let mut headers = HeaderMap::new();
    headers.insert("x-twilio-signature", value("AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_eq!(
        rejection(case.check(&case.verifier(), &headers, &body)),
        Rejection::NonUtf8Body
    );
    // Linear: signed, UTF-8, but no timestamp in it.
    let case = crate::case("linear");
    let body = br#"{"action":"create"}"#;
    let headers = case.sign(body, NOW);
    assert!(matches!(
        rejection(case.check(&case.verifier(), &headers, body)),
        Rejection::MalformedBody(_)
    ));
}

#[test]
fn body_over_the_cap() {
    for case in cases() {
        let body = case.body(NOW);
        let headers = case.sign(&body, NOW);
        let capped = case
            .builder(&ManualClock::new(NOW))
            .body_limit(body.len() - 1)
            .build()
            .unwrap();
        assert_eq!(
            rejection(case.check(&capped, &headers, &body)),
            Rejection::BodyTooLarge,
            "{}",
            case.label
        );
        let exact = case
            .builder(&ManualClock::new(NOW))
            .body_limit(body.len())
            .build()
            .unwrap();
        case.check(&exact, &headers, &body).unwrap();
    }
}

#[test]
fn too_many_signatures_are_malformed() {
    // Eight entries are read; a ninth makes the header malformed, valid one or not.
    let case = case("standard v1");
    let body = case.body(NOW);
    let mut headers = case.sign(&body, NOW);
    let good = headers["webhook-signature"].to_str().unwrap().to_owned();
    let eight = format!("{} {good}", ["v1,AAAA"; 7].join(" "));
    headers.insert("webhook-signature", value(&eight));
    case.check(&case.verifier(), &headers, &body).unwrap();
    headers.insert("webhook-signature", value(&format!("v1,AAAA {eight}")));
    assert_eq!(
        rejection(case.check(&case.verifier(), &headers, &body)),
        Rejection::MalformedHeader(name("webhook-signature"))
    );

    // Stripe: `t=` is no signature and does not count.
    let case = crate::case("stripe");
    let mut headers = case.sign(&body, NOW);
    let signed = headers["stripe-signature"].to_str().unwrap().to_owned();
    let wrong = format!(",v1={}", "0".repeat(64));
    let eight = format!("{signed}{}", wrong.repeat(7));
    headers.insert("stripe-signature", value(&eight));
    case.check(&case.verifier(), &headers, &body).unwrap();
    headers.insert("stripe-signature", value(&format!("{eight}{wrong}")));
    assert_eq!(
        rejection(case.check(&case.verifier(), &headers, &body)),
        Rejection::MalformedHeader(name("stripe-signature"))
    );
}

#[test]
fn message_ids_outside_the_safe_alphabet_are_malformed() {
    // Each would be signed as it is, so these are validly signed deliveries: the id
    // itself is refused, before any signature is checked.
    for (label, header) in [
        ("standard v1", "webhook-id"),
        ("svix", "svix-id"),
        ("generic", "x-acme-delivery"),
    ] {
        let case = case(label);
        let body = case.body(NOW);
        for id in ["msg.1", "msg 1", "msg:1", "\u{e9}t\u{e9}", &"a".repeat(257)] {
            let mut headers = case.sign(&body, NOW);
            let value = webhook_verify::http::HeaderValue::from_bytes(id.as_bytes()).unwrap();
            headers.insert(name(header), value);
            assert_eq!(
                rejection(case.check(&case.verifier(), &headers, &body)),
                Rejection::MalformedHeader(name(header)),
                "{label}: {id:?}"
            );
        }
    }
    // Two ids that differ only in non-UTF-8 bytes are not merged into one: both are
    // refused.
    let case = case("standard v1");
    let body = case.body(NOW);
    for bytes in [&b"msg_\xff"[..], b"msg_\xfe"] {
        let mut headers = case.sign(&body, NOW);
        headers.insert(
            name("webhook-id"),
            webhook_verify::http::HeaderValue::from_bytes(bytes).unwrap(),
        );
        assert_eq!(
            rejection(case.check(&case.verifier(), &headers, &body)),
            Rejection::MalformedHeader(name("webhook-id"))
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary header bytes and bodies: every scheme answers with a rejection, never a
    /// panic, and never a success.
    #[test]
    fn arbitrary_headers_never_panic_nor_verify(
        values in proptest::collection::vec(proptest::collection::vec(0x20u8..0x7f, 0..120), 6),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        for case in cases() {
            let signed = case.sign(&case.body(NOW), NOW);
            let mut headers = HeaderMap::new();
            for (i, (name, _)) in signed.iter().enumerate() {
                let text = &values[i % values.len()];
                headers.insert(name.clone(), HeaderValue::from_bytes(text).unwrap());
            }
            let result = case.check(&case.verifier(), &headers, &body);
            prop_assert!(matches!(result, Err(webhook_verify::Error::Invalid(_))), "{}: {:?}", case.label, result);
        }
    }
}
