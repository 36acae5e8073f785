//! Tenant data keys: one conformance suite (shredding, BYOK, rewrap, the store contract)
//! run against the memory, SQLite and PostgreSQL stores.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use envelope_crypto::{
    Binding, CustomerKey, Error, KeyEncryptionKey, Keyring, LocalKek, MemoryStore, SecretKey,
    TenantKeys, WrappedKey, WrappedKeyStore,
};

fn record(n: u32) -> Binding {
    Binding::new().record(format!("integration:{n}"))
}

/// The store contract: insert-if-absent, get, replace, delete.
async fn store_contract<S: WrappedKeyStore>(store: &S) {
    let key = WrappedKey {
        tenant: "contract".into(),
        kek: "local".into(),
        wrapped: vec![1, 2, 3],
        created: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    assert_eq!(store.get("contract").await.expect("store get"), None);
    assert!(store.insert(&key).await.expect("store insert"));
    let second = WrappedKey {
        wrapped: vec![9],
        ..key.clone()
    };
    assert!(
        !store.insert(&second).await.expect("store insert"),
        "insert never overwrites"
    );
    assert_eq!(
        store.get("contract").await.expect("store get"),
        Some(key.clone())
    );
    // Replace is compare-and-swap on the wrapped bytes read before.
    assert!(
        !store.replace(&[7], &second).await.expect("store replace"),
        "replace needs the stored key to be the one read"
    );
    assert_eq!(
        store.get("contract").await.expect("store get"),
        Some(key.clone())
    );
    assert!(
        store
            .replace(&key.wrapped, &second)
            .await
            .expect("store replace")
    );
    assert_eq!(
        store.get("contract").await.expect("store get"),
        Some(second.clone())
    );
    assert!(
        !store
            .replace(&key.wrapped, &key)
            .await
            .expect("store replace"),
        "a stale read does not write back"
    );
    assert!(store.delete("contract").await.expect("store delete"));
    assert!(!store.delete("contract").await.expect("store delete"));
    assert!(
        !store
            .replace(&second.wrapped, &key)
            .await
            .expect("store replace"),
        "replace needs an existing key"
    );
    assert_eq!(store.get("contract").await.expect("store get"), None);
}

/// Shredding one tenant's data key makes its envelopes unopenable and leaves another
/// tenant's untouched.
async fn shred_suite<S: WrappedKeyStore>(store: S) {
    store_contract(&store).await;
    let keyring = Keyring::generate().expect("keyring");
    let tenants = TenantKeys::new(store, LocalKek::new(&keyring).expect("local KEK"));
    assert!(tenants.create("acme").await.expect("create"));
    assert!(
        !tenants.create("acme").await.expect("create"),
        "create is idempotent"
    );
    assert!(tenants.create("globex").await.expect("create"));

    let acme = tenants
        .sealer("acme", "crm.api-key")
        .await
        .expect("valid purpose");
    let globex = tenants
        .sealer("globex", "crm.api-key")
        .await
        .expect("valid purpose");
    let acme_envelope = acme.seal(b"acme secret", &record(1)).expect("seal");
    let globex_envelope = globex.seal(b"globex secret", &record(1)).expect("seal");

    // Tenants' envelopes do not cross, even with equal bindings.
    assert!(matches!(
        globex.open(&acme_envelope, &record(1)),
        Err(Error::Invalid)
    ));
    // A binding naming another tenant is refused outright.
    assert!(matches!(
        acme.seal(b"x", &record(1).tenant("globex")),
        Err(Error::Binding(_))
    ));
    // A fresh sealer (another process, say) opens what the first sealed.
    let again = tenants
        .sealer("acme", "crm.api-key")
        .await
        .expect("valid purpose");
    assert_eq!(
        again
            .open(&acme_envelope, &record(1))
            .expect("open")
            .as_bytes(),
        b"acme secret"
    );
    // The tenant is part of the binding whether or not the caller names it.
    assert_eq!(
        again
            .open(&acme_envelope, &record(1).tenant("acme"))
            .expect("open")
            .as_bytes(),
        b"acme secret"
    );

    assert!(tenants.shred("acme").await.expect("shred"));
    assert!(!tenants.shred("acme").await.expect("shred"));
    let err = tenants
        .sealer("acme", "crm.api-key")
        .await
        .expect_err("shredded tenant has no key");
    assert!(
        matches!(&err, Error::NoDataKey(t) if t == "acme"),
        "{err:?}"
    );
    // A new key for the tenant does not bring the old envelopes back.
    assert!(tenants.create("acme").await.expect("create"));
    let fresh = tenants
        .sealer("acme", "crm.api-key")
        .await
        .expect("valid purpose");
    assert!(matches!(
        fresh.open(&acme_envelope, &record(1)),
        Err(Error::Invalid)
    ));

    let globex = tenants
        .sealer("globex", "crm.api-key")
        .await
        .expect("valid purpose");
    assert_eq!(
        globex
            .open(&globex_envelope, &record(1))
            .expect("open")
            .as_bytes(),
        b"globex secret"
    );
}

/// Rotating the local keyring and rewrapping keeps each data key (and its envelopes).
async fn rewrap_suite<S: WrappedKeyStore + Clone>(store: S) {
    let mut keyring = Keyring::generate().expect("keyring");
    let tenants = TenantKeys::new(store.clone(), LocalKek::new(&keyring).expect("local KEK"));
    tenants.create("initech").await.expect("create");
    let envelope = tenants
        .sealer("initech", "crm.api-key")
        .await
        .expect("valid purpose")
        .seal(b"initech secret", &record(3))
        .expect("seal");
    let before = store
        .get("initech")
        .await
        .expect("store get")
        .expect("the tenant has a key");

    keyring.rotate().expect("rotate");
    let tenants = TenantKeys::new(store.clone(), LocalKek::new(&keyring).expect("local KEK"));
    tenants.rewrap("initech").await.expect("rewrap");
    let after = store
        .get("initech")
        .await
        .expect("store get")
        .expect("the tenant has a key");
    assert_ne!(before.wrapped, after.wrapped);
    assert_eq!(
        envelope_crypto::Header::peek(&after.wrapped)
            .expect("peek")
            .key_version()
            .get(),
        2
    );
    let sealer = tenants
        .sealer("initech", "crm.api-key")
        .await
        .expect("valid purpose");
    assert_eq!(
        sealer.open(&envelope, &record(3)).expect("open").as_bytes(),
        b"initech secret"
    );
}

/// BYOK: a tenant's data key wrapped by the tenant's own key opens only with that key.
async fn byok_suite<S: WrappedKeyStore + Clone>(store: S) {
    let customer_key = [0x3c; 32];
    let byok = CustomerKey::new("umbrella", SecretKey::from_bytes(customer_key));
    let kek_id = byok.id();
    assert!(kek_id.starts_with("byok:"), "{kek_id}");
    let tenants = TenantKeys::new(store.clone(), byok);
    tenants.create("umbrella").await.expect("create");
    let stored = store
        .get("umbrella")
        .await
        .expect("store get")
        .expect("the tenant has a key");
    assert_eq!(stored.kek, kek_id);
    assert!(
        !stored.wrapped.windows(4).any(|w| w == [0x3c; 4]),
        "the customer key is not stored"
    );

    let envelope = tenants
        .sealer("umbrella", "crm.api-key")
        .await
        .expect("valid purpose")
        .seal(b"umbrella secret", &record(2))
        .expect("seal");

    // The same customer key, supplied again, opens it.
    let again = TenantKeys::new(
        store.clone(),
        CustomerKey::new("umbrella", SecretKey::from_bytes(customer_key)),
    );
    let sealer = again
        .sealer("umbrella", "crm.api-key")
        .await
        .expect("valid purpose");
    assert_eq!(
        sealer.open(&envelope, &record(2)).expect("open").as_bytes(),
        b"umbrella secret"
    );

    // Another key, or the service's own keyring, cannot unwrap the data key.
    let wrong = TenantKeys::new(
        store.clone(),
        CustomerKey::new("umbrella", SecretKey::from_bytes([0x3d; 32])),
    );
    let err = wrong
        .sealer("umbrella", "crm.api-key")
        .await
        .expect_err("wrong customer key");
    assert!(matches!(err, Error::WrongKek { .. }), "{err:?}");
    let local = TenantKeys::new(
        store.clone(),
        LocalKek::new(&Keyring::generate().expect("keyring")).expect("local KEK"),
    );
    assert!(matches!(
        local.sealer("umbrella", "crm.api-key").await,
        Err(Error::WrongKek { .. })
    ));
    // Even with the KEK id forged to match, the wrong key fails closed.
    let wrong_key = CustomerKey::new("umbrella", SecretKey::from_bytes([0x3d; 32]));
    assert!(matches!(
        wrong_key.unwrap("umbrella", &stored.wrapped).await,
        Err(Error::Invalid)
    ));
    // The customer key is bound to its tenant.
    let byok = CustomerKey::new("umbrella", SecretKey::from_bytes(customer_key));
    assert!(byok.unwrap("other", &stored.wrapped).await.is_err());

    // The customer withdraws: shredding the wrapped key ends access for good.
    assert!(again.shred("umbrella").await.expect("shred"));
    assert!(matches!(
        again.sealer("umbrella", "crm.api-key").await,
        Err(Error::NoDataKey(_))
    ));
}

#[tokio::test]
async fn memory_store_shreds_rewraps_and_supports_byok() {
    shred_suite(MemoryStore::new()).await;
    rewrap_suite(MemoryStore::new()).await;
    byok_suite(MemoryStore::new()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store_shreds_rewraps_and_supports_byok() {
    use envelope_crypto::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    shred_suite(store.clone()).await;
    rewrap_suite(store.clone()).await;
    byok_suite(store).await;
}

/// After a shred, no byte of the wrapped key is left in the SQLite database file or its
/// write-ahead log (free pages and old page copies would otherwise keep it).
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_shred_leaves_no_copy_of_the_wrapped_key_on_disk() {
    use envelope_crypto::SqliteStore;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.db");
    // WAL mode, so the log is part of what must not keep a copy.
    let pool = SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal),
        )
        .await
        .unwrap();
    let store = SqliteStore::from_pool(pool).await.unwrap();
    let keyring = Keyring::generate().unwrap();
    let tenants = TenantKeys::new(store.clone(), LocalKek::new(&keyring).unwrap());
    for tenant in ["acme", "globex", "initech"] {
        tenants.create(tenant).await.unwrap();
    }
    let wrapped = store.get("globex").await.unwrap().unwrap().wrapped;
    let on_disk = || {
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend(std::fs::read(dir.path().join("keys.db-wal")).unwrap_or_default());
        bytes
    };
    let holds = |bytes: &[u8]| bytes.windows(wrapped.len()).any(|w| w == wrapped);
    // Control: before the shred the key is on disk, in the file or the log.
    assert!(dir.path().join("keys.db-wal").exists(), "WAL mode");
    assert!(holds(&on_disk()));
    assert!(tenants.shred("globex").await.unwrap());
    assert!(!holds(&on_disk()), "a copy of the shredded key is on disk");
    // The other tenants' keys are untouched.
    for tenant in ["acme", "initech"] {
        assert!(tenants.sealer(tenant, "p").await.is_ok());
    }
}

/// A store that, just before the first replace, shreds the tenant's key and stores
/// another one in its place: what a shred and a fresh `create` elsewhere do while a
/// rewrap runs.
struct ShredsDuringRewrap {
    inner: MemoryStore,
    fresh: std::sync::Mutex<Option<WrappedKey>>,
}

impl WrappedKeyStore for ShredsDuringRewrap {
    async fn get(&self, tenant: &str) -> Result<Option<WrappedKey>, Error> {
        self.inner.get(tenant).await
    }

    async fn insert(&self, key: &WrappedKey) -> Result<bool, Error> {
        self.inner.insert(key).await
    }

    async fn replace(&self, expected: &[u8], key: &WrappedKey) -> Result<bool, Error> {
        let fresh = self.fresh.lock().expect("not poisoned").take();
        if let Some(fresh) = fresh {
            assert!(self.inner.delete(&fresh.tenant).await?);
            assert!(self.inner.insert(&fresh).await?);
        }
        self.inner.replace(expected, key).await
    }

    async fn delete(&self, tenant: &str) -> Result<bool, Error> {
        self.inner.delete(tenant).await
    }
}

/// A rewrap that loses the race to a shred and a fresh key neither puts the shredded
/// key back nor leaves the fresh one unrewrapped: it rewraps the key now stored.
#[tokio::test]
async fn a_rewrap_racing_a_shred_keeps_the_fresh_key_and_rewraps_it() {
    let mut keyring = Keyring::generate().unwrap();
    let inner = MemoryStore::new();
    let tenants = TenantKeys::new(inner.clone(), LocalKek::new(&keyring).unwrap());
    tenants.create("acme").await.unwrap();
    let old = inner.get("acme").await.unwrap().unwrap();
    let shredded = tenants
        .sealer("acme", "p")
        .await
        .unwrap()
        .seal(b"old", &record(1))
        .unwrap();
    tenants.shred("acme").await.unwrap();
    tenants.create("acme").await.unwrap();
    let fresh = inner.get("acme").await.unwrap().unwrap();
    let kept = tenants
        .sealer("acme", "p")
        .await
        .unwrap()
        .seal(b"new", &record(1))
        .unwrap();
    // The rewrap starts from the old key; the fresh one arrives before it writes.
    assert!(inner.replace(&fresh.wrapped, &old).await.unwrap());

    keyring.rotate().unwrap();
    let racing = ShredsDuringRewrap {
        inner: inner.clone(),
        fresh: std::sync::Mutex::new(Some(fresh.clone())),
    };
    let tenants = TenantKeys::new(racing, LocalKek::new(&keyring).unwrap());
    tenants.rewrap("acme").await.unwrap();

    let stored = inner.get("acme").await.unwrap().unwrap();
    assert_ne!(stored.wrapped, fresh.wrapped, "the fresh key was rewrapped");
    assert_eq!(
        envelope_crypto::Header::peek(&stored.wrapped)
            .unwrap()
            .key_version()
            .get(),
        2
    );
    let sealer = tenants.sealer("acme", "p").await.unwrap();
    assert_eq!(sealer.open(&kept, &record(1)).unwrap().as_bytes(), b"new");
    assert!(
        sealer.open(&shredded, &record(1)).is_err(),
        "the shredded key stays gone"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_store_shreds_rewraps_and_supports_byok() {
    use envelope_crypto::PostgresStore;
    let Some(db) = palisade_test_support::postgres("envelope_tenant_keys").await else {
        return;
    };
    let store = PostgresStore::connect(db.url()).await.unwrap();
    store.migrate().await.unwrap();
    shred_suite(store.clone()).await;
    rewrap_suite(store.clone()).await;
    byok_suite(store).await;
}

/// The migrations each store applies: `(version, applied_at)` rows.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn applied_migrations<DB>(pool: &sqlx::Pool<DB>) -> Vec<(i64, i64)>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'r> (i64, i64): sqlx::FromRow<'r, DB::Row>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query_as("SELECT version, applied_at FROM palisade_tenant_key_migrations")
        .fetch_all(pool)
        .await
        .expect("the migrations table")
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_migrations_run_once_however_many_instances_start_together() {
    use envelope_crypto::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    // Races need a few tries to show: each round starts from a file that does not exist
    // yet, which eight instances create and migrate at once.
    for round in 0..5 {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("keys-{round}.db")).display()
        );
        let stores = futures_util::future::join_all((0..8).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { SqliteStore::connect(&url).await })
        }))
        .await;
        for store in stores {
            store.unwrap().unwrap().migrate().await.unwrap();
        }
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let applied = applied_migrations(&pool).await;
        assert_eq!(applied.len(), 1, "round {round}: {applied:?}");
        assert_eq!(applied[0].0, 1);
        assert!(applied[0].1 > 1_700_000_000, "applied_at is a Unix time");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_migrations_run_once_however_many_instances_start_together() {
    use envelope_crypto::PostgresStore;
    let Some(db) = palisade_test_support::postgres("envelope_tenant_migrations").await else {
        return;
    };
    let stores =
        futures_util::future::join_all((0..4).map(|_| PostgresStore::connect(db.url()))).await;
    for store in &stores {
        store.as_ref().unwrap().migrate().await.unwrap();
    }
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    let applied = applied_migrations(&pool).await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0].0, 1);
}
