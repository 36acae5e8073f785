use std::sync::Arc;

use tower_layer::Layer;

use super::CsrfGuard;
use super::service::CsrfService;

/// Applies a [`CsrfGuard`] to every request of the services it wraps: a refused request
/// gets an empty `403 Forbidden` and never reaches the inner service.
///
/// The [`Session`](crate::Session) extractor already runs the guard; this layer is for
/// routes that change state without a session (sign-in, sign-up, password reset), or to
/// cover a whole router at once. Build it from the manager's guard with
/// [`SessionManager::csrf_layer`](crate::SessionManager::csrf_layer) so one configuration
/// serves both.
///
/// ```
/// # #[cfg(feature = "axum")]
/// # fn main() -> Result<(), session_tokens::Error> {
/// use axum::{Router, routing::post};
/// use session_tokens::{CsrfGuard, CsrfLayer};
///
/// async fn sign_in() -> &'static str {
///     "check the password, issue the session, set the cookie"
/// }
///
/// let app: Router = Router::new()
///     .route("/sign-in", post(sign_in))
///     .layer(CsrfLayer::new(CsrfGuard::new()));
/// # let _ = app;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "axum"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CsrfLayer {
    guard: Arc<CsrfGuard>,
}

impl CsrfLayer {
    /// A layer applying `guard`.
    pub fn new(guard: CsrfGuard) -> Self {
        Self {
            guard: Arc::new(guard),
        }
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService::new(inner, Arc::clone(&self.guard))
    }
}
