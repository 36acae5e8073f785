//! Integration tests for `passwords`, in one binary.

mod common;
mod dummy;
mod fixtures;
mod hashing;
mod pepper;
mod pool;
