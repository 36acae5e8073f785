//! Known answers: the shared vectors file, and Standard Webhooks' `v1a` reference test.

use webhook_verify::http::HeaderMap;
use webhook_verify::{
    ManualClock, Message, Scheme, Secret, SignRequest, Signer, SigningSecret, Verifier,
};

use crate::{rejection, value};

/// `key value` lines of the block that starts with `title` in `webhooks.md`.
fn block(title: &str) -> Vec<(String, String)> {
    let path = palisade_test_support::shared_vectors().join("webhooks.md");
    let text = std::fs::read_to_string(&path).expect("read webhooks.md");
    let start = text
        .find(title)
        .unwrap_or_else(|| panic!("{title} in {}", path.display()));
    text[start..]
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("    "))
        .filter_map(|line| {
            let line = line.trim();
            let split = line.find(char::is_whitespace)?;
            Some((line[..split].to_owned(), line[split..].trim().to_owned()))
        })
        .collect()
}

fn field(block: &[(String, String)], key: &str) -> String {
    block
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {key} in the vectors"))
}

#[test]
fn standard_webhooks_vector_verifies_and_signs_to_the_same_bytes() {
    let b = block("Standard Webhooks");
    let secret = field(&b, "secret")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let id = field(&b, "webhook-id");
    let timestamp = field(&b, "webhook-timestamp");
    let body = field(&b, "body");
    let signature = field(&b, "webhook-signature");
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

    let unix: i64 = timestamp.parse().unwrap();
    for scheme in [Scheme::StandardWebhooks, Scheme::Svix] {
        let verifier = Verifier::builder(scheme.clone())
            .secret(Secret::parse(&scheme, &secret).unwrap())
            .clock(ManualClock::new(unix))
            .build()
            .unwrap();
        for prefix in ["webhook", "svix"] {
            let mut headers = HeaderMap::new();
            headers.insert(
                format!("{prefix}-id")
                    .parse::<webhook_verify::http::HeaderName>()
                    .unwrap(),
                value(&id),
            );
            headers.insert(
                format!("{prefix}-timestamp")
                    .parse::<webhook_verify::http::HeaderName>()
                    .unwrap(),
                value(&timestamp),
            );
            headers.insert(
                format!("{prefix}-signature")
                    .parse::<webhook_verify::http::HeaderName>()
                    .unwrap(),
                value(&signature),
            );
            let verified = verifier
                .verify_sync(&Message::new(&headers, body.as_bytes()))
                .unwrap();
            assert_eq!(verified.id(), Some(id.as_str()));
            assert_eq!(verified.timestamp(), Some(unix));

            // Tampered: one body byte, and the vectors' "v1," with no signature.
            let mut tampered = body.clone().into_bytes();
            tampered[3] ^= 1;
            assert_eq!(
                rejection(verifier.verify_sync(&Message::new(&headers, &tampered))),
                webhook_verify::Rejection::SignatureMismatch
            );
            let mut empty = headers.clone();
            empty.insert(
                format!("{prefix}-signature")
                    .parse::<webhook_verify::http::HeaderName>()
                    .unwrap(),
                value("v1,"),
            );
            assert_eq!(
                rejection(verifier.verify_sync(&Message::new(&empty, body.as_bytes()))),
                webhook_verify::Rejection::EmptySignature
            );
        }
    }

    let signer = Signer::new(
        Scheme::StandardWebhooks,
        SigningSecret::parse(&Scheme::StandardWebhooks, &secret).unwrap(),
    )
    .unwrap();
    let headers = signer
        .sign(&SignRequest::new(body.as_bytes()).id(&id).timestamp(unix))
        .unwrap();
    assert_eq!(headers["webhook-signature"], signature.as_str());
    assert_eq!(headers["webhook-id"], id.as_str());
    assert_eq!(headers["webhook-timestamp"], timestamp.as_str());
}

#[test]
fn github_vector_verifies_and_signs_to_the_same_bytes() {
    let path = palisade_test_support::shared_vectors().join("webhooks.md");
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("X-Hub-Signature-256:"))
        .unwrap();
    let expected = line.split_once(':').unwrap().1.trim();
    let setup = text.lines().find(|l| l.contains("secret \"It's")).unwrap();
    let quoted: Vec<&str> = setup.split('"').collect();
    let (secret, body) = (quoted[1], quoted[3]);
    assert_eq!(
        (secret, body),
        ("It's a Secret to Everybody", "Hello, World!")
    );

    let verifier = Verifier::builder(Scheme::GitHub)
        .secret(Secret::parse(&Scheme::GitHub, secret).unwrap())
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-hub-signature-256", value(expected));
    verifier
        .verify_sync(&Message::new(&headers, body.as_bytes()))
        .unwrap();
    assert!(
        verifier
            .verify_sync(&Message::new(&headers, b"Hello, World?"))
            .is_err()
    );

    let signer = Signer::new(
        Scheme::GitHub,
        SigningSecret::parse(&Scheme::GitHub, secret).unwrap(),
    )
    .unwrap();
    let signed = signer.sign(&SignRequest::new(body.as_bytes())).unwrap();
    assert_eq!(signed["x-hub-signature-256"], expected);
}

/// Standard Webhooks' Go reference library, `TestAsymmetricWebhookSign`: the only
/// published `v1a` known answer. Ed25519 is deterministic, so the bytes must match.
#[test]
fn standard_webhooks_v1a_reference_signature() {
    let key = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let body = br#"{"test": 2432232314}"#;
    let expected = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    let signing = SigningSecret::parse(&Scheme::StandardWebhooks, key).unwrap();
    let public = signing.public_key(&Scheme::StandardWebhooks).unwrap();
    let signer = Signer::new(Scheme::StandardWebhooks, signing).unwrap();
    let headers = signer
        .sign(&SignRequest::new(body).id(id).timestamp(1_614_265_330))
        .unwrap();
    assert_eq!(headers["webhook-signature"], expected);

    let verifier = Verifier::builder(Scheme::StandardWebhooks)
        .secret(Secret::parse(&Scheme::StandardWebhooks, &public).unwrap())
        .clock(ManualClock::new(1_614_265_330))
        .build()
        .unwrap();
    verifier.verify_sync(&Message::new(&headers, body)).unwrap();
    let mut forged = headers.clone();
    forged.insert(
        "webhook-signature",
        value("v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
    );
    assert_eq!(
        rejection(verifier.verify_sync(&Message::new(&forged, body))),
        webhook_verify::Rejection::SignatureLength
    );
}

/// Slack's "Verifying requests from Slack" worked example.
#[test]
fn slack_documentation_example() {
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    let mut headers = HeaderMap::new();
    headers.insert("x-slack-request-timestamp", value("1531420618"));
    headers.insert("x-slack-signature", value(expected));
    let verifier = Verifier::builder(Scheme::Slack)
        .secret(Secret::parse(&Scheme::Slack, secret).unwrap())
        .clock(ManualClock::new(1_531_420_618 + 100))
        .build()
        .unwrap();
    verifier.verify_sync(&Message::new(&headers, body)).unwrap();
    let mut tampered = body.to_vec();
    tampered[6] = b'X';
    assert!(
        verifier
            .verify_sync(&Message::new(&headers, &tampered))
            .is_err()
    );

    let signer = Signer::new(
        Scheme::Slack,
        SigningSecret::parse(&Scheme::Slack, secret).unwrap(),
    )
    .unwrap();
    let signed = signer
        .sign(&SignRequest::new(body).timestamp(1_531_420_618))
        .unwrap();
    assert_eq!(signed["x-slack-signature"], expected);
}

/// Twilio's "Webhooks security" worked example: the URL, then the sorted parameters.
#[test]
fn twilio_documentation_example() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    // The example's parameters as Twilio posts them, form-encoded, in another order.
    let body = b"Digits=1234&To=%2B18005551212&From=%2B12349013030&Caller=%2B12349013030&CallSid=CA1234567890ABCDE";
    let expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    // The example's auth token is shorter than the minimum: only the explicit door
    // takes it.
    assert!(Secret::parse(&Scheme::Twilio, "12345").is_err());
    let mut headers = HeaderMap::new();
    headers.insert("x-twilio-signature", value(expected));
    let verifier = Verifier::builder(Scheme::Twilio)
        .secret(webhook_verify::dangerous::short_secret(&Scheme::Twilio, "12345").unwrap())
        .build()
        .unwrap();
    verifier
        .verify_sync(&Message::new(&headers, body).with_url(url))
        .unwrap();
    let tampered = std::str::from_utf8(body)
        .unwrap()
        .replacen("1234&", "1235&", 1);
    assert!(
        verifier
            .verify_sync(&Message::new(&headers, tampered.as_bytes()).with_url(url))
            .is_err()
    );

    let signer = Signer::new(
        Scheme::Twilio,
        webhook_verify::dangerous::short_signing_secret(&Scheme::Twilio, "12345").unwrap(),
    )
    .unwrap();
    let signed = signer.sign(&SignRequest::new(body).url(url)).unwrap();
    assert_eq!(signed["x-twilio-signature"], expected);
}
