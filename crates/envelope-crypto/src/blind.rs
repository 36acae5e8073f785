//! Blind indexes: keyed, versioned HMACs for equality lookups on encrypted columns.

use std::collections::BTreeMap;
use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::binding::Purpose;
use crate::keyring::KeyVersion;

/// Computes blind-index terms: HMAC-SHA256 of a value under a key derived for one
/// purpose from each key version.
///
/// Store [`BlindIndex::term`] of a value in an indexed column beside its envelope; to find
/// rows whose secret equals a value, look up every term of [`BlindIndex::terms`] (one per
/// version that is not retired), so rows indexed before a rotation are still found until
/// they are re-indexed. A term reveals which rows hold equal values, and nothing else
/// without the key: normalise values (case, whitespace) before indexing them, and prefer
/// a blind index only for values with enough entropy that guessing them is hopeless.
///
/// Made by [`Keyring::blind_index`](crate::Keyring::blind_index). Not `Clone`; keys are
/// zeroized on drop.
pub struct BlindIndex {
    purpose: Purpose,
    primary: KeyVersion,
    keys: BTreeMap<KeyVersion, Hmac<Sha256>>,
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndex")
            .field("purpose", &self.purpose)
            .field("primary", &self.primary.get())
            .field(
                "versions",
                &self.keys.keys().map(|v| v.get()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl BlindIndex {
    pub(crate) fn from_derived(
        purpose: Purpose,
        primary: KeyVersion,
        derived: BTreeMap<KeyVersion, Zeroizing<[u8; 32]>>,
    ) -> Self {
        let keys = derived
            .into_iter()
            .map(|(v, key)| {
                let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice())
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                (v, mac)
            })
            .collect();
        Self {
            purpose,
            primary,
            keys,
        }
    }

    /// The term of `value` under the primary version: what to store.
    pub fn term(&self, value: &[u8]) -> BlindTerm {
        match self.keys.get(&self.primary) {
            Some(mac) => compute(self.primary, mac, value),
            // A keyring always holds its primary's key.
            None => unreachable!("the primary version has a key"),
        }
    }

    /// The terms of `value` under every version that is not retired, primary first:
    /// what to look up.
    pub fn terms(&self, value: &[u8]) -> Vec<BlindTerm> {
        let mut terms = vec![self.term(value)];
        terms.extend(
            self.keys
                .iter()
                .filter(|(v, _)| **v != self.primary)
                .rev()
                .map(|(v, mac)| compute(*v, mac, value)),
        );
        terms
    }
}

fn compute(version: KeyVersion, mac: &Hmac<Sha256>, value: &[u8]) -> BlindTerm {
    let mut mac = mac.clone();
    mac.update(value);
    BlindTerm {
        version,
        mac: mac.finalize().into_bytes().into(),
    }
}

/// One blind-index term: the key version and the 32-byte HMAC.
///
/// Its text form, for a TEXT column, is `bi1.<version>.<base64url of the HMAC>`; its
/// equality is the equality of that text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BlindTerm {
    version: KeyVersion,
    mac: [u8; 32],
}

impl BlindTerm {
    /// The key version that computed it.
    pub fn version(&self) -> KeyVersion {
        self.version
    }

    /// The HMAC bytes, for a binary column.
    pub fn mac(&self) -> &[u8; 32] {
        &self.mac
    }
}

impl fmt::Display for BlindTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bi1.{}.{}",
            self.version,
            BASE64URL_NOPAD.encode(&self.mac)
        )
    }
}

impl fmt::Debug for BlindTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
