//! Sealing and opening envelopes for one purpose.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sha2::block_api::compress256;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use crate::binding::{Binding, Purpose, Sink};
use crate::envelope::{COMMITMENT_LEN, Envelope, HEADER_LEN, Header, OVERHEAD, Parts};
use crate::error::{Error, Result};
use crate::keyring::KeyVersion;
use crate::rand::Random;
use crate::xaes::{Backend, NONCE_LEN, XaesKey};

/// Bytes of purpose key HKDF derives per version: the XAES-256-GCM key, then the
/// commitment key.
pub(crate) const PURPOSE_KEY_LEN: usize = XAES_KEY_LEN + COMMIT_KEY_LEN;
/// Bytes of XAES-256-GCM key at the start of a purpose key.
const XAES_KEY_LEN: usize = 32;
/// Bytes of commitment key: one whole SHA-256 block.
const COMMIT_KEY_LEN: usize = 64;

/// The keys of one version for one purpose.
struct VersionKeys {
    /// Encrypts: XAES-256-GCM with the first 32 bytes of the purpose key.
    xaes: XaesKey,
    /// Commits: SHA-256 with the last 64 bytes as its first block, absorbed once.
    commit: CommitKey,
}

impl VersionKeys {
    fn new(okm: &[u8; PURPOSE_KEY_LEN]) -> Self {
        // Borrowed in place: no further copy of either key is made.
        let (Some(enc), Some(commit)) = (
            okm.first_chunk::<XAES_KEY_LEN>(),
            okm.last_chunk::<COMMIT_KEY_LEN>(),
        ) else {
            unreachable!("a purpose key is exactly the two keys side by side");
        };
        Self {
            xaes: XaesKey::new(enc),
            commit: CommitKey::new(commit),
        }
    }
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The key commitment `SHA-256(Kc || header || nonce)` for a 64-byte commitment key
/// `Kc` (`FORMAT.md`, "Why this commitment").
///
/// `Kc` fills SHA-256's first block exactly, so the state after it is computed once per
/// key version, and a commitment is then one SHA-256 compression over header, nonce and
/// padding, laid out here with no buffering or finalisation through the generic `digest`
/// machinery. `tests` checks it against the `sha2` crate's SHA-256, and
/// `tests/vectors.rs` against an independent one. The state is key material: zeroized
/// on drop.
struct CommitKey {
    state: [u32; 8],
}

impl Drop for CommitKey {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

impl CommitKey {
    fn new(key: &[u8; COMMIT_KEY_LEN]) -> Self {
        let mut state = SHA256_IV;
        compress256(&mut state, std::slice::from_ref(key));
        Self { state }
    }

    fn commit(&self, header: &[u8; HEADER_LEN], nonce: &[u8; NONCE_LEN]) -> [u8; COMMITMENT_LEN] {
        const MESSAGE: usize = HEADER_LEN + NONCE_LEN;
        // The block after the key: message, 0x80, zeros, and the bit length of key and
        // message together.
        let mut block = [0u8; 64];
        block[..HEADER_LEN].copy_from_slice(header);
        block[HEADER_LEN..MESSAGE].copy_from_slice(nonce);
        block[MESSAGE] = 0x80;
        block[56..].copy_from_slice(&(((COMMIT_KEY_LEN + MESSAGE) as u64) * 8).to_be_bytes());
        let mut state = self.state;
        compress256(&mut state, std::slice::from_ref(&block));
        let mut out = [0u8; COMMITMENT_LEN];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

// The commitment's block layout needs header and nonce in one block with room for the
// padding.
const _: () = assert!(HEADER_LEN + NONCE_LEN < 56);

/// Seals and opens envelopes for one purpose, under the keys of one keyring.
///
/// Made by [`Keyring::sealer`](crate::Keyring::sealer) (or, for a tenant's data key, by
/// [`TenantKeys`](crate::TenantKeys)). It holds the purpose keys of every version that is
/// not retired, derived once, so sealing and opening do no key derivation beyond
/// XAES-256-GCM's own. It seals under the keyring's primary version and opens envelopes
/// of any version that is primary or decrypt-only.
///
/// Not `Clone` (it holds keys; share it in an `Arc`), `Debug` shows no key, and every
/// key is zeroized on drop.
pub struct Sealer {
    purpose: Purpose,
    primary: KeyVersion,
    /// `None` for a retired version.
    versions: BTreeMap<KeyVersion, Option<VersionKeys>>,
    backend: Backend,
    random: Arc<dyn Random>,
    /// For a tenant's data key: the tenant every binding must name.
    tenant: Option<String>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<_> = self
            .versions
            .iter()
            .map(|(v, keys)| (v.get(), if keys.is_some() { "usable" } else { "retired" }))
            .collect();
        f.debug_struct("Sealer")
            .field("purpose", &self.purpose)
            .field("primary", &self.primary.get())
            .field("versions", &versions)
            .field("backend", &self.backend)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub(crate) fn from_derived(
        purpose: Purpose,
        primary: KeyVersion,
        derived: BTreeMap<KeyVersion, Option<Zeroizing<[u8; PURPOSE_KEY_LEN]>>>,
        random: Arc<dyn Random>,
    ) -> Self {
        let versions = derived
            .into_iter()
            .map(|(v, okm)| (v, okm.map(|okm| VersionKeys::new(&okm))))
            .collect();
        Self {
            purpose,
            primary,
            versions,
            backend: Backend::default(),
            random,
            tenant: None,
        }
    }

    pub(crate) fn for_tenant(mut self, tenant: String) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Uses the given backend for the AES-256-GCM step. The bytes are the same with
    /// every backend; only speed differs.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Uses the given source for nonces instead of [`ThreadRandom`](crate::ThreadRandom)
    /// (a per-thread ChaCha20 generator keyed by the operating system, re-keyed after
    /// `fork`, hedged with the clock).
    ///
    /// [`OsRandom`](crate::OsRandom) makes one `getrandom` system call per seal: slower,
    /// and the choice for a process that is cloned from a running virtual-machine
    /// snapshot. A source that repeats itself (for tests and known-answer vectors only)
    /// reuses nonces, which destroys confidentiality.
    #[must_use]
    pub fn with_random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// The purpose.
    pub fn purpose(&self) -> &Purpose {
        &self.purpose
    }

    /// The version new envelopes are sealed under.
    pub fn primary(&self) -> KeyVersion {
        self.primary
    }

    /// The AES-256-GCM backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Seals `plaintext` under the primary version, bound to this sealer's purpose and
    /// to `binding`, with a fresh random 24-byte nonce.
    ///
    /// The envelope is [`OVERHEAD`](crate::OVERHEAD) (78) bytes longer than the
    /// plaintext.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when no nonce can be drawn; [`Error::Binding`] when the binding
    /// names another tenant than a tenant sealer's, or a field is 4 GiB or longer;
    /// [`Error::MessageTooLong`] above AES-GCM's limit of 64 GiB.
    pub fn seal(&self, plaintext: &[u8], binding: &Binding) -> Result<Envelope> {
        let keys = self.keys(self.primary)?;
        let header = Header::new(self.primary);
        let header_bytes = header.to_bytes();
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce)?;
        let (mut stack, mut heap) = ([0u8; AAD_INLINE], Vec::new());
        let aad = self.aad(&header_bytes, binding, &mut stack, &mut heap)?;

        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.extend_from_slice(&header_bytes);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&keys.commit.commit(&header_bytes, &nonce));
        let body = out.len();
        out.extend_from_slice(plaintext);
        match keys
            .xaes
            .seal_in_place(self.backend, &nonce, aad, &mut out[body..])
        {
            Ok(tag) => out.extend_from_slice(&tag),
            Err(_) => {
                crate::secret::wipe(&mut out);
                return Err(Error::MessageTooLong);
            }
        }
        Ok(Envelope::from_sealed(header, out))
    }

    /// Opens an envelope sealed for this purpose with an equal binding.
    ///
    /// The key commitment is checked, in constant time, before any decryption; then
    /// XAES-256-GCM authenticates and decrypts.
    ///
    /// # Errors
    ///
    /// [`Error::RetiredKey`] when the envelope's version is retired;
    /// [`Error::UnknownKeyVersion`] when the keyring lacks it; [`Error::Invalid`] for
    /// everything else that stops it opening: malformed, truncated, extended or tampered
    /// bytes, another key, another purpose, another binding.
    pub fn open(&self, envelope: impl AsRef<[u8]>, binding: &Binding) -> Result<crate::Plaintext> {
        let parts = Parts::split(envelope.as_ref())?;
        let keys = self.keys(parts.header.key_version())?;
        let expected = keys.commit.commit(parts.header_bytes, parts.nonce);
        if !bool::from(commitments_equal(&expected, parts.commitment)) {
            return Err(Error::Invalid);
        }
        let (mut stack, mut heap) = ([0u8; AAD_INLINE], Vec::new());
        let aad = self.aad(parts.header_bytes, binding, &mut stack, &mut heap)?;
        // Decrypted in place inside the `Plaintext`, so it is zeroized on every path.
        let mut plaintext = crate::Plaintext::new(parts.ciphertext.to_vec());
        keys.xaes
            .open_in_place(
                self.backend,
                parts.nonce,
                aad,
                plaintext.buffer_mut(),
                parts.tag,
            )
            .map_err(|_| Error::Invalid)?;
        Ok(plaintext)
    }

    /// Opens an envelope and seals its plaintext again under the primary version with
    /// the same binding; the plaintext never leaves this function and is zeroized.
    ///
    /// # Errors
    ///
    /// As for [`Sealer::open`] and [`Sealer::seal`].
    pub fn rewrap(&self, envelope: impl AsRef<[u8]>, binding: &Binding) -> Result<Envelope> {
        let plaintext = self.open(envelope, binding)?;
        self.seal(plaintext.as_bytes(), binding)
    }

    /// Whether an envelope was sealed under another version than the primary, from its
    /// header alone (nothing is verified).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the bytes are not an envelope.
    pub fn needs_rewrap(&self, envelope: impl AsRef<[u8]>) -> Result<bool> {
        Ok(Header::peek(envelope.as_ref())?.key_version() != self.primary)
    }

    fn keys(&self, version: KeyVersion) -> Result<&VersionKeys> {
        match self.versions.get(&version) {
            Some(Some(keys)) => Ok(keys),
            Some(None) => Err(Error::RetiredKey(version)),
            None => Err(Error::UnknownKeyVersion(version)),
        }
    }

    /// The associated data, header || canonical(purpose, binding), built in `stack` when
    /// it fits (a header and a binding of a few short fields nearly always does, so
    /// sealing and opening allocate nothing but their output) and in `heap` otherwise.
    fn aad<'a>(
        &self,
        header: &[u8; HEADER_LEN],
        binding: &Binding,
        stack: &'a mut [u8; AAD_INLINE],
        heap: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        // A tenant sealer binds its own tenant, whether or not the binding names it.
        let tenant = match (self.tenant.as_deref(), binding.tenant_id()) {
            (None, named) => named,
            (Some(own), Some(named)) if own != named => {
                return Err(Error::Binding(format!(
                    "the binding names tenant {named:?} but this data key belongs to {own:?}"
                )));
            }
            (Some(own), _) => Some(own),
        };
        let len = HEADER_LEN + binding.encoded_len(&self.purpose, tenant);
        if let Some(buf) = stack.get_mut(..len) {
            let mut cursor = Cursor {
                buf,
                len: 0,
                overflow: false,
            };
            cursor.put(header);
            binding.encode(&self.purpose, tenant, &mut cursor)?;
            // Only a wrong length estimate could leave it short or overflowing; the heap
            // path below stays correct regardless.
            if !cursor.overflow && cursor.len == len {
                return Ok(&stack[..len]);
            }
        }
        heap.clear();
        heap.reserve(len);
        heap.extend_from_slice(header);
        binding.encode(&self.purpose, tenant, heap)?;
        Ok(heap)
    }
}

/// Associated data up to this many bytes is built on the stack.
const AAD_INLINE: usize = 256;

/// Writes the associated data into a stack buffer of exactly its computed length.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl Sink for Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dest) => {
                dest.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
    }
}

/// Compares two commitments in constant time: the XOR of each 64-bit word pair is ORed
/// into one word, with no branch on the data, and only that word goes through `subtle`'s
/// comparison (its byte-slice comparison pays an optimisation barrier per byte).
fn commitments_equal(a: &[u8; COMMITMENT_LEN], b: &[u8; COMMITMENT_LEN]) -> Choice {
    let (a, _) = a.as_chunks::<8>();
    let (b, _) = b.as_chunks::<8>();
    let difference = a.iter().zip(b).fold(0u64, |difference, (x, y)| {
        difference | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    difference.ct_eq(&0)
}

// A commitment is one whole SHA-256 digest.
const _: () = assert!(COMMITMENT_LEN == 32);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xaes::tests::aead_opens;

    fn sealer() -> Sealer {
        let okm = Zeroizing::new([42u8; PURPOSE_KEY_LEN]);
        Sealer::from_derived(
            Purpose::new("test").unwrap(),
            KeyVersion::MIN,
            BTreeMap::from([(KeyVersion::MIN, Some(okm))]),
            Arc::new(crate::OsRandom),
        )
    }

    /// A commitment mismatch stops `open` before AES-GCM runs; a tag mismatch is only
    /// found by AES-GCM. The thread-local counter of AES-GCM decryptions tells the two
    /// apart.
    #[test]
    fn commitment_is_checked_before_the_aead_runs() {
        let sealer = sealer();
        let binding = Binding::new().record("r");
        let envelope = sealer.seal(&[9u8; 64], &binding).unwrap().into_bytes();

        let before = aead_opens();
        assert_eq!(
            sealer.open(&envelope, &binding).unwrap().as_bytes(),
            &[9u8; 64]
        );
        assert_eq!(
            aead_opens(),
            before + 1,
            "a good envelope runs the AEAD once"
        );

        for byte in HEADER_LEN + NONCE_LEN..HEADER_LEN + NONCE_LEN + COMMITMENT_LEN {
            let mut bad = envelope.clone();
            bad[byte] ^= 0x01;
            let before = aead_opens();
            assert!(matches!(sealer.open(&bad, &binding), Err(Error::Invalid)));
            assert_eq!(aead_opens(), before, "commitment byte {byte}: the AEAD ran");
        }

        // Control: a flipped tag byte passes the commitment and is caught by the AEAD.
        let mut bad_tag = envelope.clone();
        *bad_tag.last_mut().unwrap() ^= 0x01;
        let before = aead_opens();
        assert!(matches!(
            sealer.open(&bad_tag, &binding),
            Err(Error::Invalid)
        ));
        assert_eq!(aead_opens(), before + 1);
    }

    /// `CommitKey` clears its own SHA-256 state; HKDF's pseudorandom key and the
    /// blind-index keys live in `sha2` states, which are key material and must be cleared
    /// when they are dropped. That needs `sha2`'s `zeroize` feature (without it the states
    /// stay in freed memory).
    #[test]
    fn sha256_states_are_zeroized_on_drop() {
        fn zeroized_on_drop<T: sha2::digest::zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<sha2::block_api::Sha256VarCore>();
    }

    /// Associated data on the stack and on the heap are the same bytes, and a binding too
    /// long for the stack buffer still seals and opens.
    #[test]
    fn associated_data_is_the_same_inline_and_on_the_heap() {
        let sealer = sealer();
        let header = [1, 1, 0, 0, 0, 1];
        for len in [0usize, 10, 200, 236, 237, 238, 300, 5000] {
            let binding = Binding::new().record("r").pair("long", "x".repeat(len));
            let (mut stack, mut heap) = ([0u8; AAD_INLINE], Vec::new());
            let aad = sealer
                .aad(&header, &binding, &mut stack, &mut heap)
                .unwrap()
                .to_vec();
            let mut expected = header.to_vec();
            binding
                .encode(sealer.purpose(), binding.tenant_id(), &mut expected)
                .unwrap();
            assert_eq!(aad, expected, "{len}");
            assert_eq!(heap.is_empty(), expected.len() <= AAD_INLINE, "{len}");
            let envelope = sealer.seal(b"s", &binding).unwrap();
            assert_eq!(sealer.open(&envelope, &binding).unwrap().as_bytes(), b"s");
        }
    }

    /// A cursor that is handed more than its buffer holds records the overflow instead of
    /// panicking or writing short, and `aad` then builds on the heap.
    #[test]
    fn aad_cursor_reports_overflow() {
        let mut buf = [0u8; 4];
        let mut cursor = Cursor {
            buf: &mut buf,
            len: 0,
            overflow: false,
        };
        cursor.put(&[1, 2, 3]);
        assert!(!cursor.overflow);
        cursor.put(&[4, 5]);
        assert!(cursor.overflow);
        assert_eq!(cursor.len, 3);
    }

    /// The word-wise commitment comparison finds a difference in every byte and bit.
    #[test]
    fn commitments_equal_sees_every_bit() {
        let a = [0x5au8; COMMITMENT_LEN];
        assert!(bool::from(commitments_equal(&a, &a)));
        for byte in 0..COMMITMENT_LEN {
            for bit in 0..8 {
                let mut b = a;
                b[byte] ^= 1 << bit;
                assert!(!bool::from(commitments_equal(&a, &b)), "{byte}.{bit}");
            }
        }
    }

    /// The one-compression commitment is SHA-256 over key, header and nonce: the `sha2`
    /// crate's SHA-256 agrees on every key and every header and nonce tried.
    #[test]
    fn commitment_is_sha256_of_key_header_and_nonce() {
        use sha2::Digest;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state.to_be_bytes()[0]
        };
        for _ in 0..200 {
            let key: [u8; COMMIT_KEY_LEN] = core::array::from_fn(|_| next());
            let header: [u8; HEADER_LEN] = core::array::from_fn(|_| next());
            let nonce: [u8; NONCE_LEN] = core::array::from_fn(|_| next());
            let expected: [u8; 32] = sha2::Sha256::new()
                .chain_update(key)
                .chain_update(header)
                .chain_update(nonce)
                .finalize()
                .into();
            assert_eq!(CommitKey::new(&key).commit(&header, &nonce), expected);
        }
    }

    /// The commitment is the only thing standing between an envelope and a second key:
    /// an envelope whose ciphertext and tag are valid for the XAES key but whose
    /// commitment is another key's is rejected.
    #[test]
    fn a_valid_aead_with_a_foreign_commitment_is_rejected() {
        let sealer = sealer();
        let other = Sealer::from_derived(
            Purpose::new("test").unwrap(),
            KeyVersion::MIN,
            BTreeMap::from([(
                KeyVersion::MIN,
                Some(Zeroizing::new([43u8; PURPOSE_KEY_LEN])),
            )]),
            Arc::new(crate::OsRandom),
        );
        let binding = Binding::new();
        let mut envelope = sealer.seal(b"secret", &binding).unwrap().into_bytes();
        let header: [u8; HEADER_LEN] = envelope[..HEADER_LEN].try_into().unwrap();
        let nonce: [u8; NONCE_LEN] = envelope[HEADER_LEN..HEADER_LEN + NONCE_LEN]
            .try_into()
            .unwrap();
        let foreign = other
            .keys(KeyVersion::MIN)
            .unwrap()
            .commit
            .commit(&header, &nonce);
        envelope[HEADER_LEN + NONCE_LEN..HEADER_LEN + NONCE_LEN + COMMITMENT_LEN]
            .copy_from_slice(&foreign);
        let before = aead_opens();
        assert!(matches!(
            sealer.open(&envelope, &binding),
            Err(Error::Invalid)
        ));
        assert_eq!(aead_opens(), before);
    }
}
