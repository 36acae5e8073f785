//! Helpers shared by the test binaries: one case per scheme, signing and verifying it.
// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use webhook_verify::http::{HeaderMap, HeaderValue};
use webhook_verify::{
    Error, GenericHmac, ManualClock, Message, Rejection, ReplayGuard, Scheme, Secret, SignRequest,
    Signer, SigningSecret, Verified, Verifier, VerifierBuilder,
};

/// The time every test verifies at, unless it moves its clock.
pub(crate) const NOW: i64 = 1_700_000_000;

/// A day: how long deliveries of schemes without a timestamp are remembered in tests.
pub(crate) const DAY: Duration = Duration::from_secs(24 * 3600);

/// One scheme with a signing secret, the matching verification secret and a body.
pub(crate) struct Case {
    pub(crate) label: &'static str,
    pub(crate) scheme: Scheme,
    pub(crate) signing: String,
    pub(crate) verifying: String,
    pub(crate) url: Option<&'static str>,
}

pub(crate) const TWILIO_URL: &str = "https://example.com/twilio/voice?tenant=7";
const SEED: [u8; 32] = [42; 32];

impl Case {
    /// A body for this case signed at `timestamp` (Linear carries it in the body).
    pub(crate) fn body(&self, timestamp: i64) -> Vec<u8> {
        match self.scheme {
            Scheme::Linear => format!(
                r#"{{"action":"create","type":"Issue","data":{{"id":"abc"}},"webhookTimestamp":{}}}"#,
                timestamp * 1000 + 123
            )
            .into_bytes(),
            Scheme::Twilio => b"To=%2B15005550006&From=%2B14158141829&Body=Hello+w%C3%B6rld&Body=again".to_vec(),
            // Not UTF-8: schemes that sign bytes must not care.
            _ => b"{\"event\":\"ping\",\"raw\":\"\xff\xfe\x00\x80\"}".to_vec(),
        }
    }

    pub(crate) fn signer(&self) -> Signer {
        let secret = SigningSecret::parse(&self.scheme, &self.signing).expect("signing secret");
        Signer::new(self.scheme.clone(), secret).expect("signer")
    }

    pub(crate) fn secret(&self) -> Secret {
        Secret::parse(&self.scheme, &self.verifying).expect("verification secret")
    }

    pub(crate) fn sign(&self, body: &[u8], timestamp: i64) -> HeaderMap {
        let mut request = SignRequest::new(body)
            .id("msg_2b8Yq1ZkR4TnVcWx0aPdLs9E")
            .timestamp(timestamp);
        if let Some(url) = self.url {
            request = request.url(url);
        }
        self.signer().sign(&request).expect("sign")
    }

    pub(crate) fn builder(&self, clock: &ManualClock) -> VerifierBuilder {
        Verifier::builder(self.scheme.clone())
            .secret(self.secret())
            .clock(clock.clone())
    }

    /// A verifier builder with `guard`, namespaced to this case, remembering deliveries
    /// for a day where the scheme has no timestamp to bound them.
    pub(crate) fn guarded(
        &self,
        clock: &ManualClock,
        guard: Arc<dyn ReplayGuard>,
    ) -> VerifierBuilder {
        let builder = self
            .builder(clock)
            .replay_guard(guard)
            .namespace(self.label.replace(' ', "-"));
        if self.scheme.has_timestamp() {
            builder
        } else {
            builder.replay_ttl(DAY)
        }
    }

    pub(crate) fn verifier(&self) -> Verifier {
        self.builder(&ManualClock::new(NOW))
            .build()
            .expect("verifier")
    }

    pub(crate) fn check(
        &self,
        verifier: &Verifier,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Verified, Error> {
        verifier.verify_sync(&self.message(headers, body))
    }

    pub(crate) fn message<'a>(&self, headers: &'a HeaderMap, body: &'a [u8]) -> Message<'a> {
        let message = Message::new(headers, body);
        match self.url {
            Some(url) => message.with_url(url),
            None => message,
        }
    }
}

fn whsk(seed: &[u8; 32]) -> String {
    format!(
        "whsk_{}",
        base64::engine::general_purpose::STANDARD.encode(seed)
    )
}

/// Every scheme, both Standard Webhooks flavours, and a generic scheme.
pub(crate) fn cases() -> Vec<Case> {
    let hmac = |label, scheme: Scheme, secret: &str| Case {
        label,
        scheme,
        signing: secret.to_owned(),
        verifying: secret.to_owned(),
        url: None,
    };
    let standard_ed =
        SigningSecret::parse(&Scheme::StandardWebhooks, &whsk(&SEED)).expect("whsk secret");
    let discord = SigningSecret::ed25519_seed(&SEED);
    let generic = GenericHmac::builder("x-acme-signature")
        .prefix("t=")
        .encoding(webhook_verify::Encoding::Base64)
        .algorithm(webhook_verify::HmacAlgorithm::Sha512)
        .timestamp_header("x-acme-timestamp")
        .id_header("x-acme-delivery")
        .template("{id}|{timestamp}|{body}")
        .build()
        .expect("generic scheme");
    vec![
        hmac(
            "standard v1",
            Scheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        Case {
            label: "standard v1a",
            scheme: Scheme::StandardWebhooks,
            signing: whsk(&SEED),
            verifying: standard_ed
                .public_key(&Scheme::StandardWebhooks)
                .expect("public key"),
            url: None,
        },
        hmac(
            "svix",
            Scheme::Svix,
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        ),
        hmac("stripe", Scheme::Stripe, "whsec_test_0123456789abcdef"),
        hmac("github", Scheme::GitHub, "It's a Secret to Everybody"),
        hmac("slack", Scheme::Slack, "8f742231b10e8888abcd99yyyzzz85a5"),
        hmac("linear", Scheme::Linear, "lin_wh_secret_0123456789"),
        hmac("jira", Scheme::Jira, "jira webhook secret 42"),
        hmac("shopify", Scheme::Shopify, "shpss_0123456789"),
        hmac("zoom", Scheme::Zoom, "zoom_secret_token"),
        Case {
            label: "discord",
            scheme: Scheme::Discord,
            signing: hex::encode(SEED),
            verifying: discord.public_key(&Scheme::Discord).expect("public key"),
            url: None,
        },
        Case {
            url: Some(TWILIO_URL),
            ..hmac("twilio", Scheme::Twilio, "twilio_auth_token")
        },
        hmac("generic", Scheme::Generic(generic), "generic hmac secret"),
    ]
}

pub(crate) fn case(label: &str) -> Case {
    cases()
        .into_iter()
        .find(|case| case.label == label)
        .unwrap_or_else(|| panic!("no case {label}"))
}

/// Why `case` rejects its own signed delivery once `header` is set to `text`.
pub(crate) fn rejected_with(case: &Case, header: &str, text: &str) -> Rejection {
    let body = case.body(NOW);
    let mut headers = case.sign(&body, NOW);
    let name =
        webhook_verify::http::HeaderName::from_bytes(header.as_bytes()).expect("header name");
    headers.insert(name, value(text));
    rejection(case.check(&case.verifier(), &headers, &body))
}

/// The value `case` signs into `header` for its usual body.
pub(crate) fn signed_value(case: &Case, header: &str) -> String {
    let headers = case.sign(&case.body(NOW), NOW);
    headers[header].to_str().expect("ASCII header").to_owned()
}

pub(crate) fn rejection(result: Result<Verified, Error>) -> Rejection {
    match result {
        Err(Error::Invalid(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

pub(crate) fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("header value")
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A bounded in-memory replay guard.
pub(crate) fn memory() -> Arc<webhook_verify::MemoryReplayGuard> {
    Arc::new(webhook_verify::MemoryReplayGuard::new(
        std::num::NonZeroUsize::new(1000).expect("capacity"),
    ))
}

/// Delivers `case`'s message twice through a verifier guarded by `guard`: the first
/// verifies, the second is a replay.
pub(crate) async fn second_delivery_is_replayed(case: &Case, guard: Arc<dyn ReplayGuard>) {
    let verifier = case
        .guarded(&ManualClock::new(NOW), guard)
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
