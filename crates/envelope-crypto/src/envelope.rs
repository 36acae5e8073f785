//! Envelope format v1: layout, header peek and text armor. `FORMAT.md` is the
//! specification.

use std::fmt;

use data_encoding::BASE64URL_NOPAD;

use crate::error::{Error, Result};
use crate::keyring::KeyVersion;
use crate::xaes::{NONCE_LEN, TAG_LEN};

/// The envelope format this crate writes.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of header: format version, algorithm id, key version.
pub(crate) const HEADER_LEN: usize = 6;
/// Bytes of key commitment.
pub(crate) const COMMITMENT_LEN: usize = 32;
/// Bytes an envelope adds to its plaintext: header, nonce, commitment and tag.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + COMMITMENT_LEN + TAG_LEN;
/// The text armor's prefix: `pal1.` then the envelope in unpadded base64url.
pub const ARMOR_PREFIX: &str = "pal1.";

/// The cipher suite of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Id 1: XAES-256-GCM under a purpose key derived with HKDF-SHA256, with a SHA-256
    /// key commitment.
    Xaes256GcmSha256,
}

impl Algorithm {
    /// The algorithm's id byte in the header.
    pub fn id(self) -> u8 {
        match self {
            Self::Xaes256GcmSha256 => 1,
        }
    }

    fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Xaes256GcmSha256),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Xaes256GcmSha256 => "XAES-256-GCM with SHA-256 key commitment",
        })
    }
}

/// An envelope's header: what [`Header::peek`] tells without any key.
///
/// The header is authenticated (it is part of the associated data), so it cannot be
/// changed without the envelope failing to open; but [`Header::peek`] itself verifies
/// nothing, so treat what it says as a hint (which key version to expect) until the
/// envelope opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    algorithm: Algorithm,
    key_version: KeyVersion,
}

impl Header {
    pub(crate) fn new(key_version: KeyVersion) -> Self {
        Self {
            algorithm: Algorithm::Xaes256GcmSha256,
            key_version,
        }
    }

    /// Reads the header of an envelope (binary, not armored) without a key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the bytes are too short to be an envelope, or the format
    /// version, algorithm or key version is not one this crate knows.
    pub fn peek(envelope: &[u8]) -> Result<Self> {
        Ok(Parts::split(envelope)?.header)
    }

    /// The format version; always [`FORMAT_VERSION`] for a header this crate returns.
    pub fn format_version(&self) -> u8 {
        FORMAT_VERSION
    }

    /// The cipher suite.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key version that sealed the envelope.
    pub fn key_version(&self) -> KeyVersion {
        self.key_version
    }

    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let v = self.key_version.get().to_be_bytes();
        [FORMAT_VERSION, self.algorithm.id(), v[0], v[1], v[2], v[3]]
    }
}

/// A sealed envelope: header, nonce, commitment, ciphertext and tag (see `FORMAT.md`).
///
/// An envelope holds no secret in the clear, so it is `Clone` and its `Debug` shows the
/// header and length. Store it as bytes ([`Envelope::as_bytes`]) in a BLOB / BYTEA column
/// or as one line of text ([`Envelope::to_armor`]) in a TEXT column.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    header: Header,
    bytes: Vec<u8>,
}

impl Envelope {
    pub(crate) fn from_sealed(header: Header, bytes: Vec<u8>) -> Self {
        Self { header, bytes }
    }

    /// Takes envelope bytes, checking their structure (not their authenticity: that is
    /// what opening does).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] as for [`Header::peek`].
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        let header = Parts::split(&bytes)?.header;
        Ok(Self { header, bytes })
    }

    /// Parses the one-line text armor `pal1.<base64url>`.
    ///
    /// Leading and trailing ASCII whitespace (a trailing newline) is ignored; anything
    /// else that is not canonical unpadded base64url is rejected.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong prefix, bad base64url, or bytes that are not an
    /// envelope.
    pub fn from_armor(text: &str) -> Result<Self> {
        let body = text
            .trim_ascii()
            .strip_prefix(ARMOR_PREFIX)
            .ok_or_else(invalid)?;
        let bytes = BASE64URL_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| Error::Invalid)?;
        Self::from_bytes(bytes)
    }

    /// The one-line text armor: `pal1.` and the envelope in unpadded base64url.
    pub fn to_armor(&self) -> String {
        let mut out = String::with_capacity(
            ARMOR_PREFIX.len() + BASE64URL_NOPAD.encode_len(self.bytes.len()),
        );
        out.push_str(ARMOR_PREFIX);
        BASE64URL_NOPAD.encode_append(&self.bytes, &mut out);
        out
    }

    /// The header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The envelope bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The envelope bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The length in bytes: the plaintext's length plus [`OVERHEAD`].
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an envelope holds at least its [`OVERHEAD`].
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl AsRef<[u8]> for Envelope {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("header", &self.header)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// [`Error::Invalid`], made only on the error path: an error built eagerly for
/// `ok_or` is dropped through a call on every successful parse of the open path.
fn invalid() -> Error {
    Error::Invalid
}

/// An envelope cut into its fields.
pub(crate) struct Parts<'a> {
    pub(crate) header: Header,
    pub(crate) header_bytes: &'a [u8; HEADER_LEN],
    pub(crate) nonce: &'a [u8; NONCE_LEN],
    pub(crate) commitment: &'a [u8; COMMITMENT_LEN],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) tag: &'a [u8; TAG_LEN],
}

impl<'a> Parts<'a> {
    pub(crate) fn split(bytes: &'a [u8]) -> Result<Self> {
        let (header_bytes, rest) = bytes
            .split_first_chunk::<HEADER_LEN>()
            .ok_or_else(invalid)?;
        let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>().ok_or_else(invalid)?;
        let (commitment, rest) = rest
            .split_first_chunk::<COMMITMENT_LEN>()
            .ok_or_else(invalid)?;
        let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or_else(invalid)?;
        let [format, algorithm, v0, v1, v2, v3] = *header_bytes;
        if format != FORMAT_VERSION {
            return Err(Error::Invalid);
        }
        let algorithm = Algorithm::from_id(algorithm).ok_or_else(invalid)?;
        let key_version =
            KeyVersion::new(u32::from_be_bytes([v0, v1, v2, v3])).ok_or_else(invalid)?;
        Ok(Self {
            header: Header {
                algorithm,
                key_version,
            },
            header_bytes,
            nonce,
            commitment,
            ciphertext,
            tag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_is_under_80_bytes() {
        assert_eq!(OVERHEAD, 78);
    }

    #[test]
    fn short_and_unknown_envelopes_do_not_split() {
        let mut bytes = vec![0u8; OVERHEAD];
        bytes[0] = FORMAT_VERSION;
        bytes[1] = 1;
        bytes[5] = 7;
        let header = Header::peek(&bytes).unwrap();
        assert_eq!(header.key_version().get(), 7);
        assert!(Header::peek(&bytes[..OVERHEAD - 1]).is_err());
        for (at, value) in [(0, 2), (1, 0), (1, 2), (5, 0)] {
            let mut bad = bytes.clone();
            bad[at] = value;
            assert!(Header::peek(&bad).is_err(), "byte {at} = {value}");
        }
    }

    #[test]
    fn armor_is_strict() {
        let mut bytes = vec![0u8; OVERHEAD + 1];
        bytes[0] = FORMAT_VERSION;
        bytes[1] = 1;
        bytes[5] = 1;
        let envelope = Envelope::from_bytes(bytes).unwrap();
        let armor = envelope.to_armor();
        assert!(!armor.contains(['\n', '=', '+', '/']));
        assert_eq!(Envelope::from_armor(&armor).unwrap(), envelope);
        assert_eq!(
            Envelope::from_armor(&format!("{armor}\n")).unwrap(),
            envelope
        );
        for bad in [
            armor.replacen("pal1.", "pal2.", 1),
            armor.replacen("pal1.", "", 1),
            format!("{armor}="),
            format!("{armor} A"),
            format!("{armor}\n{armor}"),
            armor.replacen('A', "+", 1),
            armor[..armor.len() - 1].to_owned(),
        ] {
            assert!(Envelope::from_armor(&bad).is_err(), "{bad}");
        }
    }
}
