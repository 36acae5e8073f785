//! Verification of a whole log or of an export, optionally pinned to a checkpoint seen
//! before.

use std::io::BufRead;

use crate::checkpoint::{Checkpoint, SignedCheckpoint, VerifyingKey, checkpoint_in_note};
use crate::entry::{TIME_LEN, parse_header};
use crate::error::Error;
use crate::event::TenantId;
use crate::merkle::Hash;
use crate::store::Store;

/// Longest export line read, in bytes (an entry is far smaller).
const MAX_LINE: u64 = 1 << 20;

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries in the log or export.
    pub size: u64,
    /// Merkle root of all of them.
    pub root: Hash,
    /// The newest checkpoint that verified, if any: pin it for the next verification.
    pub checkpoint: Option<SignedCheckpoint>,
}

/// Checks a log in a store, or an export, end to end: every leaf is recomputed into the
/// Merkle root, every leaf sits at the index it claims, belongs to the log's tenant and
/// is not recorded before the leaf before it, and every checkpoint matches the root of
/// the prefix it covers.
///
/// With a public key, checkpoint signatures are checked too (an export always needs
/// one). With a pinned checkpoint (the last one this verifier's owner accepted), a log or
/// export that is shorter than it or disagrees with it on its prefix is refused: that is
/// a rollback or a rewrite.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    key: Option<VerifyingKey>,
    pinned: Option<Checkpoint>,
}

impl Verifier {
    /// A verifier without a public key: it checks the structure, the roots and the
    /// stored checkpoints' roots, but cannot check who signed them.
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier that also checks checkpoint signatures with `key`.
    pub fn with_key(key: VerifyingKey) -> Self {
        Self {
            key: Some(key),
            pinned: None,
        }
    }

    /// Pins a checkpoint accepted earlier: anything not consistent with it is refused.
    #[must_use]
    pub fn pin(mut self, checkpoint: Checkpoint) -> Self {
        self.pinned = Some(checkpoint);
        self
    }

    fn parse_note(&self, note: &str) -> Result<SignedCheckpoint, Error> {
        match &self.key {
            Some(key) => SignedCheckpoint::verify(note, key),
            None => checkpoint_in_note(note)
                .map(|cp| SignedCheckpoint::from_trusted_parts(cp, note.to_owned())),
        }
    }

    /// Verifies `tenant`'s log in `store`.
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] saying what does not verify; [`Error::Damaged`] or a store
    /// error when the store cannot be read.
    pub async fn verify_log<S: Store>(
        &self,
        store: &S,
        tenant: &TenantId,
    ) -> Result<Verified, Error> {
        let mut checkpoints = Vec::new();
        for (i, note) in store.checkpoints(tenant).await?.iter().enumerate() {
            let signed = self.parse_note(note).map_err(|_| {
                Error::verification(format!("stored checkpoint {i} does not verify"))
            })?;
            if origin_tenant(signed.checkpoint())? != *tenant {
                return Err(Error::verification(format!(
                    "stored checkpoint {i} names another log: {}",
                    signed.checkpoint().origin()
                )));
            }
            checkpoints.push(signed);
        }
        let mut walk = Walk::new(tenant, self.targets(&checkpoints));
        store
            .scan(tenant, 0, &mut |leaf: &[u8]| walk.push(leaf))
            .await?;
        self.finish(walk, tenant, checkpoints)
    }

    /// Verifies an export (JSON Lines, one leaf per line, each ending in `\n`) against a
    /// signed checkpoint that covers exactly its entries.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without a public key; [`Error::Verification`] saying what does
    /// not verify; [`Error::Io`] when reading fails.
    pub fn verify_export<R: BufRead>(
        &self,
        mut export: R,
        checkpoint_note: &str,
    ) -> Result<Verified, Error> {
        if self.key.is_none() {
            return Err(Error::Config(
                "verifying an export needs the log's public key".into(),
            ));
        }
        let signed = self
            .parse_note(checkpoint_note)
            .map_err(|_| Error::verification("the checkpoint's signature does not verify"))?;
        let tenant = origin_tenant(signed.checkpoint())?;
        let mut walk = Walk::new(&tenant, self.targets(std::slice::from_ref(&signed)));
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = std::io::Read::take(&mut export, MAX_LINE).read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            let Some(leaf) = line.strip_suffix(b"\n") else {
                return Err(Error::verification(format!(
                    "line {}: not a complete line",
                    walk.frontier.size + 1
                )));
            };
            walk.push(leaf)?;
        }
        if walk.frontier.size != signed.checkpoint().size() {
            return Err(Error::verification(format!(
                "the export holds {} entries but the checkpoint covers {}",
                walk.frontier.size,
                signed.checkpoint().size()
            )));
        }
        self.finish(walk, &tenant, vec![signed])
    }

    fn targets(&self, checkpoints: &[SignedCheckpoint]) -> Vec<u64> {
        let mut sizes: Vec<u64> = checkpoints.iter().map(|c| c.checkpoint().size()).collect();
        sizes.extend(self.pinned.as_ref().map(Checkpoint::size));
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    fn finish(
        &self,
        walk: Walk,
        tenant: &TenantId,
        checkpoints: Vec<SignedCheckpoint>,
    ) -> Result<Verified, Error> {
        let size = walk.frontier.size;
        for (i, signed) in checkpoints.iter().enumerate() {
            let cp = signed.checkpoint();
            let root = walk.root_at(cp.size()).ok_or_else(|| {
                Error::verification(format!(
                    "the log holds {size} entries, fewer than the {} of checkpoint {i}: truncated",
                    cp.size()
                ))
            })?;
            if root != cp.root() {
                return Err(Error::verification(format!(
                    "the root of the first {} entries does not match checkpoint {i}: entries were changed",
                    cp.size()
                )));
            }
        }
        if let Some(pinned) = &self.pinned {
            if origin_tenant(pinned)? != *tenant {
                return Err(Error::verification(format!(
                    "the trusted checkpoint is for another log: {}",
                    pinned.origin()
                )));
            }
            let root = walk.root_at(pinned.size()).ok_or_else(|| {
                Error::verification(format!(
                    "rolled back: {size} entries, fewer than the {} of the trusted checkpoint",
                    pinned.size()
                ))
            })?;
            if root != pinned.root() {
                return Err(Error::verification(format!(
                    "rewritten: the first {} entries do not match the trusted checkpoint",
                    pinned.size()
                )));
            }
        }
        Ok(Verified {
            size,
            root: walk.frontier.root(),
            checkpoint: checkpoints
                .into_iter()
                .max_by_key(|c| c.checkpoint().size()),
        })
    }
}

/// The tenant a checkpoint's origin names: the part after the last `/`.
pub(crate) fn origin_tenant(checkpoint: &Checkpoint) -> Result<TenantId, Error> {
    let name = checkpoint
        .origin()
        .rsplit_once('/')
        .map_or(checkpoint.origin(), |(_, t)| t);
    TenantId::new(name).map_err(|_| {
        Error::verification(format!(
            "checkpoint origin {:?} does not name a tenant",
            checkpoint.origin()
        ))
    })
}

/// One pass over the leaves in order: checks each and folds it into the root, keeping
/// the roots at the sizes that must be compared.
struct Walk {
    tenant: Vec<u8>,
    frontier: Frontier,
    previous_time: Option<[u8; TIME_LEN]>,
    /// Sorted, without duplicates.
    targets: Vec<u64>,
    next_target: usize,
    roots: Vec<(u64, Hash)>,
}

impl Walk {
    fn new(tenant: &TenantId, targets: Vec<u64>) -> Self {
        let mut walk = Self {
            tenant: tenant.as_str().as_bytes().to_vec(),
            frontier: Frontier::default(),
            previous_time: None,
            targets,
            next_target: 0,
            roots: Vec::new(),
        };
        walk.record();
        walk
    }

    fn push(&mut self, leaf: &[u8]) -> Result<(), Error> {
        let position = self.frontier.size;
        check_leaf(leaf, position, &self.tenant, &mut self.previous_time)?;
        self.frontier.push(Hash::leaf(leaf));
        self.record();
        Ok(())
    }

    /// Keeps the root when the size is the next target (sizes only grow, one at a time,
    /// and the targets are sorted, so the front of the list is the only one to check).
    fn record(&mut self) {
        let size = self.frontier.size;
        if self.targets.get(self.next_target) == Some(&size) {
            self.roots.push((size, self.frontier.root()));
            self.next_target += 1;
        }
    }

    fn root_at(&self, size: u64) -> Option<Hash> {
        self.roots.iter().find(|(s, _)| *s == size).map(|(_, r)| *r)
    }
}

/// Checks what a verifier can check on a leaf without decoding it: its canonical
/// header, its index, its tenant and that its time does not go backwards.
pub(crate) fn check_leaf(
    leaf: &[u8],
    position: u64,
    tenant: &[u8],
    previous_time: &mut Option<[u8; TIME_LEN]>,
) -> Result<(), Error> {
    let header = parse_header(leaf)
        .ok_or_else(|| Error::verification(format!("entry {position}: not a canonical entry")))?;
    if header.index != position {
        return Err(Error::verification(format!(
            "entry {position} claims index {}: entries were removed, inserted or reordered",
            header.index
        )));
    }
    if header.tenant != tenant {
        return Err(Error::verification(format!(
            "entry {position} belongs to another tenant"
        )));
    }
    if previous_time.as_ref().is_some_and(|p| header.time < p) {
        return Err(Error::verification(format!(
            "entry {position} is recorded before the entry before it"
        )));
    }
    *previous_time = Some(*header.time);
    Ok(())
}

/// The right edge of a Merkle tree: one complete subtree hash per set bit of the size.
/// Enough to append in O(1) amortised and compute the root in O(log n), in O(log n)
/// memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            if let Some(left) = self.peaks.pop() {
                carry = Hash::node(&left, &carry);
            }
            size >>= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    pub(crate) fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return Hash::empty_root();
        };
        peaks.fold(*last, |right, left| Hash::node(left, &right))
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test sizes are small")]
mod tests {
    use super::*;
    use crate::merkle::Tree;

    #[test]
    fn frontier_roots_match_the_tree() {
        let mut tree = Tree::new();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), Hash::empty_root());
        for i in 0u64..300 {
            let leaf = Hash::leaf(&i.to_le_bytes());
            tree.push(leaf);
            frontier.push(leaf);
            assert_eq!(frontier.root(), tree.root(), "{i}");
        }
    }
}
