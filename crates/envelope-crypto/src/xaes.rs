//! XAES-256-GCM (C2SP): AES-256-GCM with 192-bit nonces.
//!
//! The first 12 bytes of the nonce and the key derive a per-message AES-256-GCM key with
//! two AES-256 block encryptions (a NIST SP 800-108 counter-mode KDF over CMAC-AES-256),
//! and AES-256-GCM then runs under that key with the last 12 bytes of the nonce. The
//! per-key work (the AES-256 key schedule and the CMAC subkey `K1`) is done once in
//! [`XaesKey::new`].

use aes::Aes256Enc;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use zeroize::Zeroize;

/// Bytes in an XAES-256-GCM key.
pub(crate) const KEY_LEN: usize = 32;
/// Bytes in an XAES-256-GCM nonce.
pub(crate) const NONCE_LEN: usize = 24;
/// Bytes in an AES-256-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// Which implementation runs the AES-256-GCM step. Both produce identical bytes.
///
/// The backend runs the AES-256-GCM step; [`Backend::AwsLc`] also runs the two AES blocks
/// of the XAES key derivation on CPUs with VAES and AVX-512, where that is faster (the
/// key commitment is SHA-256 from `sha2` on every backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// RustCrypto `aes-gcm`: pure Rust, AES-NI and CLMUL when the CPU has them.
    RustCrypto,
    /// aws-lc-rs (feature `aws-lc`): AWS-LC's assembly, faster on large messages.
    #[cfg(feature = "aws-lc")]
    AwsLc,
}

impl Default for Backend {
    /// The fastest backend compiled in: [`Backend::AwsLc`] with feature `aws-lc`,
    /// otherwise [`Backend::RustCrypto`].
    fn default() -> Self {
        #[cfg(feature = "aws-lc")]
        {
            Self::AwsLc
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            Self::RustCrypto
        }
    }
}

impl Backend {
    /// Every backend compiled into this build.
    pub fn all() -> &'static [Backend] {
        &[
            Self::RustCrypto,
            #[cfg(feature = "aws-lc")]
            Self::AwsLc,
        ]
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::RustCrypto => "RustCrypto",
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => "aws-lc",
        })
    }
}

/// AES-256-GCM over the encrypt-only AES-256 key schedule. GCM never runs AES
/// backwards, and XAES makes a fresh GCM key for every message, so skipping the
/// decryption round keys (`aes-gcm`'s `Aes256Gcm` expands both) saves about half the
/// per-message key setup.
type Gcm = aes_gcm::AesGcm<Aes256Enc, aes_gcm::aead::consts::U12>;

/// An XAES-256-GCM key with its per-key precomputation. Zeroized on drop (the `aes`
/// crate's `zeroize` feature clears the key schedule; aws-lc-rs clears its own).
pub(crate) struct XaesKey {
    aes: Aes256Enc,
    k1: [u8; 16],
    /// The same AES-256 key in AWS-LC, for [`Backend::AwsLc`] on CPUs with VAES and
    /// AVX-512: the derivation's two blocks then run there (see
    /// [`aws_lc_derives_faster`]). `None` elsewhere, or if AWS-LC refused the key; the
    /// `aes` crate then derives (same bytes).
    #[cfg(feature = "aws-lc")]
    lc: Option<aws_lc_rs::cipher::EncryptingKey>,
}

/// Whether AWS-LC's AES beats the `aes` crate on the derivation's two blocks: only where
/// the `aes` crate takes its AVX-512 path (VAES and AVX-512F), which broadcasts all
/// fifteen round keys into 512-bit registers on every call and costs more than the two
/// blocks themselves. Its 256-bit VAES path and its AES-NI path run inline and beat
/// AWS-LC's, which goes through a generic cipher call per block (measured: about 80 ns
/// less per seal plus open, both on a CPU with AES-NI only and on one with 256-bit VAES;
/// on a CPU with VAES and AVX-512 AWS-LC's derivation was the one 70 ns faster).
#[cfg(feature = "aws-lc")]
fn aws_lc_derives_faster() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("vaes")
            && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

impl Drop for XaesKey {
    fn drop(&mut self) {
        self.k1.zeroize();
    }
}

impl XaesKey {
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        #[cfg(feature = "aws-lc")]
        {
            Self::build(key, aws_lc_derives_faster())
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            Self::build(key)
        }
    }

    /// The key, with its derivation for [`Backend::AwsLc`] in AWS-LC when `lc_derives`.
    fn build(key: &[u8; KEY_LEN], #[cfg(feature = "aws-lc")] lc_derives: bool) -> Self {
        let aes = Aes256Enc::new(key.into());
        // L = AES-256_K(0^128); K1 = L << 1, and 0x87 into the last byte if MSB(L) = 1.
        let mut l = aes::Block::default();
        aes.encrypt_block(&mut l);
        let mut k1 = [0u8; 16];
        for i in 0..16 {
            let carry = l.get(i + 1).map_or(0, |next| next >> 7);
            k1[i] = (l[i] << 1) | carry;
        }
        // Branch-free: the mask is 0xff when the top bit of L is set.
        k1[15] ^= 0x87 & 0u8.wrapping_sub(l[0] >> 7);
        l.zeroize();
        Self {
            aes,
            k1,
            #[cfg(feature = "aws-lc")]
            lc: lc_derives
                .then(|| {
                    aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_256, key)
                        .and_then(aws_lc_rs::cipher::EncryptingKey::ecb)
                        .ok()
                })
                .flatten(),
        }
    }

    /// The per-message AES-256-GCM key for `nonce`: AES-256_K(M1 ^ K1) || AES-256_K(M2 ^ K1)
    /// with M_i = 00 0i 58 00 || N[:12], computed by `backend`'s AES.
    pub(crate) fn derive(&self, backend: Backend, nonce: &[u8; NONCE_LEN]) -> MessageKey {
        // The two blocks are built as whole 128-bit words: writing them a byte at a time
        // and then reading them back whole stalls the CPU's store forwarding.
        let mut n = [0u8; 16];
        n[4..].copy_from_slice(&nonce[..12]);
        let base = u128::from_le_bytes(n) ^ u128::from_le_bytes(self.k1);
        let prefix = |counter: u8| {
            u128::from_le_bytes([0, counter, b'X', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        };
        let mut blocks = [
            aes::Block::from((base ^ prefix(1)).to_le_bytes()),
            aes::Block::from((base ^ prefix(2)).to_le_bytes()),
        ];
        #[cfg(feature = "aws-lc")]
        if let (Backend::AwsLc, Some(lc)) = (backend, &self.lc) {
            let mut kx = take_blocks(&mut blocks);
            // ECB over exactly two whole blocks cannot fail; if it ever did, derive
            // again from the start with the `aes` crate.
            if lc.encrypt(kx.0.as_mut_slice()).is_ok() {
                return kx;
            }
            return self.derive(Backend::RustCrypto, nonce);
        }
        let _ = backend; // Only AWS-LC's AES is chosen by backend.
        self.aes.encrypt_blocks(&mut blocks);
        take_blocks(&mut blocks)
    }

    /// XAES-256-GCM encryption of `buf` in place; returns the tag.
    pub(crate) fn seal_in_place(
        &self,
        backend: Backend,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], GcmError> {
        let kx = self.derive(backend, nonce);
        gcm_seal(backend, &kx.0, gcm_nonce(nonce), aad, buf)
    }

    /// XAES-256-GCM decryption of `buf` in place. On error `buf` holds garbage that the
    /// caller must discard (and zeroize).
    pub(crate) fn open_in_place(
        &self,
        backend: Backend,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), GcmError> {
        let kx = self.derive(backend, nonce);
        #[cfg(test)]
        tests::count_aead_open();
        gcm_open(backend, &kx.0, gcm_nonce(nonce), aad, buf, tag)
    }
}

/// Raw XAES-256-GCM with a caller-chosen nonce: no key commitment, no binding, no header.
///
/// This is the bare C2SP primitive, for interoperability checks and known-answer tests.
/// Use [`Sealer`](crate::Sealer) for secrets: it draws the nonce itself, commits to the
/// key and binds the envelope to its owner. With this type the caller must never reuse a
/// nonce under one key (a random 24-byte nonce is safe for any practical number of
/// messages).
pub struct Xaes256Gcm {
    key: XaesKey,
    backend: Backend,
}

impl std::fmt::Debug for Xaes256Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xaes256Gcm")
            .field("key", &"<redacted>")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Xaes256Gcm {
    /// A key for the given backend.
    pub fn new(key: &[u8; 32], backend: Backend) -> Self {
        Self {
            key: XaesKey::new(key),
            backend,
        }
    }

    /// Encrypts `plaintext` with `aad`; returns ciphertext || 16-byte tag.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLong`](crate::Error::MessageTooLong) when the message is longer
    /// than GCM allows (64 GiB).
    pub fn encrypt(
        &self,
        nonce: &[u8; 24],
        plaintext: &[u8],
        aad: &[u8],
    ) -> crate::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        match self.key.seal_in_place(self.backend, nonce, aad, &mut out) {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(out)
            }
            Err(_) => {
                crate::secret::wipe(&mut out);
                Err(crate::Error::MessageTooLong)
            }
        }
    }

    /// Decrypts ciphertext || tag with `aad`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`](crate::Error::Invalid) when the input is shorter than a tag or
    /// does not authenticate.
    pub fn decrypt(
        &self,
        nonce: &[u8; 24],
        ciphertext: &[u8],
        aad: &[u8],
    ) -> crate::Result<crate::Plaintext> {
        let split = ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(crate::Error::Invalid)?;
        let (body, tag) = ciphertext.split_at(split);
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| crate::Error::Invalid)?;
        let mut out = crate::Plaintext::new(body.to_vec());
        self.key
            .open_in_place(self.backend, nonce, aad, out.buffer_mut(), tag)
            .map_err(|_| crate::Error::Invalid)?;
        Ok(out)
    }
}

/// A per-message AES-256-GCM key, zeroized on drop with one bulk write (`Zeroizing`
/// clears an array a byte at a time, and every seal and every open makes one of these).
pub(crate) struct MessageKey([u8; KEY_LEN]);

impl Drop for MessageKey {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

/// Moves two blocks into one 32-byte key, zeroizing them where they were.
fn take_blocks(blocks: &mut [aes::Block; 2]) -> MessageKey {
    let mut kx = MessageKey([0u8; KEY_LEN]);
    kx.0[..16].copy_from_slice(&blocks[0]);
    kx.0[16..].copy_from_slice(&blocks[1]);
    for block in blocks {
        block.as_mut_slice().zeroize();
    }
    kx
}

/// AES-256-GCM failed: a bad tag, or a message too long for GCM.
#[derive(Debug)]
pub(crate) struct GcmError;

fn gcm_nonce(nonce: &[u8; NONCE_LEN]) -> [u8; 12] {
    let mut n = [0u8; 12];
    n.copy_from_slice(&nonce[12..]);
    n
}

/// One AES-256-GCM encryption in place under `key`.
pub(crate) fn gcm_seal(
    backend: Backend,
    key: &[u8; KEY_LEN],
    nonce: [u8; 12],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], GcmError> {
    match backend {
        Backend::RustCrypto => {
            use aes_gcm::aead::AeadInOut;
            let gcm = Gcm::new(key.into());
            let tag = gcm
                .encrypt_inout_detached(&nonce.into(), aad, buf.into())
                .map_err(|_| GcmError)?;
            Ok(tag.into())
        }
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => {
            use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
            let gcm = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| GcmError)?);
            let tag = gcm
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    buf,
                )
                .map_err(|_| GcmError)?;
            tag.as_ref().try_into().map_err(|_| GcmError)
        }
    }
}

/// One AES-256-GCM decryption in place under `key`.
pub(crate) fn gcm_open(
    backend: Backend,
    key: &[u8; KEY_LEN],
    nonce: [u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), GcmError> {
    match backend {
        Backend::RustCrypto => {
            use aes_gcm::aead::AeadInOut;
            let gcm = Gcm::new(key.into());
            gcm.decrypt_inout_detached(&nonce.into(), aad, buf.into(), tag.into())
                .map_err(|_| GcmError)
        }
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => {
            use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
            let gcm = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| GcmError)?);
            gcm.open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                tag,
                buf,
            )
            .map(|_| ())
            .map_err(|_| GcmError)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static AEAD_OPENS: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn count_aead_open() {
        AEAD_OPENS.with(|n| n.set(n.get() + 1));
    }

    /// How many AES-256-GCM decryptions this thread has started. Each test runs on its
    /// own thread, so tests running in parallel do not disturb each other's count.
    pub(crate) fn aead_opens() -> u64 {
        AEAD_OPENS.with(Cell::get)
    }

    fn hex32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn derivation_matches_the_c2sp_intermediate_values() {
        // Vector 1 (MSB of L is 0) and vector 2 (MSB of L is 1) of the C2SP specification.
        for (key, k1, kx) in [
            (
                [1u8; 32],
                "e531954aca063d5b8d9c47a47d4cc6f0",
                "c8612c9ed53fe43e8e005b828a1631a0bbcb6ab2f46514ec4f439fcfd0fa969b",
            ),
            (
                [3u8; 32],
                "23810ec50edb99f374409466ed1f4b7b",
                "e9c621d4cdd9b11b00a6427ad7e559aeedd66b3857646677748f8ca796cb3fd8",
            ),
        ] {
            let xaes = XaesKey::new(&key);
            assert_eq!(hex::encode(xaes.k1), k1);
            for &backend in Backend::all() {
                let derived = xaes.derive(backend, b"ABCDEFGHIJKLMNOPQRSTUVWX");
                assert_eq!(derived.0, hex32(kx), "{backend}");
            }
            // AWS-LC's derivation, whatever this CPU would choose.
            #[cfg(feature = "aws-lc")]
            {
                let xaes = XaesKey::build(&key, true);
                assert!(xaes.lc.is_some());
                let derived = xaes.derive(Backend::AwsLc, b"ABCDEFGHIJKLMNOPQRSTUVWX");
                assert_eq!(derived.0, hex32(kx), "AWS-LC derivation");
            }
        }
    }
}
