//! Inbound webhooks: `POST /webhooks/{integration}` runs behind webhook-verify's layer
//! with that integration's own Standard Webhooks secret, opened from its sealed row
//! per delivery, and a replay guard namespaced by the integration.

use std::sync::Arc;

use audit_chain::{Action, Event};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use envelope_crypto::{Envelope, LocalKek, TenantKeys};
use tower::{Layer, ServiceExt};
use webhook_verify::{
    BoxFuture, Error, Scheme, Secret, SecretSet, SecretSource, Verified, Verifier, WebhookLayer,
};

use crate::db::Db;
use crate::error::ApiError;
use crate::integrations::{WEBHOOK_SECRET_PURPOSE, binding};
use crate::state::{AppState, KeyStore};

/// Integration ids are 32 lowercase hex characters.
fn is_integration_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Webhook secrets from the integrations table: opened with the tenant's data key,
/// bound to the integration's row, for each delivery (so a secret changed in the
/// database takes effect on the next delivery, on every instance).
pub(crate) struct SealedSecrets {
    db: Db,
    tenant_keys: Arc<TenantKeys<KeyStore, LocalKek>>,
}

impl SealedSecrets {
    pub(crate) fn new(db: Db, tenant_keys: Arc<TenantKeys<KeyStore, LocalKek>>) -> Self {
        Self { db, tenant_keys }
    }

    async fn lookup(&self, integration: &str) -> Result<Arc<SecretSet>, Error> {
        let unknown = || Error::UnknownIntegration(integration.to_owned());
        let row = self
            .db
            .integration(integration)
            .await
            .map_err(|e| Error::SecretSource(e.to_string()))?
            .ok_or_else(unknown)?;
        let sealed = row.webhook_secret.as_deref().ok_or_else(unknown)?;
        let sealer = self
            .tenant_keys
            .sealer(&row.tenant, WEBHOOK_SECRET_PURPOSE)
            .await
            .map_err(|e| Error::SecretSource(e.to_string()))?;
        let envelope =
            Envelope::from_armor(sealed).map_err(|e| Error::SecretSource(e.to_string()))?;
        let plaintext = sealer
            .open(&envelope, &binding(&row.tenant, &row.id))
            .map_err(|e| Error::SecretSource(e.to_string()))?;
        let text = std::str::from_utf8(plaintext.as_bytes())
            .map_err(|_| Error::SecretSource("stored webhook secret is not text".into()))?;
        let secret = Secret::parse(&Scheme::StandardWebhooks, text)?;
        Ok(Arc::new(SecretSet::new(secret)))
    }
}

impl SecretSource for SealedSecrets {
    fn secrets<'a>(&'a self, integration: &'a str) -> BoxFuture<'a, Result<Arc<SecretSet>, Error>> {
        Box::pin(self.lookup(integration))
    }
}

/// The middleware in front of `receive`: builds the integration's verifier (its secret
/// source, the shared replay guard namespaced by its id) and runs the request through
/// [`WebhookLayer`], which answers a uniform 401 to anything that does not verify and
/// calls the handler with the verified body only.
pub(crate) async fn verify(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    request: Request,
    next: Next,
) -> Response {
    if !is_integration_id(&integration) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // The layer answers an unknown integration from the secret source with a 500;
    // anyone can name one, so it gets the same 401 as any other bad delivery here.
    match state.db.integration(&integration).await {
        Ok(Some(row)) if row.webhook_secret.is_some() => {}
        Ok(_) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => {
            tracing::error!(error = %error, "integration lookup failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let verifier = Verifier::builder(Scheme::StandardWebhooks)
        .secret_source(
            Arc::clone(&state.webhook_secrets) as Arc<dyn SecretSource>,
            integration,
        )
        .replay_guard(Arc::clone(&state.replay))
        .build();
    let layer = match verifier.and_then(|verifier| WebhookLayer::new(Arc::new(verifier))) {
        Ok(layer) => layer,
        Err(error) => return ApiError::internal("webhook verifier", error).into_response(),
    };
    match layer.layer(next).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `POST /webhooks/{integration}`: only ever sees verified deliveries. Records the
/// delivery in the tenant's audit log (a failure answers 500, and the layer releases
/// the delivery so the sender's retry is accepted).
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    verified: Verified,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let row = state
        .db
        .integration(&integration)
        .await?
        .ok_or(ApiError::NotFound)?;
    let received = Action::custom("webhook.delivery.received")?;
    let event = Event::new(
        audit_chain::TenantId::new(&row.tenant)?,
        format!("integration:{}", row.id),
        received,
    )
    .target(format!("integration:{}", row.id))
    .detail("message_id", verified.id().unwrap_or_default().to_owned())
    .detail("bytes", body.len());
    state.audit.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}
