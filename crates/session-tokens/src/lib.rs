#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod cookie;
mod csrf;
mod env;
mod error;
#[cfg(feature = "axum")]
mod extractor;
mod jws;
mod keys;
mod manager;
mod session;
pub mod store;
mod types;

pub use csrf::CsrfGuard;
#[cfg(feature = "tower")]
pub use csrf::{CsrfLayer, CsrfResponseFuture, CsrfService};
pub use env::{Clock, OsRandom, RandomSource, SystemClock};
pub use error::{Error, Reason, Rejection, StoreError};
#[cfg(feature = "axum")]
pub use extractor::SessionRejection;
pub use keys::{Algorithm, KeySet, MIN_HS256_SECRET_LEN, SigningKey, VerifyingKey};
pub use manager::{
    DEFAULT_LEEWAY, DEFAULT_LIFETIME, DEFAULT_TOUCH_INTERVAL, DangerousBuilder, LIST_LIMIT,
    SessionManager, SessionManagerBuilder,
};
pub use session::{Issued, Session, SessionInfo, SessionRequest};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{MemoryStore, SessionStore};
pub use types::{Aal, SessionHandle, SessionToken, TenantId, UserId};
