//! Stored hash strings: PHC strings for argon2, modular crypt strings for bcrypt.

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::phc;

use crate::Error;
use crate::pepper::PepperId;

/// The longest stored hash string accepted, in bytes. Real ones are under 200.
pub const MAX_HASH_LEN: usize = 512;

/// The password hashing function a stored hash was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Argon2id: the default for new hashes.
    Argon2id,
    /// Argon2i: verified, always rehashed.
    Argon2i,
    /// Argon2d: verified, always rehashed.
    Argon2d,
    /// bcrypt (`$2a$`, `$2b$`, `$2y$`): verified; new bcrypt hashes only when asked for.
    Bcrypt,
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Argon2d => "argon2d",
            Self::Bcrypt => "bcrypt",
        })
    }
}

/// A well-formed stored password hash: an argon2 PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) or a bcrypt string
/// (`$2b$12$<salt><hash>`).
///
/// Parsing checks the whole shape (identifier, version, parameters, salt and output
/// lengths, base64) without doing any hashing, so it is cheap on untrusted input. `Display`
/// gives back the exact string; `Debug` shows only the algorithm, so logs never carry a
/// crackable hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    encoded: String,
    pub(crate) parsed: Parsed,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    Argon2 {
        algorithm: argon2::Algorithm,
        version: argon2::Version,
        params: argon2::Params,
        salt: Vec<u8>,
        output: Vec<u8>,
        pepper: Option<PepperId>,
    },
    Bcrypt {
        cost: u32,
    },
}

impl PasswordHash {
    /// Parses a stored hash string.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedHash`] when the string is not an argon2 PHC string or a `$2a$`,
    /// `$2b$` or `$2y$` bcrypt string, with the reason.
    pub fn parse(encoded: &str) -> Result<Self, Error> {
        if encoded.len() > MAX_HASH_LEN {
            return Err(Error::MalformedHash("longer than any supported hash"));
        }
        let parsed = if encoded.starts_with("$argon2") {
            parse_argon2(encoded)?
        } else if encoded.starts_with("$2") {
            parse_bcrypt(encoded)?
        } else {
            return Err(Error::MalformedHash(
                "not an argon2 ($argon2id$...) or bcrypt ($2b$...) hash",
            ));
        };
        Ok(Self {
            encoded: encoded.to_owned(),
            parsed,
        })
    }

    /// The hash string, exactly as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    /// The hash string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.encoded
    }

    /// The function the hash was made with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match &self.parsed {
            Parsed::Argon2 { algorithm, .. } => match algorithm {
                argon2::Algorithm::Argon2id => Algorithm::Argon2id,
                argon2::Algorithm::Argon2i => Algorithm::Argon2i,
                argon2::Algorithm::Argon2d => Algorithm::Argon2d,
            },
            Parsed::Bcrypt { .. } => Algorithm::Bcrypt,
        }
    }

    /// The pepper key the hash was made under, if any.
    #[must_use]
    pub fn pepper_id(&self) -> Option<PepperId> {
        match &self.parsed {
            Parsed::Argon2 { pepper, .. } => *pepper,
            Parsed::Bcrypt { .. } => None,
        }
    }
}

fn parse_argon2(encoded: &str) -> Result<Parsed, Error> {
    let phc = phc::PasswordHash::new(encoded)
        .map_err(|_| Error::MalformedHash("not a valid PHC string"))?;
    let algorithm = argon2::Algorithm::new(phc.algorithm.as_str())
        .map_err(|_| Error::MalformedHash("unknown argon2 variant"))?;
    // The PHC rules for argon2 say a missing `v=` means version 0x10, the first one.
    let version = argon2::Version::try_from(phc.version.unwrap_or(0x10))
        .map_err(|_| Error::MalformedHash("unknown argon2 version"))?;
    let params = argon2::Params::try_from(&phc)
        .map_err(|_| Error::MalformedHash("invalid argon2 parameters"))?;
    let salt = phc
        .salt
        .as_ref()
        .ok_or(Error::MalformedHash("argon2 hash without a salt"))?;
    let output = phc
        .hash
        .as_ref()
        .ok_or(Error::MalformedHash("argon2 hash without an output"))?;
    let pepper = if params.keyid().is_empty() {
        None
    } else {
        Some(
            PepperId::from_keyid(params.keyid())
                .ok_or(Error::MalformedHash("keyid is not a 4-byte pepper key id"))?,
        )
    };
    Ok(Parsed::Argon2 {
        algorithm,
        version,
        salt: salt.as_ref().to_vec(),
        output: output.as_bytes().to_vec(),
        params,
        pepper,
    })
}

fn parse_bcrypt(encoded: &str) -> Result<Parsed, Error> {
    let bytes = encoded.as_bytes();
    // `$2x$` (crypt_blowfish's buggy-sign-extension marker) is deliberately not accepted:
    // its hashes do not match a correct bcrypt for non-ASCII passwords.
    let prefix_ok = matches!(bytes.get(..4), Some(b"$2a$" | b"$2b$" | b"$2y$"));
    if !prefix_ok {
        return Err(Error::MalformedHash(
            "bcrypt prefix must be $2a$, $2b$ or $2y$",
        ));
    }
    let cost_digits = bytes.get(4..6).filter(|d| d.iter().all(u8::is_ascii_digit));
    let (Some(digits), Some(b'$')) = (cost_digits, bytes.get(6)) else {
        return Err(Error::MalformedHash("bcrypt cost must be two digits"));
    };
    let cost = u32::from(digits[0] - b'0') * 10 + u32::from(digits[1] - b'0');
    if !(4..=31).contains(&cost) {
        return Err(Error::MalformedHash(
            "bcrypt cost must be between 04 and 31",
        ));
    }
    encoded.parse::<bcrypt::HashParts>().map_err(|_| {
        Error::MalformedHash("bcrypt salt or hash is not 53 bcrypt-base64 characters")
    })?;
    Ok(Parsed::Bcrypt { cost })
}

impl FromStr for PasswordHash {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encoded)
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("algorithm", &self.algorithm())
            .field("pepper_id", &self.pepper_id())
            .finish_non_exhaustive()
    }
}

impl AsRef<str> for PasswordHash {
    fn as_ref(&self) -> &str {
        &self.encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU";
    const BCRYPT: &str = "$2b$10$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FHi";

    #[test]
    fn well_formed_hashes_parse_and_display_unchanged() {
        for s in [ARGON2, BCRYPT] {
            let hash = PasswordHash::parse(s).unwrap();
            assert_eq!(hash.to_string(), s);
        }
        assert_eq!(
            PasswordHash::parse(ARGON2).unwrap().algorithm(),
            Algorithm::Argon2id
        );
        assert_eq!(
            PasswordHash::parse(BCRYPT).unwrap().algorithm(),
            Algorithm::Bcrypt
        );
    }

    #[test]
    fn malformed_hashes_are_errors_with_a_reason() {
        let cases = [
            "",
            "plaintext",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw",
            "$argon2id$v=18$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU",
            "$argon2x$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU",
            "$argon2id$v=19$m=19456,t=2,p=1,z=3$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU",
            "$argon2id$v=19$m=19456,t=0,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU",
            "$argon2id$v=19$m=19456,t=2,p=1,keyid=AAE$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU",
            "$2x$10$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FHi",
            "$2b$+5$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FHi",
            "$2b$03$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FHi",
            "$2b$32$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FHi",
            "$2b$10$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FH",
            "$2b$10$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FH!",
            "$2b$10$..CA.uOD/eaGAOmJB.yMBubRoslBHnMTNf7r5vXwx5UX9sWYt/FHé",
        ];
        for case in cases {
            assert!(
                matches!(PasswordHash::parse(case), Err(Error::MalformedHash(_))),
                "{case}"
            );
        }
        let long = format!("{ARGON2}{}", "A".repeat(MAX_HASH_LEN));
        assert!(PasswordHash::parse(&long).is_err());
    }

    #[test]
    fn a_missing_version_means_argon2_version_0x10() {
        let v10 = "$argon2id$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU";
        let Parsed::Argon2 { version, .. } = PasswordHash::parse(v10).unwrap().parsed else {
            panic!("argon2 expected");
        };
        assert_eq!(version, argon2::Version::V0x10);
    }

    #[test]
    fn debug_hides_salt_and_output() {
        let shown = format!("{:?}", PasswordHash::parse(ARGON2).unwrap());
        assert!(shown.contains("Argon2id"), "{shown}");
        assert!(!shown.contains("AAECAwQF"), "{shown}");
        assert!(!shown.contains("gYJZ"), "{shown}");
    }
}
