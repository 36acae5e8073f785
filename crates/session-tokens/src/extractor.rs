//! The axum extractor (feature `axum`).

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::{Error, Session, SessionManager};

/// Why the [`Session`] extractor refused a request. Its response has an empty body and
/// says nothing about the reason:
///
/// - `401 Unauthorized`: no session cookie, or the token or session was refused;
/// - `403 Forbidden`: an unsafe method from another site (the manager's
///   [`CsrfGuard`](crate::CsrfGuard)). Not 401: the session itself may be valid, and a
///   client that answers 401 by signing in again would loop;
/// - `503 Service Unavailable`: the session store did not answer. The request is refused,
///   never let through; not 401, because the session may be valid and the client should
///   retry rather than sign the user out over an outage.
#[derive(Debug)]
pub struct SessionRejection {
    error: Error,
}

impl SessionRejection {
    /// The error behind the rejection, for logs.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The status the response carries.
    pub fn status(&self) -> StatusCode {
        match self.error {
            Error::CrossSite => StatusCode::FORBIDDEN,
            Error::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        self.status().into_response()
    }
}

/// Extracts the verified session from the request's session cookie.
///
/// The state must provide a [`SessionManager`] (`FromRef`). For unsafe methods the
/// manager's CSRF guard runs first. A verified session is then touched (its
/// `last_seen_at` written at most once per touch interval); a failed touch is logged and
/// does not fail the request.
impl<S> FromRequestParts<S> for Session
where
    SessionManager: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let manager = SessionManager::from_ref(state);
        let refuse = |error: Error| {
            tracing::debug!(error = %error, reason = ?error.rejection(), "session extractor refused the request");
            SessionRejection { error }
        };
        manager.check_csrf_parts(parts).map_err(refuse)?;
        let token = manager.token_from_headers(&parts.headers).map_err(refuse)?;
        let session = manager.verify(token).await.map_err(refuse)?;
        if let Err(err) = manager.touch(&session).await {
            tracing::warn!(error = %err, session = %session.handle(), "recording session activity failed");
        }
        Ok(session)
    }
}
