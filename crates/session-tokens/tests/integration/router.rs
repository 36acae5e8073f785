//! The axum extractor on a real router, driven with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use session_tokens::{Aal, KeySet, MemoryStore, Session, SessionManager};
use tower::ServiceExt;

use crate::support::*;

async fn me(session: Session) -> String {
    format!("{}/{}", session.tenant(), session.user())
}

async fn settings(_session: Session) -> &'static str {
    "saved"
}

async fn admin(State(manager): State<SessionManager>, session: Session) -> StatusCode {
    match manager.require_aal(&session, Aal::Aal2) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::FORBIDDEN,
    }
}

fn app(manager: SessionManager) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/settings", post(settings))
        .route("/admin", get(admin))
        .with_state(manager)
}

async fn call(
    manager: &SessionManager,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    send(app(manager.clone()), method, path, headers).await
}

/// Sends one request through `app`: the status and the body.
async fn send(
    app: Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).expect("a valid request"))
        .await
        .expect("routers are infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("an in-memory body")
        .to_bytes();
    (
        status,
        String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    )
}

fn cookie(token: &str) -> String {
    format!("__Host-session={token}")
}

#[tokio::test]
async fn extractor_yields_the_session_and_refuses_with_a_bare_401() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    let cookie = cookie(issued.token().expose());

    assert_eq!(
        call(&manager, "GET", "/me", &[("cookie", &cookie)]).await,
        (StatusCode::OK, "acme/alice".to_owned())
    );
    // No cookie, garbage, a revoked session: 401 with an empty body every time.
    assert_eq!(
        call(&manager, "GET", "/me", &[]).await,
        (StatusCode::UNAUTHORIZED, String::new())
    );
    assert_eq!(
        call(
            &manager,
            "GET",
            "/me",
            &[("cookie", "__Host-session=garbage")]
        )
        .await,
        (StatusCode::UNAUTHORIZED, String::new())
    );
    manager.sign_out(issued.session()).await.unwrap();
    assert_eq!(
        call(&manager, "GET", "/me", &[("cookie", &cookie)]).await,
        (StatusCode::UNAUTHORIZED, String::new())
    );
}

#[tokio::test]
async fn extractor_applies_the_csrf_guard_to_unsafe_methods() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    let cookie = cookie(issued.token().expose());
    let cookie = ("cookie", cookie.as_str());

    let same_origin = [cookie, ("sec-fetch-site", "same-origin")];
    assert_eq!(
        call(&manager, "POST", "/settings", &same_origin).await,
        (StatusCode::OK, "saved".to_owned())
    );
    let cross_site = [cookie, ("sec-fetch-site", "cross-site")];
    assert_eq!(
        call(&manager, "POST", "/settings", &cross_site).await,
        (StatusCode::FORBIDDEN, String::new())
    );
    let foreign_origin = [
        cookie,
        ("host", "app.example.com"),
        ("origin", "https://evil.example"),
    ];
    assert_eq!(
        call(&manager, "POST", "/settings", &foreign_origin).await.0,
        StatusCode::FORBIDDEN
    );
    let plain_http_origin = [
        cookie,
        ("host", "app.example.com"),
        ("origin", "http://app.example.com"),
    ];
    assert_eq!(
        call(&manager, "POST", "/settings", &plain_http_origin).await,
        (StatusCode::FORBIDDEN, String::new())
    );
    // A cross-site GET is a navigation: it passes.
    let navigation = [cookie, ("sec-fetch-site", "cross-site")];
    assert_eq!(
        call(&manager, "GET", "/me", &navigation).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn extractor_records_activity_at_most_once_per_interval() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    let cookie = cookie(issued.token().expose());
    let last_seen = || async {
        manager
            .verify(issued.token().expose())
            .await
            .unwrap()
            .last_seen_at()
    };
    let issued_at = last_seen().await;

    clock.advance(Duration::from_secs(30));
    call(&manager, "GET", "/me", &[("cookie", &cookie)]).await;
    assert_eq!(last_seen().await, issued_at, "within the touch interval");
    clock.advance(Duration::from_secs(60));
    call(&manager, "GET", "/me", &[("cookie", &cookie)]).await;
    assert_eq!(last_seen().await, clock.now_time());
}

#[tokio::test]
async fn step_up_is_enforced_in_handlers() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    let weak = cookie(issued.token().expose());
    assert_eq!(
        call(&manager, "GET", "/admin", &[("cookie", &weak)])
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let stepped = manager
        .step_up(issued.session(), Aal::Aal2, ["otp"])
        .await
        .unwrap();
    let strong = crate::router::cookie(stepped.token().expose());
    assert_eq!(
        call(&manager, "GET", "/admin", &[("cookie", &strong)])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&manager, "GET", "/admin", &[("cookie", &weak)])
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "the pre-step-up token is dead"
    );
}

#[tokio::test]
async fn sign_in_without_a_session_is_guarded_by_the_layer() {
    // Login CSRF: a cross-site form posting the attacker's credentials would sign the
    // victim in to the attacker's account. No Session extractor runs on sign-in, so the
    // route is covered by the manager's guard as a layer.
    async fn sign_in(State(manager): State<SessionManager>) -> (StatusCode, String) {
        let issued = manager
            .issue(request("acme", "alice"))
            .await
            .expect("issue");
        let cookie = manager.cookie(&issued).expect("cookie");
        (StatusCode::OK, cookie.to_str().expect("ASCII").to_owned())
    }
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let app = Router::new()
        .route("/sign-in", post(sign_in))
        .route_layer(manager.csrf_layer())
        .with_state(manager.clone());
    let (acme, alice) = (tenant("acme"), user("alice"));
    let listed = || manager.list_user(&acme, &alice);
    let sign_in = |headers| send(app.clone(), "POST", "/sign-in", headers);

    assert_eq!(
        sign_in(&[("sec-fetch-site", "cross-site")]).await,
        (StatusCode::FORBIDDEN, String::new())
    );
    assert_eq!(
        sign_in(&[
            ("host", "app.example.com"),
            ("origin", "https://evil.example")
        ])
        .await,
        (StatusCode::FORBIDDEN, String::new())
    );
    assert!(listed().await.unwrap().is_empty(), "no session was issued");
    let (status, set_cookie) = sign_in(&[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(set_cookie.starts_with("__Host-session="), "{set_cookie}");
    assert_eq!(listed().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_store_fails_closed() {
    let clock = ManualClock::new();
    let working = Arc::new(MemoryStore::new());
    let issuer = manager(Arc::clone(&working), &clock);
    let issued = issuer.issue(request("acme", "alice")).await.unwrap();
    // The same keys, but the store is down: a perfectly signed token is not accepted.
    let down = FaultyStore::default();
    down.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let broken = builder(KeySet::new(hs_key()), down, &clock)
        .build()
        .unwrap();
    let err = broken.verify(issued.token().expose()).await.unwrap_err();
    assert!(matches!(err, session_tokens::Error::Store(_)), "{err:?}");
    let (status, body) = call(
        &broken,
        "GET",
        "/me",
        &[("cookie", &cookie(issued.token().expose()))],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "")
    );
    assert!(broken.issue(request("acme", "alice")).await.is_err());
}
