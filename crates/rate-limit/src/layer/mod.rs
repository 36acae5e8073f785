//! The tower layer: rate limits decided before the inner service runs (feature `tower`).
//!
//! [`RateLimitLayer`] holds a [`Store`](crate::Store) and a list of [`Rule`]s. For each
//! request it finds the enforced rules whose [`Route`] matches, works out each rule's
//! [`Key`], and asks the store about all of them in one atomic check:
//!
//! - **admitted**: the inner service runs; the [`Decision`](crate::Decision) is put in the
//!   request extensions for the handler, and the response carries `RateLimit-Policy` and
//!   `RateLimit` fields;
//! - **limited**: the inner service never runs; the answer is `429 Too Many Requests` with
//!   `Retry-After`, `RateLimit-Policy`, `RateLimit` and an `application/problem+json` body
//!   of type [`QUOTA_EXCEEDED_TYPE`](crate::QUOTA_EXCEEDED_TYPE), listing the violated
//!   policies;
//! - **store error**: if any matched rule fails closed (the default), the answer is
//!   `503 Service Unavailable` with `Retry-After` and a problem+json body, and the inner
//!   service never runs; if every matched rule fails open, the request goes through
//!   without rate-limit fields.
//!
//! Shadow rules are checked and charged in a second, separate check; what they would have
//! limited is reported to the [`Event`] hook and logged, and never changes the answer.
//!
//! # Example
//!
//! ```
//! use rate_limit::{ClientIp, Key, MemoryStore, Policy, RateLimitLayer, Route, Rule};
//!
//! #[derive(Clone)]
//! struct UserId(String);
//!
//! let layer = RateLimitLayer::builder(MemoryStore::new())
//!     .client_ip(ClientIp::new().trust_proxies(["10.0.0.0/8".parse().unwrap()]))
//!     .rule(Rule::new(Policy::api_origin(), Key::origin()).skip_when_key_missing())
//!     .rule(
//!         Rule::new(Policy::ai_extraction(), Key::user(|u: &UserId| u.0.clone()))
//!             .route(Route::prefix("/ai")),
//!     )
//!     .build()?;
//! # let _ = layer;
//! # Ok::<(), rate_limit::Error>(())
//! ```

mod body;
mod future;
mod key;
#[expect(
    clippy::module_inception,
    reason = "tower's layout: layer.rs, service.rs, future.rs"
)]
mod layer;
mod rule;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use key::{ClientIp, Key, X_FORWARDED_FOR};
pub use layer::{Event, RateLimitLayer, RateLimitLayerBuilder};
pub(crate) use layer::{RATELIMIT, RATELIMIT_POLICY};
pub use rule::{MissingKey, OnStoreError, Route, Rule};
pub use service::RateLimit;
