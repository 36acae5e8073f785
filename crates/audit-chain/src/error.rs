//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `audit-chain`.
///
/// Proof and signature checks fail with the opaque [`Error::Invalid`]. A log or export
/// that does not verify fails with [`Error::Verification`], whose reason is meant for the
/// operator or auditor reading it; damage found in a store's files names the file and the
/// byte offset ([`Error::Damaged`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A proof, signature, hash or checkpoint did not verify or could not be parsed.
    #[error("invalid")]
    Invalid,
    /// A log, an export or a checkpoint chain does not verify; the reason says where.
    #[error("{0}")]
    Verification(String),
    /// A store's files are damaged (not a torn tail): the file, the byte offset and what
    /// is wrong there. Never repaired silently.
    #[error("{file}: byte {offset}: {what}")]
    Damaged {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record in that file.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// An event or query was refused: the message names the field and what to fix.
    #[error("{0}")]
    Input(String),
    /// The configuration is unusable: the message says what to fix.
    #[error("configuration: {0}")]
    Config(String),
    /// Another writer appended to the same tenant's log; the append wrote nothing and
    /// may be retried.
    #[error("another writer appended to this log; retry")]
    Conflict,
    /// An earlier write failed part-way, so this handle refuses further appends; reopen
    /// the store to recover.
    #[error("the log refuses appends after a failed write; reopen it")]
    Closed,
    /// The storage backend failed.
    #[error("store: {0}")]
    Store(String),
    /// An I/O error from the file store.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    pub(crate) fn verification(message: impl Into<String>) -> Self {
        Self::Verification(message.into())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
