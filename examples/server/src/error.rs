//! Typed errors: why the server cannot start, and what a request gets back.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::ConfigError;

/// Why the server did not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The environment variables cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keyring is missing, unreadable or malformed.
    #[error("envelope keyring: {0}")]
    Keyring(#[source] envelope_crypto::Error),
    /// The data directory cannot be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Database(String),
    /// A server key sealed in the database does not open under the keyring.
    #[error("server key {name:?}: {message}")]
    ServerKey {
        /// Which key.
        name: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A crate refused its configuration.
    #[error("{component}: {message}")]
    Component {
        /// Which part of the server.
        component: &'static str,
        /// The crate's message.
        message: String,
    },
    /// The listening socket cannot be opened.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

impl StartError {
    pub(crate) fn component(component: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Component {
            component,
            message: error.to_string(),
        }
    }
}

/// What a handler answers when it does not succeed. Bodies are JSON
/// (`{"error": "..."}`) and never carry internal details: those go to the log.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request cannot be used; the message says why.
    BadRequest(String),
    /// 401: the credentials (or the session) were refused. Always the same body.
    Unauthorized,
    /// 403: the request is not allowed; the message says why.
    Forbidden(&'static str),
    /// 404.
    NotFound,
    /// 409: the name is taken.
    Conflict(&'static str),
    /// 422: the new password breaks the policy; one reason per violation.
    WeakPassword(Vec<String>),
    /// 429 from the login limiter, with its `Retry-After` and `RateLimit` fields.
    Limited(rate_limit::Decision),
    /// 503: the password hashing pool is full; retry shortly.
    Busy,
    /// 503: a store that a security decision needs did not answer.
    Unavailable,
    /// 500: logged where it happened.
    Internal,
}

impl ApiError {
    /// Logs `error` (its message only, never a secret: every crate's errors are
    /// redacted) and returns a 500.
    pub(crate) fn internal(what: &'static str, error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what} failed");
        Self::Internal
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid credentials".into()),
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, message.into()),
            Self::NotFound => (StatusCode::NOT_FOUND, "not found".into()),
            Self::Conflict(message) => (StatusCode::CONFLICT, message.into()),
            Self::WeakPassword(reasons) => {
                let body = json!({ "error": "password rejected", "reasons": reasons });
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            Self::Limited(decision) => return limited(&decision),
            Self::Busy => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "error": "busy, retry shortly" })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return response;
            }
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "a store is unavailable".into(),
            ),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// 429 with the limiter's problem+json body and response fields.
fn limited(decision: &rate_limit::Decision) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "application/problem+json")],
        decision.problem_json(),
    )
        .into_response();
    decision.write_headers(response.headers_mut());
    response
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal("database", error)
    }
}

impl From<envelope_crypto::Error> for ApiError {
    fn from(error: envelope_crypto::Error) -> Self {
        Self::internal("envelope", error)
    }
}

impl From<audit_chain::Error> for ApiError {
    fn from(error: audit_chain::Error) -> Self {
        match error {
            audit_chain::Error::Input(message) => Self::BadRequest(message),
            other => Self::internal("audit log", other),
        }
    }
}

impl From<session_tokens::Error> for ApiError {
    fn from(error: session_tokens::Error) -> Self {
        match error {
            session_tokens::Error::Invalid(_) => Self::Unauthorized,
            session_tokens::Error::CrossSite => Self::Forbidden("cross-site request refused"),
            session_tokens::Error::Store(store) => {
                tracing::error!(error = %store, "session store failed");
                Self::Unavailable
            }
            session_tokens::Error::Input(message) => Self::BadRequest(message),
            other => Self::internal("sessions", other),
        }
    }
}

impl From<passwords::Error> for ApiError {
    fn from(error: passwords::Error) -> Self {
        match error {
            passwords::Error::Invalid => Self::Unauthorized,
            passwords::Error::Busy => Self::Busy,
            passwords::Error::PasswordTooLong { max } => {
                Self::BadRequest(format!("password too long: at most {max} bytes"))
            }
            other => Self::internal("password hashing", other),
        }
    }
}

impl From<mfa::Error> for ApiError {
    fn from(error: mfa::Error) -> Self {
        match error {
            mfa::Error::Invalid => Self::Unauthorized,
            mfa::Error::AlreadyEnrolled => {
                Self::Conflict("a confirmed TOTP factor exists: remove it first")
            }
            mfa::Error::Input(message) => Self::BadRequest(message.into()),
            mfa::Error::Store(store) => {
                tracing::error!(error = %store, "mfa store failed");
                Self::Unavailable
            }
            other => Self::internal("mfa", other),
        }
    }
}

impl From<rate_limit::Error> for ApiError {
    fn from(error: rate_limit::Error) -> Self {
        tracing::error!(error = %error, "rate limiter failed");
        Self::Unavailable
    }
}
