//! The application's own tables (tenants, accounts, integrations, sealed server keys,
//! spent sign-in challenges), on the same SQLite file or PostgreSQL database as the
//! crates' stores.
//!
//! Every statement is static text through sqlx's runtime API, written once with `$n`
//! placeholders, which both SQLite and PostgreSQL accept.

use std::path::Path;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The name of the SQLite file under the data directory.
pub const SQLITE_FILE: &str = "palisade.db";

/// The application's tables; `CREATE ... IF NOT EXISTS`, so applying them again is a
/// no-op. The same text serves both databases.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS app_tenants (
        tenant TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS app_users (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES app_tenants (tenant),
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE (tenant, email)
    )",
    "CREATE TABLE IF NOT EXISTS app_integrations (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES app_tenants (tenant),
        name TEXT NOT NULL,
        credential TEXT NOT NULL,
        webhook_secret TEXT,
        created_at BIGINT NOT NULL,
        rotated_at BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS app_integrations_by_tenant
        ON app_integrations (tenant, created_at)",
    "CREATE TABLE IF NOT EXISTS app_server_keys (
        name TEXT PRIMARY KEY,
        envelope TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS app_spent_challenges (
        id TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
    )",
];

/// A connection pool to either database. Cloning shares the pool.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// `DATABASE_URL`.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, so one statement serves both.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// An account.
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    /// Random id, 32 hex characters.
    pub(crate) id: String,
    /// The tenant it belongs to.
    pub(crate) tenant: String,
    /// Lowercased email address.
    pub(crate) email: String,
    /// PHC string (argon2id, or a legacy hash until the next login upgrades it).
    pub(crate) password_hash: String,
}

/// An integration: its credential and webhook secret are envelope armor, never
/// plaintext.
#[derive(Debug, Clone)]
pub(crate) struct IntegrationRow {
    /// Random id, 32 hex characters; also the webhook path and the replay namespace.
    pub(crate) id: String,
    /// The tenant it belongs to.
    pub(crate) tenant: String,
    /// A display name.
    pub(crate) name: String,
    /// The sealed credential (`pal1.…`).
    pub(crate) credential: String,
    /// The sealed webhook signing secret, if the integration sends webhooks.
    pub(crate) webhook_secret: Option<String>,
    /// Unix seconds.
    pub(crate) created_at: i64,
    /// Unix seconds of the last credential rotation.
    pub(crate) rotated_at: Option<i64>,
}

impl Db {
    /// Opens (creating it if missing) `<data_dir>/palisade.db` in WAL mode with
    /// `synchronous = FULL` (the audit log wants every commit durable).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened.
    pub(crate) async fn open_sqlite(data_dir: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(SQLITE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Self::Sqlite(pool))
    }

    /// Connects to PostgreSQL.
    ///
    /// # Errors
    ///
    /// When the server cannot be reached.
    pub(crate) async fn connect_postgres(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self::Postgres(pool))
    }

    /// Creates the application's tables when missing.
    ///
    /// # Errors
    ///
    /// When a statement fails.
    pub(crate) async fn migrate(&self) -> Result<(), sqlx::Error> {
        for statement in MIGRATIONS {
            with_pool!(self, pool => sqlx::query(*statement).execute(pool).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// Claims a tenant name; `false` when it is taken.
    pub(crate) async fn create_tenant(&self, tenant: &str, now: i64) -> Result<bool, sqlx::Error> {
        let sql = "INSERT INTO app_tenants (tenant, created_at) VALUES ($1, $2)
                   ON CONFLICT (tenant) DO NOTHING";
        let done = with_pool!(self, pool => sqlx::query(sql).bind(tenant).bind(now).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Whether the tenant exists.
    pub(crate) async fn tenant_exists(&self, tenant: &str) -> Result<bool, sqlx::Error> {
        let sql = "SELECT tenant FROM app_tenants WHERE tenant = $1";
        let row = with_pool!(self, pool => sqlx::query(sql).bind(tenant).fetch_optional(pool).await?.is_some());
        Ok(row)
    }

    /// Adds an account; `false` when the email is taken in that tenant.
    pub(crate) async fn insert_user(&self, user: &UserRow, now: i64) -> Result<bool, sqlx::Error> {
        let sql = "INSERT INTO app_users (id, tenant, email, password_hash, created_at)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, email) DO NOTHING";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(&user.id)
            .bind(&user.tenant)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// The account with this email in this tenant.
    pub(crate) async fn user_by_email(
        &self,
        tenant: &str,
        email: &str,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = "SELECT id, tenant, email, password_hash FROM app_users
                   WHERE tenant = $1 AND email = $2";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(tenant)
            .bind(email)
            .fetch_optional(pool)
            .await?
            .map(|row| user_from(&row))
            .transpose())
    }

    /// The account with this id in this tenant.
    pub(crate) async fn user_by_id(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = "SELECT id, tenant, email, password_hash FROM app_users
                   WHERE tenant = $1 AND id = $2";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|row| user_from(&row))
            .transpose())
    }

    /// Replaces an account's password hash (a password change, or an upgrade on login).
    pub(crate) async fn set_password_hash(
        &self,
        tenant: &str,
        id: &str,
        hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let sql = "UPDATE app_users SET password_hash = $3 WHERE tenant = $1 AND id = $2";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .bind(hash)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Replaces an account's password hash only if it is still `old`: a hash upgraded on
    /// login must never overwrite a password changed while that login ran. `false` when
    /// the stored hash is another.
    pub(crate) async fn upgrade_password_hash(
        &self,
        tenant: &str,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, sqlx::Error> {
        let sql = "UPDATE app_users SET password_hash = $4
                   WHERE tenant = $1 AND id = $2 AND password_hash = $3";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .bind(old)
            .bind(new)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Adds an integration.
    pub(crate) async fn insert_integration(&self, row: &IntegrationRow) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO app_integrations
                   (id, tenant, name, credential, webhook_secret, created_at, rotated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id)
            .bind(&row.tenant)
            .bind(&row.name)
            .bind(&row.credential)
            .bind(&row.webhook_secret)
            .bind(row.created_at)
            .bind(row.rotated_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// A tenant's integrations, oldest first.
    pub(crate) async fn integrations(
        &self,
        tenant: &str,
    ) -> Result<Vec<IntegrationRow>, sqlx::Error> {
        let sql = "SELECT id, tenant, name, credential, webhook_secret, created_at, rotated_at
                   FROM app_integrations WHERE tenant = $1 ORDER BY created_at, id LIMIT 1000";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(tenant)
            .fetch_all(pool)
            .await?
            .iter()
            .map(integration_from)
            .collect())
    }

    /// One integration, by id alone (webhook deliveries name no tenant).
    pub(crate) async fn integration(
        &self,
        id: &str,
    ) -> Result<Option<IntegrationRow>, sqlx::Error> {
        let sql = "SELECT id, tenant, name, credential, webhook_secret, created_at, rotated_at
                   FROM app_integrations WHERE id = $1";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|row| integration_from(&row))
            .transpose())
    }

    /// Replaces an integration's sealed credential; `false` when the tenant has no such
    /// integration.
    pub(crate) async fn set_credential(
        &self,
        tenant: &str,
        id: &str,
        credential: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let sql = "UPDATE app_integrations SET credential = $3, rotated_at = $4
                   WHERE tenant = $1 AND id = $2";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .bind(credential)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Whether the sign-in challenge `id` has completed a sign-in already.
    pub(crate) async fn challenge_spent(&self, id: &str) -> Result<bool, sqlx::Error> {
        let sql = "SELECT id FROM app_spent_challenges WHERE id = $1";
        let row = with_pool!(self, pool => sqlx::query(sql).bind(id).fetch_optional(pool).await?.is_some());
        Ok(row)
    }

    /// Records that the sign-in challenge `id` (usable until `expires_at`) completed a
    /// sign-in; `false` when another request spent it first. Challenges past their
    /// expiry are forgotten here: they no longer open anyway.
    pub(crate) async fn spend_challenge(
        &self,
        id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let purge = "DELETE FROM app_spent_challenges WHERE expires_at < $1";
        with_pool!(self, pool => sqlx::query(purge).bind(now).execute(pool).await.map(|_| ()))?;
        let sql = "INSERT INTO app_spent_challenges (id, expires_at) VALUES ($1, $2)
                   ON CONFLICT (id) DO NOTHING";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(expires_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// A sealed server key, by name.
    pub(crate) async fn server_key(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        let sql = "SELECT envelope FROM app_server_keys WHERE name = $1";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get::<String, _>("envelope"))
            .transpose())
    }

    /// Stores a sealed server key unless one of that name exists (another instance may
    /// have won the race; the caller reads back whichever was stored).
    pub(crate) async fn insert_server_key(
        &self,
        name: &str,
        envelope: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO app_server_keys (name, envelope) VALUES ($1, $2)
                   ON CONFLICT (name) DO NOTHING";
        with_pool!(self, pool => sqlx::query(sql).bind(name).bind(envelope).execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

fn user_from<R: Row>(row: &R) -> Result<UserRow, sqlx::Error>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserRow {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn integration_from<R: Row>(row: &R) -> Result<IntegrationRow, sqlx::Error>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(IntegrationRow {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        name: row.try_get("name")?,
        credential: row.try_get("credential")?,
        webhook_secret: row.try_get("webhook_secret")?,
        created_at: row.try_get("created_at")?,
        rotated_at: row.try_get("rotated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A login's upgrade of the hash it verified never overwrites a hash that changed
    /// meanwhile (a password change that ran while the login did).
    #[tokio::test]
    async fn a_hash_upgrade_applies_only_over_the_hash_it_replaces() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Db::open_sqlite(dir.path()).await.expect("SQLite opens");
        db.migrate().await.expect("migrations");
        assert!(db.create_tenant("acme", 0).await.expect("tenant"));
        let user = UserRow {
            id: "u1".into(),
            tenant: "acme".into(),
            email: "alice@acme.example".into(),
            password_hash: "legacy".into(),
        };
        assert!(db.insert_user(&user, 0).await.expect("user"));
        // The password changed after the login read the legacy hash.
        assert!(
            db.set_password_hash("acme", "u1", "changed")
                .await
                .expect("change")
        );
        let upgraded = db.upgrade_password_hash("acme", "u1", "legacy", "upgraded-old-password");
        assert!(!upgraded.await.expect("upgrade"));
        let stored = db
            .user_by_id("acme", "u1")
            .await
            .expect("read")
            .expect("the user");
        assert_eq!(stored.password_hash, "changed");
        // Over the hash it verified, it applies.
        assert!(
            db.upgrade_password_hash("acme", "u1", "changed", "upgraded")
                .await
                .expect("upgrade")
        );
        let stored = db
            .user_by_id("acme", "u1")
            .await
            .expect("read")
            .expect("the user");
        assert_eq!(stored.password_hash, "upgraded");
    }
}
