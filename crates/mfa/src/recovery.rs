//! Recovery codes: generation without modulo bias, normalisation, hashing.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::store::RecoveryHash;
use crate::{Error, Random};

/// The fewest bits of entropy a recovery code may carry.
pub const MIN_RECOVERY_BITS: u32 = 80;
/// Codes with at least this many bits are hashed with SHA-256; shorter ones with
/// argon2id (OWASP ASVS 6.5.2).
const FAST_HASH_BITS: u32 = 112;
const MAX_RECOVERY_BITS: u32 = 160;
const MAX_COUNT: usize = 32;
/// Crockford base32: no I, L, O or U, so codes read aloud and type well.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SALT_LEN: usize = 16;

/// argon2id cost parameters for recovery codes under 112 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl Default for KdfParams {
    /// The OWASP minimum: m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            m_kib: 19_456,
            t: 2,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Parameters at or above the OWASP minimum (m >= 19456 KiB, t >= 2, p >= 1).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when a parameter is below the minimum.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Self, Error> {
        if m_kib < 19_456 || t < 2 || !(1..=16).contains(&p) {
            return Err(Error::Config(
                "argon2id needs m >= 19456 KiB, t >= 2, 1 <= p <= 16".into(),
            ));
        }
        Ok(Self { m_kib, t, p })
    }

    /// Parameters below the OWASP minimum, for tests and benches only: codes hashed with
    /// them are cheap to brute-force from a stolen database.
    pub fn dangerous_insecure_for_tests(m_kib: u32, t: u32) -> Self {
        Self {
            m_kib: m_kib.max(8),
            t: t.max(1),
            p: 1,
        }
    }

    fn encode(self) -> String {
        format!("argon2id$m={},t={},p={}", self.m_kib, self.t, self.p)
    }

    fn decode(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("argon2id$m=")?;
        let (m, rest) = rest.split_once(",t=")?;
        let (t, p) = rest.split_once(",p=")?;
        Some(Self {
            m_kib: m.parse().ok()?,
            t: t.parse().ok()?,
            p: p.parse().ok()?,
        })
    }
}

/// How many recovery codes a set has, how strong each is, and how they are hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RecoveryConfig {
    count: usize,
    bits: u32,
    kdf: KdfParams,
}

impl Default for RecoveryConfig {
    /// Ten codes of 80 bits (16 characters), hashed with argon2id at the OWASP minimum.
    fn default() -> Self {
        Self {
            count: 10,
            bits: MIN_RECOVERY_BITS,
            kdf: KdfParams::default(),
        }
    }
}

impl RecoveryConfig {
    /// Codes per set (1 to 32).
    pub fn count(mut self, count: usize) -> Self {
        self.count = count;
        self
    }

    /// Bits per code: a multiple of 5 from 80 to 160. From 112 bits on, codes are hashed
    /// with SHA-256 instead of argon2id.
    pub fn bits(mut self, bits: u32) -> Self {
        self.bits = bits;
        self
    }

    /// The argon2id parameters for codes under 112 bits.
    pub fn kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if !(1..=MAX_COUNT).contains(&self.count) {
            return Err(Error::Config("recovery code count must be 1 to 32".into()));
        }
        if !(MIN_RECOVERY_BITS..=MAX_RECOVERY_BITS).contains(&self.bits)
            || !self.bits.is_multiple_of(5)
        {
            return Err(Error::Config(
                "recovery code bits must be a multiple of 5 from 80 to 160".into(),
            ));
        }
        Ok(())
    }

    fn chars(&self) -> usize {
        usize::try_from(self.bits / 5).unwrap_or(0)
    }

    /// The hash scheme new sets are stored under.
    pub(crate) fn scheme(&self) -> String {
        if self.bits >= FAST_HASH_BITS {
            "sha256".to_owned()
        } else {
            self.kdf.encode()
        }
    }
}

/// A freshly generated set of recovery codes. Show them to the user once: only their
/// hashes are stored. Zeroized on drop, not `Clone`, redacted in `Debug`.
pub struct RecoveryCodes(Vec<Zeroizing<String>>);

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes({} codes, redacted)", self.0.len())
    }
}

impl RecoveryCodes {
    /// The codes, formatted in groups of four (`XXXX-XXXX-XXXX-XXXX`).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|c| c.as_str())
    }

    /// How many codes the set has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty (never, for a generated set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Generates one code of `config.bits` bits: each character takes exactly five bits of
/// the random bytes, so every character is uniform (no modulo anywhere).
fn generate_code(config: &RecoveryConfig, random: &dyn Random) -> Result<Zeroizing<String>, Error> {
    let chars = config.chars();
    let mut bytes = Zeroizing::new(vec![0u8; (chars * 5).div_ceil(8)]);
    random.fill(&mut bytes)?;
    let mut out = Zeroizing::new(String::with_capacity(chars + chars / 4));
    for i in 0..chars {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let bit = i * 5;
        let (byte, shift) = (bit / 8, bit % 8);
        let hi = u16::from(bytes[byte]) << 8;
        let lo = bytes.get(byte + 1).copied().map_or(0, u16::from);
        let index = ((hi | lo) >> (11 - shift)) & 0x1f;
        out.push(char::from(ALPHABET[usize::from(index)]));
    }
    Ok(out)
}

pub(crate) fn generate_set(
    config: &RecoveryConfig,
    random: &dyn Random,
) -> Result<(RecoveryCodes, Vec<Zeroizing<String>>), Error> {
    let mut shown = Vec::with_capacity(config.count);
    let mut normalized = Vec::with_capacity(config.count);
    for _ in 0..config.count {
        let code = generate_code(config, random)?;
        normalized.push(normalize(&code).ok_or(Error::Input("internal code format"))?);
        shown.push(code);
    }
    Ok((RecoveryCodes(shown), normalized))
}

/// Upper-cases, drops `-` and spaces, reads `O` as `0` and `I`/`L` as `1`; `None` when
/// anything else is not in the alphabet, or when the result is longer or shorter than
/// any configuration's codes (so input that cannot be a code never costs a hash).
pub(crate) fn normalize(input: &str) -> Option<Zeroizing<String>> {
    const CHARS: std::ops::RangeInclusive<usize> =
        (MIN_RECOVERY_BITS / 5) as usize..=(MAX_RECOVERY_BITS / 5) as usize;
    if input.len() > 128 {
        return None;
    }
    let mut out = Zeroizing::new(String::with_capacity(input.len()));
    for c in input.trim().chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !u8::try_from(c).is_ok_and(|b| ALPHABET.contains(&b)) {
            return None;
        }
        out.push(c);
    }
    CHARS.contains(&out.len()).then_some(out)
}

pub(crate) fn new_salt(random: &dyn Random) -> Result<Vec<u8>, Error> {
    let mut salt = vec![0u8; SALT_LEN];
    random.fill(&mut salt)?;
    Ok(salt)
}

/// Hashes a normalized code under `scheme` (`sha256` or `argon2id$m=..,t=..,p=..`).
pub(crate) fn hash(scheme: &str, salt: &[u8], code: &str) -> Result<[u8; 32], Error> {
    let mut out = [0u8; 32];
    if scheme == "sha256" {
        let mut h = Sha256::new();
        h.update(b"palisade mfa recovery code v1\0");
        h.update(salt);
        h.update(code.as_bytes());
        out.copy_from_slice(&h.finalize());
        return Ok(out);
    }
    let kdf = KdfParams::decode(scheme)
        .ok_or_else(|| Error::Config(format!("unknown recovery hash scheme {scheme:?}")))?;
    let params = argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32))
        .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))?;
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(code.as_bytes(), salt, &mut out)
        .map_err(|e| Error::Config(format!("argon2: {e}")))?;
    Ok(out)
}

/// Constant-time search: the index of the first stored hash equal to `candidate`, having
/// compared all of them.
pub(crate) fn find(candidate: &[u8; 32], stored: &[RecoveryHash]) -> Option<u32> {
    let mut found = None;
    for RecoveryHash { index, hash } in stored {
        let equal: bool = hash.len() == 32 && bool::from(hash.as_slice().ct_eq(candidate));
        if equal && found.is_none() {
            found = Some(*index);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsRandom;

    #[test]
    fn codes_have_the_configured_length_and_alphabet() {
        for bits in [80, 85, 115, 160] {
            let config = RecoveryConfig::default().bits(bits);
            let code = generate_code(&config, &OsRandom).unwrap();
            let norm = normalize(&code).unwrap();
            assert_eq!(norm.len() * 5, bits as usize);
        }
        assert_eq!(
            normalize("abcd-efgh-jkmn-pqrs").unwrap().as_str(),
            "ABCDEFGHJKMNPQRS"
        );
        assert_eq!(
            normalize("o1il o1il-o1il-o1il").unwrap().as_str(),
            "0111011101110111"
        );
        assert!(normalize("UUUU-UUUU-UUUU-UUUU").is_none());
        assert!(normalize("ÄBCD-ABCD-ABCD-ABCD").is_none());
        // Only the lengths of 80- to 160-bit codes: 16 to 32 characters.
        for (len, fits) in [(0, false), (15, false), (16, true), (32, true), (33, false)] {
            assert_eq!(normalize(&"A".repeat(len)).is_some(), fits, "{len}");
        }
    }

    /// A random source that yields a fixed byte pattern.
    struct Pattern(u8);
    impl Random for Pattern {
        fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
            buf.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn each_character_is_exactly_five_bits() {
        // All ones gives the last symbol everywhere; all zeros the first; 0b10000100 00100001
        // repeated... spot-check with the all-ones and all-zeros patterns.
        let config = RecoveryConfig::default();
        assert_eq!(
            generate_code(&config, &Pattern(0xff)).unwrap().as_str(),
            "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
        );
        assert_eq!(
            generate_code(&config, &Pattern(0)).unwrap().as_str(),
            "0000-0000-0000-0000"
        );
        // 0x84 0x21 0x08 0x42 0x10 is 10000 10000 10000 10000 10000 10000 10000 10000.
        struct Cycle;
        impl Random for Cycle {
            fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = [0x84, 0x21, 0x08, 0x42, 0x10][i % 5];
                }
                Ok(())
            }
        }
        assert_eq!(
            generate_code(&config, &Cycle).unwrap().as_str(),
            "GGGG-GGGG-GGGG-GGGG"
        );
    }

    #[test]
    fn config_bounds() {
        assert!(RecoveryConfig::default().check().is_ok());
        assert!(RecoveryConfig::default().bits(75).check().is_err());
        assert!(RecoveryConfig::default().bits(81).check().is_err());
        assert!(RecoveryConfig::default().count(0).check().is_err());
        assert!(KdfParams::new(4096, 2, 1).is_err());
        assert_eq!(
            RecoveryConfig::default().scheme(),
            "argon2id$m=19456,t=2,p=1"
        );
        assert_eq!(RecoveryConfig::default().bits(115).scheme(), "sha256");
    }
}
