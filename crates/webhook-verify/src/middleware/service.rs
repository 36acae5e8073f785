use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::BodyExt as _;
use tower_service::Service;

use super::layer::WebhookLayer;
use crate::error::Error;
use crate::secret::BoxFuture;
use crate::verifier::{Message, Verified, Verifier};

/// The service [`WebhookLayer`] makes: verifies, then calls the inner service.
#[derive(Clone)]
pub struct WebhookService<S> {
    inner: S,
    config: WebhookLayer,
}

impl<S> WebhookService<S> {
    pub(crate) fn new(inner: S, config: WebhookLayer) -> Self {
        Self { inner, config }
    }
}

impl<S, B, ResBody> Service<Request<B>> for WebhookService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            let verifier = &config.verifier;
            let scheme = verifier.scheme().name();
            let (mut parts, body) = request.into_parts();
            let limit = verifier.body_limit();
            if content_length(&parts.headers).is_some_and(|len| len > limit) {
                tracing::debug!(target: "webhook_verify", scheme, reason = "body_too_large", "webhook rejected");
                return Ok(status(StatusCode::PAYLOAD_TOO_LARGE));
            }
            // Headers and window first: a request without a plausible signature is
            // turned away before its body is read. The verifier logs the reason.
            if verifier.check_headers(&parts.headers).is_err() {
                return Ok(status(StatusCode::UNAUTHORIZED));
            }
            let bytes = match collect(body, limit).await {
                Ok(bytes) => bytes,
                Err(Collect::TooLarge) => {
                    tracing::debug!(target: "webhook_verify", scheme, reason = "body_too_large", "webhook rejected");
                    return Ok(status(StatusCode::PAYLOAD_TOO_LARGE));
                }
                Err(Collect::Failed) => {
                    tracing::debug!(target: "webhook_verify", scheme, reason = "body_read_failed", "webhook rejected");
                    return Ok(status(StatusCode::BAD_REQUEST));
                }
            };
            let url = config
                .public_url
                .as_deref()
                .filter(|_| verifier.scheme().needs_url())
                .map(|base| format!("{base}{}", path_and_query(&parts)));
            let mut message = Message::new(&parts.headers, &bytes);
            if let Some(url) = &url {
                message = message.with_url(url);
            }
            // The verifier logs every failure once; here they only become statuses.
            let verified = match verifier.verify(&message).await {
                Ok(verified) => verified,
                // An integration the source does not know (removed, or an id the
                // sender made up) is the sender's problem, not the operator's: the
                // same 401 as any other failed delivery.
                Err(Error::Invalid(_) | Error::UnknownIntegration(_)) => {
                    return Ok(status(StatusCode::UNAUTHORIZED));
                }
                Err(Error::ReplayGuard(_) | Error::SecretSource(_)) => {
                    return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
                }
                Err(_) => return Ok(status(StatusCode::INTERNAL_SERVER_ERROR)),
            };
            parts.extensions.insert(verified.clone());
            // The delivery was recorded before the handler ran. If the handler fails, or
            // never finishes because its future is dropped (the sender hung up, a timeout
            // fired), forget it, so the sender's retry is not rejected as a replay.
            // The guard stays armed until the release below has run, so a future dropped
            // during the release still releases.
            let mut cancelled = ReleaseIfDropped {
                armed: Some((Arc::clone(&config.verifier), verified.clone())),
            };
            let result = inner.call(Request::from_parts(parts, B::from(bytes))).await;
            let failed = result
                .as_ref()
                .map_or(true, |response| response.status().is_server_error());
            if failed && verifier.release(&verified).await.is_ok() {
                tracing::debug!(target: "webhook_verify", scheme, "delivery released for a retry");
            }
            cancelled.disarm();
            result
        })
    }
}

/// Releases a recorded delivery if dropped while armed: the request's future was dropped
/// while the handler ran, so the delivery may not have been handled and the sender will
/// retry it. The release runs as a task on the current Tokio runtime; without one, the
/// key expires on its own (retries are rejected until then).
struct ReleaseIfDropped {
    armed: Option<(Arc<Verifier>, Verified)>,
}

impl ReleaseIfDropped {
    /// The handler finished and its failure, if any, has been dealt with.
    fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for ReleaseIfDropped {
    fn drop(&mut self) {
        let Some((verifier, verified)) = self.armed.take() else {
            return;
        };
        let scheme = verifier.scheme().name();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                tracing::debug!(target: "webhook_verify", scheme, "handler dropped: releasing");
                runtime.spawn(async move {
                    let _ = verifier.release(&verified).await;
                });
            }
            Err(_) => {
                // No runtime to release on: the key expires on its own.
                tracing::warn!(target: "webhook_verify", scheme, "handler dropped: not released");
            }
        }
    }
}

fn status<B: Default>(code: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = code;
    response
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

enum Collect {
    TooLarge,
    Failed,
}

/// Reads the body up to `limit` bytes; stops reading as soon as it is passed.
async fn collect<B: Body>(body: B, limit: usize) -> Result<Bytes, Collect> {
    let mut body = std::pin::pin!(body);
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Collect::Failed)?;
        if let Ok(mut data) = frame.into_data() {
            use bytes::Buf as _;
            if data.remaining() > limit - buffer.len() {
                return Err(Collect::TooLarge);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                buffer.extend_from_slice(chunk);
                let len = chunk.len();
                data.advance(len);
            }
        }
    }
    Ok(Bytes::from(buffer))
}

/// The path and query the sender posted to: under axum, the one the router received
/// before any nesting stripped a prefix.
fn path_and_query(parts: &http::request::Parts) -> &str {
    #[cfg(feature = "axum")]
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    #[cfg(not(feature = "axum"))]
    let uri = &parts.uri;
    uri.path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
}

impl<S> fmt::Debug for WebhookService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for crate::Verified {
    type Rejection = StatusCode;

    /// The [`Verified`](crate::Verified) record the layer left; `401` on a route the
    /// layer does not cover, so a missing layer fails closed.
    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<crate::Verified>()
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}
