//! Every rejection behind the layer leaves its typed reason in `tracing` (target
//! `webhook_verify`, field `reason`) exactly once, at debug level (anyone can cause a
//! rejection, so they must not flood the logs), while the sender sees the same empty
//! 401.
//!
//! A test binary of its own: the subscriber is global, so no other test's events mix
//! in. Needs the `axum` feature.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use tower::ServiceExt as _;
use webhook_verify::http::{HeaderMap, Request, StatusCode};
use webhook_verify::{
    ManualClock, Scheme, Secret, SignRequest, Signer, SigningSecret, Verifier, WebhookLayer,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_700_000_000;

/// Collects the level and `reason` field of every `webhook_verify` event.
#[derive(Clone, Default)]
struct Reasons(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl tracing::Subscriber for Reasons {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Visit<'a>(&'a Mutex<Vec<(tracing::Level, String)>>, tracing::Level);
        impl tracing::field::Visit for Visit<'_> {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "reason" {
                    self.0
                        .lock()
                        .expect("lock")
                        .push((self.1, value.to_owned()));
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let metadata = event.metadata();
        if metadata.target() == "webhook_verify" {
            event.record(&mut Visit(&self.0, *metadata.level()));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn request(headers: &HeaderMap, body: &[u8]) -> Request<Body> {
    let mut request = Request::post("/hook")
        .body(Body::from(body.to_vec()))
        .expect("request");
    request.headers_mut().extend(headers.clone());
    request
}

#[tokio::test]
async fn every_rejection_is_logged_with_its_reason() {
    let reasons = Reasons::default();
    tracing::subscriber::set_global_default(reasons.clone()).unwrap();

    let scheme = Scheme::StandardWebhooks;
    let verifier = Verifier::builder(scheme.clone())
        .secret(Secret::parse(&scheme, SECRET).unwrap())
        .clock(ManualClock::new(NOW))
        .body_limit(64)
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route("/hook", post(|| async { "handled" }))
        .route_layer(WebhookLayer::new(Arc::new(verifier)).unwrap());
    let signer = Signer::new(
        scheme.clone(),
        SigningSecret::parse(&scheme, SECRET).unwrap(),
    )
    .unwrap();
    let sign = |body: &[u8], at: i64| {
        signer
            .sign(&SignRequest::new(body).id("msg_1").timestamp(at))
            .unwrap()
    };

    let body = b"{\"ok\":true}";
    let headers = sign(body, NOW);
    let mut missing = headers.clone();
    missing.remove("webhook-id");
    let mut malformed = headers.clone();
    malformed.insert("webhook-timestamp", "soon".parse().unwrap());
    let cases = [
        (
            request(&headers, b"{\"ok\":false}"),
            StatusCode::UNAUTHORIZED,
        ),
        (request(&missing, body), StatusCode::UNAUTHORIZED),
        (request(&malformed, body), StatusCode::UNAUTHORIZED),
        (
            request(&sign(body, NOW + 3600), body),
            StatusCode::UNAUTHORIZED,
        ),
        (
            request(&headers, &[b'x'; 65]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (request(&headers, body), StatusCode::OK),
    ];
    for (request, expected) in cases {
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), expected);
    }
    let seen = reasons.0.lock().unwrap().clone();
    assert_eq!(
        seen.iter()
            .map(|(_, reason)| reason.as_str())
            .collect::<Vec<_>>(),
        [
            "signature_mismatch",
            "missing_header",
            "malformed_header",
            "timestamp_in_future",
            "body_too_large"
        ],
        "one event per rejection"
    );
    assert!(
        seen.iter()
            .all(|(level, _)| *level == tracing::Level::DEBUG),
        "{seen:?}"
    );
}
