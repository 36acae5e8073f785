//! The SQLite store.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

use super::sql::{Dialect, sql_store};
use super::{Page, Query, Record, Store};
use crate::entry::Entry;
use crate::error::Error;
use crate::event::TenantId;

/// The SQLite schema, applied by [`SqliteStore::migrate`]. Entries and checkpoints are
/// append-only: triggers refuse UPDATE, DELETE and REPLACE (SQLite has no TRUNCATE).
pub const SQLITE_MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS audit_entries (
        tenant TEXT NOT NULL,
        idx INTEGER NOT NULL CHECK (idx >= 0),
        recorded_at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        leaf BLOB NOT NULL,
        PRIMARY KEY (tenant, idx)
    ) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS audit_entries_tenant_time ON audit_entries (tenant, recorded_at, idx)",
    "CREATE INDEX IF NOT EXISTS audit_entries_tenant_actor ON audit_entries (tenant, actor, recorded_at, idx)",
    "CREATE INDEX IF NOT EXISTS audit_entries_tenant_action ON audit_entries (tenant, action, recorded_at, idx)",
    "CREATE TABLE IF NOT EXISTS audit_checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        size INTEGER NOT NULL,
        note TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS audit_checkpoints_tenant ON audit_checkpoints (tenant, id)",
    "CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
     BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
     BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
     BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
     BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END",
    // `REPLACE` (and `INSERT OR REPLACE`) deletes the row it collides with without
    // firing DELETE triggers (unless `recursive_triggers` is on, which a connection
    // chooses for itself): an insert onto a taken key is refused before it runs.
    "CREATE TRIGGER IF NOT EXISTS audit_entries_no_replace BEFORE INSERT ON audit_entries
     WHEN EXISTS (SELECT 1 FROM audit_entries WHERE tenant = NEW.tenant AND idx = NEW.idx)
     BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_replace BEFORE INSERT ON audit_checkpoints
     WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_checkpoints WHERE id = NEW.id)
     BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END",
];

/// Tenants' logs in an SQLite database (tables `audit_entries` and `audit_checkpoints`).
///
/// Queries use the indexes on (tenant, recorded_at), (tenant, actor, recorded_at) and
/// (tenant, action, recorded_at).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite://path` or a path),
    /// in WAL mode with `synchronous = FULL` so every commit is durable, and applies the
    /// migrations.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad URL; [`Error::Store`] when it cannot be opened or
    /// migrated.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("sqlite url {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(Self::map_err)?;
        let store = Self::new(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps a pool as it is; call [`SqliteStore::migrate`] unless the schema exists.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Applies [`SQLITE_MIGRATIONS`] (idempotent).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when a statement fails.
    pub async fn migrate(&self) -> Result<(), Error> {
        for statement in SQLITE_MIGRATIONS {
            sqlx::query(sqlx::AssertSqlSafe(*statement))
                .execute(&self.pool)
                .await
                .map_err(Self::map_err)?;
        }
        Ok(())
    }

    /// The transaction of an append: `BEGIN IMMEDIATE` takes the write lock at once, so
    /// a writer that finds it taken waits (up to the busy timeout) instead of failing
    /// with `SQLITE_BUSY` when its read of the log's end would have to turn into a write
    /// (a deferred transaction cannot wait for that).
    async fn begin_append(
        &self,
        _tenant: &TenantId,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, Error> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Self::map_err)
    }

    /// SQLite's plan for a query (`EXPLAIN QUERY PLAN`), one line per step: shows which
    /// index serves it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database fails.
    pub async fn query_plan(&self, query: &Query) -> Result<Vec<String>, Error> {
        let built = super::sql::select(query, Dialect::Sqlite);
        let sql = format!("EXPLAIN QUERY PLAN {}", built.sql);
        let rows = Self::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &built.binds)
            .fetch_all(&self.pool)
            .await
            .map_err(Self::map_err)?;
        rows.iter()
            .map(|row| row.try_get::<String, _>("detail").map_err(Self::map_err))
            .collect()
    }
}

sql_store!(SqliteStore, sqlx::Sqlite, SqlitePool, Dialect::Sqlite);
