//! The [`RateLimit`] service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::layer::layer::{Event, Planned, Shared, too_many_requests};
use crate::layer::{ResponseBody, ResponseFuture};
use crate::{Check, Decision, Store};

/// A service that rate-limits requests before its inner service sees them; made by
/// [`RateLimitLayer`](crate::RateLimitLayer).
pub struct RateLimit<Inner, S> {
    inner: Inner,
    shared: Arc<Shared<S>>,
}

impl<Inner, S> RateLimit<Inner, S> {
    pub(crate) fn new(inner: Inner, shared: Arc<Shared<S>>) -> Self {
        Self { inner, shared }
    }
}

impl<Inner: Clone, S> Clone for RateLimit<Inner, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<Inner: fmt::Debug, S> fmt::Debug for RateLimit<Inner, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<Inner, S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<Inner, S>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
    S: Store,
    ReqBody: Send + 'static,
    ResBody: 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = Inner::Error;
    type Future = ResponseFuture<ResBody, Inner::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready goes into the future; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        ResponseFuture::new(async move {
            let (enforced, shadow) = shared.plan(&request);
            if !shadow.is_empty() {
                check_shadow(&shared, &shadow).await;
            }
            let mut admitted = None;
            if !enforced.is_empty() {
                let checks = checks(&shared, &enforced);
                match shared.store.check(&checks).await {
                    Ok(decision) if decision.is_allowed() => admitted = Some(decision),
                    Ok(decision) => {
                        tracing::info!(
                            policies = ?violated(&decision),
                            retry_after = ?decision.retry_after(),
                            "request rate-limited"
                        );
                        shared.emit(&Event::Limited {
                            decision: &decision,
                        });
                        return Ok(too_many_requests(&decision));
                    }
                    Err(error) => {
                        let fail_closed = shared.fails_closed(&enforced);
                        tracing::warn!(
                            %error,
                            admitted = !fail_closed,
                            "rate-limit store failed"
                        );
                        shared.emit(&Event::StoreError {
                            error: &error,
                            admitted: !fail_closed,
                            shadow: false,
                        });
                        if fail_closed {
                            return Ok(shared.unavailable());
                        }
                    }
                }
            }
            if let Some(decision) = &admitted {
                request.extensions_mut().insert(decision.clone());
            }
            let response = inner.call(request).await?;
            let mut response = response.map(ResponseBody::inner);
            if let Some(decision) = &admitted {
                decision.write_headers(response.headers_mut());
            }
            Ok(response)
        })
    }
}

fn checks<'a, S>(shared: &'a Shared<S>, planned: &'a [Planned]) -> Vec<Check<'a>> {
    planned
        .iter()
        .map(|p| Check::new(&shared.rules[p.rule].policy, &p.key))
        .collect()
}

fn violated(decision: &Decision) -> Vec<&str> {
    decision
        .policies()
        .iter()
        .filter(|p| !p.is_allowed())
        .map(|p| p.name())
        .collect()
}

/// Checks and charges the shadow rules; reports, never refuses.
async fn check_shadow<S: Store>(shared: &Shared<S>, shadow: &[Planned]) {
    match shared.store.check(&checks(shared, shadow)).await {
        Ok(decision) if decision.is_allowed() => {}
        Ok(decision) => {
            tracing::info!(
                policies = ?violated(&decision),
                "shadow rules would have rate-limited a request"
            );
            shared.emit(&Event::ShadowLimited {
                decision: &decision,
            });
        }
        Err(error) => {
            tracing::warn!(%error, "rate-limit store failed for shadow rules");
            shared.emit(&Event::StoreError {
                error: &error,
                admitted: true,
                shadow: true,
            });
        }
    }
}
