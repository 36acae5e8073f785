//! Where entries and checkpoints live: the [`Store`] trait, queries, and the backends.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::str::FromStr;

use crate::entry::{Entry, Timestamp};
use crate::error::Error;
use crate::event::TenantId;

pub(crate) mod file;
pub(crate) mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// Leaves per [`Store::read`] in the default [`Store::scan`].
const SCAN_BATCH: usize = 4096;

/// An entry ready to store: the decoded entry and its canonical bytes.
#[derive(Debug, Clone)]
pub struct Record {
    entry: Entry,
    leaf: Vec<u8>,
}

impl Record {
    /// Encodes an entry.
    pub fn new(entry: Entry) -> Self {
        let leaf = entry.to_leaf_bytes();
        Self { entry, leaf }
    }

    /// The entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Its canonical bytes, the Merkle leaf.
    pub fn leaf_bytes(&self) -> &[u8] {
        &self.leaf
    }
}

/// Durable storage for tenants' logs: one append-only sequence of leaves and one
/// append-only list of signed checkpoints per tenant.
///
/// A store keeps bytes; it does not judge them. [`crate::AuditLog`] assigns indexes,
/// hashes and signs; [`crate::Verifier`] checks what a store returns. Implementations must
/// refuse an append whose first index is not the tenant's current length
/// ([`Error::Conflict`]), and must never change or drop what they acknowledged.
pub trait Store: Send + Sync + 'static {
    /// Appends `records` (consecutive indexes, the first equal to the tenant's length).
    /// The write may stay buffered until [`Store::sync`].
    fn append(
        &self,
        tenant: &TenantId,
        records: &[Record],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Makes every record appended so far for `tenant` durable. Concurrent callers share
    /// one flush (group commit).
    fn sync(&self, tenant: &TenantId) -> impl Future<Output = Result<(), Error>> + Send;

    /// Up to `max` leaves of `tenant`'s log from index `from`, in log order; fewer (or
    /// none) at the end of the log.
    fn read(
        &self,
        tenant: &TenantId,
        from: u64,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, Error>> + Send;

    /// Hands every leaf of `tenant`'s log from index `from` on to `visit`, in log order,
    /// and returns how many it handed over; stops at the first error `visit` returns.
    ///
    /// This is how a [`crate::Verifier`] reads a whole log. The default reads batches
    /// with [`Store::read`]; a store that can lend its leaves without copying each into
    /// its own buffer should do so.
    fn scan(
        &self,
        tenant: &TenantId,
        from: u64,
        visit: &mut (dyn FnMut(&[u8]) -> Result<(), Error> + Send),
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            let mut next = from;
            loop {
                let batch = self.read(tenant, next, SCAN_BATCH).await?;
                if batch.is_empty() {
                    return Ok(next - from);
                }
                for leaf in &batch {
                    visit(leaf)?;
                }
                next += batch.len() as u64;
            }
        }
    }

    /// Stores a signed checkpoint note of `size` entries, durably.
    fn put_checkpoint(
        &self,
        tenant: &TenantId,
        size: u64,
        note: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Every stored checkpoint note of `tenant`, oldest first.
    fn checkpoints(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// The tenants that have a log in this store, in order.
    fn tenants(&self) -> impl Future<Output = Result<Vec<TenantId>, Error>> + Send;

    /// Runs a query over one tenant's entries.
    fn query(&self, query: &Query) -> impl Future<Output = Result<Page, Error>> + Send;
}

/// Order of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Latest entries first (the default).
    #[default]
    NewestFirst,
    /// Earliest entries first.
    OldestFirst,
}

/// How a query matches action codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFilter {
    /// Exactly this code.
    Exact(String),
    /// This code or any code below it: `auth.login` matches `auth.login`,
    /// `auth.login.succeeded` and `auth.login.failed`, but not `auth.logins`.
    Prefix(String),
}

impl ActionFilter {
    pub(crate) fn matches(&self, code: &str) -> bool {
        match self {
            Self::Exact(exact) => code == exact,
            Self::Prefix(prefix) => {
                code == prefix
                    || code
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }
}

/// Where the previous page ended; pass it to [`Query::after`] for the next page.
///
/// Its text form (`Display` / `FromStr`) is stable, for URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub(crate) u64);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Cursor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        s.parse()
            .map(Self)
            .map_err(|_| Error::input(format!("cursor {s:?}: not a cursor")))
    }
}

/// Largest page a query returns.
pub const MAX_PAGE: u32 = 1000;

/// A query over one tenant's log. Every filter is optional except the tenant, so one
/// tenant's users never see another's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub(crate) tenant: TenantId,
    pub(crate) actor: Option<String>,
    pub(crate) action: Option<ActionFilter>,
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    pub(crate) order: Order,
    pub(crate) limit: u32,
    pub(crate) after: Option<Cursor>,
}

impl Query {
    /// Every entry of `tenant`, newest first, 100 per page.
    #[must_use]
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            actor: None,
            action: None,
            since: None,
            until: None,
            order: Order::NewestFirst,
            limit: 100,
            after: None,
        }
    }

    /// Only entries by this actor.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Only entries whose action matches.
    #[must_use]
    pub fn action(mut self, filter: ActionFilter) -> Self {
        self.action = Some(filter);
        self
    }

    /// Only entries recorded at or after `since`.
    #[must_use]
    pub fn since(mut self, since: Timestamp) -> Self {
        self.since = Some(since);
        self
    }

    /// Only entries recorded before `until`.
    #[must_use]
    pub fn until(mut self, until: Timestamp) -> Self {
        self.until = Some(until);
        self
    }

    /// Result order.
    #[must_use]
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Page size, at most [`MAX_PAGE`] (larger values are capped).
    #[must_use]
    pub fn limit(mut self, limit: NonZeroU32) -> Self {
        self.limit = limit.get().min(MAX_PAGE);
        self
    }

    /// Continue after the page that returned `cursor`.
    #[must_use]
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// True when `entry` passes every filter and lies after the cursor.
    pub(crate) fn matches(&self, entry: &Entry) -> bool {
        let event = entry.event();
        let after_cursor = match (self.after, self.order) {
            (None, _) => true,
            (Some(Cursor(c)), Order::NewestFirst) => entry.index() < c,
            (Some(Cursor(c)), Order::OldestFirst) => entry.index() > c,
        };
        after_cursor
            && event.tenant_id() == &self.tenant
            && self
                .actor
                .as_deref()
                .is_none_or(|a| a == event.actor_name())
            && self
                .action
                .as_ref()
                .is_none_or(|f| f.matches(event.action().code()))
            && self.since.is_none_or(|s| entry.recorded_at() >= s)
            && self.until.is_none_or(|u| entry.recorded_at() < u)
    }

    /// A page from matching entries given in log order (stores without indexes).
    pub(crate) fn page_from_scan(&self, matching: Vec<Entry>) -> Page {
        let limit = self.limit as usize;
        let mut entries = matching;
        if self.order == Order::NewestFirst {
            entries.reverse();
        }
        let more = entries.len() > limit;
        entries.truncate(limit);
        Page::new(entries, more)
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The entries, in the query's order.
    pub entries: Vec<Entry>,
    /// The cursor for the next page; `None` on the last page.
    pub next: Option<Cursor>,
}

impl Page {
    pub(crate) fn new(entries: Vec<Entry>, more: bool) -> Self {
        let next = if more {
            entries.last().map(|e| Cursor(e.index()))
        } else {
            None
        };
        Self { entries, next }
    }
}
