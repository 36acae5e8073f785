//! Builds the application from a [`Config`]: opens the stores, loads the keys, wires
//! the crates together and returns the router.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put};
use envelope_crypto::{LocalKek, TenantKeys};
use passwords::{Hasher, HashingPool, Policy};
use session_tokens::{CsrfGuard, KeySet, SessionManager};
use webhook_verify::{MemoryReplayGuard, RedisReplayGuard, ReplayGuard};

use crate::audit::Audit;
use crate::config::{Config, Environment};
use crate::db::Db;
use crate::error::StartError;
use crate::keys::{self, KeyringOrigin};
use crate::limits::{self, Limits};
use crate::state::{AppState, Inner, KeyStore};
use crate::{accounts, audit, integrations, second_factor, sessions, webhooks};

/// The session cookie lives this long at most (the crate's default is 30 days).
const SESSION_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);
/// A session unused for this long ends.
const IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// A sign-in past this many live sessions ends the user's oldest.
const MAX_SESSIONS_PER_USER: usize = 32;
/// Deliveries the in-memory replay guard remembers at once.
const REPLAY_CAPACITY: usize = 100_000;
/// Deliveries of one integration it remembers at once (about 15 a second sustained over
/// the 661 seconds each is remembered): a tenant flooding its own integration with
/// validly signed deliveries fills this, not the whole guard, and the other tenants'
/// webhooks go on. (Ten such integrations would fill the guard: production runs on
/// Redis, with its own memory limit.)
const REPLAY_QUOTA_PER_INTEGRATION: usize = 10_000;
/// The name in the audit checkpoint key (`<name>+<id>+<key>`).
const AUDIT_KEY_NAME: &str = "example-server";

/// A built application, ready to serve.
#[derive(Debug)]
pub struct App {
    /// The routes, the rate-limit layer around them.
    pub router: Router,
    /// Where the keyring came from; [`KeyringOrigin::Created`] deserves a warning.
    pub keyring: KeyringOrigin,
    /// One line per backend in use, for the startup banner.
    pub backends: Vec<String>,
    state: AppState,
}

impl App {
    /// Signs the audit checkpoints that are due; the server calls this from a timer.
    ///
    /// # Errors
    ///
    /// The audit log's errors.
    pub async fn checkpoint_due(&self) -> Result<usize, audit_chain::Error> {
        self.state.audit.checkpoint_due().await
    }
}

/// Opens every store named by `config` (creating the SQLite file, the tables and, in
/// development, the keyring as needed) and builds the router.
///
/// # Errors
///
/// A [`StartError`] saying what to fix: a keyring that does not load, a database that
/// does not open, a server key sealed under another keyring, a crate refusing its
/// configuration.
pub async fn build(config: &Config) -> Result<App, StartError> {
    let (keyring, keyring_origin) = keys::load_keyring(&config.keyring)?;
    let mut backends = Vec::new();

    let db = match &config.database_url {
        Some(url) => {
            backends.push("database: PostgreSQL (DATABASE_URL)".to_owned());
            Db::connect_postgres(url).await
        }
        None => {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
                path: config.data_dir.clone(),
                source,
            })?;
            backends.push(format!(
                "database: SQLite at {}",
                config.data_dir.join(crate::db::SQLITE_FILE).display()
            ));
            Db::open_sqlite(&config.data_dir).await
        }
    }
    .map_err(|e| StartError::Database(e.to_string()))?;
    db.migrate()
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;

    let session_secret = keys::server_key(&db, &keyring, keys::SESSION_KEY).await?;
    let audit_seed = keys::server_key(&db, &keyring, keys::AUDIT_KEY).await?;

    let sessions = session_manager(config, &db, &session_secret).await?;

    let key_store = match &db {
        Db::Sqlite(pool) => envelope_crypto::SqliteStore::from_pool(pool.clone())
            .await
            .map(KeyStore::Sqlite),
        Db::Postgres(pool) => envelope_crypto::PostgresStore::from_pool(pool.clone())
            .await
            .map(KeyStore::Postgres),
    }
    .map_err(|e| StartError::component("tenant keys", e))?;
    let kek = LocalKek::new(&keyring).map_err(StartError::Keyring)?;
    let tenant_keys = Arc::new(TenantKeys::new(key_store, kek));

    let audit_signer = audit_chain::SigningKey::from_seed(AUDIT_KEY_NAME, &audit_seed)
        .map_err(|e| StartError::component("audit key", e))?;
    let audit_key = audit_signer.verifying_key();
    let audit = Audit::open(&db, audit_signer).await?;

    let hasher = Hasher::new().map_err(|e| StartError::component("passwords", e))?;
    let passwords = HashingPool::new(hasher);

    let limits = Limits::new(config.redis_url.as_deref(), &config.redis_prefix)?;
    let replay: Arc<dyn ReplayGuard> = match &config.redis_url {
        Some(url) => {
            backends.push("rate limits and webhook replay guard: Redis (REDIS_URL)".to_owned());
            Arc::new(
                RedisReplayGuard::connect(url, format!("{}wh:", config.redis_prefix))
                    .await
                    .map_err(|e| StartError::component("webhook replay guard (Redis)", e))?,
            )
        }
        None => {
            backends.push("rate limits and webhook replay guard: in memory".to_owned());
            let capacity = NonZeroUsize::new(REPLAY_CAPACITY).unwrap_or(NonZeroUsize::MIN);
            let quota =
                NonZeroUsize::new(REPLAY_QUOTA_PER_INTEGRATION).unwrap_or(NonZeroUsize::MIN);
            Arc::new(MemoryReplayGuard::new(capacity).namespace_quota(quota))
        }
    };

    let mfa = second_factor::open(&db, &keyring).await?;
    let challenges = second_factor::Challenges::new(&keyring)?;

    let webhook_secrets = Arc::new(webhooks::SealedSecrets::new(
        db.clone(),
        Arc::clone(&tenant_keys),
    ));
    let state = AppState(Arc::new(Inner {
        db,
        sessions,
        passwords,
        policy: Policy::new(),
        tenant_keys,
        audit,
        audit_key,
        logins: limits::login_limiter(Arc::clone(&limits))?,
        second_factor_logins: limits::second_factor_limiter(Arc::clone(&limits))?,
        client_ip: limits::client_ip(&config.trusted_proxies),
        replay,
        webhook_secrets,
        mfa,
        challenges,
    }));
    let router = router(state.clone(), limits)?;
    Ok(App {
        router,
        keyring: keyring_origin,
        backends,
        state,
    })
}

async fn session_manager(
    config: &Config,
    db: &Db,
    secret: &[u8; 32],
) -> Result<SessionManager, StartError> {
    let fail = |e: session_tokens::Error| StartError::component("sessions", e);
    let keys = KeySet::new(session_tokens::SigningKey::hs256("server-1", secret).map_err(fail)?);
    // A development server runs on plain HTTP; in production only https:// origins pass.
    let csrf = match config.environment {
        Environment::Development => CsrfGuard::new().allow_plain_http(),
        Environment::Production => CsrfGuard::new(),
    };
    let builder = match db {
        Db::Sqlite(pool) => {
            let store = session_tokens::SqliteStore::from_pool(pool.clone());
            store.migrate().await.map_err(|e| fail(e.into()))?;
            SessionManager::builder(keys, store)
        }
        Db::Postgres(pool) => {
            let store = session_tokens::PostgresStore::from_pool(pool.clone());
            store.migrate().await.map_err(|e| fail(e.into()))?;
            SessionManager::builder(keys, store)
        }
    };
    builder
        .issuer("example-server")
        .audience("example-server")
        .lifetime(SESSION_LIFETIME)
        .idle_timeout(IDLE_TIMEOUT)
        .max_sessions_per_user(MAX_SESSIONS_PER_USER)
        .csrf(csrf)
        .build()
        .map_err(fail)
}

fn router(state: AppState, limits: Arc<Limits>) -> Result<Router, StartError> {
    let client_ip = state.client_ip.clone();
    // Sign-up and sign-in change state without a session: the CSRF guard runs as a
    // layer (login CSRF). Routes taking a `Session` get the guard from the extractor.
    let without_session = Router::new()
        .route("/api/signup", post(accounts::signup))
        .route("/api/login", post(accounts::login))
        .route("/api/login/mfa", post(second_factor::login_second_factor))
        .route_layer(state.sessions.csrf_layer());

    // Deliveries are verified before the handler runs, with the integration's own
    // secret; see `webhooks::verify`.
    let webhooks = Router::new()
        .route("/webhooks/{integration}", post(webhooks::receive))
        .route_layer(from_fn_with_state(state.clone(), webhooks::verify));

    let with_session = Router::new()
        .route("/api/me", get(accounts::me))
        .route("/api/password", post(accounts::change_password))
        .route("/api/mfa", get(second_factor::factors))
        .route("/api/mfa/totp", post(second_factor::totp_enroll))
        .route("/api/mfa/totp/confirm", post(second_factor::totp_confirm))
        .route("/api/sessions", get(sessions::list))
        .route("/api/sessions/{handle}", delete(sessions::revoke))
        .route("/api/sessions/revoke-others", post(sessions::revoke_others))
        .route("/api/signout", post(sessions::sign_out))
        .route("/api/signout-all", post(sessions::sign_out_all))
        .route(
            "/api/integrations",
            get(integrations::list).post(integrations::connect),
        )
        .route(
            "/api/integrations/{id}/credential",
            put(integrations::rotate_credential),
        )
        .route(
            "/api/tenant-key/rewrap",
            post(integrations::rewrap_tenant_key),
        )
        .route("/api/audit", get(audit::query))
        .route("/api/audit/checkpoint", get(audit::checkpoint));

    Ok(Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .merge(without_session)
        .merge(webhooks)
        .merge(with_session)
        .with_state(state)
        // Outermost: a request over the ceiling never reaches the routes.
        .layer(limits::layer(limits, client_ip)?))
}

async fn index() -> &'static str {
    include_str!("index.txt")
}
