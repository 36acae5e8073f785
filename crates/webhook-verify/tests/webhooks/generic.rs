//! The generic HMAC scheme: what it signs must be unambiguous, and only signed headers
//! are ever trusted.

use webhook_verify::{
    Error, GenericHmac, ManualClock, Message, Rejection, Scheme, Secret, SignRequest, Signer,
    SigningSecret, Verifier,
};

use crate::{NOW, rejection, value};

const SECRET: &str = "acme webhook secret 0001";

fn build(template: &str, id: bool, timestamp: bool) -> Result<GenericHmac, Error> {
    let mut builder = GenericHmac::builder("x-acme-signature").template(template);
    if id {
        builder = builder.id_header("x-acme-id");
    }
    if timestamp {
        builder = builder.timestamp_header("x-acme-timestamp");
    }
    builder.build()
}

fn config_error(result: Result<GenericHmac, Error>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn an_id_header_must_be_signed() {
    // An id header outside the template could be changed by anyone, and would still
    // have been reported as the message id and used as the replay key.
    let message = config_error(build("{body}", true, false));
    assert!(message.contains("{id}"), "{message}");
    let message = config_error(build("{body}", false, true));
    assert!(message.contains("{timestamp}"), "{message}");
    build("{id}.{body}", true, false).unwrap();
}

#[test]
fn placeholders_need_an_unambiguous_separator() {
    for template in [
        "{id}{body}",
        "{body}{id}",
        "{id}_{body}",
        "{timestamp}{id}.{body}",
        "{id}-{timestamp}.{body}",
    ] {
        let message = config_error(build(template, true, template.contains("{timestamp}")));
        assert!(message.contains("separated"), "{template}: {message}");
    }
    for template in [
        "{id}.{body}",
        "{body}|{id}",
        "{id}:{timestamp}:{body}",
        "v1,{id}a.{body}",
    ] {
        build(template, true, template.contains("{timestamp}"))
            .unwrap_or_else(|err| panic!("{template}: {err}"));
    }
    let message = config_error(build("{id}.{id}.{body}", true, false));
    assert!(message.contains("once"), "{message}");
}

/// With `{id}.{body}`, moving the body's first bytes into the id would keep the signed
/// bytes the same if ids could hold a `.`; they cannot, so the moved delivery is
/// malformed.
#[tokio::test]
async fn bytes_cannot_move_from_the_body_into_the_id() {
    let scheme = Scheme::Generic(build("{id}.{body}", true, false).unwrap());
    let signer = Signer::new(
        scheme.clone(),
        SigningSecret::parse(&scheme, SECRET).unwrap(),
    )
    .unwrap();
    let verifier = Verifier::builder(scheme.clone())
        .secret(Secret::parse(&scheme, SECRET).unwrap())
        .build()
        .unwrap();
    let body = b"prefix.rest of the body";
    let headers = signer.sign(&SignRequest::new(body).id("evt_1")).unwrap();
    let verified = verifier.verify_sync(&Message::new(&headers, body)).unwrap();
    assert_eq!(verified.id(), Some("evt_1"));

    let mut moved = headers.clone();
    moved.insert("x-acme-id", value("evt_1.prefix"));
    assert_eq!(
        rejection(verifier.verify_sync(&Message::new(&moved, b"rest of the body"))),
        Rejection::MalformedHeader("x-acme-id".parse().unwrap())
    );
    // And such an id is never signed in the first place.
    assert!(matches!(
        signer.sign(&SignRequest::new(b"x").id("evt_1.prefix")),
        Err(Error::Config(_))
    ));
}

#[test]
fn templates_may_sign_literal_braces() {
    let scheme = Scheme::Generic(
        GenericHmac::builder("x-acme-signature")
            .timestamp_header("x-acme-timestamp")
            .template("{{\"t\":{timestamp}}}.{body}")
            .build()
            .unwrap(),
    );
    let signer = Signer::new(
        scheme.clone(),
        SigningSecret::parse(&scheme, SECRET).unwrap(),
    )
    .unwrap();
    let headers = signer
        .sign(&SignRequest::new(b"{}").timestamp(NOW))
        .unwrap();
    // The same MAC as over the literal text, computed by hand.
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{{\"t\":{NOW}}}.{{}}").as_bytes());
    assert_eq!(
        headers["x-acme-signature"],
        hex::encode(mac.finalize().into_bytes()).as_str()
    );
    let verifier = Verifier::builder(scheme.clone())
        .secret(Secret::parse(&scheme, SECRET).unwrap())
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    verifier
        .verify_sync(&Message::new(&headers, b"{}"))
        .unwrap();
    // A lone brace is an error, not a literal.
    assert!(
        GenericHmac::builder("x")
            .template("{body}}")
            .build()
            .is_err()
    );
    assert!(
        GenericHmac::builder("x")
            .template("{{body}")
            .build()
            .is_err()
    );
}
