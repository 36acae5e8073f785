//! Wrapped data keys in SQLite and PostgreSQL: the same tables (`palisade_tenant_keys`,
//! and `palisade_tenant_key_migrations` for the migrations applied), the same statements.
//!
//! The statements number their parameters (`$1`), which both databases accept (sqlx
//! binds SQLite's `$N` to the N-th argument), so one implementation serves both stores.

use sqlx::Row;

use super::store::{WrappedKey, WrappedKeyStore, from_unix, to_unix};
use crate::error::{Error, Result};

const GET: &str =
    "SELECT tenant, kek, wrapped, created_at FROM palisade_tenant_keys WHERE tenant = $1";
const INSERT: &str = "INSERT INTO palisade_tenant_keys (tenant, kek, wrapped, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant) DO NOTHING";
const REPLACE: &str = "UPDATE palisade_tenant_keys SET kek = $2, wrapped = $3, created_at = $4 \
     WHERE tenant = $1 AND wrapped = $5";
const DELETE: &str = "DELETE FROM palisade_tenant_keys WHERE tenant = $1";

const CREATE_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS palisade_tenant_key_migrations \
     (version BIGINT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)";
const MIGRATION_APPLIED: &str =
    "SELECT version FROM palisade_tenant_key_migrations WHERE version = $1";
const RECORD_MIGRATION: &str =
    "INSERT INTO palisade_tenant_key_migrations (version, applied_at) VALUES ($1, $2)";

/// `from_pool`, `migrate` and [`WrappedKeyStore`] for a store type with a `pool` field
/// of type `$pool`: its numbered migrations, the statement (if any) that serialises
/// migrations from several instances, the one (if any) that begins a writing
/// transaction, and the statements (if any) run on the deleting connection before and
/// after a shred's DELETE; the one after answers a row whose first column is non-zero
/// when it could not finish (SQLite's `wal_checkpoint`).
macro_rules! sql_store {
    (
        $store:ident,
        $pool:ty,
        $migrations:expr,
        $lock:expr,
        $begin:expr,
        $before_delete:expr,
        $after_delete:expr
    ) => {
        impl $store {
            /// Uses an existing pool and applies the migrations.
            ///
            /// # Errors
            ///
            /// [`Error::Store`] when the migrations fail.
            pub async fn from_pool(pool: $pool) -> Result<Self> {
                let store = Self { pool };
                store.migrate().await?;
                Ok(store)
            }

            /// Applies the migrations that have not run yet (recorded in
            /// `palisade_tenant_key_migrations`), in one transaction. Safe to run from
            /// several instances at once: they take turns, and each migration runs once.
            ///
            /// # Errors
            ///
            /// [`Error::Store`] when the database refuses a statement.
            pub async fn migrate(&self) -> Result<()> {
                let begin: Option<&'static str> = $begin;
                let mut tx = match begin {
                    Some(statement) => self.pool.begin_with(statement).await,
                    None => self.pool.begin().await,
                }
                .map_err(Error::store)?;
                let lock: Option<&'static str> = $lock;
                if let Some(lock) = lock {
                    sqlx::query(lock)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::store)?;
                }
                sqlx::query(CREATE_MIGRATIONS)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::store)?;
                let migrations: &[(i64, &'static str)] = $migrations;
                for &(version, sql) in migrations {
                    let applied = sqlx::query(MIGRATION_APPLIED)
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(Error::store)?;
                    if applied.is_some() {
                        continue;
                    }
                    sqlx::raw_sql(sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::store)?;
                    sqlx::query(RECORD_MIGRATION)
                        .bind(version)
                        .bind(to_unix(std::time::SystemTime::now()))
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::store)?;
                    tracing::info!(version, "applied tenant key store migration");
                }
                tx.commit().await.map_err(Error::store)
            }

            /// Runs `statement` with a whole row as `$1..$4` (tenant, kek, wrapped,
            /// created_at), and for REPLACE the wrapped bytes expected as `$5`; whether
            /// it changed exactly one row.
            async fn write(
                &self,
                statement: &'static str,
                key: &WrappedKey,
                expected: Option<&[u8]>,
            ) -> Result<bool> {
                let mut query = sqlx::query(statement)
                    .bind(&key.tenant)
                    .bind(&key.kek)
                    .bind(&key.wrapped)
                    .bind(to_unix(key.created));
                if let Some(expected) = expected {
                    query = query.bind(expected);
                }
                let done = query.execute(&self.pool).await.map_err(Error::store)?;
                Ok(done.rows_affected() == 1)
            }
        }

        impl WrappedKeyStore for $store {
            async fn get(&self, tenant: &str) -> Result<Option<WrappedKey>> {
                let row = sqlx::query(GET)
                    .bind(tenant)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(Error::store)?;
                row.map(|row| {
                    Ok(WrappedKey {
                        tenant: row.try_get("tenant").map_err(Error::store)?,
                        kek: row.try_get("kek").map_err(Error::store)?,
                        wrapped: row.try_get("wrapped").map_err(Error::store)?,
                        created: from_unix(row.try_get("created_at").map_err(Error::store)?),
                    })
                })
                .transpose()
            }

            async fn insert(&self, key: &WrappedKey) -> Result<bool> {
                self.write(INSERT, key, None).await
            }

            async fn replace(&self, expected: &[u8], key: &WrappedKey) -> Result<bool> {
                self.write(REPLACE, key, Some(expected)).await
            }

            async fn delete(&self, tenant: &str) -> Result<bool> {
                let mut connection = self.pool.acquire().await.map_err(Error::store)?;
                let before: Option<&'static str> = $before_delete;
                if let Some(statement) = before {
                    sqlx::raw_sql(statement)
                        .execute(&mut *connection)
                        .await
                        .map_err(Error::store)?;
                }
                let done = sqlx::query(DELETE)
                    .bind(tenant)
                    .execute(&mut *connection)
                    .await
                    .map_err(Error::store)?;
                let deleted = done.rows_affected() == 1;
                // The row is gone; what follows only clears copies of it, so its failure
                // is reported in the log, not as a failed shred.
                let after: Option<&'static str> = $after_delete;
                if let Some(statement) = after {
                    let unfinished = sqlx::query(statement)
                        .fetch_optional(&mut *connection)
                        .await
                        .map(|row| row.and_then(|row| row.try_get::<i64, _>(0).ok()))
                        .map_err(|e| e.to_string())
                        .and_then(|busy| match busy {
                            Some(0) | None => Ok(()),
                            Some(_) => Err("busy: a reader holds the log".to_owned()),
                        });
                    if let Err(error) = unfinished {
                        tracing::warn!(
                            tenant,
                            error,
                            "shredded key deleted, but copies may remain until the next checkpoint"
                        );
                    }
                }
                Ok(deleted)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

    use super::*;

    /// Wrapped data keys in the SQLite table `palisade_tenant_keys` (feature `sqlite`).
    ///
    /// [`SqliteStore::connect`] and [`SqliteStore::from_pool`] apply the migrations that
    /// have not run (`migrations/sqlite/`, recorded in `palisade_tenant_key_migrations`).
    ///
    /// `connect` sets `secure_delete` on every connection, so SQLite overwrites the bytes
    /// of a replaced or deleted wrapped key; give a pool passed to `from_pool` the same
    /// (`SqliteConnectOptions::pragma("secure_delete", "ON")`). Shredding sets it on its
    /// own connection either way.
    #[derive(Debug, Clone)]
    pub struct SqliteStore {
        pool: SqlitePool,
    }

    impl SqliteStore {
        /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db`)
        /// and applies the migrations.
        ///
        /// # Errors
        ///
        /// [`Error::Store`] when the database cannot be opened or migrated.
        pub async fn connect(url: &str) -> Result<Self> {
            let options: SqliteConnectOptions = url.parse().map_err(Error::store)?;
            let pool = SqlitePoolOptions::new()
                .connect_with(
                    options
                        .create_if_missing(true)
                        .pragma("secure_delete", "ON"),
                )
                .await
                .map_err(Error::store)?;
            Self::from_pool(pool).await
        }
    }

    sql_store!(
        SqliteStore,
        SqlitePool,
        &[(
            1,
            include_str!("../../migrations/sqlite/0001_tenant_keys.sql")
        )],
        None,
        // Takes the write lock before reading, so two migrating processes take turns.
        Some("BEGIN IMMEDIATE"),
        // A deleted row's bytes stay in the file's free space, and older copies of its
        // page in the write-ahead log, unless SQLite overwrites them: zeros over the row
        // (also set for every connection `connect` opens), then, in WAL mode, the log
        // copied into the database and cut to nothing (a reader still inside the log
        // keeps it until it finishes; that is logged).
        Some("PRAGMA secure_delete = ON"),
        Some("PRAGMA wal_checkpoint(TRUNCATE)")
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::postgres::{PgPool, PgPoolOptions};

    use super::*;

    /// Wrapped data keys in the PostgreSQL table `palisade_tenant_keys` (feature
    /// `postgres`).
    ///
    /// [`PostgresStore::connect`] and [`PostgresStore::from_pool`] apply the migrations
    /// that have not run (`migrations/postgres/`, recorded in
    /// `palisade_tenant_key_migrations`).
    #[derive(Debug, Clone)]
    pub struct PostgresStore {
        pool: PgPool,
    }

    impl PostgresStore {
        /// Connects to `url` (`postgres://user@host/db`) and applies the migrations.
        ///
        /// # Errors
        ///
        /// [`Error::Store`] when the server cannot be reached or the migrations fail.
        pub async fn connect(url: &str) -> Result<Self> {
            let pool = PgPoolOptions::new()
                .max_connections(5)
                .connect(url)
                .await
                .map_err(Error::store)?;
            Self::from_pool(pool).await
        }
    }

    sql_store!(
        PostgresStore,
        PgPool,
        &[(
            1,
            include_str!("../../migrations/postgres/0001_tenant_keys.sql")
        )],
        // Serialises concurrent migrations from several instances; released at commit.
        Some("SELECT pg_advisory_xact_lock(7305126853960327473)"),
        None,
        // PostgreSQL cannot be told to overwrite a deleted row (see the crate README on
        // shredding).
        None,
        None
    );
}

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStore;
