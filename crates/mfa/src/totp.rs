//! TOTP (RFC 6238) on `totp-rs`: secrets, parameters, codes, and the step check.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Error, Random};

/// Bytes in a seed made by [`TotpSecret::generate`]: 160 bits, as RFC 4226 recommends.
pub(crate) const SEED_LEN: usize = 20;
/// The shortest secret accepted from outside: 80 bits (what many services still issue).
const MIN_SECRET_LEN: usize = 10;
/// The longest secret accepted from outside.
const MAX_SECRET_LEN: usize = 128;
/// The longest period accepted, in seconds.
const MAX_PERIOD: u64 = 600;

/// The HMAC behind the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA1: the default, and the only one every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs: `SHA1`, `SHA256`, `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Case-insensitive `sha1`, `sha256`, `sha512`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(Error::Input("algorithm must be sha1, sha256 or sha512")),
        }
    }
}

/// The parameters of a TOTP factor: algorithm, digits (6 to 8) and period (1 to 600 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpParams {
    algorithm: Algorithm,
    digits: u8,
    period: u64,
}

impl Default for TotpParams {
    /// SHA-1, 6 digits, 30 seconds: what every authenticator app understands.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

impl TotpParams {
    /// Checked parameters.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `digits` is not 6, 7 or 8, or `period` is not 1 to 600 seconds.
    pub fn new(algorithm: Algorithm, digits: u8, period: u64) -> Result<Self, Error> {
        if !(6..=8).contains(&digits) {
            return Err(Error::Input("digits must be 6, 7 or 8"));
        }
        if !(1..=MAX_PERIOD).contains(&period) {
            return Err(Error::Input("period must be 1 to 600 seconds"));
        }
        Ok(Self {
            algorithm,
            digits,
            period,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits in a code.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// The period (time step) in seconds.
    pub fn period(&self) -> u64 {
        self.period
    }

    /// The time step that contains Unix time `time`.
    pub fn step(&self, time: u64) -> u64 {
        time / self.period
    }
}

/// A TOTP shared secret. Zeroized on drop, not `Clone`, never printed.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret({} bytes, redacted)", self.0.len())
    }
}

impl TotpSecret {
    /// A fresh random 160-bit secret.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(random: &dyn Random) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new(vec![0u8; SEED_LEN]);
        random.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Raw secret bytes (10 to 128 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the length is out of range.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&bytes.len()) {
            return Err(Error::Input("a TOTP secret is 80 to 1024 bits"));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Parses RFC 4648 base32: case-insensitive, padding optional, spaces ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when it is not base32 or decodes to fewer than 80 or more than
    /// 1024 bits.
    pub fn from_base32(text: &str) -> Result<Self, Error> {
        let mut clean = Zeroizing::new(String::with_capacity(text.len()));
        for c in text.chars().filter(|c| *c != ' ') {
            clean.push(c.to_ascii_uppercase());
        }
        let trimmed = clean.trim_end_matches('=');
        if trimmed.len() > MAX_SECRET_LEN * 2 {
            return Err(Error::Input("a TOTP secret is 80 to 1024 bits"));
        }
        let bytes = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(trimmed.as_bytes())
                .map_err(|_| Error::Input("the secret is not base32 (RFC 4648)"))?,
        );
        Self::from_bytes(&bytes)
    }

    /// The secret as unpadded upper-case base32, for showing once at enrollment.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, params: &TotpParams) -> totp_rs::Totp {
        totp_rs::Builder::new()
            .with_algorithm(params.algorithm.to_totp_rs())
            .with_digits(params.digits)
            .with_step_duration(params.period)
            .with_secret(self.0.as_slice())
            .build_noncompliant()
    }
}

/// A code as typed by a user: digits only (spaces ignored), exactly as many as the
/// factor's parameters say.
pub struct TotpCode(Zeroizing<String>);

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(redacted)")
    }
}

impl TotpCode {
    /// Parses user input: surrounding whitespace and inner spaces are dropped, the rest must
    /// be `digits` ASCII digits.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for anything else (letters, signs, wrong length).
    pub fn parse(input: &str, digits: u8) -> Result<Self, Error> {
        let input = input.trim();
        if input.len() > 32 {
            return Err(Error::Input("a code is 6 to 8 digits"));
        }
        let code: String = input.chars().filter(|c| *c != ' ').collect();
        if code.len() != usize::from(digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Input("a code is 6 to 8 digits"));
        }
        Ok(Self(Zeroizing::new(code)))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The code for `secret` at Unix time `time`.
pub fn totp_code(secret: &TotpSecret, params: &TotpParams, time: u64) -> String {
    secret.totp(params).generate(time).to_string()
}

/// Checks `code` against the steps `step(time) - skew ..= step(time) + skew` and returns
/// the step it matches. Every step in the window is computed and compared in constant
/// time, whether or not an earlier one matched. This is the stateless check: it has no
/// replay guard (see [`crate::Mfa::totp_verify`] for that).
pub fn totp_check(
    secret: &TotpSecret,
    params: &TotpParams,
    code: &TotpCode,
    time: u64,
    skew: u8,
) -> Option<u64> {
    if code.0.len() != usize::from(params.digits) {
        return None;
    }
    let totp = secret.totp(params);
    let now = params.step(time);
    let mut found: Option<u64> = None;
    for step in now.saturating_sub(u64::from(skew))..=now.saturating_add(u64::from(skew)) {
        let Some(at) = step.checked_mul(params.period) else {
            continue;
        };
        let expected = Zeroizing::new(totp.generate(at).to_string());
        let equal: bool = expected.as_bytes().ct_eq(code.0.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Renders `text` (an `otpauth://` URI) as a QR code in SVG, black on white, with the
/// standard quiet zone. The SVG holds the secret: send it to the user once, never log it.
///
/// # Errors
///
/// [`Error::Input`] when the text is too long for a QR code.
pub fn qr_svg(text: &str) -> Result<Zeroizing<String>, Error> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| Error::Input("too long for a QR code"))?;
    Ok(Zeroizing::new(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_is_case_insensitive_with_optional_padding() {
        let a = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        let b = TotpSecret::from_base32("jbswy3dpehpk3pxp").unwrap();
        let c = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        let d = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====").unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_eq!(c.as_bytes(), b"12345678901234567890");
        assert_eq!(d.as_bytes(), c.as_bytes());
        assert!(
            TotpSecret::from_base32("JBSWY3DP").is_err(),
            "40 bits is too short"
        );
        assert!(
            TotpSecret::from_base32("JBSWY3DPEHPK3PX1").is_err(),
            "1 is not base32"
        );
        assert!(format!("{a:?}").contains("redacted"));
    }

    #[test]
    fn codes_parse_strictly() {
        assert_eq!(TotpCode::parse(" 123 456 ", 6).unwrap().as_str(), "123456");
        for bad in [
            "12345",
            "1234567",
            "12345a",
            "+12345",
            "-12345",
            "１２３４５６",
            "",
        ] {
            assert!(TotpCode::parse(bad, 6).is_err(), "{bad:?}");
        }
        assert!(TotpCode::parse("12345678", 8).is_ok());
    }
}
