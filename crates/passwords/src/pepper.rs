//! Pepper keys: a server-side secret mixed into every new hash, identified by a key id
//! that the stored hash records.

use std::fmt;

use hmac::{KeyInit, Mac};
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// The shortest pepper key accepted, in bytes.
pub const MIN_PEPPER_KEY_LEN: usize = 32;

/// Identifies a pepper key. Recorded in every hash made under that key (as the argon2
/// `keyid` parameter), so old hashes keep verifying after a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PepperId(u32);

impl PepperId {
    /// A key id.
    #[must_use]
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The numeric id.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The 4 big-endian bytes stored in the hash's `keyid` parameter.
    pub(crate) const fn to_keyid(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// Reads a `keyid` parameter; anything but 4 bytes is not one of ours.
    pub(crate) fn from_keyid(bytes: &[u8]) -> Option<Self> {
        <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| Self(u32::from_be_bytes(b)))
    }
}

impl fmt::Display for PepperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One pepper key: at least [`MIN_PEPPER_KEY_LEN`] secret bytes and their id.
///
/// The password is replaced by HMAC-SHA256(key, password) before it is hashed, so a stolen
/// database alone does not allow offline guessing. Not `Clone`; zeroized on drop; its
/// `Debug` shows only the id.
pub struct PepperKey {
    id: PepperId,
    key: Zeroizing<Vec<u8>>,
}

impl PepperKey {
    /// A pepper key with the given id.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the key is shorter than [`MIN_PEPPER_KEY_LEN`] bytes.
    pub fn new(id: PepperId, key: &[u8]) -> Result<Self, Error> {
        if key.len() < MIN_PEPPER_KEY_LEN {
            return Err(Error::Config(format!(
                "pepper key {id} is {} bytes; use at least {MIN_PEPPER_KEY_LEN} random bytes",
                key.len()
            )));
        }
        Ok(Self {
            id,
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> PepperId {
        self.id
    }

    /// HMAC-SHA256 of the password under this key.
    pub(crate) fn apply(&self, password: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        mac.update(password);
        // The MAC stands in for the password: its stack copy is cleared too (the `hmac`
        // and `sha2` `zeroize` features clear their own states).
        let mut bytes = mac.finalize().into_bytes();
        let out = Zeroizing::new(bytes.to_vec());
        bytes.as_mut_slice().zeroize();
        out
    }
}

impl fmt::Debug for PepperKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PepperKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The pepper keyring: the current key, which peppers every new hash, and previous keys,
/// which only verify (and flag their hashes for a rehash under the current key).
#[derive(Debug)]
pub struct Peppers {
    current: PepperKey,
    previous: Vec<PepperKey>,
}

impl Peppers {
    /// A keyring whose current key is `current`.
    #[must_use]
    pub fn new(current: PepperKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds a previous key: hashes made under it still verify and need a rehash.
    #[must_use]
    pub fn with_previous(mut self, key: PepperKey) -> Self {
        self.previous.push(key);
        self
    }

    /// The id of the key that peppers new hashes.
    #[must_use]
    pub fn current_id(&self) -> PepperId {
        self.current.id
    }

    pub(crate) fn current(&self) -> &PepperKey {
        &self.current
    }

    pub(crate) fn get(&self, id: PepperId) -> Option<&PepperKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }

    /// Every id appears once.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let mut ids: Vec<PepperId> = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| key.id)
            .collect();
        ids.sort_unstable();
        match ids.windows(2).find(|pair| pair[0] == pair[1]) {
            Some(pair) => Err(Error::Config(format!(
                "pepper key id {} appears twice in the keyring; give every key its own id",
                pair[0]
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(
            PepperKey::new(PepperId::new(1), &[0; 31]),
            Err(Error::Config(_))
        ));
        assert!(PepperKey::new(PepperId::new(1), &[0; 32]).is_ok());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = PepperKey::new(PepperId::new(7), &[0xAB; 32]).unwrap();
        let shown = format!("{:?}", Peppers::new(key));
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("ab, "), "{shown}");
    }

    #[test]
    fn duplicate_ids_are_a_configuration_error() {
        let peppers = Peppers::new(PepperKey::new(PepperId::new(1), &[1; 32]).unwrap())
            .with_previous(PepperKey::new(PepperId::new(1), &[2; 32]).unwrap());
        assert!(matches!(peppers.check(), Err(Error::Config(_))));
    }

    #[test]
    fn key_ids_round_trip_through_keyid_bytes() {
        let id = PepperId::new(0x0102_0304);
        assert_eq!(PepperId::from_keyid(&id.to_keyid()), Some(id));
        assert_eq!(PepperId::from_keyid(&[1, 2, 3]), None);
    }
}
