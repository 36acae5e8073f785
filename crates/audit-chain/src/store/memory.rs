//! The in-memory store: for tests and single-process use; nothing survives the process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Page, Query, Record, Store};
use crate::entry::Entry;
use crate::error::Error;
use crate::event::TenantId;

/// Keeps every tenant's log in memory. Cloning shares the same logs.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    logs: Arc<Mutex<BTreeMap<TenantId, MemoryLog>>>,
}

#[derive(Debug, Default)]
struct MemoryLog {
    leaves: Leaves,
    entries: Vec<Entry>,
    checkpoints: Vec<String>,
}

/// Leaves back to back in one buffer, with where each ends: no allocation per leaf,
/// and a scan reads memory in order.
#[derive(Debug, Default)]
struct Leaves {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Leaves {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn push(&mut self, leaf: &[u8]) {
        self.bytes.extend_from_slice(leaf);
        self.ends.push(self.bytes.len());
    }

    /// Leaves `from..to`; both within `0..=len`.
    fn range(&self, from: usize, to: usize) -> impl Iterator<Item = &[u8]> {
        let mut start = from.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.ends[from..to].iter().map(move |&end| {
            let leaf = &self.bytes[start..end];
            start = end;
            leaf
        })
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<TenantId, MemoryLog>> {
        // A panic while holding the lock cannot leave a log half-appended: every change
        // below is a single push after its checks.
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    async fn append(&self, tenant: &TenantId, records: &[Record]) -> Result<(), Error> {
        let mut logs = self.lock();
        let log = logs.entry(tenant.clone()).or_default();
        for (record, next) in records.iter().zip(log.leaves.len() as u64..) {
            if record.entry().index() != next || record.entry().event().tenant_id() != tenant {
                return Err(Error::Conflict);
            }
        }
        for record in records {
            log.leaves.push(record.leaf_bytes());
            log.entries.push(record.entry().clone());
        }
        Ok(())
    }

    async fn sync(&self, _tenant: &TenantId) -> Result<(), Error> {
        Ok(())
    }

    async fn read(&self, tenant: &TenantId, from: u64, max: usize) -> Result<Vec<Vec<u8>>, Error> {
        let logs = self.lock();
        let Some(log) = logs.get(tenant) else {
            return Ok(Vec::new());
        };
        let from = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(log.leaves.len());
        let to = from.saturating_add(max).min(log.leaves.len());
        Ok(log.leaves.range(from, to).map(<[u8]>::to_vec).collect())
    }

    /// Lends the stored leaves in place, taking the lock for one chunk at a time so that
    /// appends are not held up for a whole scan.
    async fn scan(
        &self,
        tenant: &TenantId,
        from: u64,
        visit: &mut (dyn FnMut(&[u8]) -> Result<(), Error> + Send),
    ) -> Result<u64, Error> {
        const CHUNK: usize = 4096;
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        let mut next = start;
        loop {
            let logs = self.lock();
            let Some(log) = logs.get(tenant) else {
                break;
            };
            let end = log.leaves.len().min(next.saturating_add(CHUNK));
            if next >= end {
                break;
            }
            for leaf in log.leaves.range(next, end) {
                visit(leaf)?;
            }
            next = end;
        }
        Ok((next - start) as u64)
    }

    async fn put_checkpoint(&self, tenant: &TenantId, _size: u64, note: &str) -> Result<(), Error> {
        self.lock()
            .entry(tenant.clone())
            .or_default()
            .checkpoints
            .push(note.to_owned());
        Ok(())
    }

    async fn checkpoints(&self, tenant: &TenantId) -> Result<Vec<String>, Error> {
        Ok(self
            .lock()
            .get(tenant)
            .map(|log| log.checkpoints.clone())
            .unwrap_or_default())
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, Error> {
        Ok(self.lock().keys().cloned().collect())
    }

    async fn query(&self, query: &Query) -> Result<Page, Error> {
        let logs = self.lock();
        let matching = logs
            .get(query.tenant())
            .map(|log| {
                log.entries
                    .iter()
                    .filter(|e| query.matches(e))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(query.page_from_scan(matching))
    }
}
