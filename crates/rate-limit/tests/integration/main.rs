//! Integration tests, in one binary: the GCRA model proptest, the store conformance suite
//! (memory and Redis), the memory store's bounds and concurrency, and the tower layer.

mod conformance;
#[cfg(feature = "tower")]
mod layer;
mod memory;
mod model;
#[cfg(feature = "redis")]
mod redis_store;
