//! The axum extractor on a real router, driven with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use session_tokens::store::{Lookup, SessionRecord, SessionStore, StoreFuture};
use session_tokens::{
    Aal, KeySet, MemoryStore, Session, SessionHandle, SessionManager, StoreError, TenantId, UserId,
};
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
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(manager.clone())
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
    let send = |headers: &'static [(&'static str, &'static str)]| {
        let app = app.clone();
        async move {
            let mut request = Request::builder().method("POST").uri("/sign-in");
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
                .expect("body")
                .to_bytes();
            (status, body.len())
        }
    };
    let (acme, alice) = (tenant("acme"), user("alice"));
    let listed = || manager.list_user(&acme, &alice);

    assert_eq!(
        send(&[("sec-fetch-site", "cross-site")]).await,
        (StatusCode::FORBIDDEN, 0)
    );
    assert_eq!(
        send(&[
            ("host", "app.example.com"),
            ("origin", "https://evil.example")
        ])
        .await,
        (StatusCode::FORBIDDEN, 0)
    );
    assert!(listed().await.unwrap().is_empty(), "no session was issued");
    let (status, len) = send(&[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(len > 0);
    assert_eq!(listed().await.unwrap().len(), 1);
}

/// A store whose every call fails, like an unreachable database.
struct DownStore;

fn down<'a, T: Send + 'a>() -> StoreFuture<'a, T> {
    Box::pin(async {
        Err(StoreError::new(
            "connect",
            std::io::Error::other("connection refused"),
        ))
    })
}

impl SessionStore for DownStore {
    fn insert<'a>(&'a self, _: &'a SessionRecord) -> StoreFuture<'a, ()> {
        down()
    }
    fn lookup<'a>(&'a self, _: &'a SessionHandle) -> StoreFuture<'a, Option<Lookup>> {
        down()
    }
    fn touch<'a>(&'a self, _: &'a SessionHandle, _: u64, _: u64) -> StoreFuture<'a, bool> {
        down()
    }
    fn list<'a>(
        &'a self,
        _: &'a TenantId,
        _: &'a UserId,
        _: u64,
        _: usize,
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        down()
    }
    fn generation<'a>(&'a self, _: &'a TenantId, _: &'a UserId) -> StoreFuture<'a, u64> {
        down()
    }
    fn revoke<'a>(
        &'a self,
        _: &'a TenantId,
        _: &'a UserId,
        _: &'a SessionHandle,
        _: u64,
    ) -> StoreFuture<'a, bool> {
        down()
    }
    fn revoke_all<'a>(
        &'a self,
        _: &'a TenantId,
        _: &'a UserId,
        _: Option<&'a SessionHandle>,
        _: u64,
    ) -> StoreFuture<'a, u64> {
        down()
    }
    fn revoke_oldest<'a>(
        &'a self,
        _: &'a TenantId,
        _: &'a UserId,
        _: &'a SessionHandle,
        _: usize,
        _: u64,
    ) -> StoreFuture<'a, u64> {
        down()
    }
    fn bump_generation<'a>(
        &'a self,
        _: &'a TenantId,
        _: &'a UserId,
        _: u64,
    ) -> StoreFuture<'a, u64> {
        down()
    }
    fn purge(&self, _: u64) -> StoreFuture<'_, u64> {
        down()
    }
}

#[tokio::test]
async fn an_unreachable_store_fails_closed() {
    let clock = ManualClock::new();
    let working = Arc::new(MemoryStore::new());
    let issuer = manager(Arc::clone(&working), &clock);
    let issued = issuer.issue(request("acme", "alice")).await.unwrap();
    // The same keys, but the store is down: a perfectly signed token is not accepted.
    let broken = builder(KeySet::new(hs_key()), DownStore, &clock)
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
