//! Integration tests, in one binary: the GCRA model proptest, the store conformance suite
//! (memory and Redis), the memory store's bounds and concurrency, and the tower layer.

mod conformance;
#[cfg(feature = "tower")]
mod layer;
mod memory;
mod model;
#[cfg(feature = "redis")]
mod redis_store;

use std::num::NonZeroU32;
use std::time::Duration;

use rate_limit::Policy;

/// `quota` requests per hour: long enough that nothing refills while a test runs.
pub(crate) fn hourly(name: &'static str, quota: u32) -> Policy {
    Policy::builder(
        name,
        NonZeroU32::new(quota).expect("non-zero"),
        Duration::from_secs(3600),
    )
    .build()
    .expect("a valid configuration")
}
