//! The hasher: new hashes, verification, rehash decisions and the dummy verify.

use std::fmt;

use argon2::password_hash::phc;
use subtle::ConstantTimeEq;
use unicode_normalization::{IsNormalized, is_nfkc_quick};
use zeroize::Zeroizing;

use crate::Error;
use crate::hash::{Parsed, PasswordHash};
use crate::params::{Argon2Params, BcryptCost, VerifyLimits};
use crate::pepper::Peppers;
use crate::random::{OsRandom, RandomSource};

/// The longest password accepted for argon2, in bytes after normalization.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The longest password bcrypt can hash without truncating it, in bytes.
pub const BCRYPT_MAX_PASSWORD_LEN: usize = 72;

/// Salt length for new hashes, in bytes (the PHC and OWASP recommendation).
const SALT_LEN: usize = 16;
/// Output length for new argon2 hashes, in bytes.
const OUTPUT_LEN: usize = 32;

/// How a password's text is normalized before it is hashed or verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Normalization {
    /// Unicode NFKC, as NIST SP 800-63B recommends: the same password typed on systems
    /// that compose accents differently (`é` as one code point or as `e` + U+0301) hashes the
    /// same. Passwords that are not valid UTF-8 are hashed as given.
    ///
    /// Stored hashes made elsewhere may be of text that was never normalized. When the
    /// normalized text does not match a hash that records no pepper key id (bcrypt, or
    /// argon2 made by another tool or without a pepper), and NFKC changed the text, the
    /// text as typed is tried too; a match that way verifies and needs a rehash, which
    /// [`Hasher::verify_and_upgrade`] makes from the normalized text. This accepts exactly
    /// the text the old system hashed, never another one: normalized text is never equal to
    /// text that NFKC changes. The cost is a second hash computation on a failed verify of
    /// such text. The dummy verify follows the same rule on its own hash, so an unknown
    /// user costs what a user with a current hash costs.
    #[default]
    Nfkc,
    /// The bytes as given, for every hash. For systems whose every hash was made from text
    /// as typed: new hashes are then made the same way.
    None,
}

/// The scheme new hashes are made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Argon2id(Argon2Params),
    Bcrypt(BcryptCost),
}

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a verified hash may need a rehash"]
pub struct Verified {
    needs_rehash: bool,
}

impl Verified {
    /// Whether the stored hash should be replaced by a new one made with the current
    /// settings: it is bcrypt or another argon2 variant, weaker than the current parameters,
    /// or made without the current pepper key. [`Hasher::verify_and_upgrade`] does it.
    #[must_use]
    pub fn needs_rehash(&self) -> bool {
        self.needs_rehash
    }
}

/// Hashes and verifies passwords. Build one with [`Hasher::builder`], or take the defaults
/// (argon2id at the OWASP minimum, no pepper) with [`Hasher::new`].
///
/// Every method is synchronous and CPU-heavy (tens of milliseconds at the defaults): from
/// async code, go through a [`HashingPool`](crate::HashingPool).
pub struct Hasher {
    scheme: Scheme,
    peppers: Option<Peppers>,
    limits: VerifyLimits,
    normalization: Normalization,
    random: Box<dyn RandomSource>,
    /// Whether `random` is the default [`OsRandom`], for `Debug`.
    os_random: bool,
    dummy: PasswordHash,
}

impl Hasher {
    /// A hasher with the defaults: argon2id at m = 19456 KiB, t = 2, p = 1, NFKC
    /// normalization, no pepper, [`VerifyLimits::DEFAULT`], salts from the OS.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the OS random source fails.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder starting from the defaults of [`Hasher::new`].
    pub fn builder() -> HasherBuilder {
        HasherBuilder {
            scheme: Scheme::Argon2id(Argon2Params::OWASP),
            peppers: None,
            limits: VerifyLimits::DEFAULT,
            normalization: Normalization::Nfkc,
            random: None,
        }
    }

    /// Hashes a password with the current settings.
    ///
    /// # Errors
    ///
    /// - [`Error::PasswordTooLong`] over [`MAX_PASSWORD_LEN`] bytes, or over
    ///   [`BCRYPT_MAX_PASSWORD_LEN`] bytes for bcrypt: nothing is ever truncated;
    /// - [`Error::Random`] when no salt can be made.
    pub fn hash(&self, password: impl AsRef<[u8]>) -> Result<PasswordHash, Error> {
        let mut input = self.prepare(password.as_ref())?;
        let mut salt = [0u8; SALT_LEN];
        self.random.fill(&mut salt).map_err(Error::Random)?;
        let encoded = match self.scheme {
            Scheme::Argon2id(params) => {
                let pepper = self.peppers.as_ref().map(Peppers::current);
                if let Some(key) = pepper {
                    input = key.apply(&input);
                }
                let params = argon2_params(params, pepper.map(|k| k.id().to_keyid()))?;
                let mut output = Zeroizing::new([0u8; OUTPUT_LEN]);
                argon2::Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params.clone(),
                )
                .hash_password_into(&input, &salt, output.as_mut())
                .map_err(|e| Error::Config(format!("argon2: {e}")))?;
                phc_string(argon2::Algorithm::Argon2id, &params, &salt, output.as_ref())?
            }
            Scheme::Bcrypt(cost) => {
                if input.len() > BCRYPT_MAX_PASSWORD_LEN {
                    return Err(Error::PasswordTooLong {
                        max: BCRYPT_MAX_PASSWORD_LEN,
                    });
                }
                if input.contains(&0) {
                    return Err(Error::NulByte);
                }
                bcrypt::hash_with_salt(input.as_slice(), cost.get(), salt)
                    .map_err(|e| Error::Config(format!("bcrypt: {e}")))?
                    .format_for_version(bcrypt::Version::TwoB)
            }
        };
        PasswordHash::parse(&encoded)
    }

    /// Verifies a password against a stored hash string.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] when the password does not match, whatever the reason (a bcrypt
    ///   hash and a password over 72 bytes never match: bcrypt would have truncated it);
    /// - [`Error::MalformedHash`] when `stored` is not a supported hash string;
    /// - [`Error::TooExpensive`] when its parameters exceed the [`VerifyLimits`];
    /// - [`Error::UnknownPepperKey`] when it was peppered with a key this hasher lacks;
    /// - [`Error::PasswordTooLong`] over [`MAX_PASSWORD_LEN`] bytes, before any work.
    ///
    /// With [`Normalization::Nfkc`] (the default), a hash made elsewhere from text as typed
    /// verifies too, and needs a rehash: see there.
    pub fn verify(&self, password: impl AsRef<[u8]>, stored: &str) -> Result<Verified, Error> {
        self.verify_hash(password, &PasswordHash::parse(stored)?)
    }

    /// [`Hasher::verify`] for an already parsed hash.
    ///
    /// # Errors
    ///
    /// As [`Hasher::verify`], less the parse errors.
    pub fn verify_hash(
        &self,
        password: impl AsRef<[u8]>,
        stored: &PasswordHash,
    ) -> Result<Verified, Error> {
        let password = password.as_ref();
        let input = self.prepare(password)?;
        if self.matches(&input, stored)? {
            return Ok(Verified {
                needs_rehash: self.needs_rehash(stored),
            });
        }
        if self.retries_as_typed(password, &input, stored) && self.matches(password, stored)? {
            // A hash of the text as typed, from a system that did not normalize: replace
            // it with one of the normalized text.
            return Ok(Verified { needs_rehash: true });
        }
        Err(Error::Invalid)
    }

    /// Verifies, and when the stored hash needs a rehash, makes its replacement with the
    /// current settings: `Ok(Some(new))` means "store `new`", `Ok(None)` that the stored
    /// hash stays: it is current, or the current scheme is bcrypt and the password (as
    /// normalized) is longer than its 72 bytes, so no replacement can be made. The
    /// replacement is made only after the password verified.
    ///
    /// # Errors
    ///
    /// As [`Hasher::verify`], and [`Hasher::hash`]'s other than
    /// [`Error::PasswordTooLong`].
    pub fn verify_and_upgrade(
        &self,
        password: impl AsRef<[u8]>,
        stored: &str,
    ) -> Result<Option<PasswordHash>, Error> {
        self.verify_and_upgrade_hash(password.as_ref(), &PasswordHash::parse(stored)?)
    }

    /// [`Hasher::verify_and_upgrade`] for an already parsed hash.
    pub(crate) fn verify_and_upgrade_hash(
        &self,
        password: &[u8],
        stored: &PasswordHash,
    ) -> Result<Option<PasswordHash>, Error> {
        if !self.verify_hash(password, stored)?.needs_rehash() {
            return Ok(None);
        }
        match self.hash(password) {
            Ok(new) => Ok(Some(new)),
            // It verified as typed, but its normalized text does not fit bcrypt's 72
            // bytes: keep the stored hash rather than turn a correct password away.
            Err(Error::PasswordTooLong { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a stored hash should be replaced by one made with the current settings.
    ///
    /// For argon2id settings: any bcrypt, argon2i or argon2d hash; argon2id before version
    /// 19; costs weaker than the current ones (less work, memory times passes, or less
    /// memory than both the current cost and OWASP's smallest setting of 7 MiB: a hash
    /// with more memory and fewer passes that does as much work is kept, never replaced
    /// by a cheaper one); a salt under 16 bytes or an output under 32; a pepper key other
    /// than the current one (or none while a pepper is set).
    /// Parallelism is not compared: it spreads the work, it does not change how much an
    /// attacker does per guess. For bcrypt settings: any argon2 hash, or a lower cost.
    #[must_use]
    pub fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        let current_pepper = self.peppers.as_ref().map(Peppers::current_id);
        if stored.pepper_id() != current_pepper {
            return true;
        }
        match (&self.scheme, &stored.parsed) {
            (
                Scheme::Argon2id(current),
                Parsed::Argon2 {
                    algorithm,
                    version,
                    params,
                    salt,
                    output,
                    ..
                },
            ) => {
                *algorithm != argon2::Algorithm::Argon2id
                    || *version != argon2::Version::V0x13
                    || weaker_than(params, current)
                    || salt.len() < SALT_LEN
                    || output.len() < OUTPUT_LEN
            }
            (Scheme::Bcrypt(current), Parsed::Bcrypt { cost }) => *cost < current.get(),
            (Scheme::Argon2id(_), Parsed::Bcrypt { .. })
            | (Scheme::Bcrypt(_), Parsed::Argon2 { .. }) => true,
        }
    }

    /// The verify to run when the user does not exist, so the response takes as long as for
    /// a user who does. It runs [`Hasher::verify`]'s code on a hash made with the current
    /// settings (same function, parameters and pepper) and always fails.
    ///
    /// ```
    /// # fn main() -> Result<(), passwords::Error> {
    /// # let hasher = passwords::Hasher::builder()
    /// #     .argon2id(passwords::Argon2Params::dangerous_weak(64, 1, 1)?).build()?;
    /// # let stored_hash_of = |_: &str| -> Option<String> { None };
    /// let outcome = match stored_hash_of("mallory") {
    ///     Some(stored) => hasher.verify("guess", &stored),
    ///     None => hasher.dummy_verify("guess"),
    /// };
    /// assert!(matches!(outcome, Err(passwords::Error::Invalid)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Always: [`Error::Invalid`], or [`Error::PasswordTooLong`] exactly when
    /// [`Hasher::verify`] would return it.
    pub fn dummy_verify(&self, password: impl AsRef<[u8]>) -> Result<Verified, Error> {
        // The dummy's output is random bytes, not the hash of any password: nothing matches
        // it (but with probability 2^-256), and the result is discarded regardless.
        let _ = self.verify_hash(password, &self.dummy)?;
        Err(Error::Invalid)
    }

    /// The hash [`Hasher::dummy_verify`] verifies against: the current scheme, parameters
    /// and pepper key id, a random salt and a random output.
    #[must_use]
    pub fn dummy_hash(&self) -> &PasswordHash {
        &self.dummy
    }

    /// Whether a verify whose normalized attempt failed tries the text as typed: see
    /// [`Normalization::Nfkc`]. Only for hashes without a pepper key id (this crate made
    /// every peppered hash, from normalized text) and text that NFKC changes (otherwise
    /// the second attempt would repeat the first).
    fn retries_as_typed(&self, password: &[u8], normalized: &[u8], stored: &PasswordHash) -> bool {
        self.normalization == Normalization::Nfkc
            && stored.pepper_id().is_none()
            && password.len() <= MAX_PASSWORD_LEN
            && password != normalized
    }

    /// Normalizes and length-checks a password; the copy is zeroized on drop.
    fn prepare(&self, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let too_long = Error::PasswordTooLong {
            max: MAX_PASSWORD_LEN,
        };
        // Bound the work before normalizing: text over four times the limit is refused
        // outright (no real password shrinks that much under NFKC).
        if password.len() > 4 * MAX_PASSWORD_LEN {
            return Err(too_long);
        }
        let normalized = match (self.normalization, std::str::from_utf8(password)) {
            (Normalization::Nfkc, Ok(text)) if is_nfkc_quick(text.chars()) != IsNormalized::Yes => {
                let mut normalized = crate::normalize::nfkc(text);
                Zeroizing::new(std::mem::take(&mut *normalized).into_bytes())
            }
            _ => Zeroizing::new(password.to_vec()),
        };
        if normalized.len() > MAX_PASSWORD_LEN {
            return Err(too_long);
        }
        Ok(normalized)
    }

    /// Runs the stored hash's function on the prepared password and compares in constant
    /// time. Both real and dummy verifies come through here.
    fn matches(&self, input: &[u8], stored: &PasswordHash) -> Result<bool, Error> {
        match &stored.parsed {
            Parsed::Argon2 {
                algorithm,
                version,
                params,
                salt,
                output,
                pepper,
            } => {
                self.limits
                    .check_argon2(params.m_cost(), params.t_cost(), params.p_cost())?;
                let peppered;
                let input = match pepper {
                    Some(id) => {
                        let key = self
                            .peppers
                            .as_ref()
                            .and_then(|p| p.get(*id))
                            .ok_or(Error::UnknownPepperKey(*id))?;
                        peppered = key.apply(input);
                        peppered.as_slice()
                    }
                    None => input,
                };
                tracing::debug!(
                    algorithm = %algorithm,
                    version = u32::from(*version),
                    m_cost = params.m_cost(),
                    t_cost = params.t_cost(),
                    p_cost = params.p_cost(),
                    output_len = output.len(),
                    pepper = pepper.map(|id| id.get()),
                    "computing password hash to verify"
                );
                let mut computed = Zeroizing::new(vec![0u8; output.len()]);
                argon2::Argon2::new(*algorithm, *version, params.clone())
                    .hash_password_into(input, salt, &mut computed)
                    .map_err(|_| Error::MalformedHash("argon2 rejected the hash parameters"))?;
                Ok(bool::from(computed.as_slice().ct_eq(output)))
            }
            Parsed::Bcrypt { cost } => {
                self.limits.check_bcrypt(*cost)?;
                tracing::debug!(
                    algorithm = "bcrypt",
                    cost = *cost,
                    "computing password hash to verify"
                );
                // bcrypt only reads 72 bytes. A longer password is hashed on its prefix, so
                // the work matches any other verify, and then refused: it never matches.
                // Nor does one with a NUL byte, which bcrypt cannot tell from others (it
                // repeats the password and a NUL: `a\0a` hashes as `a` does).
                let fits = input.len() <= BCRYPT_MAX_PASSWORD_LEN && !input.contains(&0);
                let prefix = input.get(..BCRYPT_MAX_PASSWORD_LEN).unwrap_or(input);
                let matched = bcrypt::verify(prefix, stored.as_str())
                    .map_err(|_| Error::MalformedHash("bcrypt rejected the hash"))?;
                Ok(matched & fits)
            }
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("scheme", &self.scheme)
            .field("pepper", &self.peppers.as_ref().map(Peppers::current_id))
            .field("limits", &self.limits)
            .field("normalization", &self.normalization)
            .field(
                "random",
                &if self.os_random {
                    "OsRandom"
                } else {
                    "dangerous_random_source"
                },
            )
            .finish_non_exhaustive()
    }
}

/// Configures a [`Hasher`]. Start from [`Hasher::builder`].
#[must_use = "a builder does nothing until built"]
pub struct HasherBuilder {
    scheme: Scheme,
    peppers: Option<Peppers>,
    limits: VerifyLimits,
    normalization: Normalization,
    random: Option<Box<dyn RandomSource>>,
}

impl HasherBuilder {
    /// New hashes are argon2id with these parameters (the default, at
    /// [`Argon2Params::OWASP`]).
    pub fn argon2id(mut self, params: Argon2Params) -> Self {
        self.scheme = Scheme::Argon2id(params);
        self
    }

    /// New hashes are bcrypt `$2b$` with this cost: for systems that must still read them
    /// with a bcrypt-only verifier. Passwords over 72 bytes are refused, and no pepper can
    /// be recorded in a bcrypt string.
    pub fn bcrypt(mut self, cost: BcryptCost) -> Self {
        self.scheme = Scheme::Bcrypt(cost);
        self
    }

    /// Peppers new hashes with the keyring's current key; hashes made under its previous
    /// keys still verify and need a rehash.
    pub fn pepper(mut self, peppers: Peppers) -> Self {
        self.peppers = Some(peppers);
        self
    }

    /// Caps the work a stored hash may ask for ([`VerifyLimits::DEFAULT`] otherwise).
    pub fn verify_limits(mut self, limits: VerifyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// How passwords are normalized ([`Normalization::Nfkc`] otherwise).
    pub fn normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// Takes salts (and the dummy hash's random bytes) from `random` instead of the
    /// operating system ([`OsRandom`]).
    ///
    /// Dangerous: salts are what make two users with the same password get different
    /// hashes. A source that repeats itself, or that an attacker can predict, gives repeated
    /// or precomputable salts, so one guess tests many accounts at once. The only reason to
    /// use it is a known-answer test that needs reproducible hash strings; production code
    /// keeps the default. A hasher built this way says so in its `Debug` output.
    pub fn dangerous_random_source(mut self, random: impl RandomSource + 'static) -> Self {
        self.random = Some(Box::new(random));
        self
    }

    /// Builds the hasher.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`] for bcrypt with a pepper (a bcrypt string cannot record the key
    ///   id), or a pepper keyring with a repeated key id;
    /// - [`Error::Random`] when the random source fails.
    pub fn build(self) -> Result<Hasher, Error> {
        if let Some(peppers) = &self.peppers {
            if matches!(self.scheme, Scheme::Bcrypt(_)) {
                return Err(Error::Config(
                    "a bcrypt hash cannot record a pepper key id: use argon2id with a pepper"
                        .to_owned(),
                ));
            }
            peppers.check()?;
        }
        let os_random = self.random.is_none();
        let random = self.random.unwrap_or_else(|| Box::new(OsRandom));
        let dummy = dummy_hash(
            self.scheme,
            self.peppers.as_ref().map(Peppers::current_id),
            random.as_ref(),
        )?;
        Ok(Hasher {
            limits: self.limits.admitting(&self.scheme),
            scheme: self.scheme,
            peppers: self.peppers,
            normalization: self.normalization,
            random,
            os_random,
            dummy,
        })
    }
}

impl fmt::Debug for HasherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HasherBuilder")
            .field("scheme", &self.scheme)
            .field("pepper", &self.peppers.as_ref().map(Peppers::current_id))
            .finish_non_exhaustive()
    }
}

fn argon2_params(params: Argon2Params, keyid: Option<[u8; 4]>) -> Result<argon2::Params, Error> {
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(params.m_cost())
        .t_cost(params.t_cost())
        .p_cost(params.p_cost())
        .output_len(OUTPUT_LEN);
    if let Some(keyid) = keyid {
        let keyid = argon2::KeyId::new(&keyid).map_err(|e| Error::Config(format!("keyid: {e}")))?;
        builder.keyid(keyid);
    }
    builder
        .build()
        .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))
}

fn phc_string(
    algorithm: argon2::Algorithm,
    params: &argon2::Params,
    salt: &[u8],
    output: &[u8],
) -> Result<String, Error> {
    let shape = |_| Error::Config("argon2 output does not fit a PHC string".to_owned());
    let hash = phc::PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: phc::ParamsString::try_from(params)
            .map_err(|_| Error::Config("argon2 parameters do not fit a PHC string".to_owned()))?,
        salt: Some(phc::Salt::new(salt).map_err(shape)?),
        hash: Some(phc::Output::new(output).map_err(shape)?),
    };
    Ok(hash.to_string())
}

/// A well-formed hash with the current scheme, parameters and pepper key id whose salt
/// and output are random: verifying against it costs what a real verify costs.
fn dummy_hash(
    scheme: Scheme,
    pepper: Option<crate::PepperId>,
    random: &dyn RandomSource,
) -> Result<PasswordHash, Error> {
    let mut salt = [0u8; SALT_LEN];
    random.fill(&mut salt).map_err(Error::Random)?;
    let encoded = match scheme {
        Scheme::Argon2id(params) => {
            let mut output = [0u8; OUTPUT_LEN];
            random.fill(&mut output).map_err(Error::Random)?;
            let params = argon2_params(params, pepper.map(|id| id.to_keyid()))?;
            phc_string(argon2::Algorithm::Argon2id, &params, &salt, &output)?
        }
        Scheme::Bcrypt(cost) => {
            let mut output = [0u8; 23];
            random.fill(&mut output).map_err(Error::Random)?;
            format!(
                "$2b${:02}${}{}",
                cost.get(),
                bcrypt_base64(&salt),
                bcrypt_base64(&output)
            )
        }
    };
    PasswordHash::parse(&encoded)
}

/// bcrypt's own base64: alphabet `./A-Za-z0-9`, no padding.
fn bcrypt_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let sextets = [
            b[0] >> 2,
            ((b[0] & 0x03) << 4) | (b[1] >> 4),
            ((b[1] & 0x0f) << 2) | (b[2] >> 6),
            b[2] & 0x3f,
        ];
        for &s in sextets.iter().take(chunk.len() + 1) {
            out.push(char::from(ALPHABET[usize::from(s)]));
        }
    }
    out
}

/// The least memory, in KiB, of OWASP's argon2id settings (7 MiB with 5 passes).
const OWASP_LEAST_MEMORY: u32 = 7_168;

/// Whether argon2 costs `stored` are weaker than the `current` ones: less work per guess
/// (memory times passes), or less memory than both the current cost and OWASP's least.
/// More memory with fewer passes is as strong when the work is the same: rehashing it
/// to the current costs would make it cheaper to attack.
fn weaker_than(stored: &argon2::Params, current: &Argon2Params) -> bool {
    let work = |m: u32, t: u32| u64::from(m) * u64::from(t);
    work(stored.m_cost(), stored.t_cost()) < work(current.m_cost(), current.t_cost())
        || stored.m_cost() < current.m_cost().min(OWASP_LEAST_MEMORY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_base64_matches_the_bcrypt_crate() {
        let salt: [u8; 16] = std::array::from_fn(|i| u8::try_from(i * 17).unwrap());
        let parts = bcrypt::hash_with_salt("x", 4, salt).unwrap();
        assert_eq!(bcrypt_base64(&salt), parts.get_salt());
    }

    #[test]
    fn nfkc_makes_composed_and_decomposed_accents_one_password() {
        let hasher = Hasher::builder()
            .argon2id(Argon2Params::dangerous_weak(64, 1, 1).unwrap())
            .build()
            .unwrap();
        let composed = hasher.prepare("caf\u{e9}".as_bytes()).unwrap();
        let decomposed = hasher.prepare("cafe\u{301}".as_bytes()).unwrap();
        assert_eq!(composed, decomposed);
        // Compatibility forms fold too: the "fi" ligature is two letters.
        assert_eq!(
            *hasher.prepare("\u{fb01}".as_bytes()).unwrap(),
            b"fi".to_vec()
        );
        // Bytes that are not UTF-8 pass through untouched.
        assert_eq!(*hasher.prepare(&[0xff, 0xfe]).unwrap(), vec![0xff, 0xfe]);
    }

    #[test]
    fn without_normalization_bytes_are_hashed_as_given() {
        let hasher = Hasher::builder()
            .argon2id(Argon2Params::dangerous_weak(64, 1, 1).unwrap())
            .normalization(Normalization::None)
            .build()
            .unwrap();
        assert_eq!(
            *hasher.prepare("cafe\u{301}".as_bytes()).unwrap(),
            "cafe\u{301}".as_bytes().to_vec()
        );
    }
}
