//! The crate's one error type.

/// Why a rate-limit operation could not reach a decision.
///
/// A denied request is not an error: it is a [`Decision`](crate::Decision) whose
/// [`is_allowed`](crate::Decision::is_allowed) is `false`. An `Error` means no decision
/// could be made at all; callers (and the tower layer) then fail open or closed as
/// configured, never silently allow by default.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy's parameters are unusable; the message says what to fix.
    #[error("invalid rate-limit policy: {0}")]
    Policy(String),
    /// A store, rule or layer configuration is unusable; the message says what to fix.
    #[error("invalid rate-limit configuration: {0}")]
    Config(String),
    /// The in-memory store is at its key cap, configured to refuse new keys
    /// ([`WhenFull::Reject`](crate::WhenFull::Reject)), and had no expired key to drop.
    #[error("the rate-limit store is full and refuses new keys")]
    StoreFull,
    /// The backing store (Redis) failed or did not answer in time.
    #[error("the rate-limit store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}
