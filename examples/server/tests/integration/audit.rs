//! The tenant's audit log and its signed checkpoint.

use audit_chain::{SignedCheckpoint, VerifyingKey};
use axum::http::StatusCode;

use crate::support::{Call, TestApp, audit_entries, login, post_credentials, signup};

#[tokio::test]
async fn checkpoint_is_signed_and_covers_every_entry() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;

    let answer = Call::get("/api/audit/checkpoint")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
    let body = answer.json();
    let key = VerifyingKey::from_text(body["public_key"].as_str().expect("a key")).expect("a key");
    let note = body["checkpoint"].as_str().expect("a note");
    let signed = SignedCheckpoint::verify(note, &key).expect("the signature verifies");
    assert_eq!(signed.checkpoint().origin(), "palisade-audit/acme");
    // account.created and auth.login.succeeded.
    assert_eq!(signed.checkpoint().size(), 2);

    // A tampered note does not verify.
    let tampered = note.replacen("\n2\n", "\n3\n", 1);
    assert!(SignedCheckpoint::verify(&tampered, &key).is_err());

    // More entries: the next checkpoint covers them.
    let failed =
        post_credentials(&router, "/api/login", "acme", "alice@acme.example", "wrong").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let answer = Call::get("/api/audit/checkpoint")
        .cookie(&cookie)
        .send(&router)
        .await;
    let note = answer.json()["checkpoint"]
        .as_str()
        .expect("a note")
        .to_owned();
    let signed = SignedCheckpoint::verify(&note, &key).expect("verifies");
    assert_eq!(signed.checkpoint().size(), 3);

    // The entries themselves, newest first, with a cursor.
    let page = Call::get("/api/audit?limit=2")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let entries = page.json()["entries"].as_array().expect("entries").clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "auth.login.failed");
    assert_eq!(entries[0]["index"], 2);
    let next = page.json()["next"].as_str().expect("a cursor").to_owned();
    let rest = Call::get(&format!("/api/audit?limit=2&after={next}"))
        .cookie(&cookie)
        .send(&router)
        .await;
    let rest = rest.json()["entries"].as_array().expect("entries").clone();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["action"], "account.created");

    let by_actor = audit_entries(&router, &cookie, "auth.login.succeeded").await;
    assert_eq!(by_actor.len(), 1);
    let bad = Call::get("/api/audit?after=nonsense")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let anonymous = Call::get("/api/audit").send(&router).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
