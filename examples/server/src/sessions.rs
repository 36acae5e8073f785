//! "Where am I signed in?": list the user's sessions, revoke one, sign out here, sign
//! out everywhere else, sign out everywhere. Every revocation is audited.
//!
//! Ending *another* session (one of them, or every other) takes the account's current
//! password: with a stolen session cookie alone, a thief could otherwise sign the
//! account's owner out everywhere and keep the stolen session. The password's holder
//! wins instead. Signing out here, or everywhere, ends the caller's own session too, so
//! it needs none.

use std::time::{SystemTime, UNIX_EPOCH};

use audit_chain::Event;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use session_tokens::{Issued, Session, SessionHandle};

use crate::accounts::{SecretText, reauthenticate_session};
use crate::audit::{actor_of, tenant_of};
use crate::error::ApiError;
use crate::limits::ClientAddr;
use crate::state::AppState;

/// The body of a request that ends other sessions: the account's current password.
#[derive(Debug, Deserialize)]
pub(crate) struct Reauthentication {
    current_password: SecretText,
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `GET /api/sessions`: the user's live sessions, newest first, the current one marked.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Value>, ApiError> {
    let sessions = state.sessions.list(&session).await?;
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|info| {
            json!({
                "handle": info.handle().to_string(),
                "current": info.is_current(),
                "created_at": unix(info.created_at()),
                "last_seen_at": unix(info.last_seen_at()),
                "expires_at": unix(info.expires_at()),
                "ip": info.ip().map(|ip| ip.to_string()),
                "user_agent": info.user_agent(),
                "aal": info.aal().level(),
            })
        })
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

/// `DELETE /api/sessions/{handle}` with `{"current_password"}`: revokes one of the
/// user's sessions (404 when the handle names none of theirs; 403 for a wrong password).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    session: Session,
    Path(handle): Path<String>,
    Json(input): Json<Reauthentication>,
) -> Result<Json<Value>, ApiError> {
    reauthenticate_session(&state, &client, &headers, &session, &input.current_password).await?;
    let handle: SessionHandle = handle.parse().map_err(|_| ApiError::NotFound)?;
    if !state.sessions.revoke(&session, &handle).await? {
        return Err(ApiError::NotFound);
    }
    let event =
        Event::session_revoked(tenant_of(&session)?, actor_of(&session), handle.to_string())
            .detail("how", "revoked");
    state.audit.record(event).await?;
    Ok(Json(json!({ "revoked": 1 })))
}

/// `POST /api/sessions/revoke-others` with `{"current_password"}`: signs out every other
/// device (403 for a wrong password). This device goes on under a new session id (a
/// session being issued at this moment elsewhere dies too), so the answer sets a new
/// cookie.
pub(crate) async fn revoke_others(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    session: Session,
    Json(input): Json<Reauthentication>,
) -> Result<Response, ApiError> {
    reauthenticate_session(&state, &client, &headers, &session, &input.current_password).await?;
    let (kept, count) = state.sessions.revoke_others(&session).await?;
    let event = Event::session_revoked(tenant_of(&session)?, actor_of(&session), "others")
        .detail("how", "revoke_others")
        .detail("count", count);
    state.audit.record(event).await?;
    with_session_cookie(&state, &kept, json!({ "revoked": count }))
}

/// `POST /api/signout`: ends this session and clears the cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, ApiError> {
    state.sessions.sign_out(&session).await?;
    let event = Event::session_revoked(
        tenant_of(&session)?,
        actor_of(&session),
        session.handle().to_string(),
    )
    .detail("how", "sign_out");
    state.audit.record(event).await?;
    Ok(cleared(&state, json!({ "revoked": 1 })))
}

/// `POST /api/signout-all`: ends every session of the user, this one included.
pub(crate) async fn sign_out_all(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, ApiError> {
    let count = state.sessions.revoke_all(&session).await?;
    let event = Event::session_revoked(tenant_of(&session)?, actor_of(&session), "all")
        .detail("how", "sign_out_all")
        .detail("count", count);
    state.audit.record(event).await?;
    Ok(cleared(&state, json!({ "revoked": count })))
}

/// `body`, setting the cookie of `issued`: the answer to a request that renewed its
/// session (a new session id), whose old cookie no longer works.
pub(crate) fn with_session_cookie(
    state: &AppState,
    issued: &Issued,
    body: Value,
) -> Result<Response, ApiError> {
    let cookie = state.sessions.cookie(issued)?;
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

fn cleared(state: &AppState, body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, state.sessions.clear_cookie());
    response
}
