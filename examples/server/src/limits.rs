//! Rate limits: the tower layer with the global per-origin ceiling in front of every
//! route, and the login limiter (per client IP; a success refunds only its own attempt)
//! inside the login handler.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use rate_limit::{
    Check, ClientIp, Decision, Key, MemoryStore, Policy, RateLimitLayer, RedisStore, Rule, Store,
};

use crate::error::{ApiError, StartError};
use crate::state::AppState;

/// The counters: in memory for one process, in Redis when `REDIS_URL` is set.
#[derive(Debug)]
pub(crate) enum Limits {
    /// One process.
    Memory(MemoryStore),
    /// Every instance sharing the Redis server.
    Redis(RedisStore),
}

impl Limits {
    /// In memory, or in Redis under `<redis_prefix>rl:`.
    pub(crate) fn new(
        redis_url: Option<&str>,
        redis_prefix: &str,
    ) -> Result<Arc<Self>, StartError> {
        let limits = match redis_url {
            None => Self::Memory(MemoryStore::new()),
            Some(url) => Self::Redis(
                RedisStore::builder(url)
                    .prefix(format!("{redis_prefix}rl:"))
                    .build()
                    .map_err(|e| StartError::component("rate limits (Redis)", e))?,
            ),
        };
        Ok(Arc::new(limits))
    }
}

impl Store for Limits {
    async fn check(&self, checks: &[Check<'_>]) -> Result<Decision, rate_limit::Error> {
        match self {
            Self::Memory(store) => store.check(checks).await,
            Self::Redis(store) => store.check(checks).await,
        }
    }

    async fn reset(&self, policy: &Policy, key: &[u8]) -> Result<(), rate_limit::Error> {
        match self {
            Self::Memory(store) => store.reset(policy, key).await,
            Self::Redis(store) => store.reset(policy, key).await,
        }
    }

    async fn refund(&self, policy: &Policy, key: &[u8]) -> Result<(), rate_limit::Error> {
        match self {
            Self::Memory(store) => store.refund(policy, key).await,
            Self::Redis(store) => store.refund(policy, key).await,
        }
    }
}

/// Client addresses: the connection's peer (axum's `ConnectInfo`), with no proxy
/// trusted. Behind a load balancer, list it in `ClientIp::trust_proxies`.
pub(crate) fn client_ip() -> ClientIp {
    ClientIp::new().peer_from(|extensions| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    })
}

/// The layer in front of every route: at most 100 requests a minute per browser
/// origin (the `api-origin` preset). Requests without an `Origin` (non-browser clients,
/// same-origin GETs) are not counted by this rule; the login limiter still applies to
/// them. Fail-open: a Redis outage does not take the whole API down, while the login
/// limiter, which guards passwords, fails closed.
pub(crate) fn layer(limits: Arc<Limits>) -> Result<RateLimitLayer<Arc<Limits>>, StartError> {
    RateLimitLayer::builder(limits)
        .client_ip(client_ip())
        .rule(
            Rule::new(Policy::api_origin(), Key::origin())
                .skip_when_key_missing()
                .fail_open(),
        )
        .build()
        .map_err(|e| StartError::component("rate-limit layer", e))
}

/// The client's address and its rate-limit key (`ip:203.0.113.7`, IPv6 grouped by
/// /64), resolved as the layer resolves it.
#[derive(Debug, Clone)]
pub(crate) struct ClientAddr {
    pub(crate) ip: IpAddr,
    pub(crate) key: String,
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Without a peer address the login limiter cannot key the request: refuse it
        // rather than let it through uncounted.
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
        else {
            return Err(ApiError::internal(
                "client address",
                "the request carries no peer address (serve with connect info)",
            ));
        };
        let forwarded = parts
            .headers
            .get_all(rate_limit::layer::X_FORWARDED_FOR)
            .iter()
            .map(HeaderValue::as_bytes);
        let ip = state.client_ip.resolve(peer, forwarded);
        Ok(Self {
            ip,
            key: format!("ip:{}", state.client_ip.group(ip)),
        })
    }
}
