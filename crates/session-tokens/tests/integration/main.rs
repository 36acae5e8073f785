//! Integration tests, in one binary.

mod conformance;
mod cookies;
mod csrf;
mod encoding;
mod known_answers;
mod properties;
mod races;
mod rejections;
mod rotation;
#[cfg(feature = "axum")]
mod router;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod storage;
mod store_data;
mod support;
