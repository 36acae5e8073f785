//! What every handler shares.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use envelope_crypto::{
    LocalKek, PostgresStore, SqliteStore, TenantKeys, WrappedKey, WrappedKeyStore,
};
use passwords::{HashingPool, Policy};
use rate_limit::{ClientIp, LoginLimiter};
use session_tokens::SessionManager;
use webhook_verify::ReplayGuard;

use crate::audit::Audit;
use crate::db::Db;
use crate::limits::Limits;

/// The application state: cheap to clone (one `Arc`).
#[derive(Clone)]
pub(crate) struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) sessions: SessionManager,
    pub(crate) passwords: HashingPool,
    pub(crate) policy: Policy,
    pub(crate) tenant_keys: Arc<TenantKeys<KeyStore, LocalKek>>,
    pub(crate) audit: Audit,
    pub(crate) audit_key: audit_chain::VerifyingKey,
    /// Failed passwords, at sign-in and on a password change.
    pub(crate) logins: LoginLimiter<Arc<Limits>>,
    /// Failed second-factor codes, with a daily budget per account.
    pub(crate) second_factor_logins: LoginLimiter<Arc<Limits>>,
    pub(crate) client_ip: ClientIp,
    pub(crate) replay: Arc<dyn ReplayGuard>,
    pub(crate) webhook_secrets: Arc<crate::webhooks::SealedSecrets>,
    pub(crate) mfa: mfa::Mfa,
    pub(crate) challenges: crate::second_factor::Challenges,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The `Session` extractor takes the manager from the state.
impl FromRef<AppState> for SessionManager {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}

/// Where tenants' wrapped data keys live: the same database as everything else.
#[derive(Debug)]
pub(crate) enum KeyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl WrappedKeyStore for KeyStore {
    async fn get(&self, tenant: &str) -> envelope_crypto::Result<Option<WrappedKey>> {
        match self {
            Self::Sqlite(store) => store.get(tenant).await,
            Self::Postgres(store) => store.get(tenant).await,
        }
    }

    async fn insert(&self, key: &WrappedKey) -> envelope_crypto::Result<bool> {
        match self {
            Self::Sqlite(store) => store.insert(key).await,
            Self::Postgres(store) => store.insert(key).await,
        }
    }

    async fn replace(&self, expected: &[u8], key: &WrappedKey) -> envelope_crypto::Result<bool> {
        match self {
            Self::Sqlite(store) => store.replace(expected, key).await,
            Self::Postgres(store) => store.replace(expected, key).await,
        }
    }

    async fn delete(&self, tenant: &str) -> envelope_crypto::Result<bool> {
        match self {
            Self::Sqlite(store) => store.delete(tenant).await,
            Self::Postgres(store) => store.delete(tenant).await,
        }
    }
}
