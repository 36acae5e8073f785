//! HMAC and Ed25519 over the pieces of the signed content, without joining them, and
//! the one fixed-size tag type that both a decoded signature and a computed MAC use.

use std::borrow::Cow;

use ed25519_dalek::ed25519::signature::{MultipartSigner, MultipartVerifier};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::scheme::HmacAlgorithm;

/// A MAC tag or a signature, up to 64 bytes: a decoded header value, or a computed HMAC.
#[derive(Clone, Copy)]
pub(crate) struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    /// Room for `len` bytes (at most 64), all zero, to be filled through `as_mut`.
    pub(crate) fn zeroed(len: usize) -> Self {
        Self {
            bytes: [0; 64],
            len: len.min(64),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub(crate) fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }

    /// Constant time in the contents; the lengths are public and checked first.
    pub(crate) fn matches(&self, candidate: &Tag) -> bool {
        candidate.len == self.len && bool::from(self.as_slice().ct_eq(candidate.as_slice()))
    }
}

pub(crate) fn hmac(algorithm: HmacAlgorithm, key: &[u8], pieces: &[Cow<'_, [u8]>]) -> Tag {
    fn run<M: Mac + KeyInit>(key: &[u8], pieces: &[Cow<'_, [u8]>]) -> Tag {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <M as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        for piece in pieces {
            mac.update(piece);
        }
        let out = mac.finalize().into_bytes();
        let mut tag = Tag::zeroed(out.len());
        tag.as_mut().copy_from_slice(&out);
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

/// RFC 8032 verification, plus the check of strict verifiers: a signature whose `R` is a
/// point of small order is refused (weak public keys are refused when loaded), so no
/// torsion component can make a second valid signature from a first. `ed25519-dalek`
/// already refuses an unreduced `s`.
pub(crate) fn ed25519_verify(
    key: &VerifyingKey,
    pieces: &[Cow<'_, [u8]>],
    signature: &Tag,
) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(signature.as_slice()) else {
        return false;
    };
    let signature = Signature::from_bytes(&bytes);
    // `R` is encoded like a public key: the same decoding, the same small-order test.
    let small_order_r = VerifyingKey::from_bytes(signature.r_bytes()).map_or(true, |r| r.is_weak());
    !small_order_r && key.multipart_verify(&slices(pieces), &signature).is_ok()
}

pub(crate) fn ed25519_sign(key: &SigningKey, pieces: &[Cow<'_, [u8]>]) -> Tag {
    let signature = key.multipart_sign(&slices(pieces)).to_bytes();
    let mut tag = Tag::zeroed(signature.len());
    tag.as_mut().copy_from_slice(&signature);
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signer who knows the secret scalar `a` can sign with `R` = the identity: `s =
    /// k·a` satisfies RFC 8032's cofactorless equation `[s]B = R + [k]A`, so plain
    /// verification accepts it. Strict verification must not.
    #[test]
    fn a_signature_with_a_small_order_r_is_refused() {
        use curve25519_dalek::Scalar;
        use sha2::{Digest as _, Sha512};

        let key = SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key();
        let message: [Cow<'_, [u8]>; 2] = [Cow::Borrowed(b"1700000000"), Cow::Borrowed(b"{}")];
        let good = ed25519_sign(&key, &message);
        assert!(ed25519_verify(&public, &message, &good));

        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut hash = Sha512::new();
        hash.update(identity);
        hash.update(public.as_bytes());
        for piece in &message {
            hash.update(piece);
        }
        let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
        let s = k * key.to_scalar();
        let mut forged = Tag::zeroed(64);
        forged.as_mut()[..32].copy_from_slice(&identity);
        forged.as_mut()[32..].copy_from_slice(&s.to_bytes());

        let bytes = <[u8; 64]>::try_from(forged.as_slice()).unwrap();
        assert!(
            public
                .multipart_verify(&slices(&message), &Signature::from_bytes(&bytes))
                .is_ok(),
            "RFC 8032 verification accepts it"
        );
        assert!(!ed25519_verify(&public, &message, &forged));
    }

    #[test]
    fn tags_match_only_at_the_same_length_and_bytes() {
        let mut a = Tag::zeroed(32);
        a.as_mut()[0] = 1;
        let mut b = Tag::zeroed(32);
        assert!(!a.matches(&b));
        b.as_mut()[0] = 1;
        assert!(a.matches(&b));
        assert!(!a.matches(&Tag::zeroed(20)));
    }
}
