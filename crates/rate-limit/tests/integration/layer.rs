//! The tower layer, end to end through a counting handler.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::hourly;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use rate_limit::layer::{Event, ResponseBody};
use rate_limit::{
    ClientIp, Decision, FakeClock, Key, MemoryStore, Policy, RateLimitLayer, Route, Rule,
};
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceExt};

/// A handler that counts its calls and echoes the decision the layer left it.
#[derive(Clone, Default)]
struct Handler {
    calls: Arc<AtomicUsize>,
}

impl Handler {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn service(&self) -> BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible> {
        let calls = Arc::clone(&self.calls);
        tower::service_fn(move |req: Request<Full<Bytes>>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let remaining = req
                .extensions()
                .get::<Decision>()
                .map(|d| d.remaining().to_string())
                .unwrap_or_default();
            async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(remaining)))) }
        })
        .boxed_clone()
    }
}

fn request(path: &str, peer: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut req = Request::builder().method(Method::POST).uri(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Full::new(Bytes::new())).expect("a valid request");
    let peer: IpAddr = peer.parse().expect("an IP address");
    req.extensions_mut().insert(SocketAddr::new(peer, 40_000));
    req
}

async fn send<S>(svc: &mut S, req: Request<Full<Bytes>>) -> (Response<()>, String)
where
    S: Service<
            Request<Full<Bytes>>,
            Response = Response<ResponseBody<Full<Bytes>>>,
            Error = Infallible,
        >,
{
    let response = svc.ready().await.unwrap().call(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        Response::from_parts(parts, ()),
        String::from_utf8(body.to_vec()).expect("a UTF-8 body"),
    )
}

fn header<'a>(response: &'a Response<()>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("an ASCII field"))
}

fn fake_store(clock: &FakeClock) -> MemoryStore<FakeClock> {
    MemoryStore::builder()
        .clock(clock.clone())
        .build()
        .expect("a valid configuration")
}

#[tokio::test]
async fn a_limited_request_never_reaches_the_handler_and_gets_exact_fields() {
    let clock = FakeClock::new();
    let handler = Handler::default();
    let layer = RateLimitLayer::builder(fake_store(&clock))
        .rule(Rule::new(hourly("per-ip", 3), Key::client_ip()))
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(handler.service());

    let mut seen = Vec::new();
    for _ in 0..3 {
        let (response, body) = send(&mut svc, request("/x", "198.51.100.1", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            Some(r#""per-ip";q=3;w=3600"#)
        );
        seen.push((header(&response, "ratelimit").unwrap().to_owned(), body));
    }
    // 1200 s per request: t is the time until the quota is whole again.
    assert_eq!(
        seen,
        [
            (r#""per-ip";r=2;t=1200"#.to_owned(), "2".to_owned()),
            (r#""per-ip";r=1;t=2400"#.to_owned(), "1".to_owned()),
            (r#""per-ip";r=0;t=3600"#.to_owned(), "0".to_owned()),
        ]
    );
    assert_eq!(handler.calls(), 3);

    clock.advance(Duration::from_secs(200));
    for _ in 0..5 {
        let (response, body) = send(&mut svc, request("/x", "198.51.100.1", &[])).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, "retry-after"), Some("1000"));
        assert_eq!(
            header(&response, "ratelimit-policy"),
            Some(r#""per-ip";q=3;w=3600"#)
        );
        assert_eq!(
            header(&response, "ratelimit"),
            Some(r#""per-ip";r=0;t=1000"#)
        );
        assert_eq!(
            header(&response, "content-type"),
            Some("application/problem+json")
        );
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            problem,
            serde_json::json!({
                "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
                "title": "Request cannot be satisfied as assigned quota has been exceeded",
                "status": 429,
                "detail": "Retry after 1000 seconds.",
                "violated-policies": ["per-ip"],
            })
        );
    }
    assert_eq!(
        handler.calls(),
        3,
        "the handler never ran for a limited request"
    );

    clock.advance(Duration::from_secs(1000));
    let (response, _) = send(&mut svc, request("/x", "198.51.100.1", &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(handler.calls(), 4);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies_and_only_from_the_right() {
    let handler = Handler::default();
    let layer = RateLimitLayer::builder(MemoryStore::new())
        .client_ip(ClientIp::new().trust_proxies(["10.0.0.0/8".parse().unwrap()]))
        .rule(Rule::new(hourly("per-ip", 2), Key::client_ip()))
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(handler.service());

    // An untrusted peer rotating X-Forwarded-For is still one client.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let spoof = format!("192.0.2.{i}");
        let req = request("/", "198.51.100.7", &[("x-forwarded-for", &spoof)]);
        statuses.push(send(&mut svc, req).await.0.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);

    // Behind the trusted proxy, a client rotating the leftmost entries is still the
    // address the proxy saw.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let chain = format!("192.0.2.{i}, 203.0.113.50");
        let req = request("/", "10.0.0.2", &[("x-forwarded-for", &chain)]);
        statuses.push(send(&mut svc, req).await.0.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);

    // A different client behind the same proxy has its own quota; the proxy is no one.
    let req = request(
        "/",
        "10.0.0.2",
        &[("x-forwarded-for", "203.0.113.51, 10.9.9.9")],
    );
    assert_eq!(send(&mut svc, req).await.0.status(), StatusCode::OK);
    assert_eq!(handler.calls(), 5);
}

#[tokio::test]
async fn ipv6_clients_share_a_quota_per_64() {
    let handler = Handler::default();
    let layer = RateLimitLayer::builder(MemoryStore::new())
        .rule(Rule::new(hourly("per-ip", 2), Key::client_ip()))
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(handler.service());
    let mut statuses = Vec::new();
    for peer in [
        "2001:db8:1:2::1",
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
        "2001:db8:1:2:abcd::9",
        "2001:db8:1:3::1",
    ] {
        statuses.push(
            send(&mut svc, request("/", peer, &[]))
                .await
                .0
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 429, 200]);
}

#[derive(Clone)]
struct UserId(String);

#[tokio::test]
async fn rules_apply_per_route_and_per_user_and_every_policy_is_reported() {
    let handler = Handler::default();
    let user = |u: &UserId| u.0.clone();
    let layer = RateLimitLayer::builder(MemoryStore::new())
        .rule(Rule::new(hourly("ai", 2), Key::user(user)).route(Route::prefix("/ai")))
        .rule(Rule::new(hourly("origin", 100), Key::origin()).skip_when_key_missing())
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(handler.service());
    let as_user = |path: &str, id: &str| {
        let mut req = request(path, "198.51.100.1", &[("origin", "https://App.Example")]);
        req.extensions_mut().insert(UserId(id.to_owned()));
        req
    };
    let (first, _) = send(&mut svc, as_user("/ai/extract", "alice")).await;
    assert_eq!(
        header(&first, "ratelimit-policy"),
        Some(r#""ai";q=2;w=3600, "origin";q=100;w=3600"#)
    );
    assert_eq!(
        header(&first, "ratelimit"),
        Some(r#""ai";r=1;t=1800, "origin";r=99;t=36"#)
    );
    assert_eq!(
        send(&mut svc, as_user("/ai/extract", "alice"))
            .await
            .0
            .status(),
        StatusCode::OK
    );
    let (refused, body) = send(&mut svc, as_user("/ai/extract", "alice")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains(r#""violated-policies":["ai"]"#));
    // Bob has his own quota; other routes are not under the AI rule.
    assert_eq!(
        send(&mut svc, as_user("/ai/extract", "bob"))
            .await
            .0
            .status(),
        StatusCode::OK
    );
    let (other, _) = send(&mut svc, as_user("/other", "alice")).await;
    assert_eq!(other.status(), StatusCode::OK);
    // Four admitted requests used the origin's quota; the refused one charged nothing.
    assert_eq!(header(&other, "ratelimit"), Some(r#""origin";r=96;t=144"#));
    // Without an Origin and outside /ai no rule applies: no fields.
    let (bare, _) = send(&mut svc, request("/other", "198.51.100.1", &[])).await;
    assert_eq!(bare.status(), StatusCode::OK);
    assert_eq!(header(&bare, "ratelimit"), None);
}

#[tokio::test]
async fn a_request_without_a_key_shares_one_quota_unless_told_to_skip() {
    let handler = Handler::default();
    let layer = RateLimitLayer::builder(MemoryStore::new())
        .rule(Rule::new(
            hourly("users", 1),
            Key::user(|u: &UserId| u.0.clone()),
        ))
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(handler.service());
    assert_eq!(
        send(&mut svc, request("/", "198.51.100.1", &[]))
            .await
            .0
            .status(),
        StatusCode::OK
    );
    let anonymous = send(&mut svc, request("/", "198.51.100.2", &[])).await.0;
    assert_eq!(anonymous.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn shadow_rules_admit_and_record() {
    let handler = Handler::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let layer = RateLimitLayer::builder(MemoryStore::new())
        .rule(Rule::new(hourly("trial", 1), Key::client_ip()).shadow())
        .on_event(move |event| {
            let line = match event {
                Event::ShadowLimited { decision } => {
                    format!("shadow-limited {}", decision.rate_limit_header())
                }
                other => format!("{other:?}"),
            };
            sink.lock().unwrap().push(line);
        })
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(handler.service());
    for _ in 0..3 {
        let (response, _) = send(&mut svc, request("/", "198.51.100.1", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "ratelimit"),
            None,
            "shadow rules add no fields"
        );
    }
    assert_eq!(handler.calls(), 3);
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.starts_with(r#"shadow-limited "trial";r=0;t="#)),
        "{events:?}"
    );
}

#[tokio::test]
async fn duplicate_policy_names_are_refused() {
    let err = RateLimitLayer::builder(MemoryStore::new())
        .rule(Rule::new(Policy::login(), Key::client_ip()))
        .rule(Rule::new(Policy::login(), Key::global()))
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("two rules use the policy name \"login\""),
        "{err}"
    );
}

#[cfg(feature = "redis")]
mod unreachable {
    use super::*;
    use rate_limit::RedisStore;

    /// A port nothing listens on: bind one, note it, close it.
    fn closed_port_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a bound port").port();
        drop(listener);
        format!("redis://127.0.0.1:{port}")
    }

    #[tokio::test]
    async fn fail_closed_rules_answer_503_and_fail_open_rules_admit() {
        let store = RedisStore::builder(closed_port_url())
            .build()
            .expect("a valid configuration");
        let handler = Handler::default();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let layer = RateLimitLayer::builder(store)
            .rule(Rule::new(hourly("closed", 10), Key::client_ip()).route(Route::prefix("/closed")))
            .rule(
                Rule::new(hourly("open", 10), Key::client_ip())
                    .route(Route::prefix("/open"))
                    .fail_open(),
            )
            .rule(
                Rule::new(hourly("shadow", 10), Key::client_ip())
                    .route(Route::prefix("/shadow"))
                    .shadow(),
            )
            .on_event(move |event| {
                if let Event::StoreError {
                    admitted, shadow, ..
                } = event
                {
                    sink.lock().unwrap().push((*admitted, *shadow));
                }
            })
            .unavailable_retry_after(Duration::from_secs(7))
            .build()
            .expect("a valid configuration");
        let mut svc = layer.layer(handler.service());

        let (closed, body) = send(&mut svc, request("/closed", "198.51.100.1", &[])).await;
        assert_eq!(closed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&closed, "retry-after"), Some("7"));
        assert_eq!(
            header(&closed, "content-type"),
            Some("application/problem+json")
        );
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["status"], 503);
        assert_eq!(
            handler.calls(),
            0,
            "a fail-closed rule keeps the handler from running"
        );

        let (open, _) = send(&mut svc, request("/open", "198.51.100.1", &[])).await;
        assert_eq!(open.status(), StatusCode::OK);
        assert_eq!(header(&open, "ratelimit"), None);
        let (shadow, _) = send(&mut svc, request("/shadow", "198.51.100.1", &[])).await;
        assert_eq!(shadow.status(), StatusCode::OK);
        assert_eq!(handler.calls(), 2);
        assert_eq!(
            *events.lock().unwrap(),
            [(false, false), (true, false), (true, true)]
        );
    }
}

#[tokio::test]
async fn a_full_store_that_refuses_new_keys_makes_fail_closed_rules_answer_503() {
    let store = MemoryStore::builder()
        .max_keys(16)
        .shards(1)
        .when_full(rate_limit::WhenFull::Reject)
        .build()
        .unwrap();
    let handler = Handler::default();
    let layer = RateLimitLayer::builder(store)
        .rule(Rule::new(hourly("per-ip", 5), Key::client_ip()))
        .build()
        .unwrap();
    let mut svc = layer.layer(handler.service());
    for i in 0..16 {
        let peer = format!("198.51.100.{i}");
        assert_eq!(
            send(&mut svc, request("/", &peer, &[])).await.0.status(),
            StatusCode::OK
        );
    }
    let (newcomer, _) = send(&mut svc, request("/", "198.51.100.99", &[])).await;
    assert_eq!(newcomer.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Clients the store already holds are still served, and still limited.
    let (known, _) = send(&mut svc, request("/", "198.51.100.3", &[])).await;
    assert_eq!(known.status(), StatusCode::OK);
    assert_eq!(handler.calls(), 17);
}
