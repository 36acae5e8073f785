//! Wrapped data keys in PostgreSQL.

use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::store::{WrappedKey, WrappedKeyStore, from_unix, to_unix};
use crate::error::{Error, Result};

const MIGRATION: &str = include_str!("../../migrations/postgres/0001_tenant_keys.sql");

/// Wrapped data keys in the PostgreSQL table `palisade_tenant_keys` (feature `postgres`).
///
/// [`PostgresStore::connect`] and [`PostgresStore::from_pool`] create the table when it is
/// missing (`migrations/postgres/`).
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

    /// Uses an existing pool and applies the migrations.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the migrations fail.
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the table when it is missing. Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn migrate(&self) -> Result<()> {
        sqlx::query(MIGRATION)
            .execute(&self.pool)
            .await
            .map_err(Error::store)?;
        Ok(())
    }
}

impl WrappedKeyStore for PostgresStore {
    async fn get(&self, tenant: &str) -> Result<Option<WrappedKey>> {
        let row = sqlx::query(
            "SELECT tenant, kek, wrapped, created_at FROM palisade_tenant_keys WHERE tenant = $1",
        )
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
        let done = sqlx::query(
            "INSERT INTO palisade_tenant_keys (tenant, kek, wrapped, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(&key.tenant)
        .bind(&key.kek)
        .bind(&key.wrapped)
        .bind(to_unix(key.created))
        .execute(&self.pool)
        .await
        .map_err(Error::store)?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace(&self, key: &WrappedKey) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE palisade_tenant_keys SET kek = $1, wrapped = $2, created_at = $3 WHERE tenant = $4",
        )
        .bind(&key.kek)
        .bind(&key.wrapped)
        .bind(to_unix(key.created))
        .bind(&key.tenant)
        .execute(&self.pool)
        .await
        .map_err(Error::store)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, tenant: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM palisade_tenant_keys WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(Error::store)?;
        Ok(done.rows_affected() == 1)
    }
}
