//! Sign-up, sign-in, the session cookie, listing and revoking sessions, password change.

use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    Call, PASSWORD, TestApp, audit_entries, fail_audit_appends, login, post_credentials, signup,
};

/// The whole sessions flow, against whichever backend `router` uses.
pub(crate) async fn sessions_flow(router: &Router) {
    signup(router, "acme", "alice@acme.example").await;

    let login_answer =
        post_credentials(router, "/api/login", "acme", "alice@acme.example", PASSWORD).await;
    assert_eq!(login_answer.status, StatusCode::OK);
    let set_cookie = login_answer.header("set-cookie").expect("a session cookie");
    assert!(set_cookie.starts_with("__Host-session="), "{set_cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    let laptop = login_answer.session_cookie();

    let me = Call::get("/api/me").cookie(&laptop).send(router).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "alice@acme.example");
    assert_eq!(me.json()["tenant"], "acme");

    // A second device.
    let phone = login(router, "acme", "alice@acme.example").await;
    let listed = Call::get("/api/sessions")
        .cookie(&laptop)
        .send(router)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let sessions = listed.json()["sessions"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(sessions[0]["ip"], "203.0.113.7");
    assert_eq!(sessions[0]["user_agent"], "test-agent/1.0");
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["handle"].as_str())
        .expect("the phone's handle")
        .to_owned();

    // Ending another session takes the password: a cookie alone does not sign the
    // owner's other devices out.
    let one = format!("/api/sessions/{other}");
    let endpoints = [
        (Method::DELETE, one.as_str()),
        (Method::POST, "/api/sessions/revoke-others"),
    ];
    let bodies = [
        (
            json!({ "current_password": "not the password" }),
            StatusCode::FORBIDDEN,
        ),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (method, path) in &endpoints {
        for (body, status) in &bodies {
            let refused = Call::new(method.clone(), path)
                .cookie(&laptop)
                .json(body.clone())
                .send(router)
                .await;
            assert_eq!(refused.status, *status, "{method} {path} {body}");
        }
    }
    let phone_me = Call::get("/api/me").cookie(&phone).send(router).await;
    assert_eq!(
        phone_me.status,
        StatusCode::OK,
        "the phone is still signed in"
    );

    // The laptop signs the phone out: the phone's cookie stops working at once.
    let revoked = Call::new(Method::DELETE, &format!("/api/sessions/{other}"))
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD }))
        .send(router)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.json());
    let phone_me = Call::get("/api/me").cookie(&phone).send(router).await;
    assert_eq!(phone_me.status, StatusCode::UNAUTHORIZED);
    let listed = Call::get("/api/sessions")
        .cookie(&laptop)
        .send(router)
        .await;
    assert_eq!(listed.json()["sessions"].as_array().map(Vec::len), Some(1));

    // Revoking it again, or a handle that is not one: 404.
    let again = Call::new(Method::DELETE, &format!("/api/sessions/{other}"))
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD }))
        .send(router)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let garbage = Call::new(Method::DELETE, "/api/sessions/not-a-handle")
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD }))
        .send(router)
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);

    let revocations = audit_entries(router, &laptop, "auth.session.revoked").await;
    assert_eq!(revocations.len(), 1, "{revocations:?}");
    assert_eq!(revocations[0]["target"], other.as_str());
    let logins = audit_entries(router, &laptop, "auth.login.succeeded").await;
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0]["ip"], "203.0.113.7");

    // Sign out every other device: the tablet's cookie dies, and this device goes on
    // under a new session id, its old cookie dead too.
    let tablet = login(router, "acme", "alice@acme.example").await;
    let others = Call::post("/api/sessions/revoke-others")
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD }))
        .send(router)
        .await;
    assert_eq!(others.status, StatusCode::OK, "{:?}", others.json());
    assert_eq!(others.json(), json!({ "revoked": 1 }));
    let replaced = laptop;
    let laptop = others.session_cookie();
    assert_ne!(laptop, replaced);
    for (cookie, status) in [
        (&tablet, StatusCode::UNAUTHORIZED),
        (&replaced, StatusCode::UNAUTHORIZED),
        (&laptop, StatusCode::OK),
    ] {
        let me = Call::get("/api/me").cookie(cookie).send(router).await;
        assert_eq!(me.status, status);
    }

    // Sign out: the cookie is cleared and dead.
    let out = Call::post("/api/signout")
        .cookie(&laptop)
        .send(router)
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let after = Call::get("/api/me").cookie(&laptop).send(router).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signup_login_list_revoke_sign_out() {
    let app = TestApp::new().await;
    sessions_flow(&app.router()).await;
}

#[tokio::test]
async fn no_cookie_or_forged_cookie_is_401() {
    let app = TestApp::new().await;
    let router = app.router();
    let none = Call::get("/api/sessions").send(&router).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    let mut forged = cookie.clone();
    forged.pop();
    forged.push(if cookie.ends_with('A') { 'B' } else { 'A' });
    let answer = Call::get("/api/me").cookie(&forged).send(&router).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    // Login CSRF: a page elsewhere posting the login form.
    let login = Call::post("/api/login")
        .header("sec-fetch-site", "cross-site")
        .json(crate::support::credentials(
            "acme",
            "alice@acme.example",
            PASSWORD,
        ))
        .send(&router)
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    // A state change with a valid session, from another site.
    let cookie = crate::support::login(&router, "acme", "alice@acme.example").await;
    let out = Call::post("/api/signout-all")
        .header("sec-fetch-site", "cross-site")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let me = Call::get("/api/me").cookie(&cookie).send(&router).await;
    assert_eq!(me.status, StatusCode::OK, "the session survived");
}

#[tokio::test]
async fn password_change_ends_other_sessions_and_reissues_this_one() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let laptop = login(&router, "acme", "alice@acme.example").await;
    let phone = login(&router, "acme", "alice@acme.example").await;

    let wrong = Call::post("/api/password")
        .cookie(&laptop)
        .json(json!({ "current_password": "not it at all", "new_password": "a new long passphrase here" }))
        .send(&router)
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let weak = Call::post("/api/password")
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD, "new_password": "password" }))
        .send(&router)
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.json()["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );

    let changed = Call::post("/api/password")
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD, "new_password": "a new long passphrase here" }))
        .send(&router)
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.json());
    let reissued = changed.session_cookie();
    assert_ne!(reissued, laptop);

    for dead in [&laptop, &phone] {
        let answer = Call::get("/api/me").cookie(dead).send(&router).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let alive = Call::get("/api/me").cookie(&reissued).send(&router).await;
    assert_eq!(alive.status, StatusCode::OK);

    // The old password no longer signs in; the new one does.
    let old = post_credentials(
        &router,
        "/api/login",
        "acme",
        "alice@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = post_credentials(
        &router,
        "/api/login",
        "acme",
        "alice@acme.example",
        "a new long passphrase here",
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);

    let entries = audit_entries(&router, &reissued, "account.password.changed").await;
    assert_eq!(entries.len(), 1);
    // The wrong current password is on record as a failed sign-in of the account.
    let failed = audit_entries(&router, &reissued, "auth.login.failed").await;
    let reauthentications = failed
        .iter()
        .filter(|e| e["details"]["step"] == "reauthenticate")
        .count();
    assert_eq!(reauthentications, 1, "{failed:?}");
}

/// The audit store failing when the password changes does not keep the other sessions
/// alive: the request fails, and every session (the ones of whoever prompted the
/// change among them) has ended.
#[tokio::test]
async fn password_change_ends_other_sessions_even_when_the_audit_fails() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let laptop = login(&router, "acme", "alice@acme.example").await;
    let thief = login(&router, "acme", "alice@acme.example").await;

    fail_audit_appends(&app).await;
    let changed = Call::post("/api/password")
        .cookie(&laptop)
        .json(json!({ "current_password": PASSWORD, "new_password": "a new long passphrase here" }))
        .send(&router)
        .await;
    assert_eq!(changed.status, StatusCode::INTERNAL_SERVER_ERROR);
    for dead in [&laptop, &thief] {
        let answer = Call::get("/api/me").cookie(dead).send(&router).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn signup_refuses_taken_tenants_and_weak_passwords() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let taken = post_credentials(
        &router,
        "/api/signup",
        "acme",
        "mallory@evil.example",
        PASSWORD,
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let weak = post_credentials(
        &router,
        "/api/signup",
        "globex",
        "bob@globex.example",
        "password",
    )
    .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_tenant = post_credentials(
        &router,
        "/api/signup",
        "Not A Tenant!",
        "bob@globex.example",
        PASSWORD,
    )
    .await;
    assert_eq!(bad_tenant.status, StatusCode::BAD_REQUEST);
}

/// A stolen session cookie does not buy unlimited guesses at the current password:
/// wrong ones count against the login limit, and the eleventh try is refused unread.
#[tokio::test]
async fn wrong_current_passwords_count_against_the_login_limit() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    let change = |current: &str| {
        Call::post("/api/password").cookie(&cookie).json(
            json!({ "current_password": current, "new_password": "a new long passphrase here" }),
        )
    };
    for attempt in 1..=10 {
        let wrong = change("a wrong guess").send(&router).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "attempt {attempt}");
    }
    let limited = change(PASSWORD).send(&router).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let me = Call::get("/api/me").cookie(&cookie).send(&router).await;
    assert_eq!(me.status, StatusCode::OK, "the session is untouched");
}

/// Wrong current passwords and wrong sign-in passwords spend one per-account budget:
/// ten of each, from two addresses, and the account is locked for a third address too.
#[tokio::test]
async fn reauthentication_and_sign_in_share_the_account_budget() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    for attempt in 1..=10 {
        let wrong = Call::post("/api/password")
            .cookie(&cookie)
            .json(json!({ "current_password": "a wrong guess", "new_password": "a new long passphrase here" }))
            .send(&router)
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "attempt {attempt}");
    }
    for attempt in 1..=10 {
        let wrong = Call::post("/api/login")
            .peer("198.51.100.1:5000")
            .json(crate::support::credentials(
                "acme",
                "alice@acme.example",
                "a wrong guess",
            ))
            .send(&router)
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let locked = Call::post("/api/login")
        .peer("198.51.100.2:5000")
        .json(crate::support::credentials(
            "acme",
            "alice@acme.example",
            PASSWORD,
        ))
        .send(&router)
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
}

/// A sign-in that cannot be audited fails, and leaves no live session that nobody holds.
#[tokio::test]
async fn a_sign_in_that_cannot_be_audited_leaves_no_session() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let laptop = login(&router, "acme", "alice@acme.example").await;
    fail_audit_appends(&app).await;
    let failed = post_credentials(
        &router,
        "/api/login",
        "acme",
        "alice@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(failed.header("set-cookie").is_none());
    let listed = Call::get("/api/sessions")
        .cookie(&laptop)
        .send(&router)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.json()["sessions"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        listed.json()
    );
}
