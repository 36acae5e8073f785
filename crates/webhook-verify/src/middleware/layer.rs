use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::WebhookService;
use crate::Verifier;

/// Wraps a service so that it only ever sees verified deliveries. See the
/// [module docs](crate::middleware).
#[derive(Clone)]
#[must_use]
pub struct WebhookLayer {
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) public_url: Option<Arc<str>>,
}

impl WebhookLayer {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Self {
            verifier,
            public_url: None,
        }
    }

    /// The scheme, host and port the sender posts to (`https://hooks.example.com`),
    /// for schemes that sign the URL (Twilio); the request's path and query are
    /// appended. Without it the URL is the request's own if absolute, else
    /// `https://<Host header><path and query>`. Set it behind a proxy that rewrites
    /// the host or terminates TLS.
    pub fn public_url(mut self, base: impl Into<String>) -> Self {
        let base: String = base.into();
        self.public_url = Some(Arc::from(base.trim_end_matches('/')));
        self
    }
}

impl<S> Layer<S> for WebhookLayer {
    type Service = WebhookService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WebhookService::new(inner, self.clone())
    }
}

impl fmt::Debug for WebhookLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookLayer")
            .field("verifier", &self.verifier)
            .field("public_url", &self.public_url)
            .finish()
    }
}
