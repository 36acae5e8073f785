//! Integration credentials sealed at rest, bound to tenant and row, never returned.

use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::{Answer, Call, PASSWORD, TestApp, audit_entries, login, signup};

const CREDENTIAL: &str = "sk_live_51HxQ2plaintextCredential";
const ROTATED: &str = "sk_live_99RotatedPlaintextCredential";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn sqlite(dir: &std::path::Path) -> sqlx::SqlitePool {
    let url = format!(
        "sqlite://{}",
        dir.join(example_server::SQLITE_FILE).display()
    );
    sqlx::SqlitePool::connect(&url)
        .await
        .expect("the SQLite file opens")
}

/// Every byte of the SQLite file and its WAL.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = dir.join(format!("{}{suffix}", example_server::SQLITE_FILE));
        if let Ok(content) = std::fs::read(path) {
            bytes.extend(content);
        }
    }
    bytes
}

/// `POST /api/integrations` with `body`, as the holder of `cookie`.
async fn connect(router: &Router, cookie: &str, body: Value) -> Answer {
    Call::post("/api/integrations")
        .cookie(cookie)
        .json(body)
        .send(router)
        .await
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn credentials_are_stored_sealed_and_never_returned() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;

    let created = connect(&router, &cookie, json!({ "name": "CRM", "credential": CREDENTIAL, "webhook_secret": WEBHOOK_SECRET, "current_password": PASSWORD })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.json());
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    assert_eq!(created.json()["credential"]["sealed"], true);
    assert_eq!(created.json()["credential"]["key_version"], 1);
    assert!(!contains(&created.body, CREDENTIAL));

    let listed = Call::get("/api/integrations")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()["integrations"][0]["id"], id.as_str());
    assert!(!contains(&listed.body, CREDENTIAL));
    assert!(
        !contains(&listed.body, "pal1."),
        "not even the envelope is returned"
    );

    // The row holds envelopes, not the secrets.
    let pool = sqlite(app.dir.path()).await;
    let row = sqlx::query("SELECT credential, webhook_secret FROM app_integrations WHERE id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("the row");
    let credential: String = row.get("credential");
    let webhook_secret: String = row.get("webhook_secret");
    assert!(credential.starts_with("pal1."), "{credential}");
    assert!(webhook_secret.starts_with("pal1."), "{webhook_secret}");
    assert!(!credential.contains(CREDENTIAL) && !credential.contains("sk_live"));
    assert!(!webhook_secret.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));

    // An envelope copied to another row does not open: a delivery signed with the
    // secret fails once the secret envelope moved to another integration's row.
    let second = connect(&router, &cookie, json!({ "name": "Other", "credential": "x", "webhook_secret": "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh", "current_password": PASSWORD })).await;
    let second_id = second.json()["id"].as_str().expect("an id").to_owned();
    sqlx::query("UPDATE app_integrations SET webhook_secret = $1 WHERE id = $2")
        .bind(&webhook_secret)
        .bind(&second_id)
        .execute(&pool)
        .await
        .expect("the row is moved");
    let body = b"{}";
    let signer = webhook_verify::Signer::new(
        webhook_verify::Scheme::StandardWebhooks,
        webhook_verify::SigningSecret::parse(
            &webhook_verify::Scheme::StandardWebhooks,
            WEBHOOK_SECRET,
        )
        .expect("a secret"),
    )
    .expect("a signer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock")
        .as_secs();
    let headers = signer
        .sign(
            &webhook_verify::SignRequest::new(body)
                .id("msg_moved")
                .timestamp(i64::try_from(now).expect("now")),
        )
        .expect("signed");
    let mut call = Call::post(&format!("/webhooks/{second_id}")).bytes(body);
    for (name, value) in &headers {
        let name: &'static str = Box::leak(name.as_str().to_owned().into_boxed_str());
        call = call.header(name, value.to_str().expect("ASCII"));
    }
    let moved = call.send(&router).await;
    assert_ne!(
        moved.status,
        StatusCode::NO_CONTENT,
        "a moved envelope must not open"
    );

    // Rotation seals the new credential in place; neither plaintext is anywhere in the
    // database files.
    let rotated = Call::new(Method::PUT, &format!("/api/integrations/{id}/credential"))
        .cookie(&cookie)
        .json(json!({ "credential": ROTATED, "current_password": PASSWORD }))
        .send(&router)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.json());
    assert!(rotated.json()["rotated_at"].is_number());
    assert!(!contains(&rotated.body, ROTATED));
    let new_row: String = sqlx::query("SELECT credential FROM app_integrations WHERE id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("the row")
        .get("credential");
    assert_ne!(new_row, credential);
    pool.close().await;
    let bytes = database_bytes(app.dir.path());
    assert!(!bytes.is_empty());
    for secret in [CREDENTIAL, ROTATED, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
        assert!(
            !contains(&bytes, secret),
            "{secret} found in the database files"
        );
    }

    let connected = audit_entries(&router, &cookie, "integration.connected").await;
    assert_eq!(connected.len(), 2);
    let rotations = audit_entries(&router, &cookie, "integration.credential_rotated").await;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0]["target"], format!("integration:{id}").as_str());
}

#[tokio::test]
async fn tenants_see_only_their_integrations() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    signup(&router, "globex", "bob@globex.example").await;
    let alice = login(&router, "acme", "alice@acme.example").await;
    let bob = login(&router, "globex", "bob@globex.example").await;
    let created = connect(
        &router,
        &alice,
        json!({ "name": "CRM", "credential": CREDENTIAL, "current_password": PASSWORD }),
    )
    .await;
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    let listed = Call::get("/api/integrations")
        .cookie(&bob)
        .send(&router)
        .await;
    assert_eq!(
        listed.json()["integrations"].as_array().map(Vec::len),
        Some(0)
    );
    let rotate = Call::new(Method::PUT, &format!("/api/integrations/{id}/credential"))
        .cookie(&bob)
        .json(json!({ "credential": "stolen", "current_password": PASSWORD }))
        .send(&router)
        .await;
    assert_eq!(rotate.status, StatusCode::NOT_FOUND);
    let audit = audit_entries(&router, &bob, "integration.*").await;
    assert!(
        audit.is_empty(),
        "globex sees none of acme's log: {audit:?}"
    );
}

#[tokio::test]
async fn tenant_key_rewrap_keeps_credentials_usable() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    let rewrapped = Call::post("/api/tenant-key/rewrap")
        .cookie(&cookie)
        .send(&router)
        .await;
    assert_eq!(rewrapped.status, StatusCode::OK);
    let created = connect(
        &router,
        &cookie,
        json!({ "name": "CRM", "credential": CREDENTIAL, "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let entries = audit_entries(&router, &cookie, "tenant.data_key.rewrapped").await;
    assert_eq!(entries.len(), 1);
}

/// A session cookie alone neither connects an integration nor swaps its credential: both
/// take the account's password, and a wrong one changes nothing.
#[tokio::test]
async fn integration_writes_take_the_current_password() {
    let app = TestApp::new().await;
    let router = app.router();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    let created = connect(
        &router,
        &cookie,
        json!({ "name": "CRM", "credential": CREDENTIAL, "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.json());
    let id = created.json()["id"].as_str().expect("an id").to_owned();

    let wrong = json!("not the password");
    let connect = connect(
        &router,
        &cookie,
        json!({ "name": "Thief", "credential": "sk_thief", "current_password": wrong }),
    )
    .await;
    assert_eq!(connect.status, StatusCode::FORBIDDEN);
    let rotate = Call::new(Method::PUT, &format!("/api/integrations/{id}/credential"))
        .cookie(&cookie)
        .json(json!({ "credential": "sk_thief", "current_password": wrong }))
        .send(&router)
        .await;
    assert_eq!(rotate.status, StatusCode::FORBIDDEN);
    let missing = Call::new(Method::PUT, &format!("/api/integrations/{id}/credential"))
        .cookie(&cookie)
        .json(json!({ "credential": "sk_thief" }))
        .send(&router)
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);

    let listed = Call::get("/api/integrations")
        .cookie(&cookie)
        .send(&router)
        .await;
    let integrations = listed.json()["integrations"].clone();
    assert_eq!(
        integrations.as_array().map(Vec::len),
        Some(1),
        "{integrations}"
    );
    assert!(integrations[0]["rotated_at"].is_null(), "{integrations}");
    let failed = audit_entries(&router, &cookie, "auth.login.failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|e| e["details"]["step"] == "reauthenticate")
    );
}
