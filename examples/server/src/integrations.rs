//! Integration credentials (an API key, an OAuth token) and webhook secrets, sealed
//! under the tenant's data key and bound to the tenant and the integration's row.
//! Responses carry metadata only: the plaintext is never returned.
//!
//! Connecting an integration and rotating its credential take the account's current
//! password (checked as a re-authentication: login limits, audited failures, 403). With
//! a stolen session cookie alone, a thief could otherwise swap in a token of their own,
//! so the service sends the tenant's data to the thief's account, or add a webhook
//! secret they know and send deliveries the service trusts.

use audit_chain::{Action, Event, IntegrationChange};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use envelope_crypto::{Binding, Header, Sealer};
use serde::Deserialize;
use serde_json::{Value, json};
use session_tokens::Session;
use webhook_verify::{Scheme, Secret};

use crate::accounts::{SecretText, now, random_id, reauthenticate_session};
use crate::audit::{actor_of, tenant_of};
use crate::db::IntegrationRow;
use crate::error::ApiError;
use crate::limits::ClientAddr;
use crate::state::AppState;

/// The purpose credentials are sealed under.
pub(crate) const CREDENTIAL_PURPOSE: &str = "integration.credential";
/// The purpose webhook signing secrets are sealed under.
pub(crate) const WEBHOOK_SECRET_PURPOSE: &str = "integration.webhook-secret";
/// The longest credential accepted.
const MAX_CREDENTIAL_LEN: usize = 8192;
/// The longest display name accepted.
const MAX_NAME_LEN: usize = 100;

/// What every envelope of an integration is bound to: its tenant and its row.
pub(crate) fn binding(tenant: &str, id: &str) -> Binding {
    Binding::new()
        .tenant(tenant)
        .record(format!("integration:{id}"))
}

/// `POST /api/integrations`.
#[derive(Debug, Deserialize)]
pub(crate) struct Connect {
    name: String,
    /// The credential to keep (an API key, a token).
    credential: SecretText,
    /// The provider's Standard Webhooks signing secret (`whsec_...`), if it sends any.
    webhook_secret: Option<SecretText>,
    /// The account's password: see the module docs.
    current_password: SecretText,
}

/// `PUT /api/integrations/{id}/credential`.
#[derive(Debug, Deserialize)]
pub(crate) struct Rotate {
    credential: SecretText,
    /// The account's password: see the module docs.
    current_password: SecretText,
}

fn check_credential(credential: &SecretText) -> Result<(), ApiError> {
    let len = credential.expose().len();
    if len == 0 || len > MAX_CREDENTIAL_LEN {
        return Err(ApiError::BadRequest(format!(
            "credential: 1 to {MAX_CREDENTIAL_LEN} bytes"
        )));
    }
    Ok(())
}

fn metadata(row: &IntegrationRow) -> Value {
    // The header peek needs no key: it says which key version sealed the envelope.
    let key_version = envelope_crypto::Envelope::from_armor(&row.credential)
        .ok()
        .and_then(|envelope| Header::peek(envelope.as_bytes()).ok())
        .map(|header| header.key_version().get());
    json!({
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at,
        "rotated_at": row.rotated_at,
        "credential": { "sealed": true, "key_version": key_version },
        "webhook": row.webhook_secret.as_ref().map(|_| format!("/webhooks/{}", row.id)),
    })
}

async fn sealer(state: &AppState, tenant: &str, purpose: &str) -> Result<Sealer, ApiError> {
    Ok(state.tenant_keys.sealer(tenant, purpose).await?)
}

/// `POST /api/integrations`: checks the current password, seals the credential (and
/// webhook secret) and stores the envelopes; answers 201 with metadata only.
pub(crate) async fn connect(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    session: Session,
    Json(input): Json<Connect>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    reauthenticate_session(&state, &client, &headers, &session, &input.current_password).await?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "name: 1 to {MAX_NAME_LEN} bytes of text"
        )));
    }
    check_credential(&input.credential)?;
    if let Some(secret) = &input.webhook_secret {
        // Refuse a secret the verifier would refuse later, while the user is here.
        Secret::parse(&Scheme::StandardWebhooks, secret.expose())
            .map_err(|e| ApiError::BadRequest(format!("webhook_secret: {e}")))?;
    }
    let tenant = session.tenant().as_str();
    let id = random_id()?;
    let bound = binding(tenant, &id);
    let credential = sealer(&state, tenant, CREDENTIAL_PURPOSE)
        .await?
        .seal(input.credential.expose().as_bytes(), &bound)?
        .to_armor();
    let webhook_secret = match &input.webhook_secret {
        Some(secret) => Some(
            sealer(&state, tenant, WEBHOOK_SECRET_PURPOSE)
                .await?
                .seal(secret.expose().as_bytes(), &bound)?
                .to_armor(),
        ),
        None => None,
    };
    let row = IntegrationRow {
        id,
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        credential,
        webhook_secret,
        created_at: now(),
        rotated_at: None,
    };
    state.db.insert_integration(&row).await?;
    let event = Event::integration(
        tenant_of(&session)?,
        actor_of(&session),
        IntegrationChange::Connected,
        format!("integration:{}", row.id),
    )
    .detail("name", row.name.clone());
    state.audit.record(event).await?;
    Ok((StatusCode::CREATED, Json(metadata(&row))))
}

/// `GET /api/integrations`: the tenant's integrations, metadata only.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Value>, ApiError> {
    let rows = state.db.integrations(session.tenant().as_str()).await?;
    let integrations: Vec<Value> = rows.iter().map(metadata).collect();
    Ok(Json(json!({ "integrations": integrations })))
}

/// `PUT /api/integrations/{id}/credential`: checks the current password and seals a new
/// credential in place of the old.
pub(crate) async fn rotate_credential(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    session: Session,
    Path(id): Path<String>,
    Json(input): Json<Rotate>,
) -> Result<Json<Value>, ApiError> {
    reauthenticate_session(&state, &client, &headers, &session, &input.current_password).await?;
    check_credential(&input.credential)?;
    let tenant = session.tenant().as_str();
    let sealed = sealer(&state, tenant, CREDENTIAL_PURPOSE)
        .await?
        .seal(input.credential.expose().as_bytes(), &binding(tenant, &id))?
        .to_armor();
    if !state.db.set_credential(tenant, &id, &sealed, now()).await? {
        return Err(ApiError::NotFound);
    }
    let event = Event::integration(
        tenant_of(&session)?,
        actor_of(&session),
        IntegrationChange::CredentialRotated,
        format!("integration:{id}"),
    );
    state.audit.record(event).await?;
    let row = state
        .db
        .integrations(tenant)
        .await?
        .into_iter()
        .find(|row| row.id == id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(metadata(&row)))
}

/// `POST /api/tenant-key/rewrap`: wraps the tenant's data key again under the keyring's
/// current primary version (after `palisade keys rotate` and a restart). The data key,
/// and so every envelope, stays the same; nothing is decrypted outside the crate.
pub(crate) async fn rewrap_tenant_key(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Value>, ApiError> {
    state.tenant_keys.rewrap(session.tenant().as_str()).await?;
    let rewrapped = Action::custom("tenant.data_key.rewrapped")?;
    state
        .audit
        .record(Event::new(
            tenant_of(&session)?,
            actor_of(&session),
            rewrapped,
        ))
        .await?;
    Ok(Json(json!({ "rewrapped": true })))
}
