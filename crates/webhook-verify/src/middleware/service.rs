use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::BodyExt as _;
use tower_service::Service;

use super::layer::WebhookLayer;
use crate::error::Error;
use crate::secret::BoxFuture;
use crate::verifier::Message;

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
                tracing::warn!(target: "webhook_verify", scheme, reason = "body_too_large", "webhook rejected");
                return Ok(status(StatusCode::PAYLOAD_TOO_LARGE));
            }
            let bytes = match collect(body, limit).await {
                Ok(bytes) => bytes,
                Err(Collect::TooLarge) => {
                    tracing::warn!(target: "webhook_verify", scheme, reason = "body_too_large", "webhook rejected");
                    return Ok(status(StatusCode::PAYLOAD_TOO_LARGE));
                }
                Err(Collect::Failed) => {
                    tracing::warn!(target: "webhook_verify", scheme, reason = "body_read_failed", "webhook rejected");
                    return Ok(status(StatusCode::BAD_REQUEST));
                }
            };
            let url = verifier
                .scheme()
                .needs_url()
                .then(|| request_url(&parts, config.public_url.as_deref()))
                .flatten();
            let mut message = Message::new(&parts.headers, &bytes);
            if let Some(url) = &url {
                message = message.with_url(url);
            }
            match verifier.verify(&message).await {
                Ok(verified) => {
                    parts.extensions.insert(verified);
                    inner.call(Request::from_parts(parts, B::from(bytes))).await
                }
                Err(Error::Invalid(rejection)) => {
                    tracing::warn!(
                        target: "webhook_verify",
                        scheme,
                        reason = rejection.code(),
                        detail = %rejection,
                        "webhook rejected"
                    );
                    Ok(status(StatusCode::UNAUTHORIZED))
                }
                Err(error @ (Error::ReplayGuard(_) | Error::SecretSource(_))) => {
                    tracing::error!(target: "webhook_verify", scheme, error = %error, "webhook not verified");
                    Ok(status(StatusCode::SERVICE_UNAVAILABLE))
                }
                Err(error) => {
                    tracing::error!(target: "webhook_verify", scheme, error = %error, "webhook not verified");
                    Ok(status(StatusCode::INTERNAL_SERVER_ERROR))
                }
            }
        })
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

fn request_url(parts: &http::request::Parts, public_url: Option<&str>) -> Option<String> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    if let Some(base) = public_url {
        return Some(format!("{base}{path}"));
    }
    if parts.uri.scheme().is_some() && parts.uri.authority().is_some() {
        return Some(parts.uri.to_string());
    }
    let host = parts.headers.get(header::HOST)?.to_str().ok()?;
    Some(format!("https://{host}{path}"))
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
