//! The SQL stores: SQLite and PostgreSQL through sqlx's runtime query API.
//!
//! Both backends run the same statements (sqlx binds `$N` placeholders on SQLite too);
//! only the DDL and the migration lock differ. Every replay guard is one conditional
//! `UPDATE` or `DELETE ... RETURNING`, so the database decides which of two concurrent
//! requests wins. All SQL here is static text.

use super::{CeremonyRecord, CredentialRecord, RecoveryHash, RecoverySet, TotpRecord};
use crate::{StoreError, UserId};

const PUT_TOTP: &str = "INSERT INTO palisade_mfa_totp (user_id, id, sealed_seed, algorithm, \
     digits, period, confirmed, last_step, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, sealed_seed = excluded.sealed_seed, \
     algorithm = excluded.algorithm, digits = excluded.digits, period = excluded.period, \
     confirmed = excluded.confirmed, last_step = excluded.last_step, \
     created_at = excluded.created_at WHERE palisade_mfa_totp.confirmed = FALSE";

const GET_TOTP: &str = "SELECT id, sealed_seed, algorithm, digits, period, confirmed, \
     last_step, created_at FROM palisade_mfa_totp WHERE user_id = $1";

const ACCEPT_STEP: &str = "UPDATE palisade_mfa_totp SET last_step = $3, confirmed = TRUE \
     WHERE user_id = $1 AND id = $2 AND (last_step IS NULL OR last_step < $3)";

const REMOVE_TOTP: &str = "DELETE FROM palisade_mfa_totp WHERE user_id = $1";

const DELETE_RECOVERY: &str = "DELETE FROM palisade_mfa_recovery WHERE user_id = $1";

const INSERT_RECOVERY: &str = "INSERT INTO palisade_mfa_recovery (user_id, set_id, idx, \
     scheme, salt, hash, created_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)";

const GET_RECOVERY: &str = "SELECT set_id, idx, scheme, salt, hash, created_at \
     FROM palisade_mfa_recovery WHERE user_id = $1 AND used_at IS NULL ORDER BY idx";

const CONSUME_RECOVERY: &str = "UPDATE palisade_mfa_recovery SET used_at = $4 \
     WHERE user_id = $1 AND set_id = $2 AND idx = $3 AND used_at IS NULL";

const PUT_CEREMONY: &str = "INSERT INTO palisade_mfa_ceremonies \
     (id, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)";

const TAKE_CEREMONY: &str = "DELETE FROM palisade_mfa_ceremonies WHERE id = $1 \
     RETURNING user_id, kind, state, expires_at";

const PURGE_CEREMONIES: &str = "DELETE FROM palisade_mfa_ceremonies WHERE expires_at <= $1";

const ADD_CREDENTIAL: &str = "INSERT INTO palisade_mfa_credentials (id, user_id, kind, name, \
     data, counter, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const LIST_CREDENTIALS: &str = "SELECT id, user_id, kind, name, data, counter, created_at, \
     last_used_at FROM palisade_mfa_credentials WHERE user_id = $1 ORDER BY created_at, id";

// The counter must move strictly forward; only an authenticator without a counter (zero
// stored, zero reported) signs in again with the same value (WebAuthn, 7.2 step 21).
const UPDATE_CREDENTIAL: &str = "UPDATE palisade_mfa_credentials \
     SET data = $3, counter = $4, last_used_at = $5 \
     WHERE user_id = $1 AND id = $2 AND (counter < $4 OR (counter = 0 AND $4 = 0))";

const RENAME_CREDENTIAL: &str =
    "UPDATE palisade_mfa_credentials SET name = $3 WHERE user_id = $1 AND id = $2";

const REMOVE_CREDENTIAL: &str =
    "DELETE FROM palisade_mfa_credentials WHERE user_id = $1 AND id = $2";

const PUT_USER_HANDLE: &str = "INSERT INTO palisade_mfa_user_handles (user_id, handle) \
     VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING";

const GET_USER_HANDLE: &str = "SELECT handle FROM palisade_mfa_user_handles WHERE user_id = $1";

const CREATE_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS palisade_mfa_migrations \
     (version BIGINT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)";

const MIGRATION_APPLIED: &str = "SELECT version FROM palisade_mfa_migrations WHERE version = $1";

const RECORD_MIGRATION: &str =
    "INSERT INTO palisade_mfa_migrations (version, applied_at) VALUES ($1, $2)";

fn to_i64(op: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::new(op, "value out of the database's range"))
}

fn to_u64(op: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::new(op, "stored value is negative"))
}

fn user(op: &'static str, id: String) -> Result<UserId, StoreError> {
    UserId::new(id).map_err(|_| StoreError::new(op, "stored user id is invalid"))
}

macro_rules! sql_store {
    ($store:ident, $db:ty, $migrations:expr, $lock:expr, $begin:expr, $user_lock:expr) => {
        impl $store {
            /// Applies the migrations that have not run yet, in one transaction. Safe to
            /// run from several instances at once: they take turns and each migration
            /// runs once.
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
                        let now = crate::Clock::now(&crate::SystemClock);
                        sqlx::query(RECORD_MIGRATION)
                            .bind(version)
                            .bind(to_i64(OP, now)?)
                            .execute(&mut *tx)
                            .await
                            .map_err(err)?;
                        tracing::info!(version, "applied mfa store migration");
                    }
                }
                tx.commit().await.map_err(err)
            }

            /// Starts a transaction that writes (`BEGIN IMMEDIATE` on SQLite, so the write
            /// lock is taken before anything is read).
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

            fn credential_row(
                op: &'static str,
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<CredentialRecord, StoreError> {
                use sqlx::Row as _;
                let e = |e: sqlx::Error| StoreError::new(op, e);
                let counter: i64 = row.try_get(5).map_err(e)?;
                Ok(CredentialRecord {
                    id: row.try_get(0).map_err(e)?,
                    user: user(op, row.try_get(1).map_err(e)?)?,
                    kind: row.try_get(2).map_err(e)?,
                    name: row.try_get(3).map_err(e)?,
                    data: row.try_get(4).map_err(e)?,
                    counter: u32::try_from(counter)
                        .map_err(|_| StoreError::new(op, "stored counter out of range"))?,
                    created_at: to_u64(op, row.try_get(6).map_err(e)?)?,
                    last_used_at: row
                        .try_get::<Option<i64>, _>(7)
                        .map_err(e)?
                        .map(|t| to_u64(op, t))
                        .transpose()?,
                })
            }
        }

        impl crate::store::MfaStore for $store {
            fn put_totp<'a>(
                &'a self,
                user: &'a UserId,
                record: &'a TotpRecord,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    const OP: &str = "put_totp";
                    let done = sqlx::query(PUT_TOTP)
                        .bind(user.as_str())
                        .bind(&record.id)
                        .bind(&record.sealed_seed)
                        .bind(&record.algorithm)
                        .bind(i64::from(record.digits))
                        .bind(to_i64(OP, record.period)?)
                        .bind(record.confirmed)
                        .bind(record.last_step.map(|s| to_i64(OP, s)).transpose()?)
                        .bind(to_i64(OP, record.created_at)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected() > 0)
                })
            }

            fn totp<'a>(
                &'a self,
                user: &'a UserId,
            ) -> crate::store::StoreFuture<'a, Option<TotpRecord>> {
                Box::pin(async move {
                    use sqlx::Row as _;
                    const OP: &str = "totp";
                    let e = |e: sqlx::Error| StoreError::new(OP, e);
                    let Some(row) = sqlx::query(GET_TOTP)
                        .bind(user.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(e)?
                    else {
                        return Ok(None);
                    };
                    let digits: i64 = row.try_get(3).map_err(e)?;
                    Ok(Some(TotpRecord {
                        id: row.try_get(0).map_err(e)?,
                        sealed_seed: row.try_get(1).map_err(e)?,
                        algorithm: row.try_get(2).map_err(e)?,
                        digits: u8::try_from(digits)
                            .map_err(|_| StoreError::new(OP, "stored digits out of range"))?,
                        period: to_u64(OP, row.try_get(4).map_err(e)?)?,
                        confirmed: row.try_get(5).map_err(e)?,
                        last_step: row
                            .try_get::<Option<i64>, _>(6)
                            .map_err(e)?
                            .map(|s| to_u64(OP, s))
                            .transpose()?,
                        created_at: to_u64(OP, row.try_get(7).map_err(e)?)?,
                    }))
                })
            }

            fn accept_totp_step<'a>(
                &'a self,
                user: &'a UserId,
                id: &'a str,
                step: u64,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    const OP: &str = "accept_totp_step";
                    let done = sqlx::query(ACCEPT_STEP)
                        .bind(user.as_str())
                        .bind(id)
                        .bind(to_i64(OP, step)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn remove_totp<'a>(&'a self, user: &'a UserId) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query(REMOVE_TOTP)
                        .bind(user.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new("remove_totp", e))?;
                    Ok(done.rows_affected() > 0)
                })
            }

            fn replace_recovery<'a>(
                &'a self,
                user: &'a UserId,
                set: &'a RecoverySet,
            ) -> crate::store::StoreFuture<'a, ()> {
                Box::pin(async move {
                    const OP: &str = "replace_recovery";
                    let e = |e: sqlx::Error| StoreError::new(OP, e);
                    let created = to_i64(OP, set.created_at)?;
                    let mut tx = self.begin().await.map_err(e)?;
                    // Two replacements for one user must take turns: otherwise neither
                    // sees the other's uncommitted set to delete, and both sets stay.
                    let user_lock: Option<&'static str> = $user_lock;
                    if let Some(lock) = user_lock {
                        sqlx::query(lock)
                            .bind(user.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(e)?;
                    }
                    sqlx::query(DELETE_RECOVERY)
                        .bind(user.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(e)?;
                    for code in &set.codes {
                        sqlx::query(INSERT_RECOVERY)
                            .bind(user.as_str())
                            .bind(&set.set_id)
                            .bind(i64::from(code.index))
                            .bind(&set.scheme)
                            .bind(&set.salt)
                            .bind(&code.hash)
                            .bind(created)
                            .execute(&mut *tx)
                            .await
                            .map_err(e)?;
                    }
                    tx.commit().await.map_err(e)
                })
            }

            fn recovery<'a>(
                &'a self,
                user: &'a UserId,
            ) -> crate::store::StoreFuture<'a, Option<RecoverySet>> {
                Box::pin(async move {
                    use sqlx::Row as _;
                    const OP: &str = "recovery";
                    let e = |e: sqlx::Error| StoreError::new(OP, e);
                    let rows = sqlx::query(GET_RECOVERY)
                        .bind(user.as_str())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(e)?;
                    let mut set: Option<RecoverySet> = None;
                    for row in &rows {
                        let index: i64 = row.try_get(1).map_err(e)?;
                        let code = RecoveryHash {
                            index: u32::try_from(index)
                                .map_err(|_| StoreError::new(OP, "stored index out of range"))?,
                            hash: row.try_get(4).map_err(e)?,
                        };
                        match set.as_mut() {
                            Some(set) => {
                                // One set per user; rows of two sets would let a code of
                                // one be checked and the same index of the other burned.
                                let set_id: String = row.try_get(0).map_err(e)?;
                                if set_id != set.set_id {
                                    return Err(StoreError::new(
                                        OP,
                                        "recovery codes of two sets are stored",
                                    ));
                                }
                                set.codes.push(code);
                            }
                            None => {
                                set = Some(RecoverySet {
                                    set_id: row.try_get(0).map_err(e)?,
                                    scheme: row.try_get(2).map_err(e)?,
                                    salt: row.try_get(3).map_err(e)?,
                                    codes: vec![code],
                                    created_at: to_u64(OP, row.try_get(5).map_err(e)?)?,
                                });
                            }
                        }
                    }
                    Ok(set)
                })
            }

            fn consume_recovery<'a>(
                &'a self,
                user: &'a UserId,
                set_id: &'a str,
                index: u32,
                now: u64,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    const OP: &str = "consume_recovery";
                    let done = sqlx::query(CONSUME_RECOVERY)
                        .bind(user.as_str())
                        .bind(set_id)
                        .bind(i64::from(index))
                        .bind(to_i64(OP, now)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn put_ceremony<'a>(
                &'a self,
                id: &'a str,
                record: &'a CeremonyRecord,
            ) -> crate::store::StoreFuture<'a, ()> {
                Box::pin(async move {
                    const OP: &str = "put_ceremony";
                    sqlx::query(PUT_CEREMONY)
                        .bind(id)
                        .bind(record.user.as_str())
                        .bind(&record.kind)
                        .bind(&record.state)
                        .bind(to_i64(OP, record.expires_at)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(())
                })
            }

            fn take_ceremony<'a>(
                &'a self,
                id: &'a str,
            ) -> crate::store::StoreFuture<'a, Option<CeremonyRecord>> {
                Box::pin(async move {
                    use sqlx::Row as _;
                    const OP: &str = "take_ceremony";
                    let e = |e: sqlx::Error| StoreError::new(OP, e);
                    let Some(row) = sqlx::query(TAKE_CEREMONY)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(e)?
                    else {
                        return Ok(None);
                    };
                    Ok(Some(CeremonyRecord {
                        user: user(OP, row.try_get(0).map_err(e)?)?,
                        kind: row.try_get(1).map_err(e)?,
                        state: row.try_get(2).map_err(e)?,
                        expires_at: to_u64(OP, row.try_get(3).map_err(e)?)?,
                    }))
                })
            }

            fn purge_ceremonies(&self, now: u64) -> crate::store::StoreFuture<'_, u64> {
                Box::pin(async move {
                    const OP: &str = "purge_ceremonies";
                    let done = sqlx::query(PURGE_CEREMONIES)
                        .bind(to_i64(OP, now)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected())
                })
            }

            fn add_credential<'a>(
                &'a self,
                record: &'a CredentialRecord,
            ) -> crate::store::StoreFuture<'a, ()> {
                Box::pin(async move {
                    const OP: &str = "add_credential";
                    sqlx::query(ADD_CREDENTIAL)
                        .bind(&record.id)
                        .bind(record.user.as_str())
                        .bind(&record.kind)
                        .bind(&record.name)
                        .bind(&record.data)
                        .bind(i64::from(record.counter))
                        .bind(to_i64(OP, record.created_at)?)
                        .bind(record.last_used_at.map(|t| to_i64(OP, t)).transpose()?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(())
                })
            }

            fn credentials<'a>(
                &'a self,
                user: &'a UserId,
            ) -> crate::store::StoreFuture<'a, Vec<CredentialRecord>> {
                Box::pin(async move {
                    const OP: &str = "credentials";
                    let rows = sqlx::query(LIST_CREDENTIALS)
                        .bind(user.as_str())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    rows.iter().map(|r| Self::credential_row(OP, r)).collect()
                })
            }

            fn update_credential<'a>(
                &'a self,
                user: &'a UserId,
                id: &'a str,
                data: &'a str,
                counter: u32,
                now: u64,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    const OP: &str = "update_credential";
                    let done = sqlx::query(UPDATE_CREDENTIAL)
                        .bind(user.as_str())
                        .bind(id)
                        .bind(data)
                        .bind(i64::from(counter))
                        .bind(to_i64(OP, now)?)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new(OP, e))?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn rename_credential<'a>(
                &'a self,
                user: &'a UserId,
                id: &'a str,
                name: &'a str,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query(RENAME_CREDENTIAL)
                        .bind(user.as_str())
                        .bind(id)
                        .bind(name)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new("rename_credential", e))?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn remove_credential<'a>(
                &'a self,
                user: &'a UserId,
                id: &'a str,
            ) -> crate::store::StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query(REMOVE_CREDENTIAL)
                        .bind(user.as_str())
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| StoreError::new("remove_credential", e))?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn user_handle<'a>(
                &'a self,
                user: &'a UserId,
                candidate: &'a [u8; 16],
            ) -> crate::store::StoreFuture<'a, [u8; 16]> {
                Box::pin(async move {
                    const OP: &str = "user_handle";
                    let e = |e: sqlx::Error| StoreError::new(OP, e);
                    // One statement inserts unless the user has a handle; the read after
                    // it sees whichever of two racing inserts won.
                    sqlx::query(PUT_USER_HANDLE)
                        .bind(user.as_str())
                        .bind(candidate.as_slice())
                        .execute(&self.pool)
                        .await
                        .map_err(e)?;
                    let stored: Vec<u8> = sqlx::query_scalar(GET_USER_HANDLE)
                        .bind(user.as_str())
                        .fetch_one(&self.pool)
                        .await
                        .map_err(e)?;
                    <[u8; 16]>::try_from(stored.as_slice())
                        .map_err(|_| StoreError::new(OP, "a stored user handle is not 16 bytes"))
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

    /// MFA state in a SQLite database: the single-machine default.
    ///
    /// Tables: `palisade_mfa_totp`, `palisade_mfa_recovery`, `palisade_mfa_ceremonies`,
    /// `palisade_mfa_credentials` and `palisade_mfa_migrations`; see `migrations/sqlite/`.
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
        &[
            (1, include_str!("../../migrations/sqlite/0001_mfa.sql")),
            (
                2,
                include_str!("../../migrations/sqlite/0002_user_handles.sql")
            ),
        ],
        None,
        Some("BEGIN IMMEDIATE"),
        // `BEGIN IMMEDIATE` already serialises every writer.
        None
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::postgres::{PgPool, PgPoolOptions};

    use super::*;

    /// MFA state in PostgreSQL, shared by every instance of a service.
    ///
    /// Tables (in the connection's `search_path`): as for [`super::SqliteStore`]; see
    /// `migrations/postgres/`.
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
        &[
            (1, include_str!("../../migrations/postgres/0001_mfa.sql")),
            (
                2,
                include_str!("../../migrations/postgres/0002_user_handles.sql")
            ),
        ],
        // Serialises concurrent migrations from several instances; released at commit.
        Some("SELECT pg_advisory_xact_lock(7305126853960327471)"),
        None,
        Some(LOCK_USER_RECOVERY)
    );

    /// Serialises replacements of one user's recovery codes; released at commit. It relies
    /// on READ COMMITTED, PostgreSQL's default: the DELETE after the wait then sees the
    /// set the other transaction committed (under REPEATABLE READ it would not).
    const LOCK_USER_RECOVERY: &str =
        "SELECT pg_advisory_xact_lock(hashtextextended('palisade_mfa_recovery:' || $1, 0))";
}

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
