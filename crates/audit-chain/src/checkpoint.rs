//! Checkpoints (C2SP tlog-checkpoint) signed as C2SP signed notes with Ed25519.
//!
//! A checkpoint is three lines: the origin (which log), the tree size in decimal and the
//! root hash in standard base64. A signed note is the text, a blank line, and one line
//! per signature: `— <key name> <base64(key id || signature)>`, where the key id is the
//! first four bytes of SHA-256(key name || `\n` || 0x01 || public key).
//!
//! Keys use the signed-note text forms: `<name>+<key id hex>+<base64(0x01 || public key)>`
//! for a verifier key and `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>` for a
//! signer key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

use crate::error::Error;
use crate::merkle::{Hash, hex};

/// Signature algorithm byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// The signature line prefix: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Most signature lines a note may carry.
const MAX_SIGNATURES: usize = 100;
/// Largest note this crate parses, in bytes.
const MAX_NOTE_LEN: usize = 64 * 1024;

fn check_key_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '+') {
        return Err(Error::Config(format!(
            "key name {name:?}: must be non-empty, without spaces or '+'"
        )));
    }
    Ok(())
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(public);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// An Ed25519 key that signs checkpoints, with its signed-note key name.
///
/// Not `Clone`; zeroized on drop; `Debug` shows the name and key id only.
pub struct SigningKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad name or when the system has no randomness.
    pub fn generate(name: &str) -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())
            .map_err(|e| Error::Config(format!("no system randomness: {e}")))?;
        Self::from_seed(name, &seed)
    }

    /// The key for a 32-byte Ed25519 seed.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad name.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, Error> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not such a key or its key id does not match.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let bad = || Error::Config("signing key: not a PRIVATE+KEY+<name>+<id>+<key> line".into());
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(bad)?;
        // The key itself is base64, which may hold '+': it is everything after the id.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let mut raw = Zeroizing::new(STANDARD.decode(key).map_err(|_| bad())?);
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad());
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&raw[1..]);
        raw.zeroize();
        let signer = Self::from_seed(name, &seed)?;
        if id != hex(&signer.verifying_key().id) {
            return Err(Error::Config(
                "signing key: key id does not match the key".into(),
            ));
        }
        Ok(signer)
    }

    /// The text form, `PRIVATE+KEY+...`: a secret, zeroized when dropped.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 33]);
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        let encoded = Zeroizing::new(STANDARD.encode(raw.as_slice()));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex(&self.verifying_key().id),
            encoded.as_str()
        ))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        let key = self.key.verifying_key();
        VerifyingKey {
            id: key_id(&self.name, key.as_bytes()),
            name: self.name.clone(),
            key,
        }
    }

    /// Signs a checkpoint as a signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> SignedCheckpoint {
        let text = checkpoint.to_text();
        let signature = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.verifying_key().id);
        blob.extend_from_slice(&signature.to_bytes());
        let note = format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        );
        SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("id", &hex(&self.verifying_key().id))
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key that verifies checkpoint signatures, with its key name and id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl VerifyingKey {
    /// Parses `<name>+<key id hex>+<base64(0x01 || public key)>`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not such a key or its key id does not match.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let bad = || Error::Config("public key: not a <name>+<id>+<key> line".into());
        let mut parts = text.trim_end().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        check_key_name(name)?;
        let raw = STANDARD.decode(key).map_err(|_| bad())?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(bad());
        }
        let public: [u8; 32] = raw[1..].try_into().map_err(|_| bad())?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        let computed = key_id(name, &public);
        if id != hex(&computed) {
            return Err(Error::Config(
                "public key: key id does not match the key".into(),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            id: computed,
            key,
        })
    }

    /// The text form, `<name>+<key id hex>+<base64(0x01 || public key)>`.
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex(&self.id), STANDARD.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id of the signed-note spec.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.to_text())
    }
}

/// A checkpoint: the log named by `origin` had `size` entries with root `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

impl Checkpoint {
    /// A checkpoint for a log.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the origin is empty or holds whitespace or `+`.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, Error> {
        let origin = origin.into();
        if origin.is_empty() || origin.contains(|c: char| c.is_whitespace() || c == '+') {
            return Err(Error::Config(format!(
                "origin {origin:?}: must be non-empty, without spaces or '+'"
            )));
        }
        Ok(Self { origin, size, root })
    }

    /// Which log.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many entries the log had.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The Merkle root of those entries.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The checkpoint text: three lines, each ending in `\n`.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    /// Parses checkpoint text without any signature: extension lines after the root are
    /// allowed and ignored. Nothing parsed this way is trusted; use
    /// [`SignedCheckpoint::verify`] for that.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the text is not a checkpoint.
    pub fn parse_unsigned(text: &str) -> Result<Self, Error> {
        let body = text.strip_suffix('\n').ok_or(Error::Invalid)?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or(Error::Invalid)?;
        let size = lines.next().ok_or(Error::Invalid)?;
        let root = lines.next().ok_or(Error::Invalid)?;
        if lines.any(str::is_empty) {
            return Err(Error::Invalid);
        }
        let canonical_number = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        if !canonical_number {
            return Err(Error::Invalid);
        }
        let size = size.parse().map_err(|_| Error::Invalid)?;
        let root = Hash::from_base64(root)?;
        Self::new(origin, size, root).map_err(|_| Error::Invalid)
    }
}

impl Checkpoint {
    /// The checkpoint inside a signed note, without checking any signature: for a note
    /// the caller already trusts (a copy it kept itself). Use [`SignedCheckpoint::verify`]
    /// for anything else.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the text is not a signed note holding a checkpoint.
    pub fn from_note_unverified(note: &str) -> Result<Self, Error> {
        checkpoint_in_note(note)
    }
}

/// A checkpoint together with the signed note that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// Verifies a signed note with `key` and parses the checkpoint in it. Signatures by
    /// other keys are ignored; one valid signature by `key` is required.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the note is malformed, has no valid signature by `key`, or
    /// does not hold a checkpoint.
    pub fn verify(note: &str, key: &VerifyingKey) -> Result<Self, Error> {
        let (text, signatures) = split_note(note)?;
        let mut verified = false;
        for (name, blob) in signatures {
            if name != key.name || blob.len() != 68 || blob[..4] != key.id {
                continue;
            }
            let signature =
                ed25519_dalek::Signature::from_slice(&blob[4..]).map_err(|_| Error::Invalid)?;
            if key.key.verify_strict(text.as_bytes(), &signature).is_err() {
                return Err(Error::Invalid);
            }
            verified = true;
        }
        if !verified {
            return Err(Error::Invalid);
        }
        Ok(Self {
            checkpoint: Checkpoint::parse_unsigned(text)?,
            note: note.to_owned(),
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The whole signed note, ending in `\n`.
    pub fn as_str(&self) -> &str {
        &self.note
    }

    /// Wraps a note this crate stored itself without re-verifying it.
    pub(crate) fn from_trusted_parts(checkpoint: Checkpoint, note: String) -> Self {
        Self { checkpoint, note }
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.note)
    }
}

/// The checkpoint inside a signed note, without checking any signature: for notes this
/// crate stored itself.
pub(crate) fn checkpoint_in_note(note: &str) -> Result<Checkpoint, Error> {
    let (text, _) = split_note(note)?;
    Checkpoint::parse_unsigned(text)
}

/// Splits a signed note into its text (ending in `\n`) and its signature lines, each as
/// (key name, decoded signature blob).
/// A signature line: the key name and the decoded blob (key id, then signature).
type SignatureLine<'a> = (&'a str, Vec<u8>);

fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), Error> {
    if note.len() > MAX_NOTE_LEN || !note.ends_with('\n') {
        return Err(Error::Invalid);
    }
    let split = note.rfind("\n\n").ok_or(Error::Invalid)?;
    let text = &note[..=split];
    let sig_block = &note[split + 2..];
    let mut signatures = Vec::new();
    for line in sig_block
        .strip_suffix('\n')
        .ok_or(Error::Invalid)?
        .split('\n')
    {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(Error::Invalid)?;
        let (name, blob) = rest.split_once(' ').ok_or(Error::Invalid)?;
        if name.is_empty() || name.contains('+') || blob.contains(' ') {
            return Err(Error::Invalid);
        }
        let blob = STANDARD.decode(blob).map_err(|_| Error::Invalid)?;
        if blob.len() < 5 {
            return Err(Error::Invalid);
        }
        signatures.push((name, blob));
    }
    if signatures.is_empty() || signatures.len() > MAX_SIGNATURES {
        return Err(Error::Invalid);
    }
    Ok((text, signatures))
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test sizes are small")]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_seed("audit.example", &[7; 32]).unwrap()
    }

    #[test]
    fn keys_with_plus_in_their_base64_round_trip() {
        let mut seen_plus = false;
        for seed in 0..64u8 {
            let signer = SigningKey::from_seed("k", &[seed; 32]).unwrap();
            let public = signer.verifying_key().to_text();
            seen_plus |= public.matches('+').count() > 2;
            assert_eq!(
                VerifyingKey::from_text(&public).unwrap(),
                signer.verifying_key()
            );
            assert!(SigningKey::from_text(&signer.to_text()).is_ok());
        }
        assert!(seen_plus);
    }

    #[test]
    fn keys_round_trip_through_text() {
        let signer = key();
        let again = SigningKey::from_text(&signer.to_text()).unwrap();
        assert_eq!(again.verifying_key(), signer.verifying_key());
        let public = signer.verifying_key().to_text();
        assert!(public.starts_with("audit.example+"));
        assert_eq!(
            VerifyingKey::from_text(&public).unwrap(),
            signer.verifying_key()
        );
        assert!(!format!("{signer:?}").contains(&STANDARD.encode([7u8; 32])[..8]));
        let mut parts: Vec<&str> = public.split('+').collect();
        let bad_id = "00000000".to_owned();
        parts[1] = &bad_id;
        assert!(VerifyingKey::from_text(&parts.join("+")).is_err());
    }

    #[test]
    fn signed_checkpoints_verify_and_tampering_fails() {
        let signer = key();
        let checkpoint = Checkpoint::new("audit.example/acme", 5, Hash::leaf(b"r")).unwrap();
        let signed = signer.sign(&checkpoint);
        let note = signed.as_str();
        assert!(note.starts_with("audit.example/acme\n5\n"));
        assert!(note.contains("\n\n\u{2014} audit.example "));
        let verified = SignedCheckpoint::verify(note, &signer.verifying_key()).unwrap();
        assert_eq!(verified.checkpoint(), &checkpoint);
        let other = SigningKey::from_seed("audit.example", &[8; 32]).unwrap();
        assert!(SignedCheckpoint::verify(note, &other.verifying_key()).is_err());
        for (i, _) in note.char_indices() {
            let mut bytes = note.as_bytes().to_vec();
            bytes[i] ^= 0x01;
            if let Ok(tampered) = std::str::from_utf8(&bytes) {
                assert!(
                    SignedCheckpoint::verify(tampered, &signer.verifying_key()).is_err(),
                    "byte {i}"
                );
            }
        }
    }

    #[test]
    fn checkpoint_text_is_strict() {
        let root = Hash::leaf(b"r").to_base64();
        assert!(Checkpoint::parse_unsigned(&format!("o\n3\n{root}\n")).is_ok());
        assert!(Checkpoint::parse_unsigned(&format!("o\n3\n{root}\next\n")).is_ok());
        for bad in [
            format!("o\n03\n{root}\n"),
            format!("o\n+3\n{root}\n"),
            format!("o\n3\n{root}"),
            format!("\n3\n{root}\n"),
            format!("o\n3\n{root}\n\n"),
            "o\n3\nAAAA\n".to_owned(),
            "o\n3\n".to_owned(),
        ] {
            assert!(Checkpoint::parse_unsigned(&bad).is_err(), "{bad:?}");
        }
    }
}
