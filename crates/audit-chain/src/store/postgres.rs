//! The PostgreSQL store: append-only tables guarded by triggers.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row as _};

use super::sql::{Dialect, sql_store};
use super::{Page, Query, Record, Store};
use crate::entry::Entry;
use crate::error::Error;
use crate::event::TenantId;

/// The PostgreSQL schema, applied by [`PostgresStore::migrate`] in the connection's
/// current schema. Triggers refuse UPDATE, DELETE and TRUNCATE on both tables, whoever
/// runs them (an owner could drop the triggers: give the application a role that owns
/// nothing; see the crate README for the grants).
pub const POSTGRES_MIGRATIONS: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS audit_entries (
        tenant TEXT COLLATE "C" NOT NULL,
        idx BIGINT NOT NULL CHECK (idx >= 0),
        recorded_at BIGINT NOT NULL,
        actor TEXT COLLATE "C" NOT NULL,
        action TEXT COLLATE "C" NOT NULL,
        leaf BYTEA NOT NULL,
        PRIMARY KEY (tenant, idx)
    )"#,
    "CREATE INDEX IF NOT EXISTS audit_entries_tenant_time ON audit_entries (tenant, recorded_at, idx)",
    "CREATE INDEX IF NOT EXISTS audit_entries_tenant_actor ON audit_entries (tenant, actor, recorded_at, idx)",
    "CREATE INDEX IF NOT EXISTS audit_entries_tenant_action ON audit_entries (tenant, action, recorded_at, idx)",
    r#"CREATE TABLE IF NOT EXISTS audit_checkpoints (
        id BIGSERIAL PRIMARY KEY,
        tenant TEXT COLLATE "C" NOT NULL,
        size BIGINT NOT NULL,
        note TEXT NOT NULL
    )"#,
    "CREATE INDEX IF NOT EXISTS audit_checkpoints_tenant ON audit_checkpoints (tenant, id)",
    "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         RAISE EXCEPTION 'audit log tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
             USING ERRCODE = 'insufficient_privilege';
     END
     $$",
    "CREATE OR REPLACE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
     FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "CREATE OR REPLACE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
     FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "CREATE OR REPLACE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
     FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "CREATE OR REPLACE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
     FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
];

/// Tenants' logs in PostgreSQL (tables `audit_entries` and `audit_checkpoints`), shared
/// by any number of application instances: an append that loses a race for an index
/// fails with [`Error::Conflict`] and [`crate::AuditLog`] retries it.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and applies the migrations (needs a role that may create
    /// tables; an insert-only application role uses [`PostgresStore::new`]).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when it cannot connect or migrate.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(Self::map_err)?;
        let store = Self::new(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps a pool as it is, without migrating: for the insert-only application role.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies [`POSTGRES_MIGRATIONS`] (idempotent), in one transaction.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when a statement fails.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(Self::map_err)?;
        for statement in POSTGRES_MIGRATIONS {
            sqlx::query(sqlx::AssertSqlSafe(*statement))
                .execute(&mut *tx)
                .await
                .map_err(Self::map_err)?;
        }
        tx.commit().await.map_err(Self::map_err)
    }

    /// The transaction of an append, holding the tenant's advisory lock until it ends:
    /// instances appending to one tenant's log take turns instead of racing for the next
    /// index, so an append loses only to a writer that committed before it began.
    async fn begin_append(
        &self,
        tenant: &TenantId,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, Error> {
        let mut tx = self.pool.begin().await.map_err(Self::map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('palisade-audit/' || $1, 0))")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Self::map_err)?;
        Ok(tx)
    }

    /// PostgreSQL's plan for a query (`EXPLAIN`), one line per row: shows which index
    /// serves it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database fails.
    pub async fn query_plan(&self, query: &Query) -> Result<Vec<String>, Error> {
        let built = super::sql::select(query, Dialect::Postgres);
        let sql = format!("EXPLAIN {}", built.sql);
        let rows = Self::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &built.binds)
            .fetch_all(&self.pool)
            .await
            .map_err(Self::map_err)?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).map_err(Self::map_err))
            .collect()
    }
}

sql_store!(PostgresStore, sqlx::Postgres, PgPool, Dialect::Postgres);
