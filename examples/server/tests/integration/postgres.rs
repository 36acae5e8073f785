//! The same flows on PostgreSQL (`DATABASE_URL`), each test in its own schema.

use axum::http::StatusCode;
use example_server::{Config, build};

use crate::support::{Call, login, signup};

pub(crate) async fn config(
    test: &str,
) -> Option<(Config, palisade_test_support::PgSchema, tempfile::TempDir)> {
    let db = palisade_test_support::postgres(test).await?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::development(dir.path());
    config.database_url = Some(db.url().to_owned());
    Some((config, db, dir))
}

#[tokio::test]
async fn sessions_flow_on_postgres() {
    let Some((config, _db, _dir)) = config("example_server_sessions").await else {
        return;
    };
    let app = build(&config).await.expect("the app builds on PostgreSQL");
    assert!(
        app.backends.iter().any(|b| b.contains("PostgreSQL")),
        "{:?}",
        app.backends
    );
    crate::sessions::sessions_flow(&app.router).await;
}

#[tokio::test]
async fn two_instances_share_sessions_and_revocations() {
    let Some((config, _db, _dir)) = config("example_server_two_instances").await else {
        return;
    };
    let one = build(&config).await.expect("first instance");
    let two = build(&config).await.expect("second instance");
    signup(&one.router, "acme", "alice@acme.example").await;
    // Signed in on one instance, the cookie verifies on the other (same sealed key).
    let cookie = login(&one.router, "acme", "alice@acme.example").await;
    let me = Call::get("/api/me").cookie(&cookie).send(&two.router).await;
    assert_eq!(me.status, StatusCode::OK);
    // Signed out on the second, refused on the first.
    let out = Call::post("/api/signout")
        .cookie(&cookie)
        .send(&two.router)
        .await;
    assert_eq!(out.status, StatusCode::OK);
    let me = Call::get("/api/me").cookie(&cookie).send(&one.router).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    // Both append to the one audit log.
    let cookie = login(&two.router, "acme", "alice@acme.example").await;
    let entries = crate::support::audit_entries(&one.router, &cookie, "auth.*").await;
    assert_eq!(entries.len(), 3, "two sign-ins and a sign-out: {entries:?}");
}

/// A sign-in challenge spent on one instance is refused on the other.
#[tokio::test]
async fn a_challenge_completes_one_sign_in_across_instances() {
    use crate::second_factor::{enroll, password_step, second_step};
    let Some((config, _db, _dir)) = config("example_server_challenges").await else {
        return;
    };
    let one = build(&config).await.expect("first instance");
    let two = build(&config).await.expect("second instance");
    let enrolled = enroll(&one.router).await;
    let challenge = password_step(&one.router).await;
    let first = second_step(&one.router, &challenge, &enrolled.recovery_codes[0]).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json());
    let again = second_step(&two.router, &challenge, &enrolled.recovery_codes[1]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}
