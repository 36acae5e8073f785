//! Integration tests, in one binary.

mod conformance;
mod enrollment;
mod known_answers;
mod policy;
mod storage;
mod support;
mod webauthn;
