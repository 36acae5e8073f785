use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Response, StatusCode};
use pin_project_lite::pin_project;

pin_project! {
    /// The response future of [`CsrfService`](crate::CsrfService): the inner service's,
    /// or an empty `403 Forbidden`.
    pub struct CsrfResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Forbidden { response: Option<Response<B>> },
    }
}

impl<F, B: Default> CsrfResponseFuture<F, B> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn forbidden() -> Self {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::FORBIDDEN;
        Self {
            kind: Kind::Forbidden {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for CsrfResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Inner { future } => future.poll(cx),
            KindProjection::Forbidden { response } => Poll::Ready(Ok(response
                .take()
                .expect("CsrfResponseFuture polled after it completed"))),
        }
    }
}

impl<F, B> std::fmt::Debug for CsrfResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfResponseFuture").finish_non_exhaustive()
    }
}
