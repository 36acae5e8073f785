//! Second factors: TOTP enrollment, the two-step sign-in and recovery codes.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::StatusCode;
use mfa::{TotpParams, TotpSecret, totp_code};
use serde_json::json;

use crate::support::{
    Answer, Call, PASSWORD, TestApp, audit_entries, fail_audit_appends, login, post_credentials,
    signup,
};

const TENANT: &str = "acme";
const EMAIL: &str = "alice@acme.example";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The code the authenticator app shows at `time`.
fn code_at(secret: &TotpSecret, time: u64) -> String {
    totp_code(secret, &TotpParams::default(), time)
}

/// A user who has turned TOTP on: the app's secret, the recovery codes shown at
/// confirmation, and the Unix time of the code that confirmed it.
pub(crate) struct Enrolled {
    pub(crate) secret: TotpSecret,
    pub(crate) recovery_codes: Vec<String>,
    pub(crate) confirmed_at: u64,
}

pub(crate) async fn enroll(router: &Router) -> Enrolled {
    signup(router, TENANT, EMAIL).await;
    let cookie = login(router, TENANT, EMAIL).await;

    let started = Call::post("/api/mfa/totp")
        .cookie(&cookie)
        .send(router)
        .await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.json());
    let started = started.json();
    assert!(started["uri"].as_str().is_some_and(|uri| {
        uri.starts_with("otpauth://totp/Palisade%20example:alice%40acme.example?")
    }));
    assert!(
        started["qr_svg"]
            .as_str()
            .is_some_and(|svg| svg.contains("<svg"))
    );
    let secret = TotpSecret::from_base32(started["secret"].as_str().expect("a secret"))
        .expect("a base32 secret");

    // Started but not confirmed: it does not count yet.
    let factors = Call::get("/api/mfa")
        .cookie(&cookie)
        .send(router)
        .await
        .json();
    assert_eq!(factors["totp"], false);

    let wrong = Call::post("/api/mfa/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": "000000", "current_password": PASSWORD }))
        .send(router)
        .await;
    // (A 1 in 10^6 chance that 000000 is the right code; then this test fails once.)
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    // A session from before the second factor: confirming it ends this one.
    let earlier = login(router, TENANT, EMAIL).await;

    // The right code without the account's password: a session cookie alone does not
    // turn a second factor on (and the code is not spent). From another address, so
    // the failure leaves this client's login limit whole for the tests that count it.
    let confirmed_at = unix_now();
    let code = code_at(&secret, confirmed_at);
    let cookie_only = Call::post("/api/mfa/totp/confirm")
        .peer("198.51.100.23:41000")
        .cookie(&cookie)
        .json(json!({ "code": code, "current_password": "not the password" }))
        .send(router)
        .await;
    assert_eq!(cookie_only.status, StatusCode::FORBIDDEN);
    let factors = Call::get("/api/mfa")
        .cookie(&cookie)
        .send(router)
        .await
        .json();
    assert_eq!(factors["totp"], false);
    let failed = audit_entries(router, &cookie, "auth.login.failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["details"]["step"], "reauthenticate");

    let confirmed = Call::post("/api/mfa/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": code, "current_password": PASSWORD }))
        .send(router)
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.json());
    let recovery_codes: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|code| code.as_str().expect("a code").to_owned())
        .collect();
    assert_eq!(recovery_codes.len(), 10);
    assert_eq!(confirmed.json()["other_sessions_signed_out"], 1);
    let earlier = Call::get("/api/mfa").cookie(&earlier).send(router).await;
    assert_eq!(earlier.status, StatusCode::UNAUTHORIZED);
    // This device goes on under a new session id; its old cookie is dead.
    let replaced = Call::get("/api/mfa").cookie(&cookie).send(router).await;
    assert_eq!(replaced.status, StatusCode::UNAUTHORIZED);
    let cookie = confirmed.session_cookie();

    let factors = Call::get("/api/mfa")
        .cookie(&cookie)
        .send(router)
        .await
        .json();
    assert_eq!(factors, json!({ "totp": true, "recovery_codes_left": 10 }));
    let enrolled = audit_entries(router, &cookie, "account.mfa.enrolled").await;
    assert_eq!(enrolled.len(), 1, "{enrolled:?}");

    Enrolled {
        secret,
        recovery_codes,
        confirmed_at,
    }
}

/// The password step: asks for the second factor, sets no cookie; returns the challenge.
pub(crate) async fn password_step(router: &Router) -> String {
    let answer = post_credentials(router, "/api/login", TENANT, EMAIL, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
    assert!(
        answer.header("set-cookie").is_none(),
        "a session before the second factor"
    );
    let body = answer.json();
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    body["challenge"].as_str().expect("a challenge").to_owned()
}

pub(crate) async fn second_step(router: &Router, challenge: &str, code: &str) -> Answer {
    Call::post("/api/login/mfa")
        .json(json!({ "challenge": challenge, "code": code }))
        .send(router)
        .await
}

#[tokio::test]
async fn totp_users_sign_in_in_two_steps() {
    let app = TestApp::new().await;
    let router = app.router();
    let enrolled = enroll(&router).await;

    let challenge = password_step(&router).await;
    let wrong = second_step(&router, &challenge, "000000").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("set-cookie").is_none());

    // A challenge that was not issued, or was altered, is refused whatever the code.
    let code = code_at(&enrolled.secret, enrolled.confirmed_at + 30);
    let mut altered = challenge.clone();
    let last = altered.pop().expect("a character");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [altered.as_str(), "pal1.AAAA", ""] {
        let answer = second_step(&router, bad, &code).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad:?}");
    }

    // The confirmation used this time step; the next step's code signs in, at AAL2.
    let signed_in = second_step(&router, &challenge, &code).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.json());
    let cookie = signed_in.session_cookie();
    let me = Call::get("/api/me").cookie(&cookie).send(&router).await;
    assert_eq!(me.json()["aal"], 2);

    // The same code again, with a fresh challenge: a replay.
    let fresh = password_step(&router).await;
    let replayed = second_step(&router, &fresh, &code).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);

    // The spent challenge again, with an unused recovery code: refused before the code
    // is looked at, so the code is not used up.
    let spent = second_step(&router, &challenge, &enrolled.recovery_codes[0]).await;
    assert_eq!(spent.status, StatusCode::UNAUTHORIZED);
    let factors = Call::get("/api/mfa").cookie(&cookie).send(&router).await;
    assert_eq!(factors.json()["recovery_codes_left"], 10);

    let failed = audit_entries(&router, &cookie, "auth.login.failed").await;
    let second_step_failures = failed
        .iter()
        .filter(|e| e["details"]["factor"] == "totp")
        .count();
    assert_eq!(
        second_step_failures, 2,
        "the wrong code and the replay: {failed:?}"
    );
    let succeeded = audit_entries(&router, &cookie, "auth.login.succeeded").await;
    assert!(
        succeeded.iter().any(|e| e["details"]["factor"] == "totp"),
        "{succeeded:?}"
    );
}

/// A challenge made with the old password dies with it: whoever learned the password
/// and got that far cannot finish the sign-in after the owner changed it.
#[tokio::test]
async fn a_password_change_voids_earlier_challenges() {
    let app = TestApp::new().await;
    let router = app.router();
    let enrolled = enroll(&router).await;
    let stolen = password_step(&router).await;

    let owner = password_step(&router).await;
    let signed_in = second_step(&router, &owner, &enrolled.recovery_codes[0]).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.json());
    let changed = Call::post("/api/password")
        .cookie(&signed_in.session_cookie())
        .json(json!({ "current_password": PASSWORD, "new_password": "a new long passphrase here" }))
        .send(&router)
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.json());

    let late = second_step(&router, &stolen, &enrolled.recovery_codes[1]).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::new().await;
    let router = app.router();
    let enrolled = enroll(&router).await;
    let code = &enrolled.recovery_codes[0];

    let challenge = password_step(&router).await;
    let signed_in = second_step(&router, &challenge, code).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.json());
    assert_eq!(signed_in.json()["recovery_codes_left"], 9);

    let challenge = password_step(&router).await;
    let again = second_step(&router, &challenge, code).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let other = second_step(&router, &challenge, &enrolled.recovery_codes[1]).await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_codes_count_against_the_login_limit() {
    let app = TestApp::new().await;
    let router = app.router();
    let enrolled = enroll(&router).await;
    let challenge = password_step(&router).await;
    for attempt in 1..=10u32 {
        let answer = second_step(&router, &challenge, "not-a-recovery-code").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // The eleventh is refused before the code is looked at, even the right one.
    let code = code_at(&enrolled.secret, enrolled.confirmed_at + 30);
    let limited = second_step(&router, &challenge, &code).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("set-cookie").is_none());
}

/// Guesses at the code from many addresses still run into the per-account limit: a
/// known password and a botnet do not buy more than 20 guesses a day.
#[tokio::test]
async fn wrong_codes_from_many_addresses_count_against_the_account() {
    let app = TestApp::new().await;
    let router = app.router();
    let enrolled = enroll(&router).await;
    let challenge = password_step(&router).await;
    let from = |n: u32, code: &str| {
        Call::post("/api/login/mfa")
            .json(json!({ "challenge": challenge, "code": code }))
            .peer(&format!("198.51.100.{n}:4000"))
    };
    for n in 1..=20u32 {
        let answer = from(n, "000000-not-a-code").send(&router).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "address {n}");
    }
    let code = code_at(&enrolled.secret, enrolled.confirmed_at + 30);
    let limited = from(21, &code).send(&router).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .header("ratelimit-policy")
            .is_some_and(|v| v.contains(r#""mfa-account";q=20;w=86400"#)),
        "{:?}",
        limited.headers
    );
}

/// The audit store failing when TOTP is confirmed does not keep the sessions from
/// before the second factor alive: the request fails, and they have ended.
#[tokio::test]
async fn confirming_totp_ends_other_sessions_even_when_the_audit_fails() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, TENANT, EMAIL).await;
    let cookie = login(&router, TENANT, EMAIL).await;
    let earlier = login(&router, TENANT, EMAIL).await;
    let started = Call::post("/api/mfa/totp")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.json());
    let secret = TotpSecret::from_base32(started.json()["secret"].as_str().expect("a secret"))
        .expect("a base32 secret");

    fail_audit_appends(&app).await;
    let confirmed = Call::post("/api/mfa/totp/confirm")
        .cookie(&cookie)
        .json(json!({ "code": code_at(&secret, unix_now()), "current_password": PASSWORD }))
        .send(&router)
        .await;
    assert_eq!(confirmed.status, StatusCode::INTERNAL_SERVER_ERROR);
    let earlier = Call::get("/api/mfa").cookie(&earlier).send(&router).await;
    assert_eq!(earlier.status, StatusCode::UNAUTHORIZED);
}
