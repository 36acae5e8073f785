//! Secret values: opened plaintext and raw key material.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// An opened secret. Zeroized on drop; its `Debug` shows no byte of it; not `Clone`.
pub struct Plaintext(Vec<u8>);

impl Drop for Plaintext {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Zeroizes a byte vector and its spare capacity with bulk writes.
///
/// `Zeroizing<Vec<u8>>` clears element by element with volatile writes, about one byte
/// per cycle; a slice of bytes is cleared with `memset` behind an optimisation barrier,
/// which keeps zeroizing a 1 MiB plaintext cheap next to decrypting it.
pub(crate) fn wipe(bytes: &mut Vec<u8>) {
    bytes.as_mut_slice().zeroize();
    bytes.spare_capacity_mut().zeroize();
}

impl Plaintext {
    /// Takes a buffer that will hold secret bytes; it is zeroized on drop whatever
    /// happens to it in between.
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub(crate) fn buffer_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// The secret bytes. Keep the borrow short and copy them nowhere that is not
    /// zeroized in turn.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Plaintext(<redacted>)")
    }
}

/// 32 bytes of secret key material: a tenant's data key or a customer-managed key.
/// Zeroized on drop, redacted `Debug`, not `Clone`.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// Takes exactly 32 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`](crate::Error::KeyLength) for any other length.
    pub fn from_slice(bytes: &[u8]) -> crate::Result<Self> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| crate::Error::KeyLength(bytes.len()))?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// Takes a 32-byte array. Prefer moving the key in from zeroized storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// 32 fresh random bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Random`](crate::Error::Random) when the random source fails.
    pub fn generate(random: &dyn crate::Random) -> crate::Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        random.fill(key.as_mut_slice())?;
        Ok(Self(key))
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_clears_the_bytes_in_place() {
        let mut bytes = vec![0xa5u8; 4096];
        let (ptr, capacity) = (bytes.as_ptr(), bytes.capacity());
        wipe(&mut bytes);
        assert!(bytes.iter().all(|&b| b == 0));
        assert_eq!(
            (bytes.as_ptr(), bytes.capacity()),
            (ptr, capacity),
            "no reallocation"
        );
    }
}
