//! [`RateLimitLayer`] and its configuration.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use http::{HeaderValue, Method, Response, StatusCode, header};
use tower_layer::Layer;

use crate::decision::ceil_secs;
use crate::layer::rule::{MissingKey, OnStoreError};
use crate::layer::{ClientIp, RateLimit, ResponseBody, Rule};
use crate::{Decision, Error, MAX_CHECKS, Store};

/// The `RateLimit-Policy` response field.
pub(crate) static RATELIMIT_POLICY: http::HeaderName =
    http::HeaderName::from_static("ratelimit-policy");
/// The `RateLimit` response field.
pub(crate) static RATELIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit");
const PROBLEM_JSON: &str = "application/problem+json";

/// What the layer tells the event hook ([`RateLimitLayerBuilder::on_event`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Enforced rules refused a request with 429; the inner service did not run.
    Limited {
        /// The decision, naming the policies that refused.
        decision: &'a Decision,
    },
    /// Shadow rules would have refused a request; it went through.
    ShadowLimited {
        /// The shadow rules' decision.
        decision: &'a Decision,
    },
    /// The store could not decide.
    StoreError {
        /// What failed.
        error: &'a Error,
        /// Whether the request went through (every matched rule fails open, or the
        /// rules were shadow rules).
        admitted: bool,
        /// Whether the failed check was the shadow rules'.
        shadow: bool,
    },
}

type EventHook = dyn Fn(&Event<'_>) + Send + Sync;

/// Rate limits as a tower [`Layer`]; see the [module docs](crate::layer) for what it answers.
pub struct RateLimitLayer<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for RateLimitLayer<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for RateLimitLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("rules", &self.shared.rules)
            .field("client_ip", &self.shared.client_ip)
            .finish_non_exhaustive()
    }
}

impl<S: Store> RateLimitLayer<S> {
    /// Starts a layer over `store` (wrap it in an `Arc` to share it with other code).
    pub fn builder(store: S) -> RateLimitLayerBuilder<S> {
        RateLimitLayerBuilder {
            store,
            rules: Vec::new(),
            client_ip: ClientIp::new(),
            on_event: None,
            unavailable_retry_after: Duration::from_secs(5),
        }
    }
}

impl<Inner, S> Layer<Inner> for RateLimitLayer<S> {
    type Service = RateLimit<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        RateLimit::new(inner, Arc::clone(&self.shared))
    }
}

/// Configures a [`RateLimitLayer`]; see [`RateLimitLayer::builder`].
#[must_use]
pub struct RateLimitLayerBuilder<S> {
    store: S,
    rules: Vec<Rule>,
    client_ip: ClientIp,
    on_event: Option<Arc<EventHook>>,
    unavailable_retry_after: Duration,
}

impl<S> fmt::Debug for RateLimitLayerBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayerBuilder")
            .field("rules", &self.rules)
            .field("client_ip", &self.client_ip)
            .finish_non_exhaustive()
    }
}

impl<S: Store> RateLimitLayerBuilder<S> {
    /// Adds a rule. Every rule whose route matches a request applies to it.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// How client IPs are found ([`Key::client_ip`](crate::Key::client_ip)); default
    /// [`ClientIp::new`], which trusts no proxy.
    pub fn client_ip(mut self, client_ip: ClientIp) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// Calls `hook` on every refusal, shadow refusal and store error, for metrics. It
    /// runs on the request path: keep it quick.
    pub fn on_event<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Event<'_>) + Send + Sync + 'static,
    {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// The `Retry-After` of a 503 answered when the store fails (default 5 s).
    pub fn unavailable_retry_after(mut self, wait: Duration) -> Self {
        self.unavailable_retry_after = wait;
        self
    }

    /// Checks the rules and builds the layer.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when two rules share a policy name (they would share counters and
    /// response fields), or when more than [`MAX_CHECKS`] enforced or shadow rules could
    /// apply to one request.
    pub fn build(self) -> Result<RateLimitLayer<S>, Error> {
        for (i, rule) in self.rules.iter().enumerate() {
            if self.rules[..i]
                .iter()
                .any(|r| r.policy.name() == rule.policy.name())
            {
                return Err(Error::Config(format!(
                    "two rules use the policy name {:?}: give each rule its own policy name",
                    rule.policy.name()
                )));
            }
        }
        let shadow = self.rules.iter().filter(|r| r.shadow).count();
        let enforced = self.rules.len() - shadow;
        if enforced > MAX_CHECKS || shadow > MAX_CHECKS {
            return Err(Error::Config(format!(
                "at most {MAX_CHECKS} enforced and {MAX_CHECKS} shadow rules are supported"
            )));
        }
        Ok(RateLimitLayer {
            shared: Arc::new(Shared {
                store: self.store,
                rules: self.rules.into_boxed_slice(),
                client_ip: self.client_ip,
                on_event: self.on_event,
                unavailable_retry_after: ceil_secs(self.unavailable_retry_after).max(1),
                missing_peer_seen: AtomicBool::new(false),
            }),
        })
    }
}

/// What every service made by one layer shares.
pub(crate) struct Shared<S> {
    pub(crate) store: S,
    pub(crate) rules: Box<[Rule]>,
    client_ip: ClientIp,
    on_event: Option<Arc<EventHook>>,
    unavailable_retry_after: u64,
    /// Whether a client-address rule has met a request without a peer address (and the
    /// warning about it has been logged, once per layer).
    missing_peer_seen: AtomicBool,
}

/// A rule that applies to a request, and the key it charges.
pub(crate) struct Planned {
    pub(crate) rule: usize,
    pub(crate) key: String,
}

impl<S> Shared<S> {
    /// The enforced and the shadow rules that apply to a request, with their keys.
    pub(crate) fn plan<B>(&self, request: &http::Request<B>) -> (Vec<Planned>, Vec<Planned>) {
        let (mut enforced, mut shadow) = (Vec::new(), Vec::new());
        let path = request.uri().path();
        let method: &Method = request.method();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.route.matches(method, path) {
                continue;
            }
            let key = match rule.key.extract(request, &self.client_ip) {
                Some(key) => key,
                None if rule.missing == MissingKey::Skip => continue,
                None => {
                    if rule.key.kind() == "ip" && !self.missing_peer_seen.swap(true, Relaxed) {
                        // Most often a server that puts the peer address somewhere
                        // `ClientIp` does not look (axum's `ConnectInfo` without
                        // `ClientIp::peer_from`): every client then shares one key.
                        tracing::warn!(
                            policy = rule.policy.name(),
                            "no peer address in the request: sharing the key ip:none"
                        );
                    }
                    format!("{}:none", rule.key.kind())
                }
            };
            let planned = Planned { rule: i, key };
            if rule.shadow {
                shadow.push(planned);
            } else {
                enforced.push(planned);
            }
        }
        (enforced, shadow)
    }

    pub(crate) fn fails_closed(&self, planned: &[Planned]) -> bool {
        planned
            .iter()
            .any(|p| self.rules[p.rule].on_error == OnStoreError::FailClosed)
    }

    pub(crate) fn emit(&self, event: &Event<'_>) {
        if let Some(hook) = &self.on_event {
            hook(event);
        }
    }

    /// The 503 answered when the store fails under a fail-closed rule.
    pub(crate) fn unavailable<B>(&self) -> Response<ResponseBody<B>> {
        let body = format!(
            "{{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\
             \"detail\":\"The rate limiter cannot decide right now; retry after {} seconds.\"}}",
            self.unavailable_retry_after
        );
        let mut response = Response::new(ResponseBody::local(body));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.unavailable_retry_after),
        );
        response
    }
}

/// The 429 answered when enforced rules refuse a request.
pub(crate) fn too_many_requests<B>(decision: &Decision) -> Response<ResponseBody<B>> {
    let mut response = Response::new(ResponseBody::local(decision.problem_json()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    decision.write_headers(headers);
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::{Key, MemoryStore, Policy};

    /// Counts warnings.
    #[derive(Clone, Default)]
    struct Warnings(Arc<AtomicUsize>);

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Relaxed);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// A client-address rule that meets requests without a peer address charges them to
    /// one shared key, and says so once per layer, not once per request.
    #[tokio::test]
    async fn a_missing_peer_address_is_shared_and_warned_about_once() {
        let layer = RateLimitLayer::builder(MemoryStore::new())
            .rule(Rule::new(Policy::login(), Key::client_ip()))
            .build()
            .expect("a layer");
        let warnings = Warnings::default();
        let request = http::Request::get("/").body(()).expect("a request");
        let keys = tracing::subscriber::with_default(warnings.clone(), || {
            (0..3)
                .map(|_| layer.shared.plan(&request).0.remove(0).key)
                .collect::<Vec<_>>()
        });
        assert_eq!(keys, ["ip:none"; 3]);
        assert_eq!(warnings.0.load(Relaxed), 1);

        // A request with a peer address is charged to it, with no warning.
        let mut known = http::Request::get("/").body(()).expect("a request");
        known
            .extensions_mut()
            .insert(std::net::IpAddr::from([198, 51, 100, 7]));
        let fresh = RateLimitLayer::builder(MemoryStore::new())
            .rule(Rule::new(Policy::login(), Key::client_ip()))
            .build()
            .expect("a layer");
        let key = tracing::subscriber::with_default(warnings.clone(), || {
            fresh.shared.plan(&known).0.remove(0).key
        });
        assert_eq!(key, "ip:198.51.100.7");
        assert_eq!(warnings.0.load(Relaxed), 1);
    }
}
