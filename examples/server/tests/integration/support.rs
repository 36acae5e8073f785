//! Building the app in a temporary directory and talking to it.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use example_server::{App, Config, build};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const CLIENT: &str = "203.0.113.7:40000";

/// A development app with everything under a fresh temporary directory.
pub(crate) struct TestApp {
    pub(crate) app: App,
    pub(crate) dir: tempfile::TempDir,
}

impl TestApp {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let app = build(&Config::development(dir.path()))
            .await
            .expect("the development app builds");
        Self { app, dir }
    }

    pub(crate) fn router(&self) -> Router {
        self.app.router.clone()
    }
}

/// A response, its body read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: body {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    /// The `name=value` of the session cookie this response sets.
    pub(crate) fn session_cookie(&self) -> String {
        let set = self.header("set-cookie").expect("a Set-Cookie field");
        set.split(';').next().expect("name=value").to_owned()
    }
}

/// A request as a same-origin browser page would send it, from `CLIENT`.
pub(crate) struct Call {
    request: Request<Body>,
}

impl Call {
    pub(crate) fn new(method: Method, uri: &str) -> Self {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("sec-fetch-site", "same-origin")
            .header(header::USER_AGENT, "test-agent/1.0")
            .body(Body::empty())
            .expect("a request");
        request.extensions_mut().insert(ConnectInfo(
            CLIENT.parse::<SocketAddr>().expect("an address"),
        ));
        Self { request }
    }

    pub(crate) fn get(uri: &str) -> Self {
        Self::new(Method::GET, uri)
    }

    pub(crate) fn post(uri: &str) -> Self {
        Self::new(Method::POST, uri)
    }

    pub(crate) fn json(mut self, body: Value) -> Self {
        self.request.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("a header value"),
        );
        *self.request.body_mut() = Body::from(body.to_string());
        self
    }

    pub(crate) fn bytes(mut self, body: &[u8]) -> Self {
        *self.request.body_mut() = Body::from(body.to_vec());
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.request
            .headers_mut()
            .insert(name, value.parse().expect("a header value"));
        self
    }

    pub(crate) fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    pub(crate) fn peer(mut self, addr: &str) -> Self {
        self.request
            .extensions_mut()
            .insert(ConnectInfo(addr.parse::<SocketAddr>().expect("an address")));
        self
    }

    pub(crate) async fn send(self, router: &Router) -> Answer {
        let response = router
            .clone()
            .oneshot(self.request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}

pub(crate) fn credentials(tenant: &str, email: &str, password: &str) -> Value {
    json!({ "tenant": tenant, "email": email, "password": password })
}

/// Posts `{tenant, email, password}` to `path` (`/api/signup` or `/api/login`).
pub(crate) async fn post_credentials(
    router: &Router,
    path: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> Answer {
    Call::post(path)
        .json(credentials(tenant, email, password))
        .send(router)
        .await
}

/// From now on every audit append of `app` fails (its SQLite database refuses new log
/// entries), while everything else works: for what a request does when it cannot be
/// recorded.
pub(crate) async fn fail_audit_appends(app: &TestApp) {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(app.dir.path().join(example_server::SQLITE_FILE));
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("the app's database opens");
    sqlx::query(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_entries \
         BEGIN SELECT RAISE(ABORT, 'the audit store is down'); END",
    )
    .execute(&mut db)
    .await
    .expect("the trigger is created");
}

/// Signs `email` up as the first account of `tenant`.
pub(crate) async fn signup(router: &Router, tenant: &str, email: &str) {
    let answer = post_credentials(router, "/api/signup", tenant, email, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.json());
}

/// Signs in and returns the session cookie (`__Host-session=...`).
pub(crate) async fn login(router: &Router, tenant: &str, email: &str) -> String {
    let answer = post_credentials(router, "/api/login", tenant, email, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
    answer.session_cookie()
}

/// The tenant's audit entries (newest first) whose action is `action`.
pub(crate) async fn audit_entries(router: &Router, cookie: &str, action: &str) -> Vec<Value> {
    let answer = Call::get(&format!("/api/audit?action={action}"))
        .cookie(cookie)
        .send(router)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
    answer.json()["entries"]
        .as_array()
        .expect("an entries array")
        .clone()
}
