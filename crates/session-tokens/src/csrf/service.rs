use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::CsrfGuard;
use super::future::CsrfResponseFuture;

/// The service [`CsrfLayer`](crate::CsrfLayer) makes: checks the request, then calls the
/// inner service, or answers an empty `403 Forbidden` without calling it.
#[derive(Debug, Clone)]
pub struct CsrfService<S> {
    inner: S,
    guard: Arc<CsrfGuard>,
}

impl<S> CsrfService<S> {
    pub(super) fn new(inner: S, guard: Arc<CsrfGuard>) -> Self {
        Self { inner, guard }
    }
}

impl<S, B, ResBody> Service<Request<B>> for CsrfService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CsrfResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.guard.check(&request) {
            Ok(()) => CsrfResponseFuture::inner(self.inner.call(request)),
            Err(_) => {
                tracing::debug!(method = %request.method(), path = request.uri().path(), "cross-site request refused");
                CsrfResponseFuture::forbidden()
            }
        }
    }
}
