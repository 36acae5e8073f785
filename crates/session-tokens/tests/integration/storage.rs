//! What the SQL backends hold: no session id or token in the raw tables, and revocation on
//! one instance seen by the next verification on another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::support::*;

/// Every form in which a token's secrets could leak into storage.
fn secrets_of(token: &str) -> Vec<Vec<u8>> {
    let sid = sid_of(token);
    let sid_bytes = URL_SAFE_NO_PAD.decode(&sid).expect("sid is base64url");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let signature = token.rsplit('.').next().expect("three parts");
    vec![
        token.as_bytes().to_vec(),
        sid.as_bytes().to_vec(),
        sid_bytes.clone(),
        hex(&sid_bytes).into_bytes(),
        hex(sid.as_bytes()).into_bytes(),
        signature.as_bytes().to_vec(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_tables_hold_no_session_id_or_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let store = session_tokens::SqliteStore::open(&path).await.unwrap();
    let pool = store.pool().clone();
    let clock = ManualClock::new();
    let manager = manager(store, &clock);
    let mut tokens = Vec::new();
    for device in ["laptop", "phone"] {
        let issued = manager
            .issue(request("acme", "alice").label(device).amr(["pwd"]))
            .await
            .unwrap();
        tokens.push(issued.token().expose().to_owned());
    }

    // Every column of every row, as text.
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT lower(hex(id_hash)) || '|' || tenant || '|' || user_id || '|' || generation \
         || '|' || created_at || '|' || expires_at || '|' || last_seen_at || '|' \
         || authenticated_at || '|' || aal || '|' || amr || '|' || coalesce(ip, '') || '|' \
         || coalesce(user_agent, '') || '|' || coalesce(label, '') || '|' \
         || coalesce(revoked_at, '') FROM palisade_sessions",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let dump = rows.join("\n");
    for token in &tokens {
        // The key is the SHA-256 of the sid, so the test is reading the right rows...
        assert!(dump.contains(&sha256_hex(&sid_of(token))), "{dump}");
        // ...and nothing in them is the sid or the token.
        for secret in secrets_of(token) {
            assert!(!contains(dump.as_bytes(), &secret), "{dump}");
        }
    }

    // The database files themselves, write-ahead log included.
    pool.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(contains(&bytes, b"laptop"), "the files were read");
    for token in &tokens {
        for secret in secrets_of(token) {
            assert!(
                !contains(&bytes, &secret),
                "a secret is in the database files"
            );
        }
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_tables_hold_no_session_id_or_token() {
    let Some(db) = palisade_test_support::postgres("session_plaintext").await else {
        return;
    };
    let store = session_tokens::PostgresStore::connect(db.url())
        .await
        .unwrap();
    let pool = store.pool().clone();
    let clock = ManualClock::new();
    let manager = manager(store, &clock);
    let issued = manager
        .issue(request("acme", "alice").label("laptop"))
        .await
        .unwrap();
    let token = issued.token().expose();

    // `row::text` renders every column, bytea as hex.
    let rows: Vec<String> = sqlx::query_scalar("SELECT s::text FROM palisade_sessions s")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let dump = &rows[0];
    assert!(dump.contains(&sha256_hex(&sid_of(token))), "{dump}");
    assert!(dump.contains("laptop"), "{dump}");
    for secret in secrets_of(token) {
        assert!(!contains(dump.as_bytes(), &secret), "{dump}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn cross_instance_revocation_is_seen_by_the_next_verify() {
    use session_tokens::{PostgresStore, Reason, SessionManager};

    let Some(db) = palisade_test_support::postgres("session_cross_instance").await else {
        return;
    };
    let clock = ManualClock::new();
    // Two instances: their own pools, the same schema, the same keys.
    let a: SessionManager = manager(PostgresStore::connect(db.url()).await.unwrap(), &clock);
    let b: SessionManager = manager(PostgresStore::connect(db.url()).await.unwrap(), &clock);
    let reason = |result: Result<session_tokens::Session, session_tokens::Error>| {
        result.unwrap_err().rejection()
    };

    // Revoke one.
    let laptop = a.issue(request("acme", "alice")).await.unwrap();
    let phone = a.issue(request("acme", "alice")).await.unwrap();
    let tablet = a.issue(request("acme", "alice")).await.unwrap();
    let on_b = b.verify(laptop.token().expose()).await.unwrap();
    assert_eq!(on_b.handle(), laptop.session().handle());
    assert!(a.sign_out(laptop.session()).await.unwrap());
    assert_eq!(
        reason(b.verify(laptop.token().expose()).await),
        Some(Reason::Revoked)
    );

    // Revoke all but the current one, which is replaced.
    let (phone_again, revoked) = a.revoke_others(phone.session()).await.unwrap();
    assert_eq!(revoked, 1);
    assert_eq!(
        reason(b.verify(tablet.token().expose()).await),
        Some(Reason::StaleGeneration)
    );
    assert_eq!(
        reason(b.verify(phone.token().expose()).await),
        Some(Reason::StaleGeneration)
    );
    assert!(b.verify(phone_again.token().expose()).await.is_ok());

    // Revoke all.
    assert_eq!(a.revoke_all(phone_again.session()).await.unwrap(), 1);
    assert_eq!(
        reason(b.verify(phone_again.token().expose()).await),
        Some(Reason::StaleGeneration)
    );

    // Password change: the other sessions die everywhere; the re-issued one lives.
    let current = a.issue(request("acme", "alice")).await.unwrap();
    let other = a.issue(request("acme", "alice")).await.unwrap();
    let current_on_b = b.verify(current.token().expose()).await.unwrap();
    assert!(b.verify(other.token().expose()).await.is_ok());
    let renewed = a.password_changed(current.session()).await.unwrap();
    assert_eq!(
        reason(b.verify(current.token().expose()).await),
        Some(Reason::StaleGeneration)
    );
    assert_eq!(
        reason(b.verify(other.token().expose()).await),
        Some(Reason::StaleGeneration)
    );
    let renewed_on_b = b.verify(renewed.token().expose()).await.unwrap();
    assert_ne!(renewed_on_b.handle(), current_on_b.handle());

    // Administrator revocation from the first instance.
    assert_eq!(
        a.revoke_user(&tenant("acme"), &user("alice"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        reason(b.verify(renewed.token().expose()).await),
        Some(Reason::StaleGeneration)
    );
}
