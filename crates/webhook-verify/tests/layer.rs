//! The tower layer: the handler runs only for verified deliveries, with the verified
//! bytes; every rejection is the same 401 outside; bad headers cost no body read; a
//! handler failure releases the delivery for the sender's retry; Twilio's URL comes
//! from configuration, never from the request. Needs the `axum` feature.

#[path = "support/mod.rs"]
mod support;

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use http_body::Frame;
use tower::ServiceExt as _;
use webhook_verify::http::{HeaderMap, Request, StatusCode};
use webhook_verify::{
    BoxFuture, Error, Freshness, ManualClock, MemoryReplayGuard, MemorySecretSource, ReplayGuard,
    SecretSet, Verified, Verifier, WebhookLayer,
};

use support::{Case, NOW, case, value};

/// Counts handler runs and keeps what the handler saw.
#[derive(Clone, Default)]
struct Seen {
    calls: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<(Verified, Bytes)>>>,
}

fn app(verifier: Verifier, seen: &Seen) -> Router {
    app_answering(verifier, seen, StatusCode::OK)
}

/// The layer in front of a handler that counts its runs and answers `answer`.
fn app_answering(verifier: Verifier, seen: &Seen, answer: StatusCode) -> Router {
    let seen = seen.clone();
    let handler = move |verified: Verified, body: Bytes| async move {
        seen.calls.fetch_add(1, Ordering::SeqCst);
        *seen.last.lock().expect("lock") = Some((verified, body));
        (answer, "handled")
    };
    Router::new()
        .route("/hook", post(handler))
        .route_layer(layer(verifier))
}

fn layer(verifier: Verifier) -> WebhookLayer {
    let verifier = Arc::new(verifier);
    if verifier.scheme().needs_url() {
        WebhookLayer::with_public_url(verifier, "https://hooks.example.com").expect("layer")
    } else {
        WebhookLayer::new(verifier).expect("layer")
    }
}

fn request(headers: &HeaderMap, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post("/hook").body(body.into()).expect("request");
    request.headers_mut().extend(headers.clone());
    request
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("response body");
    (status, body)
}

fn verifier(case: &Case) -> Verifier {
    case.guarded(
        &ManualClock::new(NOW),
        Arc::new(MemoryReplayGuard::new(
            NonZeroUsize::new(100).expect("capacity"),
        )),
    )
    .body_limit(4096)
    .build()
    .expect("verifier")
}

#[tokio::test]
async fn a_verified_delivery_reaches_the_handler_with_its_exact_bytes() {
    let case = case("standard v1");
    let seen = Seen::default();
    let app = app(verifier(&case), &seen);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let (status, answer) = send(&app, request(&headers, body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&answer[..], b"handled");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    let (verified, bytes) = seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(
        &bytes[..],
        &body[..],
        "the handler sees the verified raw bytes"
    );
    assert_eq!(verified.id(), Some("msg_2b8Yq1ZkR4TnVcWx0aPdLs9E"));
}

#[tokio::test]
async fn the_handler_never_runs_for_a_rejected_request() {
    let case = case("standard v1");
    let seen = Seen::default();
    let app = app(verifier(&case), &seen);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);

    let mut flipped = body.clone();
    flipped[0] ^= 1;
    let mut missing = headers.clone();
    missing.remove("webhook-signature");
    let mut empty = headers.clone();
    empty.insert("webhook-signature", value("v1,"));
    let stale_body = case.body(NOW - 3600);
    let stale = case.sign(&stale_body, NOW - 3600);

    let rejected = [
        request(&headers, flipped),
        request(&missing, body.clone()),
        request(&empty, body.clone()),
        request(&stale, stale_body),
        request(&HeaderMap::new(), Body::empty()),
    ];
    let mut answers = Vec::new();
    for request in rejected {
        answers.push(send(&app, request).await);
    }
    // The first real delivery passes; its replay is rejected.
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::OK
    );
    answers.push(send(&app, request(&headers, body.clone())).await);

    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert!(answer.is_empty(), "the same empty 401 for every reason");
    }
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        1,
        "only the real delivery ran"
    );
}

/// A body of `chunks` 1 KiB frames that counts how many were read.
struct Chunks {
    left: usize,
    read: Arc<AtomicUsize>,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        self.read.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; 1024])))))
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_a_413_without_reading_the_rest() {
    let case = case("github");
    let seen = Seen::default();
    let app = app(verifier(&case), &seen); // cap: 4 KiB
    let headers = case.sign(&vec![b'x'; 8192], NOW);

    // Announced too large: refused before a byte is read.
    let read = Arc::new(AtomicUsize::new(0));
    let body = Body::new(Chunks {
        left: 1000,
        read: read.clone(),
    });
    let mut announced = request(&headers, body);
    announced
        .headers_mut()
        .insert("content-length", value("1024000"));
    let (status, _) = send(&app, announced).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(read.load(Ordering::SeqCst), 0);

    // Streamed without a length: reading stops at the first chunk past the cap.
    let read = Arc::new(AtomicUsize::new(0));
    let body = Body::new(Chunks {
        left: 1000,
        read: read.clone(),
    });
    let (status, _) = send(&app, request(&headers, body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        read.load(Ordering::SeqCst),
        5,
        "4 chunks fit, the 5th passes the cap"
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);

    // Exactly at the cap and signed: accepted.
    let read = Arc::new(AtomicUsize::new(0));
    let headers = case.sign(&vec![b'x'; 4096], NOW);
    let body = Body::new(Chunks { left: 4, read });
    assert_eq!(send(&app, request(&headers, body)).await.0, StatusCode::OK);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_headers_are_a_401_before_any_of_the_body_is_read() {
    let case = case("standard v1");
    let seen = Seen::default();
    let app = app(verifier(&case), &seen);
    let good = case.sign(b"x", NOW);
    let mut missing = good.clone();
    missing.remove("webhook-signature");
    let mut malformed = good.clone();
    malformed.insert("webhook-id", value("msg.with.dots"));
    let stale = case.sign(b"x", NOW - 3600);
    for headers in [HeaderMap::new(), missing, malformed, stale] {
        let read = Arc::new(AtomicUsize::new(0));
        let body = Body::new(Chunks {
            left: 3,
            read: read.clone(),
        });
        let (status, _) = send(&app, request(&headers, body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(read.load(Ordering::SeqCst), 0, "{headers:?}");
    }
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn twilio_is_verified_against_the_public_url() {
    let mut case = case("twilio");
    case.url = Some("https://hooks.example.com/hook?tenant=7");
    let seen = Seen::default();
    let app = app(verifier(&case), &seen);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let mut request = request(&headers, body.clone());
    *request.uri_mut() = "/hook?tenant=7".parse().unwrap();
    assert_eq!(send(&app, request).await.0, StatusCode::OK);
    let mut request = crate::request(&headers, body);
    *request.uri_mut() = "/hook?tenant=8".parse().unwrap();
    assert_eq!(send(&app, request).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_twilio_layer_needs_a_configured_public_url() {
    let verifier = Arc::new(verifier(&case("twilio")));
    let err = WebhookLayer::new(verifier.clone()).unwrap_err();
    assert!(
        matches!(&err, Error::Config(message) if message.contains("with_public_url")),
        "{err}"
    );
    for bad in [
        "",
        "hooks.example.com",
        "https://",
        "https://x.com/?a=1",
        "ftp://x.com",
    ] {
        assert!(
            WebhookLayer::with_public_url(verifier.clone(), bad).is_err(),
            "{bad:?}"
        );
    }
    let layer =
        WebhookLayer::with_public_url(verifier, "https://hooks.example.com:8443/api/").unwrap();
    assert!(format!("{layer:?}").contains("\"https://hooks.example.com:8443/api\""));
}

#[tokio::test]
async fn twilio_never_trusts_the_host_header_or_an_absolute_target() {
    // A delivery Twilio signed for another site of the same account (same auth token)
    // is replayed here, with the Host header and the request target pointing at that
    // site: the layer verifies against its own configured URL, so it fails.
    let case = case("twilio");
    let seen = Seen::default();
    let app = app(verifier(&case), &seen);
    let body = case.body(NOW);
    let other_site = "https://other.example.net/hook?tenant=7";
    let headers = case
        .signer()
        .sign(
            &webhook_verify::SignRequest::new(&body)
                .url(other_site)
                .timestamp(NOW),
        )
        .unwrap();

    let mut with_host = request(&headers, body.clone());
    *with_host.uri_mut() = "/hook?tenant=7".parse().unwrap();
    with_host
        .headers_mut()
        .insert("host", value("other.example.net"));
    assert_eq!(send(&app, with_host).await.0, StatusCode::UNAUTHORIZED);

    let mut absolute = request(&headers, body.clone());
    *absolute.uri_mut() = other_site.parse().unwrap();
    assert_eq!(send(&app, absolute).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn twilio_behind_a_nested_router_signs_the_original_path() {
    let mut case = case("twilio");
    case.url = Some("https://hooks.example.com/webhooks/hook?tenant=7");
    let seen = Seen::default();
    let app = Router::new().nest("/webhooks", app(verifier(&case), &seen));
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let mut request = request(&headers, body);
    *request.uri_mut() = "/webhooks/hook?tenant=7".parse().unwrap();
    assert_eq!(send(&app, request).await.0, StatusCode::OK);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_handler_failure_releases_the_delivery_for_the_senders_retry() {
    let case = case("standard v1");
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);

    // The handler fails: every retry reaches it, until one succeeds.
    let failing = Seen::default();
    let app = app_answering(verifier(&case), &failing, StatusCode::INTERNAL_SERVER_ERROR);
    for _ in 0..2 {
        assert_eq!(
            send(&app, request(&headers, body.clone())).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    assert_eq!(failing.calls.load(Ordering::SeqCst), 2);

    // A client error is the handler's answer, not a failure: the delivery stays
    // recorded, and a replay is a 401 that never reaches the handler.
    let refusing = Seen::default();
    let app = app_answering(verifier(&case), &refusing, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refusing.calls.load(Ordering::SeqCst), 1);
}

/// The sender hangs up (or a timeout fires) while the handler runs: the request's future
/// is dropped before the handler finished, and the retry must reach the handler rather
/// than be rejected as a replay of a delivery that may never have been handled.
#[tokio::test]
async fn a_handler_dropped_before_it_finished_releases_the_delivery() {
    let case = case("standard v1");
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    // The first run never finishes; later runs answer at once.
    let handler = move || {
        let calls = Arc::clone(&counted);
        async move {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                std::future::pending::<()>().await;
            }
            StatusCode::OK
        }
    };
    let app = Router::new()
        .route("/hook", post(handler))
        .route_layer(layer(verifier(&case)));

    let first = tokio::time::timeout(
        Duration::from_millis(50),
        send(&app, request(&headers, body.clone())),
    )
    .await;
    assert!(first.is_err(), "the first run never finishes");
    // The release runs as a task on this runtime: give it its turn.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::OK
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Finished and answered 2xx: recorded for good.
    assert_eq!(
        send(&app, request(&headers, body)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

struct Down;

impl ReplayGuard for Down {
    fn check_and_remember<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: SystemTime,
        _: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>> {
        Box::pin(async { Err(Error::ReplayGuard("store is down".into())) })
    }

    fn forget<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Err(Error::ReplayGuard("store is down".into())) })
    }
}

/// A guard whose first write lands but whose answer is lost (a timeout after Redis
/// applied the `SET`): the delivery is refused, and must not stay recorded.
struct LosesFirstReply {
    inner: MemoryReplayGuard,
    lost: AtomicUsize,
}

impl ReplayGuard for LosesFirstReply {
    fn check_and_remember<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>> {
        Box::pin(async move {
            let answer = self.inner.check_and_remember(key, token, now, ttl).await;
            if self.lost.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(Error::ReplayGuard("timed out waiting for the reply".into()));
            }
            answer
        })
    }

    fn forget<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        self.inner.forget(key, token)
    }
}

#[tokio::test]
async fn a_delivery_refused_for_a_lost_reply_is_not_left_recorded() {
    let case = case("stripe");
    let seen = Seen::default();
    let guard = Arc::new(LosesFirstReply {
        inner: MemoryReplayGuard::new(NonZeroUsize::new(16).unwrap()),
        lost: AtomicUsize::new(0),
    });
    let verifier = case
        .guarded(&ManualClock::new(NOW), guard.clone())
        .build()
        .unwrap();
    let app = app(verifier, &seen);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(guard.inner.is_empty(), "the lost write was taken back");
    // The sender's retry goes through, once.
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, request(&headers, body)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unavailable_replay_guard_fails_closed() {
    let case = case("stripe");
    let seen = Seen::default();
    let verifier = case
        .guarded(&ManualClock::new(NOW), Arc::new(Down))
        .build()
        .unwrap();
    let app = app(verifier, &seen);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    assert_eq!(
        send(&app, request(&headers, body)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_integration_the_source_does_not_know_is_a_uniform_401() {
    let case = case("stripe");
    let source = Arc::new(MemorySecretSource::new());
    source.insert("acme", SecretSet::new(case.secret()));
    let seen = Seen::default();
    let verifier = Verifier::builder(case.scheme.clone())
        .secret_source(source.clone(), "acme")
        .clock(ManualClock::new(NOW))
        .build()
        .unwrap();
    let app = app(verifier, &seen);
    let body = case.body(NOW);
    let headers = case.sign(&body, NOW);
    assert_eq!(
        send(&app, request(&headers, body.clone())).await.0,
        StatusCode::OK
    );

    // The integration is disconnected: its deliveries are refused like forgeries.
    assert!(source.remove("acme"));
    assert_eq!(
        send(&app, request(&headers, body)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_extractor_fails_closed_on_a_route_without_the_layer() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/open",
        post(move |_: Verified| async move {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let request = Request::post("/open").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
