//! webhook-verify end to end: known answers, every scheme's round trip, rotation,
//! windows, replay guards, bad input and interop fixtures. The tower layer, its tracing
//! and the Redis guard have binaries of their own, which need the `axum` / `redis`
//! features (see `Cargo.toml`).

mod bad_input;
mod generic;
mod interop;
mod known_answers;
mod replay;
mod rotation;
mod round_trip;
mod secrets;
mod windows;

#[path = "../support/mod.rs"]
mod support;

pub(crate) use support::*;
