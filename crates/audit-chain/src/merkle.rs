//! The RFC 6962 / RFC 9162 Merkle tree: hashing, an in-memory tree that appends in
//! O(log n) and answers proofs, and proof verification.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::block_api::compress256;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

use crate::error::Error;

/// Domain separation prefix of a leaf hash (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain separation prefix of an interior node hash (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;
/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const SHA256_INIT: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The digest of a finished SHA-256 state.
fn sha256_output(state: [u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// A SHA-256 Merkle tree hash: a leaf hash, an interior node or a root.
///
/// `Display` and [`Hash::to_base64`] give standard base64, the encoding checkpoints and
/// proofs use; `Debug` gives hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64 (with padding), as in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard base64 of exactly 32 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the text is not base64 or not 32 bytes long.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bytes = STANDARD.decode(text).map_err(|_| Error::Invalid)?;
        Self::try_from(bytes.as_slice())
    }

    /// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
    pub fn empty_root() -> Self {
        Self(Sha256::digest(b"").into())
    }

    /// The leaf hash of `data`: SHA-256(0x00 || data).
    ///
    /// The message blocks go straight to the SHA-256 compression function: the blocks
    /// after the first are hashed where they lie in `data`, and the padding is laid out
    /// here (FIPS 180-4 §5.1.1), without the buffering of a streaming hasher.
    pub fn leaf(data: &[u8]) -> Self {
        let mut state = SHA256_INIT;
        let mut block = [0u8; 64];
        block[0] = LEAF_PREFIX;
        let head = data.len().min(63);
        block[1..=head].copy_from_slice(&data[..head]);
        let mut used = 1 + head;
        if used == 64 {
            compress256(&mut state, &[block]);
            let (blocks, tail) = data[head..].as_chunks::<64>();
            compress256(&mut state, blocks);
            block = [0u8; 64];
            block[..tail.len()].copy_from_slice(tail);
            used = tail.len();
        }
        block[used] = 0x80;
        if used >= 56 {
            compress256(&mut state, &[block]);
            block = [0u8; 64];
        }
        let bits = (data.len() as u64 + 1) * 8;
        block[56..].copy_from_slice(&bits.to_be_bytes());
        compress256(&mut state, &[block]);
        Self(sha256_output(state))
    }

    /// The hash of an interior node: SHA-256(0x01 || left || right).
    ///
    /// The 65-byte message and its padding fill exactly two blocks, laid out here and
    /// handed to the compression function in one call.
    pub fn node(left: &Hash, right: &Hash) -> Self {
        let mut blocks = [[0u8; 64]; 2];
        blocks[0][0] = NODE_PREFIX;
        blocks[0][1..33].copy_from_slice(&left.0);
        blocks[0][33..].copy_from_slice(&right.0[..31]);
        blocks[1][0] = right.0[31];
        blocks[1][1] = 0x80;
        blocks[1][56..].copy_from_slice(&(65u64 * 8).to_be_bytes());
        let mut state = SHA256_INIT;
        compress256(&mut state, &blocks);
        Self(sha256_output(state))
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = Error;

    fn try_from(bytes: &[u8]) -> Result<Self, Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::Invalid)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", hex(&self.0))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Constant-time equality of two byte strings, length first.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// A Merkle tree held in memory: every complete subtree hash, level by level, so an
/// append costs O(log n) amortised and the root of any prefix, an inclusion proof or a
/// consistency proof costs O(log n) hashes at most.
///
/// Memory: about 64 bytes per leaf (the leaf hashes and their complete parents).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    /// `levels[k][i]` is the hash of the complete subtree of `2^k` leaves that starts at
    /// leaf `i * 2^k`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub(crate) fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash; completes every subtree it closes.
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(carry);
            if row.len() % 2 == 1 {
                return;
            }
            carry = Hash::node(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The leaf hash at `index`, if the tree holds it.
    pub(crate) fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.first()?.get(index).copied()
    }

    /// The root of the first `size` leaves (`size <= self.size()`).
    pub(crate) fn root_at(&self, size: u64) -> Result<Hash, Error> {
        if size > self.size() {
            return Err(Error::Invalid);
        }
        if size == 0 {
            return Ok(Hash::empty_root());
        }
        Ok(self.range_hash(0, size))
    }

    /// The root of the whole tree.
    pub(crate) fn root(&self) -> Hash {
        match self.size() {
            0 => Hash::empty_root(),
            n => self.range_hash(0, n),
        }
    }

    /// MTH of the `len` leaves starting at `start`, where `start` is a multiple of the
    /// smallest power of two `>= len` (always true inside the RFC 6962 recursion).
    fn range_hash(&self, start: u64, len: u64) -> Hash {
        if len.is_power_of_two() {
            let level = len.trailing_zeros() as usize;
            // In range by construction: the subtree is complete and inside the tree.
            let at = usize::try_from(start >> level).expect("a node the tree holds");
            return self.levels[level][at];
        }
        let k = split_point(len);
        Hash::node(
            &self.range_hash(start, k),
            &self.range_hash(start + k, len - k),
        )
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves
    /// (RFC 6962 §2.1.1 `PATH`).
    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        if index >= size || size > self.size() {
            return Err(Error::Invalid);
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) {
        if n == 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.range_hash(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.range_hash(start, k));
        }
    }

    /// The consistency proof between the first `old` and the first `new` leaves
    /// (RFC 6962 §2.1.2 `PROOF`).
    pub(crate) fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, Error> {
        if old > new || new > self.size() {
            return Err(Error::Invalid);
        }
        let mut proof = Vec::new();
        if old > 0 && old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, n: u64, whole: bool, out: &mut Vec<Hash>) {
        if m == n {
            if !whole {
                out.push(self.range_hash(start, n));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, k, whole, out);
            out.push(self.range_hash(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.range_hash(start, k));
        }
    }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2): `leaf_hash` is leaf `leaf_index` of
/// the tree of `tree_size` leaves whose root is `root`.
///
/// Takes raw bytes so that proofs read from outside (JSON, the network) are checked as
/// they come: every hash must be 32 bytes.
///
/// # Errors
///
/// [`Error::Invalid`] when the proof does not prove it, whatever the reason.
pub fn verify_inclusion<P: AsRef<[u8]>>(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), Error> {
    if leaf_index >= tree_size {
        return Err(Error::Invalid);
    }
    let mut r = Hash::try_from(leaf_hash)?;
    let (mut f_n, mut s_n) = (leaf_index, tree_size - 1);
    for p in proof {
        let p = Hash::try_from(p.as_ref())?;
        if s_n == 0 {
            return Err(Error::Invalid);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = Hash::node(&p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = Hash::node(&r, &p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && same(r.as_bytes(), root) {
        Ok(())
    } else {
        Err(Error::Invalid)
    }
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree of `size1` leaves with root
/// `root1` is a prefix of the tree of `size2` leaves with root `root2`.
///
/// Equal sizes need an empty proof and equal roots; the empty tree's root is SHA-256 of
/// the empty string, and a proof from the empty tree to a larger one proves nothing and
/// is refused.
///
/// # Errors
///
/// [`Error::Invalid`] when the proof does not prove it, whatever the reason.
pub fn verify_consistency<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), Error> {
    if size1 > size2 {
        return Err(Error::Invalid);
    }
    if size1 == size2 {
        let empty = Hash::empty_root();
        let roots_ok = same(root1, root2) && (size1 > 0 || same(root1, empty.as_bytes()));
        return if proof.is_empty() && roots_ok {
            Ok(())
        } else {
            Err(Error::Invalid)
        };
    }
    if size1 == 0 || proof.is_empty() {
        return Err(Error::Invalid);
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(Hash::try_from(root1)?);
    }
    for p in proof {
        path.push(Hash::try_from(p.as_ref())?);
    }
    let (mut f_n, mut s_n) = (size1 - 1, size2 - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return Err(Error::Invalid);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = Hash::node(c, &f_r);
            s_r = Hash::node(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = Hash::node(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && same(f_r.as_bytes(), root1) && same(s_r.as_bytes(), root2) {
        Ok(())
    } else {
        Err(Error::Invalid)
    }
}

/// An inclusion proof: leaf `leaf_index` is in the tree of `tree_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Position of the leaf, from 0.
    pub leaf_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// The audit path, from the leaf up.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf_hash` is in the tree whose root is `root`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when it is not.
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), Error> {
        verify_inclusion(
            self.leaf_index,
            self.tree_size,
            leaf_hash.as_bytes(),
            &self.hashes_as_bytes(),
            root.as_bytes(),
        )
    }

    fn hashes_as_bytes(&self) -> Vec<&[u8]> {
        self.hashes
            .iter()
            .map(|h| h.as_bytes().as_slice())
            .collect()
    }
}

/// A consistency proof: the tree of `old_size` leaves is a prefix of the tree of
/// `new_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The proof hashes.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the tree with root `old_root` is a prefix of the tree with `new_root`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when it is not.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), Error> {
        let hashes: Vec<&[u8]> = self
            .hashes
            .iter()
            .map(|h| h.as_bytes().as_slice())
            .collect();
        verify_consistency(
            self.old_size,
            self.new_size,
            &hashes,
            old_root.as_bytes(),
            new_root.as_bytes(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test sizes are small")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6962 `MTH`, straight from the definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Hash::empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                Hash::node(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| Hash::leaf(&i.to_be_bytes())).collect()
    }

    fn tree(leaves: &[Hash]) -> Tree {
        let mut tree = Tree::new();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    proptest! {
        /// The leaf and node hashes fed to the compression function directly equal
        /// SHA-256 of the same bytes through the streaming hasher, at every length
        /// around the block and padding edges.
        #[test]
        fn direct_hashing_matches_streaming_sha256(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut prefixed = vec![LEAF_PREFIX];
            prefixed.extend_from_slice(&data);
            let want: [u8; 32] = Sha256::digest(&prefixed).into();
            prop_assert_eq!(Hash::leaf(&data).0, want);
        }
    }

    #[test]
    fn leaf_and_node_hashes_at_block_edges() {
        for len in 0..300 {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut prefixed = vec![LEAF_PREFIX];
            prefixed.extend_from_slice(&data);
            let want: [u8; 32] = Sha256::digest(&prefixed).into();
            assert_eq!(Hash::leaf(&data).0, want, "length {len}");
        }
        let left = Hash::leaf(b"left");
        let right = Hash::leaf(b"right");
        let mut message = vec![NODE_PREFIX];
        message.extend_from_slice(&left.0);
        message.extend_from_slice(&right.0);
        let want: [u8; 32] = Sha256::digest(&message).into();
        assert_eq!(Hash::node(&left, &right).0, want);
    }

    /// Roots of the RFC 6962 reference tree for sizes 0..=8, transcribed from
    /// `shared/vectors/rfc6962/README.md` (transparency-dev/merkle).
    #[test]
    fn reference_tree_roots_for_sizes_0_to_8() {
        let inputs: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut tree = Tree::new();
        assert_eq!(hex(tree.root().as_bytes()), roots[0]);
        for (size, input) in inputs.iter().enumerate() {
            tree.push(Hash::leaf(input));
            assert_eq!(
                hex(tree.root().as_bytes()),
                roots[size + 1],
                "size {}",
                size + 1
            );
        }
        for (size, root) in roots.iter().enumerate() {
            assert_eq!(hex(tree.root_at(size as u64).unwrap().as_bytes()), *root);
        }
    }

    #[test]
    fn every_prefix_root_matches_the_definition() {
        let all = leaves(70);
        let tree = tree(&all);
        for n in 0..=70 {
            assert_eq!(
                tree.root_at(n).unwrap(),
                reference_root(&all[..n as usize]),
                "{n}"
            );
        }
        assert!(tree.root_at(71).is_err());
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_and_tampering_fails() {
        let all = leaves(33);
        let tree = tree(&all);
        for size in 1..=33 {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                let proof = InclusionProof {
                    leaf_index: index,
                    tree_size: size,
                    hashes: tree.inclusion_proof(index, size).unwrap(),
                };
                proof.verify(&all[index as usize], &root).unwrap();
                assert!(proof.verify(&Hash::leaf(b"other"), &root).is_err());
                if let Some(first) = proof.hashes.first() {
                    let mut bad = proof.clone();
                    bad.hashes[0] = Hash::node(first, first);
                    assert!(bad.verify(&all[index as usize], &root).is_err());
                }
            }
            for old in 1..=size {
                let proof = ConsistencyProof {
                    old_size: old,
                    new_size: size,
                    hashes: tree.consistency_proof(old, size).unwrap(),
                };
                let old_root = tree.root_at(old).unwrap();
                proof.verify(&old_root, &root).unwrap();
                if old < size {
                    assert!(proof.verify(&Hash::leaf(b"x"), &root).is_err());
                    assert!(proof.verify(&old_root, &Hash::leaf(b"x")).is_err());
                }
            }
        }
    }

    proptest! {
        #[test]
        fn proofs_verify_for_random_shapes(size in 1u64..600, index_seed: u64, old_seed: u64) {
            let all = leaves(size);
            let tree = tree(&all);
            let index = index_seed % size;
            let old = 1 + old_seed % size;
            let root = tree.root();
            prop_assert_eq!(root, reference_root(&all));
            let path = tree.inclusion_proof(index, size).unwrap();
            prop_assert!(verify_inclusion(index, size, all[index as usize].as_bytes(), &path.iter().map(|h| *h.as_bytes()).collect::<Vec<_>>(), root.as_bytes()).is_ok());
            prop_assert!(verify_inclusion(index, size, Hash::leaf(b"other").as_bytes(), &path.iter().map(|h| *h.as_bytes()).collect::<Vec<_>>(), root.as_bytes()).is_err());
            let proof = tree.consistency_proof(old, size).unwrap();
            prop_assert!(verify_consistency(old, size, &proof.iter().map(|h| *h.as_bytes()).collect::<Vec<_>>(), tree.root_at(old).unwrap().as_bytes(), root.as_bytes()).is_ok());
        }
    }
}
