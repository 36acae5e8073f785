//! Runs the conformance suite on every backend.

use std::sync::Arc;

use mfa::MemoryStore;

use crate::conformance::{RawDump, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store() {
    let store = Arc::new(MemoryStore::new());
    // The memory store's raw content is its records, as the trait returns them.
    let raw = store.clone();
    let dump: RawDump = Box::new(move || {
        let raw = raw.clone();
        Box::pin(async move {
            use mfa::MfaStore;
            let mut out = Vec::new();
            for name in ["dave-at-rest", "frank-recovery"] {
                let user = mfa::UserId::new(name).unwrap();
                out.extend(format!("{:?}", raw.totp(&user).await.unwrap()).into_bytes());
                out.extend(format!("{:?}", raw.recovery(&user).await.unwrap()).into_bytes());
            }
            out
        })
    });
    run("memory", store, dump).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfa.db");
    let store = Arc::new(mfa::SqliteStore::open(&path).await.unwrap());
    // Migrating again is a no-op.
    store.migrate().await.unwrap();
    let dir_path = dir.path().to_owned();
    let dump: RawDump = Box::new(move || {
        let dir_path = dir_path.clone();
        Box::pin(async move {
            // Every byte of the database and its write-ahead log.
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&dir_path).unwrap() {
                out.extend(std::fs::read(entry.unwrap().path()).unwrap());
            }
            out
        })
    });
    run("sqlite", store, dump).await;
    drop(dir);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store() {
    let Some(schema) = palisade_test_support::postgres("mfa_conformance").await else {
        return;
    };
    let store = Arc::new(mfa::PostgresStore::connect(schema.url()).await.unwrap());
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let dump: RawDump = Box::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            let mut out = Vec::new();
            for table in [
                "palisade_mfa_totp",
                "palisade_mfa_recovery",
                "palisade_mfa_credentials",
            ] {
                let sql = format!("SELECT row_to_json(t)::text FROM {table} t");
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                for row in rows {
                    out.extend(row.into_bytes());
                }
            }
            out
        })
    });
    run("postgres", store, dump).await;
}
