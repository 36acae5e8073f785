//! Rate limits: the tower layer with its ceilings in front of every route, and the login
//! limiters (per client IP and per account; a success refunds only its own attempt) inside
//! the password, second-factor and password-change handlers.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use rate_limit::{
    Check, ClientIp, Decision, Key, LoginLimiter, MemoryStore, Policy, RateLimitLayer, RedisStore,
    Route, Rule, Store,
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

/// Client addresses: the connection's peer (axum's `ConnectInfo`), or, when the peer is
/// one of the `trusted` proxies (`PALISADE_TRUSTED_PROXIES`), the address they report in
/// `X-Forwarded-For`. Without trusted proxies behind a load balancer, every client would
/// share its address, and its limits.
pub(crate) fn client_ip(trusted: &[ipnet::IpNet]) -> ClientIp {
    ClientIp::new()
        .trust_proxies(trusted.iter().copied())
        .peer_from(|extensions| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
        })
}

/// The layer in front of every route, before any handler runs:
///
/// - `api-origin`: at most 100 requests a minute per calling browser origin. Requests
///   without an `Origin` (non-browser clients, same-origin GETs), and the server's own
///   pages (an `Origin` naming the request's own host), are not counted by this rule:
///   any script can send the server's origin, and would then refuse every browser user.
///   Behind a proxy, the proxy must pass the browser's `Host` on.
/// - `api-client`: at most 600 requests a minute per client address, with or without an
///   `Origin`, so a script that leaves the header out is still held to a ceiling.
/// - `signup`: at most 10 sign-ups an hour per client address. Each one costs a password
///   hash, a tenant data key and an audit entry; fail-closed, like the login limiter.
///
/// The first two fail open: a Redis outage does not take the whole API down, while the
/// limits that guard passwords and sign-ups fail closed.
pub(crate) fn layer(
    limits: Arc<Limits>,
    client_ip: ClientIp,
) -> Result<RateLimitLayer<Arc<Limits>>, StartError> {
    RateLimitLayer::builder(limits)
        .client_ip(client_ip)
        .rule(
            Rule::new(Policy::api_origin(), Key::cross_origin())
                .skip_when_key_missing()
                .fail_open(),
        )
        .rule(Rule::new(policy("api-client", 600, 60)?, Key::client_ip()).fail_open())
        .rule(
            Rule::new(policy("signup", 10, 3600)?, Key::client_ip())
                .route(Route::exact("/api/signup").method(Method::POST))
                .fail_closed(),
        )
        .build()
        .map_err(|e| StartError::component("rate-limit layer", e))
}

/// The login limiter: failed attempts per client address ([`Policy::login`], 10 per 15
/// minutes) and, from every address together, per account (`login-account`, 20 per 15
/// minutes). The account limit is what stops guessing from many addresses: a second
/// factor whose password is known, or a password tried from a botnet. Its price is that
/// anyone can hold one account's sign-in for 15 minutes with 20 wrong guesses; a success
/// resets it.
pub(crate) fn login_limiter(limits: Arc<Limits>) -> Result<LoginLimiter<Arc<Limits>>, StartError> {
    let per_account = policy("login-account", 20, 15 * 60)?;
    Ok(LoginLimiter::new(limits, Policy::login()).per_account(per_account))
}

/// The second-factor limiter: the same 10 failures per 15 minutes per client address, and
/// per account, from every address together, 20 a day (`mfa-account`; GCRA, so one more
/// every 72 minutes). Whoever reaches this step knows the password. At the password
/// step's 20 per 15 minutes they could try 1 920 codes a day, with three six-digit codes
/// valid at any time about a 1 in 170 chance of a hit every day; at 20 a day it is about
/// 1 in 17 000. They can also keep the step closed to the account's owner, as they could
/// at the faster rate: the way out is a new password.
pub(crate) fn second_factor_limiter(
    limits: Arc<Limits>,
) -> Result<LoginLimiter<Arc<Limits>>, StartError> {
    let per_account = policy("mfa-account", 20, 24 * 60 * 60)?;
    Ok(LoginLimiter::new(limits, Policy::login()).per_account(per_account))
}

/// `quota` requests per `seconds` under `name`. The numbers are the constants above, so
/// an error here is a mistake in them, caught at start-up.
fn policy(name: &'static str, quota: u32, seconds: u64) -> Result<Policy, StartError> {
    let quota = NonZeroU32::new(quota)
        .ok_or_else(|| StartError::component("rate limits", format!("{name}: a zero quota")))?;
    Policy::builder(name, quota, Duration::from_secs(seconds))
        .build()
        .map_err(|e| StartError::component("rate limits", e))
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
