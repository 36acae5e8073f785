//! One conformance suite, run against every store: memory, segment files, SQLite and
//! PostgreSQL.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are small")]

mod common;

use audit_chain::{
    ActionFilter, AuditLog, Checkpoint, Entry, Error, Event, FileStore, Hash, ManualClock,
    MemoryStore, Order, Page, Query, Record, Store, TenantId, Verifier,
};
use common::{event, signer, tenant};
use std::collections::BTreeSet;
use std::future::Future;
use std::num::{NonZeroU32, NonZeroU64};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

const N: u64 = 40;

/// Appends N varied events for `acme` (one second apart, except that the clock steps
/// back once) and 5 for `globex`; returns acme's entries as the log recorded them.
async fn fill<S: Store>(log: &AuditLog<S, ManualClock>, clock: &ManualClock) -> Vec<Entry> {
    let acme = tenant("acme");
    for i in 0..N {
        if i == 20 {
            clock.advance_micros(-100_000_000);
        } else {
            clock.advance_micros(1_000_000);
        }
        let receipt = log.append(event(&acme, i)).await.expect("append");
        assert_eq!(receipt.index, i);
    }
    let globex = tenant("globex");
    let receipts = log
        .append_batch((0..5).map(|i| event(&globex, i)).collect())
        .await
        .expect("batch");
    assert_eq!(
        receipts.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    log.entries(&acme, 0, 1000).await.expect("entries")
}

async fn all_pages<S: Store>(log: &AuditLog<S, ManualClock>, query: Query) -> Vec<u64> {
    let mut indexes = Vec::new();
    let mut query = query.limit(NonZeroU32::new(7).expect("non-zero"));
    let mut pages = 0;
    loop {
        let page = log.query(&query).await.expect("query");
        assert!(page.entries.len() <= 7);
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        indexes.extend(page.entries.iter().map(Entry::index));
        match page.next {
            Some(cursor) => query = query.after(cursor),
            None => break,
        }
    }
    indexes
}

async fn check_queries<S: Store>(log: &AuditLog<S, ManualClock>, entries: &[Entry]) {
    let acme = tenant("acme");
    let expect = |f: &dyn Fn(&Entry) -> bool, order: Order| {
        let mut v: Vec<u64> = entries.iter().filter(|e| f(e)).map(Entry::index).collect();
        if order == Order::NewestFirst {
            v.reverse();
        }
        v
    };
    let base = Query::new(acme.clone());
    assert_eq!(
        all_pages(log, base.clone()).await,
        expect(&|_| true, Order::NewestFirst)
    );
    assert_eq!(
        all_pages(log, base.clone().order(Order::OldestFirst)).await,
        expect(&|_| true, Order::OldestFirst)
    );
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let q = base.clone().order(order);
        assert_eq!(
            all_pages(log, q.clone().actor("user-1")).await,
            expect(&|e| e.event().actor_name() == "user-1", order)
        );
        assert_eq!(
            all_pages(
                log,
                q.clone()
                    .action(ActionFilter::Exact("auth.login.failed".into()))
            )
            .await,
            expect(&|e| e.event().action().code() == "auth.login.failed", order)
        );
        for prefix in ["auth", "auth.login"] {
            assert_eq!(
                all_pages(log, q.clone().action(ActionFilter::Prefix(prefix.into()))).await,
                expect(
                    &|e| e.event().action().code().starts_with("auth.login."),
                    order
                ),
                "{prefix}"
            );
        }
        assert!(
            all_pages(
                log,
                q.clone().action(ActionFilter::Prefix("auth.log".into()))
            )
            .await
            .is_empty()
        );
        assert!(
            all_pages(
                log,
                q.clone().action(ActionFilter::Exact("auth.login".into()))
            )
            .await
            .is_empty()
        );
        let since = entries[10].recorded_at();
        let until = entries[30].recorded_at();
        assert_eq!(
            all_pages(log, q.clone().since(since).until(until)).await,
            expect(
                &|e| e.recorded_at() >= since && e.recorded_at() < until,
                order
            )
        );
        assert_eq!(
            all_pages(
                log,
                q.clone()
                    .actor("user-2")
                    .action(ActionFilter::Prefix("billing".into()))
                    .since(since)
            )
            .await,
            expect(
                &|e| e.event().actor_name() == "user-2"
                    && e.event().action().code() == "billing.invoice.sent"
                    && e.recorded_at() >= since,
                order
            )
        );
    }
    let globex = log
        .query(&Query::new(tenant("globex")))
        .await
        .expect("query");
    assert_eq!(globex.entries.len(), 5);
    assert!(
        globex
            .entries
            .iter()
            .all(|e| e.event().tenant_id().as_str() == "globex")
    );
    assert!(
        log.query(&Query::new(tenant("nobody")))
            .await
            .expect("query")
            .entries
            .is_empty()
    );
}

async fn conformance<S: Store + Clone>(store: S) {
    let (log, clock) = common::log(store.clone());
    let entries = fill(&log, &clock).await;
    assert_eq!(entries.len() as u64, N);
    // Indexes and non-decreasing times, even across the clock stepping back.
    for (i, pair) in entries.windows(2).enumerate() {
        assert_eq!(pair[0].index(), i as u64);
        assert!(pair[0].recorded_at() <= pair[1].recorded_at());
    }
    assert_eq!(entries[20].recorded_at(), entries[19].recorded_at());
    assert_eq!(entries[3], {
        let mut e = log.entries(&tenant("acme"), 3, 1).await.expect("entries");
        e.remove(0)
    });
    let tenants = store.tenants().await.expect("tenants");
    assert_eq!(tenants, vec![tenant("acme"), tenant("globex")]);

    check_queries(&log, &entries).await;

    // The store refuses an append at the wrong index.
    let stale = Record::new(entries[5].clone());
    assert!(matches!(
        store.append(&tenant("acme"), &[stale]).await,
        Err(Error::Conflict)
    ));

    // Checkpoints, reload, proofs, verification.
    let acme = tenant("acme");
    let first = log.checkpoint(&acme).await.expect("checkpoint");
    assert_eq!(first.checkpoint().size(), N);
    assert_eq!(first.checkpoint().origin(), "palisade-audit/acme");
    for i in N..N + 10 {
        log.append(event(&acme, i)).await.expect("append");
    }
    let second = log.checkpoint(&acme).await.expect("checkpoint");
    assert_eq!(store.checkpoints(&acme).await.expect("notes").len(), 2);

    let (reloaded, _) = common::log(store.clone());
    let head = reloaded.tree_head(&acme).await.expect("head");
    assert_eq!(head.size, N + 10);
    assert_eq!(head.root, second.checkpoint().root());
    let evidence = reloaded.prove(&acme, 7, Some(N)).await.expect("prove");
    evidence
        .proof
        .verify(&evidence.leaf_hash, &first.checkpoint().root())
        .expect("inclusion");
    assert_eq!(evidence.leaf_hash, entries[7].leaf_hash());
    let consistency = reloaded
        .prove_consistency(&acme, N, N + 10)
        .await
        .expect("prove");
    consistency
        .verify(&first.checkpoint().root(), &second.checkpoint().root())
        .expect("consistency");
    assert!(matches!(
        reloaded.prove(&acme, N + 10, None).await,
        Err(Error::Input(_))
    ));

    let key = signer().verifying_key();
    let verified = Verifier::with_key(key.clone())
        .verify_log(&store, &acme)
        .await
        .expect("verifies");
    assert_eq!((verified.size, verified.root), (head.size, head.root));
    assert_eq!(verified.checkpoint.as_ref(), Some(&second));
    Verifier::with_key(key.clone())
        .pin(first.checkpoint().clone())
        .verify_log(&store, &acme)
        .await
        .expect("consistent with the pinned checkpoint");
    let forged = Checkpoint::new("palisade-audit/acme", N, Hash::leaf(b"forged")).expect("cp");
    assert!(matches!(
        Verifier::with_key(key.clone())
            .pin(forged)
            .verify_log(&store, &acme)
            .await,
        Err(Error::Verification(_))
    ));
    let ahead = Checkpoint::new("palisade-audit/acme", N + 11, head.root).expect("cp");
    assert!(
        Verifier::with_key(key.clone())
            .pin(ahead)
            .verify_log(&store, &acme)
            .await
            .is_err()
    );
    let other = audit_chain::SigningKey::from_seed("audit.test", &[1; 32]).expect("key");
    assert!(
        Verifier::with_key(other.verifying_key())
            .verify_log(&store, &acme)
            .await
            .is_err()
    );

    // Batches are one tenant's, and all-or-nothing on invalid input.
    let mixed = vec![event(&acme, 0), event(&tenant("globex"), 0)];
    assert!(matches!(
        log.append_batch(mixed).await,
        Err(Error::Input(_))
    ));
    let bad = vec![
        event(&acme, 0),
        Event::new(acme.clone(), "", audit_chain::Action::MfaRemoved),
    ];
    assert!(matches!(log.append_batch(bad).await, Err(Error::Input(_))));
    assert_eq!(log.tree_head(&acme).await.expect("head").size, N + 10);
    let indexes: BTreeSet<u64> = log
        .append_batch((0..100).map(|i| event(&acme, i)).collect())
        .await
        .expect("batch")
        .iter()
        .map(|r| r.index)
        .collect();
    assert_eq!(indexes, (N + 10..N + 110).collect());
}

#[tokio::test]
async fn memory_store() {
    conformance(MemoryStore::new()).await;
}

#[tokio::test]
async fn file_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance(FileStore::open(dir.path()).expect("open")).await;
    // Everything is still there after reopening, and verifies read-only.
    let store = FileStore::open_read_only(dir.path()).expect("open");
    let verified = Verifier::with_key(signer().verifying_key())
        .verify_log(&store, &tenant("acme"))
        .await
        .expect("verifies");
    assert_eq!(verified.size, N + 110);
}

#[tokio::test]
async fn file_store_rolls_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path())
        .expect("open")
        .with_segment_bytes(4096)
        .expect("segment size");
    conformance(store).await;
    let segments = std::fs::read_dir(dir.path().join("acme"))
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with("segment-")
        })
        .count();
    assert!(segments > 3, "{segments} segments");
    let store = FileStore::open(dir.path()).expect("reopen");
    let (log, _) = common::log(store);
    assert_eq!(
        log.tree_head(&tenant("acme")).await.expect("head").size,
        N + 110
    );
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = FileStore::open(dir.path()).expect("open");
    assert!(matches!(FileStore::open(dir.path()), Err(Error::Config(_))));
    assert!(FileStore::open_read_only(dir.path()).is_ok());
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = audit_chain::SqliteStore::connect(&url)
        .await
        .expect("connect");
    conformance(store.clone()).await;
    // The triggers refuse changes.
    for sql in [
        "UPDATE audit_entries SET actor = 'mallory'",
        "DELETE FROM audit_entries WHERE idx = 0",
        "UPDATE audit_checkpoints SET note = ''",
        "DELETE FROM audit_checkpoints",
        // REPLACE deletes the row it collides with, firing no DELETE trigger.
        "REPLACE INTO audit_entries SELECT tenant, idx, recorded_at, 'mallory', action, leaf \
         FROM audit_entries WHERE idx = 1",
        "INSERT OR REPLACE INTO audit_entries SELECT tenant, 0, recorded_at, actor, action, leaf \
         FROM audit_entries WHERE idx = 1",
        "REPLACE INTO audit_checkpoints (id, tenant, size, note) \
         SELECT MAX(id), tenant, size, note FROM audit_checkpoints",
        "INSERT OR REPLACE INTO audit_checkpoints (id, tenant, size, note) \
         SELECT MAX(id), tenant, 0, '' FROM audit_checkpoints",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let verified = Verifier::new()
        .verify_log(&store, &tenant("acme"))
        .await
        .expect("the log is untouched");
    assert_eq!(verified.size, N + 110);
    // Whoever drops a trigger can edit the columns a query filters on; the leaf then
    // contradicts the row, and the query says so rather than answer with it.
    for sql in [
        "DROP TRIGGER audit_entries_no_update",
        "UPDATE audit_entries SET actor = 'mallory' WHERE tenant = 'acme' AND idx = 0",
    ] {
        sqlx::query(sql).execute(store.pool()).await.expect(sql);
    }
    forged_actor_is_caught(&store).await;
}

/// After entry 0 of acme was moved to actor `mallory` in its `actor` column alone: a
/// query by that actor fails verification instead of listing it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn forged_actor_is_caught<S: Store>(store: &S) {
    let found = store
        .query(&Query::new(tenant("acme")).actor("mallory"))
        .await;
    assert!(matches!(found, Err(Error::Verification(_))), "{found:?}");
}

/// Appenders of several tenants at once, and of one tenant from two logs (two
/// processes), on one SQLite database: each waits for the write lock and none fails.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_at_once_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = audit_chain::SqliteStore::connect(&url)
        .await
        .expect("connect");
    writers_at_once_lose_nothing(store).await;
}

/// Four logs over one store, as four application instances would be, each appending ten
/// events at once to each of two tenants: every append succeeds and both logs verify.
async fn writers_at_once_lose_nothing<S: Store + Clone + Send + Sync + 'static>(store: S) {
    let tenants = [tenant("acme"), tenant("globex")];
    let mut appends = tokio::task::JoinSet::new();
    for l in 0..4u64 {
        let (log, _) = common::log(store.clone());
        for t in &tenants {
            for i in 0..10 {
                let (log, t) = (log.clone(), t.clone());
                appends.spawn(async move { log.append(event(&t, l * 10 + i)).await });
            }
        }
    }
    while let Some(result) = appends.join_next().await {
        result
            .expect("the task ran")
            .expect("every append succeeds");
    }
    for t in &tenants {
        let verified = Verifier::new()
            .verify_log(&store, t)
            .await
            .expect("verifies");
        assert_eq!(verified.size, 40, "{t}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_store() {
    let Some(db) = palisade_test_support::postgres("audit_conformance").await else {
        return;
    };
    let store = audit_chain::PostgresStore::connect(db.url())
        .await
        .expect("connect");
    conformance(store.clone()).await;
    for sql in [
        "UPDATE audit_entries SET actor = 'mallory'",
        "DELETE FROM audit_entries WHERE idx = 0",
        "TRUNCATE audit_entries",
        "UPDATE audit_checkpoints SET note = ''",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(count as u64, N + 110 + 5);
    for sql in [
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
        "UPDATE audit_entries SET actor = 'mallory' WHERE tenant = 'acme' AND idx = 0",
    ] {
        sqlx::query(sql).execute(store.pool()).await.expect(sql);
    }
    forged_actor_is_caught(&store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writers_at_once_lose_nothing() {
    let Some(db) = palisade_test_support::postgres("audit_race").await else {
        return;
    };
    let store = audit_chain::PostgresStore::connect(db.url())
        .await
        .expect("connect");
    writers_at_once_lose_nothing(store).await;
}

/// Work to run once, later.
type Pending = Arc<Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>>;

/// A store that runs one piece of work, once, the first time the checkpoints are read:
/// here another instance appending and signing while a log loads.
#[derive(Clone)]
struct SignsWhileLoading {
    inner: MemoryStore,
    work: Pending,
}

impl Store for SignsWhileLoading {
    async fn append(&self, tenant: &TenantId, records: &[Record]) -> Result<(), Error> {
        self.inner.append(tenant, records).await
    }

    async fn sync(&self, tenant: &TenantId) -> Result<(), Error> {
        self.inner.sync(tenant).await
    }

    async fn read(&self, tenant: &TenantId, from: u64, max: usize) -> Result<Vec<Vec<u8>>, Error> {
        self.inner.read(tenant, from, max).await
    }

    async fn put_checkpoint(&self, tenant: &TenantId, size: u64, note: &str) -> Result<(), Error> {
        self.inner.put_checkpoint(tenant, size, note).await
    }

    async fn checkpoints(&self, tenant: &TenantId) -> Result<Vec<String>, Error> {
        let work = self.work.lock().expect("not poisoned").take();
        if let Some(work) = work {
            work.await;
        }
        self.inner.checkpoints(tenant).await
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, Error> {
        self.inner.tenants().await
    }

    async fn query(&self, query: &Query) -> Result<Page, Error> {
        self.inner.query(query).await
    }
}

/// Two instances share a store; one appends and signs a checkpoint while the other
/// loads the log. The loading one must not take the new checkpoint for tampering (it
/// reads the checkpoints before the entries, so every checkpoint it sees is covered).
#[tokio::test]
async fn a_log_loading_while_another_signs_loads() {
    let shared = MemoryStore::default();
    let acme = tenant("acme");
    let (a, _) = common::log(shared.clone());
    for i in 0..3 {
        a.append(event(&acme, i)).await.expect("append");
    }
    a.checkpoint(&acme).await.expect("checkpoint");
    let racing = a.clone();
    let tenant = acme.clone();
    let store = SignsWhileLoading {
        inner: shared.clone(),
        work: Arc::new(Mutex::new(Some(Box::pin(async move {
            racing.append(event(&tenant, 3)).await.expect("append");
            racing.checkpoint(&tenant).await.expect("checkpoint");
        })))),
    };
    let (b, _) = common::log(store);
    let receipt = b.append(event(&acme, 4)).await.expect("loads and appends");
    assert_eq!(receipt.index, 4);
    let verified = Verifier::new()
        .verify_log(&shared, &acme)
        .await
        .expect("verifies");
    assert_eq!(verified.size, 5);
}

/// A store whose checkpoints cannot be written (entries can).
#[derive(Clone, Default)]
struct NoCheckpoints {
    inner: MemoryStore,
}

impl Store for NoCheckpoints {
    async fn append(&self, tenant: &TenantId, records: &[Record]) -> Result<(), Error> {
        self.inner.append(tenant, records).await
    }

    async fn sync(&self, tenant: &TenantId) -> Result<(), Error> {
        self.inner.sync(tenant).await
    }

    async fn read(&self, tenant: &TenantId, from: u64, max: usize) -> Result<Vec<Vec<u8>>, Error> {
        self.inner.read(tenant, from, max).await
    }

    async fn put_checkpoint(&self, _: &TenantId, _: u64, _: &str) -> Result<(), Error> {
        Err(Error::Store("the checkpoint table is full".into()))
    }

    async fn checkpoints(&self, tenant: &TenantId) -> Result<Vec<String>, Error> {
        self.inner.checkpoints(tenant).await
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, Error> {
        self.inner.tenants().await
    }

    async fn query(&self, query: &Query) -> Result<Page, Error> {
        self.inner.query(query).await
    }
}

/// An append whose entries are durable succeeds even when the checkpoint it makes due
/// cannot be stored: an error would have the caller append the same events again.
#[tokio::test]
async fn a_failed_automatic_checkpoint_does_not_fail_a_durable_append() {
    let store = NoCheckpoints::default();
    let log = AuditLog::builder(store.clone())
        .signer(common::signer())
        .checkpoint_every(NonZeroU64::new(1).expect("not zero"))
        .build()
        .expect("valid configuration");
    let acme = tenant("acme");
    for i in 0..3 {
        let receipt = log
            .append(event(&acme, i))
            .await
            .expect("the entry is durable");
        assert_eq!(receipt.index, i);
    }
    let verified = Verifier::new()
        .verify_log(&store.inner, &acme)
        .await
        .expect("verifies");
    assert_eq!(verified.size, 3);
    // An explicit checkpoint still reports the failure.
    assert!(matches!(log.checkpoint(&acme).await, Err(Error::Store(_))));
}
