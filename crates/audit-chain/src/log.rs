//! [`AuditLog`]: appends events, keeps each tenant's Merkle tree, signs checkpoints and
//! answers proofs.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::checkpoint::{Checkpoint, SignedCheckpoint, SigningKey, checkpoint_in_note};
use crate::clock::{Clock, SystemClock};
use crate::entry::{Entry, Timestamp};
use crate::error::Error;
use crate::event::{Event, TenantId};
use crate::merkle::{ConsistencyProof, Hash, InclusionProof, Tree};
use crate::store::{Page, Query, Record, Store};
use crate::verify::check_leaf;

/// Default origin prefix: a tenant's checkpoints name `palisade-audit/<tenant>`.
pub const DEFAULT_ORIGIN_PREFIX: &str = "palisade-audit";
/// Leaves read from the store per batch when a tenant's tree is loaded.
const LOAD_BATCH: usize = 4096;
/// Attempts of an append that loses races with other writers of the same log (other
/// instances on one database). Each lost race means another writer appended meanwhile,
/// and reads only the entries it wrote, so an append keeps trying while the log moves
/// on under it (a writer that won once may win many times in a row: its view is the
/// fresh one); the bound only stops a store that keeps refusing for another reason.
const CONFLICT_RETRIES: usize = 1_000;

/// What the log assigned to an appended event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Position in the tenant's log.
    pub index: u64,
    /// The recorded time.
    pub recorded_at: Timestamp,
    /// The Merkle leaf hash of the entry's canonical bytes.
    pub leaf_hash: Hash,
}

/// A tree size and its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// Merkle root of those entries.
    pub root: Hash,
}

/// An inclusion proof with the hashes it links: what `palisade audit prove` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionEvidence {
    /// The proof.
    pub proof: InclusionProof,
    /// The entry's leaf hash.
    pub leaf_hash: Hash,
    /// The root of the tree of `proof.tree_size` entries.
    pub root: Hash,
}

/// When the log signs checkpoints by itself.
#[derive(Debug, Clone, Copy, Default)]
struct CheckpointPolicy {
    every_entries: Option<NonZeroU64>,
    interval: Option<Duration>,
}

struct TenantState {
    tree: Tree,
    last_time: Option<Timestamp>,
    checkpointed_size: u64,
    checkpointed_at: Timestamp,
}

type Slot = Arc<tokio::sync::Mutex<Option<TenantState>>>;

struct Inner<S, C> {
    store: S,
    clock: C,
    signer: Option<SigningKey>,
    policy: CheckpointPolicy,
    origin_prefix: String,
    tenants: Mutex<HashMap<TenantId, Slot>>,
}

/// A tamper-evident audit log over a [`Store`]: one Merkle tree per tenant.
///
/// The log assigns each event its index (the next position in its tenant's log) and its
/// recorded time (the clock's time, or the previous entry's if the clock went back),
/// writes the entry's canonical bytes to the store, and returns once the store has made
/// them durable. Each tenant's tree is loaded from the store on first use and checked on
/// the way: every leaf must sit at the index it claims and every stored checkpoint must
/// match, or the tenant's log refuses to open.
///
/// Cloning is cheap and shares the log.
pub struct AuditLog<S, C = SystemClock> {
    inner: Arc<Inner<S, C>>,
}

impl<S, C> Clone for AuditLog<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S, C> std::fmt::Debug for AuditLog<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("origin_prefix", &self.inner.origin_prefix)
            .field("signer", &self.inner.signer)
            .finish_non_exhaustive()
    }
}

/// Configures an [`AuditLog`].
#[must_use]
pub struct AuditLogBuilder<S, C> {
    store: S,
    clock: C,
    signer: Option<SigningKey>,
    policy: CheckpointPolicy,
    origin_prefix: String,
}

impl<S: Store> AuditLog<S, SystemClock> {
    /// Starts configuring a log over `store`, with the system clock, no signing key and
    /// origins `palisade-audit/<tenant>`.
    pub fn builder(store: S) -> AuditLogBuilder<S, SystemClock> {
        AuditLogBuilder {
            store,
            clock: SystemClock,
            signer: None,
            policy: CheckpointPolicy::default(),
            origin_prefix: DEFAULT_ORIGIN_PREFIX.to_owned(),
        }
    }
}

impl<S: Store, C: Clock> AuditLogBuilder<S, C> {
    /// Uses another clock (tests use [`crate::ManualClock`]).
    pub fn clock<C2: Clock>(self, clock: C2) -> AuditLogBuilder<S, C2> {
        AuditLogBuilder {
            store: self.store,
            clock,
            signer: self.signer,
            policy: self.policy,
            origin_prefix: self.origin_prefix,
        }
    }

    /// The key that signs checkpoints.
    pub fn signer(mut self, key: SigningKey) -> Self {
        self.signer = Some(key);
        self
    }

    /// Signs a checkpoint by itself once `n` entries have been appended since the last.
    pub fn checkpoint_every(mut self, n: NonZeroU64) -> Self {
        self.policy.every_entries = Some(n);
        self
    }

    /// Signs a checkpoint by itself on an append when the last one is older than
    /// `interval`; call [`AuditLog::checkpoint_due`] from a timer to cover idle periods.
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.policy.interval = Some(interval);
        self
    }

    /// Origin prefix: checkpoints name `<prefix>/<tenant>`.
    pub fn origin_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.origin_prefix = prefix.into();
        self
    }

    /// Builds the log.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when a checkpoint policy is set without a signing key, or the
    /// origin prefix is unusable.
    pub fn build(self) -> Result<AuditLog<S, C>, Error> {
        let policy_set = self.policy.every_entries.is_some() || self.policy.interval.is_some();
        if policy_set && self.signer.is_none() {
            return Err(Error::Config(
                "automatic checkpoints need a signing key: call .signer(...)".into(),
            ));
        }
        Checkpoint::new(format!("{}/x", self.origin_prefix), 0, Hash::empty_root()).map_err(
            |_| {
                Error::Config(format!(
                    "origin prefix {:?}: must be non-empty, without spaces or '+'",
                    self.origin_prefix
                ))
            },
        )?;
        if self.origin_prefix.is_empty() {
            return Err(Error::Config("origin prefix: must be non-empty".into()));
        }
        Ok(AuditLog {
            inner: Arc::new(Inner {
                store: self.store,
                clock: self.clock,
                signer: self.signer,
                policy: self.policy,
                origin_prefix: self.origin_prefix,
                tenants: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl<S: Store, C: Clock> AuditLog<S, C> {
    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The checkpoint origin of `tenant`'s log: `<prefix>/<tenant>`.
    pub fn origin(&self, tenant: &TenantId) -> String {
        format!("{}/{tenant}", self.inner.origin_prefix)
    }

    fn slot(&self, tenant: &TenantId) -> Slot {
        let mut tenants = self
            .inner
            .tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(tenants.entry(tenant.clone()).or_default())
    }

    async fn load(&self, tenant: &TenantId) -> Result<TenantState, Error> {
        let store = &self.inner.store;
        let mut tree = Tree::new();
        let mut previous_time = None;
        let tenant_bytes = tenant.as_str().as_bytes();
        let mut last_leaf = None;
        // Checkpoints before entries: another instance may append and sign while this one
        // reads, and a checkpoint read after the entries could cover entries not yet read.
        let checkpoints = store.checkpoints(tenant).await?;
        loop {
            let batch = store.read(tenant, tree.size(), LOAD_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for leaf in &batch {
                check_leaf(leaf, tree.size(), tenant_bytes, &mut previous_time)?;
                tree.push(Hash::leaf(leaf));
            }
            last_leaf = batch.into_iter().last();
        }
        let mut checkpointed_size = 0;
        for (i, note) in checkpoints.iter().enumerate() {
            let checkpoint = checkpoint_in_note(note).map_err(|_| {
                Error::verification(format!("stored checkpoint {i} is not a checkpoint"))
            })?;
            if checkpoint.origin() != self.origin(tenant) {
                return Err(Error::verification(format!(
                    "stored checkpoint {i} names another log: {}",
                    checkpoint.origin()
                )));
            }
            if tree.root_at(checkpoint.size()).ok() != Some(checkpoint.root()) {
                return Err(Error::verification(format!(
                    "the log of {tenant} holds {} entries and does not match its checkpoint {i} of {} entries",
                    tree.size(),
                    checkpoint.size()
                )));
            }
            checkpointed_size = checkpointed_size.max(checkpoint.size());
        }
        let last_time = match last_leaf {
            Some(leaf) => Some(Entry::from_leaf_bytes(&leaf)?.recorded_at()),
            None => None,
        };
        tracing::debug!(tenant = %tenant, size = tree.size(), "audit log loaded");
        Ok(TenantState {
            tree,
            last_time,
            checkpointed_size,
            checkpointed_at: self.inner.clock.now(),
        })
    }

    async fn with_state<T>(
        &self,
        tenant: &TenantId,
        f: impl AsyncFnOnce(&mut TenantState) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let slot = self.slot(tenant);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = Some(self.load(tenant).await?);
        }
        let Some(state) = guard.as_mut() else {
            return Err(Error::Closed);
        };
        let result = f(state).await;
        let keep = match &result {
            // Another writer appended first: read what it wrote, a short tail, rather
            // than the whole log again. Anything else (the store holds less, a read
            // fails, the tail does not check) reloads on next use.
            Err(Error::Conflict) => matches!(self.catch_up(tenant, state).await, Ok(true)),
            Err(Error::Closed | Error::Io(_) | Error::Store(_)) => false,
            _ => true,
        };
        if !keep {
            *guard = None;
        }
        result
    }

    /// Adds to `state` the entries other writers appended after its end, each checked
    /// as [`AuditLog::load`] checks them; whether there were any.
    async fn catch_up(&self, tenant: &TenantId, state: &mut TenantState) -> Result<bool, Error> {
        let tenant_bytes = tenant.as_str().as_bytes();
        let mut previous_time = state
            .last_time
            .and_then(|time| time.to_string().as_bytes().try_into().ok());
        let start = state.tree.size();
        loop {
            let batch = self
                .inner
                .store
                .read(tenant, state.tree.size(), LOAD_BATCH)
                .await?;
            let Some(last) = batch.last() else {
                break;
            };
            for leaf in &batch {
                check_leaf(leaf, state.tree.size(), tenant_bytes, &mut previous_time)?;
                state.tree.push(Hash::leaf(leaf));
            }
            state.last_time = Some(Entry::from_leaf_bytes(last)?.recorded_at());
        }
        Ok(state.tree.size() > start)
    }

    /// Appends one event; returns once it is durable.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the event breaks a limit; [`Error::Verification`] when the
    /// tenant's stored log does not verify; store errors.
    pub async fn append(&self, event: Event) -> Result<Receipt, Error> {
        let mut receipts = self.append_batch(vec![event]).await?;
        receipts.pop().ok_or(Error::Closed)
    }

    /// Appends events of one tenant in order, as one write and one flush (group
    /// commit); returns once all are durable. Nothing is written unless every event is
    /// valid.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::append`]; [`Error::Input`] when the events name several tenants.
    pub async fn append_batch(&self, events: Vec<Event>) -> Result<Vec<Receipt>, Error> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let tenant = first.tenant_id().clone();
        for (i, event) in events.iter().enumerate() {
            event
                .validate()
                .map_err(|e| Error::input(format!("event {i}: {e}")))?;
            if event.tenant_id() != &tenant {
                return Err(Error::input(format!(
                    "event {i}: a batch must hold one tenant's events ({tenant}, not {})",
                    event.tenant_id()
                )));
            }
        }
        let mut attempt = 0;
        let receipts = loop {
            attempt += 1;
            let result = self
                .with_state(&tenant, async |state| {
                    let now = self.inner.clock.now();
                    let time = state.last_time.map_or(now, |last| now.max(last));
                    let start = state.tree.size();
                    let records: Vec<Record> = events
                        .iter()
                        .zip(start..)
                        .map(|(event, index)| {
                            Record::new(Entry {
                                index,
                                recorded_at: time,
                                event: event.clone(),
                            })
                        })
                        .collect();
                    self.inner.store.append(&tenant, &records).await?;
                    let mut receipts = Vec::with_capacity(records.len());
                    for record in &records {
                        let leaf_hash = Hash::leaf(record.leaf_bytes());
                        state.tree.push(leaf_hash);
                        receipts.push(Receipt {
                            index: record.entry().index(),
                            recorded_at: time,
                            leaf_hash,
                        });
                    }
                    state.last_time = Some(time);
                    Ok(receipts)
                })
                .await;
            match result {
                Err(Error::Conflict) if attempt < CONFLICT_RETRIES => continue,
                other => break other?,
            }
        };
        // Durability outside the tenant lock: concurrent appenders queue their writes
        // meanwhile and share the next flush.
        if let Err(err) = self.inner.store.sync(&tenant).await {
            self.forget(&tenant).await;
            return Err(err);
        }
        // The entries are durable: the append has succeeded, whatever becomes of the
        // checkpoint it makes due (an error here would have the caller append them
        // again). A checkpoint that fails stays due: the next append or
        // `checkpoint_due` signs it.
        if let Err(err) = self.checkpoint_if_due(&tenant).await {
            tracing::warn!(tenant = %tenant, error = %err, "automatic checkpoint failed; it stays due");
        }
        Ok(receipts)
    }

    async fn forget(&self, tenant: &TenantId) {
        *self.slot(tenant).lock().await = None;
    }

    async fn checkpoint_if_due(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<SignedCheckpoint>, Error> {
        let policy = self.inner.policy;
        if self.inner.signer.is_none() {
            return Ok(None);
        }
        let now = self.inner.clock.now();
        let due = self
            .with_state(tenant, async |state| {
                let pending = state.tree.size() - state.checkpointed_size;
                let by_count = policy.every_entries.is_some_and(|n| pending >= n.get());
                let by_time = policy.interval.is_some_and(|t| {
                    let age = now.unix_micros() - state.checkpointed_at.unix_micros();
                    pending > 0 && u128::try_from(age).unwrap_or(0) >= t.as_micros()
                });
                Ok(by_count || by_time)
            })
            .await?;
        if due {
            self.checkpoint(tenant).await.map(Some)
        } else {
            Ok(None)
        }
    }

    /// Signs checkpoints for every tenant used by this log whose last checkpoint is due
    /// under the configured policy; call it from a timer so idle logs get checkpoints too.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn checkpoint_due(&self) -> Result<Vec<SignedCheckpoint>, Error> {
        let tenants: Vec<TenantId> = self
            .inner
            .tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect();
        let mut signed = Vec::new();
        for tenant in tenants {
            signed.extend(self.checkpoint_if_due(&tenant).await?);
        }
        Ok(signed)
    }

    /// Makes everything appended durable, then signs and stores a checkpoint of
    /// `tenant`'s current tree.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without a signing key; store errors.
    pub async fn checkpoint(&self, tenant: &TenantId) -> Result<SignedCheckpoint, Error> {
        let Some(signer) = &self.inner.signer else {
            return Err(Error::Config(
                "signing a checkpoint needs a signing key".into(),
            ));
        };
        let origin = self.origin(tenant);
        self.with_state(tenant, async |state| {
            self.inner.store.sync(tenant).await?;
            let size = state.tree.size();
            let checkpoint = Checkpoint::new(origin, size, state.tree.root())?;
            let signed = signer.sign(&checkpoint);
            self.inner
                .store
                .put_checkpoint(tenant, size, signed.as_str())
                .await?;
            state.checkpointed_size = size;
            state.checkpointed_at = self.inner.clock.now();
            tracing::info!(tenant = %tenant, size, "audit checkpoint signed");
            Ok(signed)
        })
        .await
    }

    /// The newest stored checkpoint note of `tenant`, as stored.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn latest_checkpoint(&self, tenant: &TenantId) -> Result<Option<String>, Error> {
        Ok(self.inner.store.checkpoints(tenant).await?.pop())
    }

    /// The current size and root of `tenant`'s tree.
    ///
    /// # Errors
    ///
    /// As loading the tenant's log.
    pub async fn tree_head(&self, tenant: &TenantId) -> Result<TreeHead, Error> {
        self.with_state(tenant, async |state| {
            Ok(TreeHead {
                size: state.tree.size(),
                root: state.tree.root(),
            })
        })
        .await
    }

    /// Proves entry `index` is in the tree of the first `size` entries (the current
    /// tree when `None`).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `index` or `size` is beyond the log.
    pub async fn prove(
        &self,
        tenant: &TenantId,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionEvidence, Error> {
        self.with_state(tenant, async |state| {
            let size = size.unwrap_or(state.tree.size());
            let out_of_range = || {
                Error::input(format!(
                    "index {index} in a tree of {size}: the log of {tenant} holds {} entries",
                    state.tree.size()
                ))
            };
            let hashes = state
                .tree
                .inclusion_proof(index, size)
                .map_err(|_| out_of_range())?;
            Ok(InclusionEvidence {
                proof: InclusionProof {
                    leaf_index: index,
                    tree_size: size,
                    hashes,
                },
                leaf_hash: state.tree.leaf(index).ok_or_else(out_of_range)?,
                root: state.tree.root_at(size).map_err(|_| out_of_range())?,
            })
        })
        .await
    }

    /// Proves the tree of the first `old` entries is a prefix of the tree of the first
    /// `new` entries.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `old > new` or `new` is beyond the log.
    pub async fn prove_consistency(
        &self,
        tenant: &TenantId,
        old: u64,
        new: u64,
    ) -> Result<ConsistencyProof, Error> {
        self.with_state(tenant, async |state| {
            let hashes = state.tree.consistency_proof(old, new).map_err(|_| {
                Error::input(format!(
                    "sizes {old}..{new}: the log of {tenant} holds {} entries",
                    state.tree.size()
                ))
            })?;
            Ok(ConsistencyProof {
                old_size: old,
                new_size: new,
                hashes,
            })
        })
        .await
    }

    /// Up to `max` decoded entries of `tenant` from index `from`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when a stored leaf does not decode; store errors.
    pub async fn entries(
        &self,
        tenant: &TenantId,
        from: u64,
        max: usize,
    ) -> Result<Vec<Entry>, Error> {
        let leaves = self.inner.store.read(tenant, from, max).await?;
        leaves.iter().map(|l| Entry::from_leaf_bytes(l)).collect()
    }

    /// Runs a query.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn query(&self, query: &Query) -> Result<Page, Error> {
        self.inner.store.query(query).await
    }
}
