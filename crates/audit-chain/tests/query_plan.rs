//! The SQL stores answer tenant + time and tenant + actor queries from their indexes:
//! the tests read the databases' own plans.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are small")]
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod common;

use audit_chain::{AuditLog, ManualClock, Query, Store, TenantId, Timestamp};
use common::{event, tenant};

/// Four tenants of 500 entries each, one second apart.
async fn fill<S: Store>(log: &AuditLog<S, ManualClock>, clock: &ManualClock) {
    for name in ["acme", "globex", "initech", "umbrella"] {
        let t = tenant(name);
        for chunk in 0..5 {
            clock.advance_micros(1_000_000);
            let events = (chunk * 100..chunk * 100 + 100)
                .map(|i| event(&t, i))
                .collect();
            log.append_batch(events).await.expect("append");
        }
    }
}

fn time_query(acme: &TenantId) -> Query {
    let since = Timestamp::parse_rfc3339("2026-03-01T09:00:01Z").expect("time");
    let until = Timestamp::parse_rfc3339("2026-03-01T09:00:03Z").expect("time");
    Query::new(acme.clone()).since(since).until(until)
}

fn assert_uses(plan: &[String], index: &str) {
    assert!(
        plan.iter().any(|line| line.contains(index)),
        "expected {index} in the plan:\n{}",
        plan.join("\n")
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_plans_use_the_tenant_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = audit_chain::SqliteStore::connect(&url)
        .await
        .expect("connect");
    let (log, clock) = common::log(store.clone());
    fill(&log, &clock).await;
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");
    let acme = tenant("acme");
    let plan = store.query_plan(&time_query(&acme)).await.expect("plan");
    assert_uses(&plan, "audit_entries_tenant_time");
    let plan = store
        .query_plan(&Query::new(acme.clone()).actor("user-1"))
        .await
        .expect("plan");
    assert_uses(&plan, "audit_entries_tenant_actor");
    // And neither needs a sort step: the index gives the order.
    assert!(!plan.iter().any(|l| l.contains("TEMP B-TREE")), "{plan:?}");
    // The queries return what they should.
    let page = log.query(&time_query(&acme)).await.expect("query");
    assert_eq!(page.entries.len(), 100);
}

/// On PostgreSQL the test session turns sequential scans off (`enable_seqscan = off`):
/// on tables this small the planner may rightly prefer reading the whole table, which
/// says nothing about the indexes. Index choice between the tenant indexes is the
/// planner's own.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_plans_use_the_tenant_indexes() {
    let Some(db) = palisade_test_support::postgres("audit_plan").await else {
        return;
    };
    let url = format!("{}%20-c%20enable_seqscan%3Doff", db.url());
    let store = audit_chain::PostgresStore::connect(&url)
        .await
        .expect("connect");
    let (log, clock) = common::log(store.clone());
    fill(&log, &clock).await;
    sqlx::query("ANALYZE audit_entries")
        .execute(store.pool())
        .await
        .expect("analyze");
    let acme = tenant("acme");
    let plan = store.query_plan(&time_query(&acme)).await.expect("plan");
    assert_uses(&plan, "audit_entries_tenant_time");
    let plan = store
        .query_plan(&Query::new(acme.clone()).actor("user-1"))
        .await
        .expect("plan");
    assert_uses(&plan, "audit_entries_tenant_actor");
    let page = log.query(&time_query(&acme)).await.expect("query");
    assert_eq!(page.entries.len(), 100);
}
