//! The SQL stores: SQLite and PostgreSQL through sqlx's runtime query API.
//!
//! Both backends run the same statements (sqlx binds `$N` placeholders on SQLite too);
//! only the DDL and the migration lock differ. All SQL here is static text.

use std::net::IpAddr;

use super::{Lookup, SessionRecord};
use crate::{Aal, SessionHandle, StoreError, TenantId, UserId};

/// The columns of a session record, in [`RawRecord`] order.
macro_rules! columns {
    () => {
        "s.id_hash, s.tenant, s.user_id, s.generation, s.created_at, s.expires_at, \
         s.last_seen_at, s.authenticated_at, s.aal, s.amr, s.ip, s.user_agent, s.label, \
         s.revoked_at"
    };
}

const INSERT: &str = "INSERT INTO palisade_sessions (id_hash, tenant, user_id, generation, \
     created_at, expires_at, last_seen_at, authenticated_at, aal, amr, ip, user_agent, label, \
     revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

const LOOKUP: &str = concat!(
    "SELECT ",
    columns!(),
    ", COALESCE(g.generation, 0) AS current_generation \
     FROM palisade_sessions s LEFT JOIN palisade_session_generations g \
     ON g.tenant = s.tenant AND g.user_id = s.user_id WHERE s.id_hash = $1"
);

const TOUCH: &str = "UPDATE palisade_sessions SET last_seen_at = $2 \
     WHERE id_hash = $1 AND revoked_at IS NULL AND last_seen_at <= $3";

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM palisade_sessions s WHERE s.tenant = $1 AND s.user_id = $2 \
     AND s.revoked_at IS NULL AND s.expires_at > $3 \
     AND s.generation = COALESCE((SELECT g.generation FROM palisade_session_generations g \
     WHERE g.tenant = $1 AND g.user_id = $2), 0) \
     ORDER BY s.created_at DESC, s.id_hash ASC LIMIT $4"
);

const GENERATION: &str =
    "SELECT generation FROM palisade_session_generations WHERE tenant = $1 AND user_id = $2";

const REVOKE: &str = "UPDATE palisade_sessions SET revoked_at = $4 \
     WHERE tenant = $1 AND user_id = $2 AND id_hash = $3 AND revoked_at IS NULL";

/// `$4` is the handle to keep, or [`NO_HANDLE`].
const REVOKE_ALL: &str = "UPDATE palisade_sessions SET revoked_at = $3 \
     WHERE tenant = $1 AND user_id = $2 AND revoked_at IS NULL AND id_hash <> $4";

/// `$3` is the handle to keep, `$4` the time, `$5` how many other live records to keep.
const REVOKE_OLDEST: &str = "UPDATE palisade_sessions SET revoked_at = $4 \
     WHERE tenant = $1 AND user_id = $2 AND revoked_at IS NULL AND id_hash <> $3 \
     AND id_hash NOT IN (SELECT k.id_hash FROM palisade_sessions k \
     WHERE k.tenant = $1 AND k.user_id = $2 AND k.revoked_at IS NULL AND k.id_hash <> $3 \
     AND k.expires_at > $4 ORDER BY k.created_at DESC, k.id_hash ASC LIMIT $5)";

/// An empty byte string: no handle equals it.
const NO_HANDLE: &[u8] = &[];

const BUMP_GENERATION: &str = "INSERT INTO palisade_session_generations \
     (tenant, user_id, generation) VALUES ($1, $2, 1) \
     ON CONFLICT (tenant, user_id) DO UPDATE \
     SET generation = palisade_session_generations.generation + 1 RETURNING generation";

const PURGE: &str = "DELETE FROM palisade_sessions WHERE expires_at <= $1 OR revoked_at <= $1";

const CREATE_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS palisade_session_migrations \
     (version BIGINT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)";

const MIGRATION_APPLIED: &str =
    "SELECT version FROM palisade_session_migrations WHERE version = $1";

const RECORD_MIGRATION: &str =
    "INSERT INTO palisade_session_migrations (version, applied_at) VALUES ($1, $2)";

/// A record as its columns come out of the database.
struct RawRecord {
    id_hash: Vec<u8>,
    tenant: String,
    user_id: String,
    generation: i64,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
    authenticated_at: i64,
    aal: i64,
    amr: String,
    ip: Option<String>,
    user_agent: Option<String>,
    label: Option<String>,
    revoked_at: Option<i64>,
}

impl RawRecord {
    fn into_record(self, op: &'static str) -> Result<SessionRecord, StoreError> {
        let corrupt = |what: &str| StoreError::new(op, format!("stored {what} is invalid"));
        let handle: [u8; 32] = self
            .id_hash
            .try_into()
            .map_err(|_| corrupt("session hash"))?;
        let aal = u8::try_from(self.aal)
            .ok()
            .and_then(Aal::from_level)
            .ok_or_else(|| corrupt("aal"))?;
        let ip = self
            .ip
            .map(|ip| ip.parse::<IpAddr>())
            .transpose()
            .map_err(|_| corrupt("ip"))?;
        Ok(SessionRecord {
            handle: SessionHandle::from_bytes(handle),
            tenant: TenantId::new(self.tenant).map_err(|_| corrupt("tenant"))?,
            user: UserId::new(self.user_id).map_err(|_| corrupt("user id"))?,
            generation: to_u64(op, self.generation)?,
            created_at: to_u64(op, self.created_at)?,
            expires_at: to_u64(op, self.expires_at)?,
            last_seen_at: to_u64(op, self.last_seen_at)?,
            authenticated_at: to_u64(op, self.authenticated_at)?,
            aal,
            amr: self
                .amr
                .split(' ')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect(),
            ip,
            user_agent: self.user_agent,
            label: self.label,
            revoked_at: self.revoked_at.map(|t| to_u64(op, t)).transpose()?,
        })
    }
}

fn to_i64(op: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::new(op, "value out of the database's range"))
}

/// A count for `LIMIT`: any count past `i64::MAX` means no limit.
fn count(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(op: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::new(op, "stored value is negative"))
}

/// The record's fields as bound by [`INSERT`].
struct Row<'a> {
    record: &'a SessionRecord,
    generation: i64,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
    authenticated_at: i64,
    amr: String,
    ip: Option<String>,
    revoked_at: Option<i64>,
}

impl<'a> Row<'a> {
    fn new(record: &'a SessionRecord) -> Result<Self, StoreError> {
        const OP: &str = "insert";
        Ok(Self {
            record,
            generation: to_i64(OP, record.generation)?,
            created_at: to_i64(OP, record.created_at)?,
            expires_at: to_i64(OP, record.expires_at)?,
            last_seen_at: to_i64(OP, record.last_seen_at)?,
            authenticated_at: to_i64(OP, record.authenticated_at)?,
            amr: record.amr.join(" "),
            ip: record.ip.map(|ip| ip.to_string()),
            revoked_at: record.revoked_at.map(|t| to_i64(OP, t)).transpose()?,
        })
    }
}

macro_rules! sql_store {
    ($store:ident, $db:ty, $migrations:expr, $lock:expr, $begin:expr) => {
        impl $store {
            /// Applies the store's migrations that have not run yet, in one transaction.
            /// Safe to run from several instances at once: they take turns (PostgreSQL
            /// takes an advisory lock; SQLite takes the write lock before reading,
            /// waiting up to the busy timeout) and the migrations run once.
            ///
            /// # Errors
            ///
            /// When the database refuses a statement.
            pub async fn migrate(&self) -> Result<(), StoreError> {
                const OP: &str = "migrate";
                let err = |e: sqlx::Error| StoreError::new(OP, e);
                let mut tx = self.begin().await.map_err(err)?;
                let lock: Option<&'static str> = $lock;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut *tx).await.map_err(err)?;
                }
                sqlx::query(CREATE_MIGRATIONS)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                let migrations: &[(i64, &'static str)] = $migrations;
                for &(version, sql) in migrations {
                    let applied = sqlx::query(MIGRATION_APPLIED)
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(err)?;
                    if applied.is_none() {
                        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(err)?;
                        sqlx::query(RECORD_MIGRATION)
                            .bind(version)
                            .bind(to_i64(
                                OP,
                                crate::env::unix_secs(std::time::SystemTime::now()),
                            )?)
                            .execute(&mut *tx)
                            .await
                            .map_err(err)?;
                        tracing::info!(version, "applied session store migration");
                    }
                }
                tx.commit().await.map_err(err)
            }

            /// Starts a transaction that writes: on SQLite with `BEGIN IMMEDIATE`, so the
            /// write lock is taken (waiting up to the busy timeout) before anything is
            /// read. A deferred transaction that reads first and writes later fails with
            /// `SQLITE_BUSY` at once when another connection wrote in between.
            async fn begin(&self) -> Result<sqlx::Transaction<'static, $db>, sqlx::Error> {
                let begin: Option<&'static str> = $begin;
                match begin {
                    Some(statement) => self.pool.begin_with(statement).await,
                    None => self.pool.begin().await,
                }
            }

            /// The connection pool, for health checks and administration.
            pub fn pool(&self) -> &sqlx::Pool<$db> {
                &self.pool
            }

            fn raw_record(row: &<$db as sqlx::Database>::Row) -> Result<RawRecord, sqlx::Error> {
                use sqlx::Row as _;
                Ok(RawRecord {
                    id_hash: row.try_get(0)?,
                    tenant: row.try_get(1)?,
                    user_id: row.try_get(2)?,
                    generation: row.try_get(3)?,
                    created_at: row.try_get(4)?,
                    expires_at: row.try_get(5)?,
                    last_seen_at: row.try_get(6)?,
                    authenticated_at: row.try_get(7)?,
                    aal: row.try_get(8)?,
                    amr: row.try_get(9)?,
                    ip: row.try_get(10)?,
                    user_agent: row.try_get(11)?,
                    label: row.try_get(12)?,
                    revoked_at: row.try_get(13)?,
                })
            }

            fn record(
                op: &'static str,
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<SessionRecord, StoreError> {
                Self::raw_record(row)
                    .map_err(|e| StoreError::new(op, e))?
                    .into_record(op)
            }
        }

        impl crate::store::SessionStore for $store {
            fn insert<'a>(
                &'a self,
                record: &'a SessionRecord,
            ) -> crate::store::StoreFuture<'a, ()> {
                Box::pin(async move {
                    let row = Row::new(record)?;
                    sqlx::query(INSERT)
                        .bind(&row.record.handle.as_bytes()[..])
                        .bind(row.record.tenant.as_str())
                        .bind(row.record.user.as_str())
                        .bind(row.generation)
                        .bind(row.created_at)
                        .bind(row.expires_at)
                        .bind(row.last_seen_at)
                        .bind(row.authenticated_at)
                        .bind(i64::from(row.record.aal.level()))
                        .bind(&row.amr)
                        .bind(row.ip.as_deref())
                        .bind(row.record.user_agent.as_deref())
                        .bind(row.record.label.as_deref())
                        .bind(row.revoked_at)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new("insert", e))?;
                    Ok(())
                })
            }

            fn lookup<'a>(
                &'a self,
                handle: &'a SessionHandle,
            ) -> crate::store::StoreFuture<'a, Option<Lookup>> {
                Box::pin(async move {
                    const OP: &str = "lookup";
                    let row = sqlx::query(LOOKUP)
                        .bind(&handle.as_bytes()[..])
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    let Some(row) = row else { return Ok(None) };
                    let current: i64 =
                        sqlx::Row::try_get(&row, 14).map_err(|e| StoreError::new(OP, e))?;
                    Ok(Some(Lookup {
                        record: Self::record(OP, &row)?,
                        current_generation: to_u64(OP, current)?,
                    }))
                })
            }

            fn touch<'a>(
                &'a self,
                handle: &'a SessionHandle,
                now: u64,
                min_interval: u64,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    const OP: &str = "touch";
                    let done = sqlx::query(TOUCH)
                        .bind(&handle.as_bytes()[..])
                        .bind(to_i64(OP, now)?)
                        .bind(to_i64(OP, now.saturating_sub(min_interval))?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected() > 0)
                })
            }

            fn list<'a>(
                &'a self,
                tenant: &'a TenantId,
                user: &'a UserId,
                now: u64,
                limit: usize,
            ) -> crate::store::StoreFuture<'a, Vec<SessionRecord>> {
                Box::pin(async move {
                    const OP: &str = "list";
                    let rows = sqlx::query(LIST)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .bind(to_i64(OP, now)?)
                        .bind(count(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    rows.iter().map(|row| Self::record(OP, row)).collect()
                })
            }

            fn generation<'a>(
                &'a self,
                tenant: &'a TenantId,
                user: &'a UserId,
            ) -> crate::store::StoreFuture<'a, u64> {
                Box::pin(async move {
                    const OP: &str = "generation";
                    let generation: Option<i64> = sqlx::query_scalar(GENERATION)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    to_u64(OP, generation.unwrap_or(0))
                })
            }

            fn revoke<'a>(
                &'a self,
                tenant: &'a TenantId,
                user: &'a UserId,
                handle: &'a SessionHandle,
                now: u64,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    const OP: &str = "revoke";
                    let done = sqlx::query(REVOKE)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .bind(&handle.as_bytes()[..])
                        .bind(to_i64(OP, now)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected() > 0)
                })
            }

            fn revoke_all<'a>(
                &'a self,
                tenant: &'a TenantId,
                user: &'a UserId,
                keep: Option<&'a SessionHandle>,
                now: u64,
            ) -> crate::store::StoreFuture<'a, u64> {
                Box::pin(async move {
                    const OP: &str = "revoke_all";
                    let done = sqlx::query(REVOKE_ALL)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .bind(to_i64(OP, now)?)
                        .bind(keep.map_or(NO_HANDLE, |h| &h.as_bytes()[..]))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected())
                })
            }

            fn revoke_oldest<'a>(
                &'a self,
                tenant: &'a TenantId,
                user: &'a UserId,
                keep: &'a SessionHandle,
                others: usize,
                now: u64,
            ) -> crate::store::StoreFuture<'a, u64> {
                Box::pin(async move {
                    const OP: &str = "revoke_oldest";
                    let done = sqlx::query(REVOKE_OLDEST)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .bind(&keep.as_bytes()[..])
                        .bind(to_i64(OP, now)?)
                        .bind(count(others))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected())
                })
            }

            fn bump_generation<'a>(
                &'a self,
                tenant: &'a TenantId,
                user: &'a UserId,
                now: u64,
            ) -> crate::store::StoreFuture<'a, u64> {
                Box::pin(async move {
                    const OP: &str = "bump_generation";
                    let err = |e: sqlx::Error| StoreError::new(OP, e);
                    let mut tx = self.begin().await.map_err(err)?;
                    let generation: i64 = sqlx::query_scalar(BUMP_GENERATION)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(err)?;
                    sqlx::query(REVOKE_ALL)
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .bind(to_i64(OP, now)?)
                        .bind(NO_HANDLE)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    to_u64(OP, generation)
                })
            }

            fn purge(&self, before: u64) -> crate::store::StoreFuture<'_, u64> {
                Box::pin(async move {
                    const OP: &str = "purge";
                    let done = sqlx::query(PURGE)
                        .bind(to_i64(OP, before)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected())
                })
            }
        }
    };
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::path::Path;
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

    use super::*;

    /// Sessions in a SQLite database: the single-machine default.
    ///
    /// Tables: `palisade_sessions`, `palisade_session_generations` and
    /// `palisade_session_migrations`; see `migrations/sqlite/` in the crate.
    #[derive(Debug, Clone)]
    pub struct SqliteStore {
        pool: SqlitePool,
    }

    impl SqliteStore {
        /// Opens (creating it if needed) the database file at `path` in WAL mode and
        /// applies the migrations.
        ///
        /// # Errors
        ///
        /// When the file cannot be opened or a migration fails.
        pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .connect_with(options)
                .await
                .map_err(|e| StoreError::new("connect", e))?;
            let store = Self { pool };
            store.migrate().await?;
            Ok(store)
        }

        /// A store on an existing pool. Runs no migration: call
        /// [`SqliteStore::migrate`] before first use.
        pub fn from_pool(pool: SqlitePool) -> Self {
            Self { pool }
        }
    }

    sql_store!(
        SqliteStore,
        sqlx::Sqlite,
        &[(1, include_str!("../../migrations/sqlite/0001_sessions.sql"))],
        None,
        Some("BEGIN IMMEDIATE")
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::postgres::{PgPool, PgPoolOptions};

    use super::*;

    /// Sessions in PostgreSQL: shared by every instance of a service, so a revocation on
    /// one instance is seen by the next verification on any other.
    ///
    /// Tables (in the connection's `search_path`): `palisade_sessions`,
    /// `palisade_session_generations` and `palisade_session_migrations`; see
    /// `migrations/postgres/` in the crate.
    #[derive(Debug, Clone)]
    pub struct PostgresStore {
        pool: PgPool,
    }

    impl PostgresStore {
        /// Connects to `url` and applies the migrations.
        ///
        /// # Errors
        ///
        /// When the server cannot be reached or a migration fails.
        pub async fn connect(url: &str) -> Result<Self, StoreError> {
            let pool = PgPoolOptions::new()
                .connect(url)
                .await
                .map_err(|e| StoreError::new("connect", e))?;
            let store = Self { pool };
            store.migrate().await?;
            Ok(store)
        }

        /// A store on an existing pool. Runs no migration: call
        /// [`PostgresStore::migrate`] before first use.
        pub fn from_pool(pool: PgPool) -> Self {
            Self { pool }
        }
    }

    sql_store!(
        PostgresStore,
        sqlx::Postgres,
        &[(
            1,
            include_str!("../../migrations/postgres/0001_sessions.sql")
        )],
        // Serialises concurrent migrations from several instances; released at commit.
        Some("SELECT pg_advisory_xact_lock(7305126853960327470)"),
        None
    );
}

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
