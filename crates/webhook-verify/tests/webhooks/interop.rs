//! Interop with the providers' own libraries, through the committed fixtures that
//! `tests/interop/regenerate.sh` makes: their signatures verify here and sign to the
//! same bytes here; this crate's signatures (the same bytes, still) verified there.

use std::collections::BTreeSet;

use serde_json::Value;
use webhook_verify::http::{HeaderMap, HeaderName, HeaderValue};
use webhook_verify::{ManualClock, Message, Scheme, SignRequest, Signer, Verifier, dangerous};

use crate::NOW;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/fixtures.json");
    let text = std::fs::read_to_string(path).expect("read fixtures.json");
    serde_json::from_str(&text).expect("fixtures.json is JSON")
}

struct Entry<'a> {
    library: &'a str,
    scheme: Scheme,
    secret: &'a str,
    body: &'a [u8],
    timestamp: Option<i64>,
    id: Option<&'a str>,
    /// The URL the provider signed.
    url: Option<&'a str>,
    /// The URL the receiver sees, when it differs (Twilio's port variants).
    verify_url: Option<&'a str>,
    headers: HeaderMap,
}

fn entry(value: &Value) -> Entry<'_> {
    let text = |key: &str| value[key].as_str();
    let mut headers = HeaderMap::new();
    for (name, v) in value["headers"].as_object().expect("headers") {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(v.as_str().expect("header value")).expect("header value"),
        );
    }
    Entry {
        library: text("library").expect("library"),
        scheme: text("scheme").expect("scheme").parse().expect("scheme"),
        secret: text("secret").expect("secret"),
        body: text("body").expect("body").as_bytes(),
        timestamp: value["timestamp"].as_i64(),
        id: text("id"),
        url: text("url"),
        verify_url: text("verify_url"),
        headers,
    }
}

impl Entry<'_> {
    fn verify(&self) {
        let verifier = Verifier::builder(self.scheme.clone())
            // The fixtures use the providers' documented example secrets, and Twilio's
            // ("12345") is shorter than the minimum.
            .secret(dangerous::short_secret(&self.scheme, self.secret).expect("secret"))
            .clock(ManualClock::new(self.timestamp.unwrap_or(NOW)))
            .build()
            .expect("verifier");
        let url = self.verify_url.or(self.url);
        let mut message = Message::new(&self.headers, self.body);
        if let Some(url) = url {
            message = message.with_url(url);
        }
        verifier
            .verify_sync(&message)
            .unwrap_or_else(|err| panic!("{} {}: {err}", self.library, self.scheme));
        let mut flipped = self.body.to_vec();
        *flipped.last_mut().expect("non-empty body") ^= 1;
        let mut message = Message::new(&self.headers, &flipped);
        if let Some(url) = url {
            message = message.with_url(url);
        }
        assert!(
            verifier.verify_sync(&message).is_err(),
            "{} {}",
            self.library,
            self.scheme
        );
    }

    /// Signs the same inputs here; every header must be byte for byte the same.
    fn sign_same(&self) {
        let signer = Signer::new(
            self.scheme.clone(),
            dangerous::short_signing_secret(&self.scheme, self.secret).expect("signing secret"),
        )
        .expect("signer");
        let mut request = SignRequest::new(self.body);
        if let Some(id) = self.id {
            request = request.id(id);
        }
        if let Some(timestamp) = self.timestamp {
            request = request.timestamp(timestamp);
        }
        if let Some(url) = self.url {
            request = request.url(url);
        }
        let ours = signer.sign(&request).expect("sign");
        assert_eq!(ours, self.headers, "{} {}", self.library, self.scheme);
    }
}

#[test]
fn provider_signatures_verify_here_and_sign_to_the_same_bytes() {
    let fixtures = fixtures();
    let entries = fixtures["provider_signed"].as_array().unwrap();
    let mut libraries = BTreeSet::new();
    let mut twilio = Vec::new();
    for value in entries {
        let entry = entry(value);
        entry.verify();
        entry.sign_same();
        libraries.insert(entry.library.to_owned());
        if entry.library == "twilio" {
            twilio.push((entry.body, entry.verify_url.is_some()));
        }
    }
    // Twilio's repeated parameter names, and its URL signed with the default port.
    assert!(
        twilio
            .iter()
            .any(|(body, _)| body.windows(9).filter(|w| w == b"MediaUrl=").count() == 3),
        "a Twilio body with a repeated name"
    );
    assert!(
        twilio.iter().any(|(_, port)| *port),
        "a Twilio URL signed with its port"
    );
    assert_eq!(
        libraries,
        BTreeSet::from(
            [
                "@octokit/webhooks-methods",
                "slack_sdk",
                "standardwebhooks",
                "stripe",
                "svix",
                "twilio"
            ]
            .map(String::from)
        )
    );
    // The fixtures say which versions made them.
    for library in &libraries {
        assert!(
            fixtures["libraries"][library].is_string(),
            "{library} version"
        );
    }
}

#[test]
fn provider_libraries_accepted_these_signatures_and_they_are_still_ours() {
    let fixtures = fixtures();
    let entries = fixtures["palisade_signed"].as_array().unwrap();
    let mut schemes = BTreeSet::new();
    for value in entries {
        assert_eq!(value["provider_accepts"], true, "{value}");
        assert_eq!(value["provider_rejects_tampered"], true, "{value}");
        let entry = entry(value);
        entry.verify();
        entry.sign_same();
        schemes.insert(entry.scheme.name());
    }
    assert_eq!(
        schemes,
        BTreeSet::from([
            "github", "jira", "slack", "standard", "stripe", "svix", "twilio"
        ])
    );
}
