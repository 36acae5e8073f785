//! Inbound webhooks behind the verification layer, with each integration's own secret.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;
use webhook_verify::{Scheme, SignRequest, Signer, SigningSecret};

use crate::support::{Call, PASSWORD, TestApp, audit_entries, login, signup};

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh";

/// Creates an integration with `secret` and returns its id.
pub(crate) async fn integration(router: &Router, cookie: &str, secret: &str) -> String {
    let created = Call::post("/api/integrations")
        .cookie(cookie)
        .json(json!({ "name": "CRM", "credential": "sk_live_1", "webhook_secret": secret, "current_password": PASSWORD }))
        .send(router)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.json());
    created.json()["id"].as_str().expect("an id").to_owned()
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("a sane clock")
}

pub(crate) fn signed(secret: &str, id: &str, body: &[u8]) -> Vec<(String, String)> {
    let signer = Signer::new(
        Scheme::StandardWebhooks,
        SigningSecret::parse(&Scheme::StandardWebhooks, secret).expect("a secret"),
    )
    .expect("a signer");
    let headers = signer
        .sign(&SignRequest::new(body).id(id).timestamp(now()))
        .expect("signed");
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().expect("ASCII").to_owned(),
            )
        })
        .collect()
}

pub(crate) async fn deliver(
    router: &Router,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> StatusCode {
    let mut call = Call::post(path).bytes(body);
    for (name, value) in headers {
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        call = call.header(name, value);
    }
    call.send(router).await.status
}

#[tokio::test]
async fn bad_signatures_are_401_and_signed_deliveries_are_handled_once() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    let id = integration(&router, &cookie, SECRET).await;
    let other = integration(&router, &cookie, OTHER_SECRET).await;
    let path = format!("/webhooks/{id}");
    let body = br#"{"type":"contact.created","id":42}"#;

    // No signature at all.
    assert_eq!(
        deliver(&router, &path, &[], body).await,
        StatusCode::UNAUTHORIZED
    );
    // Signed with another integration's secret.
    let wrong_key = signed(OTHER_SECRET, "msg_1", body);
    assert_eq!(
        deliver(&router, &path, &wrong_key, body).await,
        StatusCode::UNAUTHORIZED
    );
    // Signed right, body changed on the way.
    let good = signed(SECRET, "msg_1", body);
    let tampered = br#"{"type":"contact.created","id":43}"#;
    assert_eq!(
        deliver(&router, &path, &good, tampered).await,
        StatusCode::UNAUTHORIZED
    );

    // Signed right: handled.
    assert_eq!(
        deliver(&router, &path, &good, body).await,
        StatusCode::NO_CONTENT
    );
    // The same delivery again: a replay.
    assert_eq!(
        deliver(&router, &path, &good, body).await,
        StatusCode::UNAUTHORIZED
    );
    // The same message id for the other integration is its own namespace.
    let for_other = signed(OTHER_SECRET, "msg_1", body);
    let other_path = format!("/webhooks/{other}");
    assert_eq!(
        deliver(&router, &other_path, &for_other, body).await,
        StatusCode::NO_CONTENT
    );

    // Unknown and malformed integration ids.
    let unknown = format!("/webhooks/{}", "0".repeat(32));
    let fresh = signed(SECRET, "msg_2", body);
    assert_eq!(
        deliver(&router, &unknown, &fresh, body).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&router, "/webhooks/..%2F", &fresh, body).await,
        StatusCode::UNAUTHORIZED
    );

    let received = audit_entries(&router, &cookie, "webhook.delivery.received").await;
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(
        received
            .iter()
            .any(|e| e["target"] == format!("integration:{id}").as_str()
                && e["details"]["message_id"] == "msg_1")
    );
}

#[tokio::test]
async fn integrations_without_a_webhook_secret_refuse_deliveries() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    let created = Call::post("/api/integrations")
        .cookie(&cookie)
        .json(json!({ "name": "Mailer", "credential": "key-123", "current_password": PASSWORD }))
        .send(&router)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    let body = b"{}";
    let headers = signed(SECRET, "msg_1", body);
    let status = deliver(&router, &format!("/webhooks/{id}"), &headers, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A secret too short for the scheme is refused when the integration is created.
    let short = Call::post("/api/integrations")
        .cookie(&cookie)
        .json(json!({ "name": "Weak", "credential": "k", "webhook_secret": "whsec_c2hvcnQ=", "current_password": PASSWORD }))
        .send(&router)
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
}
