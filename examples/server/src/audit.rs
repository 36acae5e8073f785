//! The audit log: every significant action is appended to its tenant's Merkle log;
//! a tenant's members query it and fetch the latest signed checkpoint.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use audit_chain::{
    ActionFilter, AuditLog, Checkpoint, Cursor, Event, PostgresStore, Query, SigningKey,
    SqliteStore, TenantId, VerifyingKey,
};
use axum::Json;
use axum::extract::{Query as QueryParams, State};
use serde::Deserialize;
use serde_json::{Value, json};
use session_tokens::Session;

use crate::db::Db;
use crate::error::{ApiError, StartError};
use crate::state::AppState;

/// Sign a checkpoint after this many entries of a tenant...
const CHECKPOINT_EVERY: u64 = 64;
/// ...or once the last one is this old (checked on append, and by the server's timer
/// in `main`).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// The log over `store`, checkpoints signed with `key` on the server's schedule.
fn log<S: audit_chain::Store>(
    store: S,
    key: SigningKey,
) -> Result<AuditLog<S>, audit_chain::Error> {
    let every = NonZeroU64::new(CHECKPOINT_EVERY).unwrap_or(NonZeroU64::MIN);
    AuditLog::builder(store)
        .signer(key)
        .checkpoint_every(every)
        .checkpoint_interval(CHECKPOINT_INTERVAL)
        .build()
}

/// The log, on the same database as everything else.
pub(crate) enum Audit {
    /// SQLite (the embedded default).
    Sqlite(AuditLog<SqliteStore>),
    /// PostgreSQL.
    Postgres(AuditLog<PostgresStore>),
}

impl Audit {
    /// The log on `db`, its tables migrated, checkpoints signed with `key`.
    pub(crate) async fn open(db: &Db, key: SigningKey) -> Result<Self, StartError> {
        let fail = |e: audit_chain::Error| StartError::component("audit log", e);
        Ok(match db {
            Db::Sqlite(pool) => {
                let store = SqliteStore::new(pool.clone());
                store.migrate().await.map_err(fail)?;
                Self::Sqlite(log(store, key).map_err(fail)?)
            }
            Db::Postgres(pool) => {
                let store = PostgresStore::new(pool.clone());
                store.migrate().await.map_err(fail)?;
                Self::Postgres(log(store, key).map_err(fail)?)
            }
        })
    }

    /// Appends `event`; returns once it is durable. A failure fails the request that
    /// caused it: an action that cannot be recorded is not reported as done.
    pub(crate) async fn record(&self, event: Event) -> Result<(), ApiError> {
        let code = event.action().code().to_owned();
        let result = match self {
            Self::Sqlite(log) => log.append(event).await,
            Self::Postgres(log) => log.append(event).await,
        };
        result
            .map(|_| ())
            .map_err(|e| ApiError::internal("audit append", format!("{code}: {e}")))
    }

    /// Signs the checkpoints that are due (a timer calls this so idle tenants get one).
    pub(crate) async fn checkpoint_due(&self) -> Result<usize, audit_chain::Error> {
        Ok(match self {
            Self::Sqlite(log) => log.checkpoint_due().await?.len(),
            Self::Postgres(log) => log.checkpoint_due().await?.len(),
        })
    }

    async fn query(&self, query: &Query) -> Result<audit_chain::Page, audit_chain::Error> {
        match self {
            Self::Sqlite(log) => log.query(query).await,
            Self::Postgres(log) => log.query(query).await,
        }
    }

    /// The newest checkpoint of `tenant`, signing a new one first when entries were
    /// appended since the last (so the answer always covers the whole log).
    async fn current_checkpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<String>, audit_chain::Error> {
        macro_rules! current {
            ($log:expr) => {{
                let head = $log.tree_head(tenant).await?;
                let latest = $log.latest_checkpoint(tenant).await?;
                let covered = latest
                    .as_deref()
                    .and_then(|note| Checkpoint::from_note_unverified(note).ok())
                    .map_or(0, |checkpoint| checkpoint.size());
                if head.size == 0 {
                    None
                } else if covered < head.size {
                    Some($log.checkpoint(tenant).await?.as_str().to_owned())
                } else {
                    latest
                }
            }};
        }
        Ok(match self {
            Self::Sqlite(log) => current!(log),
            Self::Postgres(log) => current!(log),
        })
    }
}

/// The audit tenant of a session.
pub(crate) fn tenant_of(session: &Session) -> Result<TenantId, ApiError> {
    TenantId::new(session.tenant().as_str()).map_err(ApiError::from)
}

/// The actor name of a session's user.
pub(crate) fn actor_of(session: &Session) -> String {
    format!("user:{}", session.user())
}

/// Filters for `GET /api/audit`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuditParams {
    actor: Option<String>,
    /// An action code, or a prefix ending in `.*` (`auth.*`).
    action: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// `GET /api/audit`: the caller's tenant's entries, newest first, as their canonical
/// JSON leaves, with a cursor for the next page.
pub(crate) async fn query(
    State(state): State<AppState>,
    session: Session,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let mut query = Query::new(tenant_of(&session)?);
    if let Some(actor) = params.actor {
        query = query.actor(actor);
    }
    if let Some(action) = params.action {
        query = query.action(match action.strip_suffix(".*") {
            Some(prefix) => ActionFilter::Prefix(prefix.to_owned()),
            None => ActionFilter::Exact(action),
        });
    }
    if let Some(limit) = params.limit {
        let limit = NonZeroU32::new(limit)
            .ok_or_else(|| ApiError::BadRequest("limit must be at least 1".into()))?;
        query = query.limit(limit);
    }
    if let Some(after) = params.after {
        query = query.after(after.parse::<Cursor>()?);
    }
    let page = state.audit.query(&query).await?;
    let entries = page
        .entries
        .iter()
        .map(|entry| serde_json::from_slice::<Value>(&entry.to_leaf_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal("audit entry decoding", e))?;
    Ok(Json(json!({
        "entries": entries,
        "next": page.next.map(|cursor| cursor.to_string()),
    })))
}

/// `GET /api/audit/checkpoint`: the tenant's latest signed checkpoint (a C2SP signed
/// note covering every entry so far) and the public key that verifies it, for
/// `palisade audit verify-export` or any signed-note verifier.
pub(crate) async fn checkpoint(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&session)?;
    let note = state
        .audit
        .current_checkpoint(&tenant)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!({
        "checkpoint": note,
        "public_key": verifying_key_text(&state.audit_key),
    })))
}

fn verifying_key_text(key: &VerifyingKey) -> String {
    key.to_text()
}
