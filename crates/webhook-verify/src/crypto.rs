//! HMAC and Ed25519 over the pieces of the signed content, without joining them.

use std::borrow::Cow;

use ed25519_dalek::ed25519::signature::{MultipartSigner, MultipartVerifier};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::scheme::HmacAlgorithm;

/// An HMAC tag, up to 64 bytes.
pub(crate) struct MacTag {
    bytes: [u8; 64],
    len: usize,
}

impl MacTag {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Constant time in the contents; the lengths are public and checked first.
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        candidate.len() == self.len && bool::from(self.as_slice().ct_eq(candidate))
    }
}

pub(crate) fn hmac(algorithm: HmacAlgorithm, key: &[u8], pieces: &[Cow<'_, [u8]>]) -> MacTag {
    fn run<M: Mac + KeyInit>(key: &[u8], pieces: &[Cow<'_, [u8]>]) -> MacTag {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <M as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        for piece in pieces {
            mac.update(piece);
        }
        let out = mac.finalize().into_bytes();
        let mut tag = MacTag {
            bytes: [0; 64],
            len: out.len(),
        };
        tag.bytes[..out.len()].copy_from_slice(&out);
        tag
    }
    match algorithm {
        HmacAlgorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, pieces),
        HmacAlgorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, pieces),
        HmacAlgorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, pieces),
    }
}

fn slices<'a>(pieces: &'a [Cow<'_, [u8]>]) -> Vec<&'a [u8]> {
    pieces.iter().map(AsRef::as_ref).collect()
}

pub(crate) fn ed25519_verify(
    key: &VerifyingKey,
    pieces: &[Cow<'_, [u8]>],
    signature: &[u8],
) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.multipart_verify(&slices(pieces), &Signature::from_bytes(&bytes))
        .is_ok()
}

pub(crate) fn ed25519_sign(key: &SigningKey, pieces: &[Cow<'_, [u8]>]) -> [u8; 64] {
    key.multipart_sign(&slices(pieces)).to_bytes()
}
