use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::WebhookService;
use crate::{Error, Verifier};

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
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the scheme signs the request URL (Twilio): the URL the
    /// sender posted to cannot be learnt from the request (its `Host` header and an
    /// absolute-form target are the sender's to choose), so it must be configured with
    /// [`with_public_url`](Self::with_public_url).
    pub fn new(verifier: Arc<Verifier>) -> Result<Self, Error> {
        if verifier.scheme().needs_url() {
            return Err(Error::config(format!(
                "the {} scheme signs the request URL: build the layer with WebhookLayer::with_public_url(verifier, \"https://<the host the sender posts to>\")",
                verifier.scheme()
            )));
        }
        Ok(Self {
            verifier,
            public_url: None,
        })
    }

    /// A layer verifying with `verifier`, for schemes that sign the URL (Twilio): the
    /// signed URL is `base` (the scheme, host and port the sender posts to, and any
    /// path prefix a proxy strips, as in `https://hooks.example.com`) followed by the
    /// request's path and query. Under axum the path is the one the router received
    /// (axum's `OriginalUri`), so nesting does not change it.
    /// The request's `Host` header and absolute-form target are never used.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `base` is not an `http://` or `https://` URL with a host
    /// and no query or fragment.
    pub fn with_public_url(verifier: Arc<Verifier>, base: &str) -> Result<Self, Error> {
        let base = base.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        let host = rest.map(|rest| rest.split('/').next().unwrap_or_default());
        if host.is_none_or(str::is_empty) || base.contains(['?', '#', ' ']) {
            return Err(Error::config(format!(
                "public URL {base:?}: expected https://host[:port][/path prefix], without query or fragment"
            )));
        }
        Ok(Self {
            verifier,
            public_url: Some(Arc::from(base)),
        })
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
