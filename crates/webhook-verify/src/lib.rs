#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod crypto;
pub mod dangerous;
mod error;
#[cfg(feature = "tower")]
pub mod middleware;
mod replay;
mod scheme;
mod secret;
mod sign;
mod time;
mod verifier;

pub use crate::error::{Error, Rejection};
#[cfg(feature = "tower")]
pub use crate::middleware::{WebhookLayer, WebhookService};
#[cfg(feature = "redis")]
pub use crate::replay::RedisReplayGuard;
pub use crate::replay::{Freshness, MemoryReplayGuard, ReplayGuard};
pub use crate::scheme::{
    Encoding, GenericHmac, GenericHmacBuilder, HmacAlgorithm, SCHEME_NAMES, Scheme,
};
pub use crate::secret::{
    BoxFuture, MIN_HMAC_KEY_LEN, MIN_WHSEC_LEN, MemorySecretSource, Secret, SecretSet,
    SecretSource, SigningSecret,
};
pub use crate::sign::{SignRequest, Signer};
pub use crate::time::{Clock, ManualClock, SystemClock};
pub use crate::verifier::{
    DEFAULT_BODY_LIMIT, DEFAULT_REPLAY_CLOCK_MARGIN, Message, Verified, Verifier, VerifierBuilder,
};

/// Re-exported so callers build [`Message`]s without naming the `http` crate version.
pub use http;
