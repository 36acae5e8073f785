#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod checkpoint;
mod clock;
mod entry;
mod error;
mod event;
mod log;
mod merkle;
mod store;
mod verify;

pub use crate::checkpoint::{Checkpoint, SignedCheckpoint, SigningKey, VerifyingKey};
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::entry::{ENTRY_VERSION, Entry, Timestamp};
pub use crate::error::{Error, Result};
pub use crate::event::{
    Action, Event, IntegrationChange, MAX_ACTION_LEN, MAX_DETAILS_DEPTH, MAX_DETAILS_LEN,
    MAX_NAME_LEN, MAX_TENANT_LEN, MAX_USER_AGENT_LEN, Outcome, TenantId,
};
pub use crate::log::{
    AuditLog, AuditLogBuilder, DEFAULT_ORIGIN_PREFIX, InclusionEvidence, Receipt, TreeHead,
};
pub use crate::merkle::{
    ConsistencyProof, Hash, InclusionProof, verify_consistency, verify_inclusion,
};
pub use crate::store::file::FileStore;
pub use crate::store::memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use crate::store::postgres::{POSTGRES_MIGRATIONS, PostgresStore};
#[cfg(feature = "sqlite")]
pub use crate::store::sqlite::{SQLITE_MIGRATIONS, SqliteStore};
pub use crate::store::{ActionFilter, Cursor, MAX_PAGE, Order, Page, Query, Record, Store};
pub use crate::verify::{Verified, Verifier};
