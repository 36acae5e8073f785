//! Failed logins: one answer for every failure, audited, and limited per client IP; the
//! layer's ceilings per origin, per client and on sign-ups.

use axum::http::StatusCode;

use crate::support::{
    Call, PASSWORD, TestApp, audit_entries, credentials, login, post_credentials, signup,
};

#[tokio::test]
async fn wrong_password_is_401_and_audited() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;

    let wrong = post_credentials(
        &router,
        "/api/login",
        "acme",
        "alice@acme.example",
        "not the password",
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("set-cookie").is_none());
    // An unknown account gets the very same answer (after a dummy verify).
    let unknown = post_credentials(
        &router,
        "/api/login",
        "acme",
        "nobody@acme.example",
        "not the password",
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, wrong.body);

    let cookie = login(&router, "acme", "alice@acme.example").await;
    let failures = audit_entries(&router, &cookie, "auth.login.failed").await;
    assert_eq!(failures.len(), 2, "{failures:?}");
    let wrong_entry = failures
        .iter()
        .find(|e| e["actor"] == "email:alice@acme.example")
        .expect("the wrong password is audited");
    assert_eq!(wrong_entry["outcome"], "failure");
    assert_eq!(wrong_entry["ip"], "203.0.113.7");
    assert_eq!(wrong_entry["user_agent"], "test-agent/1.0");
    assert!(
        !serde_json::to_string(&failures)
            .expect("json")
            .contains("not the password"),
        "no password in the audit log"
    );
    let all = audit_entries(&router, &cookie, "auth.*").await;
    assert_eq!(all.len(), 3, "two failures and one success: {all:?}");
}

/// A sign-in that comes with a session cookie (the same user's, or another's) ends that
/// session: the browser's cookie is replaced, and the old session must not live on.
#[tokio::test]
async fn signing_in_ends_the_session_whose_cookie_came_with_it() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    signup(&router, "globex", "bob@globex.example").await;
    let earlier = login(&router, "acme", "alice@acme.example").await;
    let bystander = login(&router, "acme", "alice@acme.example").await;

    let again = Call::post("/api/login")
        .cookie(&earlier)
        .json(credentials("acme", "alice@acme.example", PASSWORD))
        .send(&router)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let current = again.session_cookie();
    let other_user = Call::post("/api/login")
        .cookie(&current)
        .json(credentials("globex", "bob@globex.example", PASSWORD))
        .send(&router)
        .await;
    assert_eq!(other_user.status, StatusCode::OK);
    let bob = other_user.session_cookie();

    for (cookie, status) in [
        (&earlier, StatusCode::UNAUTHORIZED),
        (&current, StatusCode::UNAUTHORIZED),
        (&bystander, StatusCode::OK),
        (&bob, StatusCode::OK),
    ] {
        let me = Call::get("/api/me").cookie(cookie).send(&router).await;
        assert_eq!(me.status, status);
    }
    let ended = audit_entries(&router, &bystander, "auth.session.revoked").await;
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(
        ended
            .iter()
            .all(|e| e["details"]["how"] == "signed_in_again"),
        "{ended:?}"
    );
}

#[tokio::test]
async fn login_limit_answers_429_with_ratelimit_fields_after_ten_failures() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;

    // A success does not count: the preset counts failures only.
    login(&router, "acme", "alice@acme.example").await;
    for attempt in 1..=10u32 {
        let answer =
            post_credentials(&router, "/api/login", "acme", "alice@acme.example", "guess").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        // The client's own quota; not how many failures every client made at Alice.
        assert_eq!(
            answer.header("ratelimit-policy"),
            Some(r#""login";q=10;w=900"#)
        );
        let remaining = 10 - attempt;
        assert!(
            answer
                .header("ratelimit")
                .is_some_and(|v| v.starts_with(&format!(r#""login";r={remaining};"#))),
            "attempt {attempt}: {:?}",
            answer.header("ratelimit")
        );
    }
    // The eleventh is refused before the password is looked at, even the right one.
    let limited = post_credentials(
        &router,
        "/api/login",
        "acme",
        "alice@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some(r#""login";q=10;w=900"#)
    );
    assert!(
        limited
            .header("ratelimit")
            .is_some_and(|v| v.starts_with(r#""login";r=0;t="#))
    );
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=90).contains(&retry), "{retry}");
    assert_eq!(limited.json()["violated-policies"][0], "login");
    assert!(limited.header("set-cookie").is_none());

    // Another client is not affected.
    let elsewhere = Call::post("/api/login")
        .peer("198.51.100.20:5000")
        .json(credentials("acme", "alice@acme.example", PASSWORD))
        .send(&router)
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK);
}

#[tokio::test]
async fn a_success_never_buys_more_guesses() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    signup(&router, "evil", "mallory@evil.example").await;
    // Nine guesses at Alice's password, then a login to the attacker's own account
    // from the same address: the success gives back its own attempt only.
    for _ in 0..9 {
        let answer =
            post_credentials(&router, "/api/login", "acme", "alice@acme.example", "guess").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    login(&router, "evil", "mallory@evil.example").await;
    let tenth =
        post_credentials(&router, "/api/login", "acme", "alice@acme.example", "guess").await;
    assert_eq!(tenth.status, StatusCode::UNAUTHORIZED);
    let eleventh =
        post_credentials(&router, "/api/login", "acme", "alice@acme.example", "guess").await;
    assert_eq!(eleventh.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn origin_ceiling_applies_to_every_route() {
    let app = TestApp::new().await;
    let router = app.router();
    let mut last = None;
    for _ in 0..101 {
        let answer = Call::get("/healthz")
            .header("origin", "https://app.example")
            .send(&router)
            .await;
        last = Some(answer);
    }
    let last = last.expect("answers");
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        last.header("ratelimit-policy")
            .is_some_and(|v| v.contains("api-origin"))
    );
    // Another origin, and requests without one, still pass.
    let other = Call::get("/healthz")
        .header("origin", "https://other.example")
        .send(&router)
        .await;
    assert_eq!(other.status, StatusCode::OK);
    let none = Call::get("/healthz").send(&router).await;
    assert_eq!(none.status, StatusCode::OK);
}

/// The server's own origin is not a key anyone can drain: requests whose `Origin` names
/// the host they are sent to (the server's own pages, or a script sending that origin)
/// are held to the per-address ceiling only.
#[tokio::test]
async fn the_servers_own_origin_has_no_shared_ceiling() {
    let app = TestApp::new().await;
    let router = app.router();
    for n in 1..=150 {
        let answer = Call::get("/healthz")
            .header("host", "app.example")
            .header("origin", "https://app.example")
            .send(&router)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "request {n}");
        assert!(
            answer
                .header("ratelimit-policy")
                .is_none_or(|v| !v.contains("api-origin")),
            "request {n}"
        );
    }
}

/// Leaving out `Origin` does not escape the layer: every client address has its own
/// ceiling of 600 requests a minute, and another address is not held to it.
#[tokio::test]
async fn client_ceiling_applies_without_an_origin() {
    let app = TestApp::new().await;
    let router = app.router();
    // The burst of 600 always passes. The quota refills one request every 100 ms, so a
    // slow machine gets a few more through before the 429; a client going on at full
    // speed meets it well within another 600.
    for n in 1..=600 {
        let answer = Call::get("/healthz").send(&router).await;
        assert_eq!(answer.status, StatusCode::OK, "request {n}");
    }
    let mut limited = None;
    for _ in 0..600 {
        let answer = Call::get("/healthz").send(&router).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("a 429 within another 600 requests");
    assert!(
        limited
            .header("ratelimit-policy")
            .is_some_and(|v| v.contains("api-client"))
    );
    let other = Call::get("/healthz")
        .peer("198.51.100.7:4000")
        .send(&router)
        .await;
    assert_eq!(other.status, StatusCode::OK);
}

/// Sign-ups are limited per client address before the handler runs (each would cost a
/// password hash, a data key and an audit entry): ten an hour, counted whatever the body.
#[tokio::test]
async fn signups_are_limited_per_client() {
    let app = TestApp::new().await;
    let router = app.router();
    for n in 1..=10 {
        let refused = Call::post("/api/signup")
            .json(credentials("acme", "alice@acme.example", "short"))
            .send(&router)
            .await;
        assert_ne!(refused.status, StatusCode::TOO_MANY_REQUESTS, "sign-up {n}");
    }
    let limited = post_credentials(
        &router,
        "/api/signup",
        "acme",
        "alice@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .header("ratelimit-policy")
            .is_some_and(|v| v.contains("signup"))
    );
    // Another address signs up.
    let other = Call::post("/api/signup")
        .json(credentials("acme", "alice@acme.example", PASSWORD))
        .peer("198.51.100.7:4000")
        .send(&router)
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{:?}", other.json());
}
