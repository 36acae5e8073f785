#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod decision;
mod error;
mod gcra;
#[cfg(feature = "tower")]
pub mod layer;
mod login;
mod policy;
mod store;

pub use clock::{Clock, FakeClock, SystemClock};
pub use decision::{Decision, PolicyOutcome, QUOTA_EXCEEDED_TYPE};
pub use error::Error;
#[cfg(feature = "tower")]
pub use layer::{ClientIp, Key, RateLimit, RateLimitLayer, Route, Rule};
pub use login::{LoginAttempt, LoginCheck, LoginLimiter};
pub use policy::{Policy, PolicyBuilder};
pub use store::memory::{DEFAULT_MAX_KEYS, MemoryStore, MemoryStoreBuilder, WhenFull};
#[cfg(feature = "redis")]
pub use store::redis::{RedisStore, RedisStoreBuilder};
pub use store::{Check, MAX_CHECKS, Store};
