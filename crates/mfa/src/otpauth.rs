//! `otpauth://totp/` URIs (the Google Authenticator key URI format), built and parsed.

use std::fmt;

use zeroize::Zeroizing;

use crate::{Algorithm, Error, TotpParams, TotpSecret};

const PREFIX: &str = "otpauth://totp/";
const MAX_URI_LEN: usize = 2048;
const MAX_NAME_LEN: usize = 256;

/// A TOTP key URI: issuer, account, secret and parameters.
///
/// The URI holds the secret, so this type redacts it in `Debug` and hands the text out
/// only as [`Zeroizing`].
pub struct OtpAuthUri {
    issuer: String,
    account: String,
    secret: TotpSecret,
    params: TotpParams,
}

impl fmt::Debug for OtpAuthUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpAuthUri")
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("secret", &self.secret)
            .field("params", &self.params)
            .finish()
    }
}

pub(crate) fn check_name(name: &str, what: &'static str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains(':') || name.trim() != name {
        return Err(Error::Input(what));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Input(what));
    }
    Ok(())
}

impl OtpAuthUri {
    /// A URI for `account` at `issuer`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when the issuer or account is empty, longer than 256 bytes,
    /// contains `:` or control characters, or starts or ends with whitespace.
    pub fn new(
        issuer: &str,
        account: &str,
        secret: TotpSecret,
        params: TotpParams,
    ) -> Result<Self, Error> {
        check_name(
            issuer,
            "an issuer is 1 to 256 bytes without ':' or outer spaces",
        )?;
        check_name(
            account,
            "an account is 1 to 256 bytes without ':' or outer spaces",
        )?;
        Ok(Self {
            issuer: issuer.to_owned(),
            account: account.to_owned(),
            secret,
            params,
        })
    }

    /// Parses `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...`. The scheme and type
    /// are case-insensitive; `secret` is required; `algorithm`, `digits` and `period`
    /// default to SHA1, 6 and 30. Whitespace around the issuer and account is dropped.
    /// When the label and the `issuer` parameter both name an issuer they must agree. A
    /// repeated parameter is refused.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for anything malformed.
    pub fn parse(uri: &str) -> Result<Self, Error> {
        if uri.len() > MAX_URI_LEN {
            return Err(Error::Input("otpauth URI too long"));
        }
        let head = uri
            .get(..PREFIX.len())
            .filter(|h| h.eq_ignore_ascii_case(PREFIX))
            .ok_or(Error::Input("not an otpauth://totp/ URI"))?;
        let rest = &uri[head.len()..];
        let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
        if query.contains('#') || label.contains('#') {
            return Err(Error::Input("otpauth URI with a fragment"));
        }
        let label = percent_decode(label, false)?;
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer.trim()), account.trim()),
            None => (None, label.trim()),
        };

        let mut secret: Option<Zeroizing<String>> = None;
        let mut issuer: Option<String> = None;
        let (mut algorithm, mut digits, mut period) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = Zeroizing::new(percent_decode(value, true)?);
            match name {
                "secret" => set_once(&mut secret, value)?,
                "issuer" => set_once(&mut issuer, value.trim().to_owned())?,
                "algorithm" => set_once(&mut algorithm, value.parse::<Algorithm>()?)?,
                "digits" => set_once(
                    &mut digits,
                    value
                        .parse::<u8>()
                        .map_err(|_| Error::Input("digits must be 6, 7 or 8"))?,
                )?,
                "period" => set_once(
                    &mut period,
                    value
                        .parse::<u64>()
                        .map_err(|_| Error::Input("period must be 1 to 600 seconds"))?,
                )?,
                // Other parameters (image, color, ...) are for display and are ignored.
                _ => {}
            }
        }
        let issuer = match (label_issuer, issuer) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::Input("label issuer and issuer parameter differ"));
            }
            (_, Some(b)) => b,
            (Some(a), None) => a.to_owned(),
            (None, None) => return Err(Error::Input("otpauth URI without an issuer")),
        };
        let secret = TotpSecret::from_base32(
            secret
                .as_deref()
                .ok_or(Error::Input("otpauth URI without a secret"))?,
        )?;
        let defaults = TotpParams::default();
        let params = TotpParams::new(
            algorithm.unwrap_or(defaults.algorithm()),
            digits.unwrap_or(defaults.digits()),
            period.unwrap_or(defaults.period()),
        )?;
        Self::new(&issuer, account, secret, params)
    }

    /// The URI text. It contains the secret.
    pub fn to_uri(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(128));
        out.push_str(PREFIX);
        percent_encode(&self.issuer, &mut out);
        out.push(':');
        percent_encode(&self.account, &mut out);
        out.push_str("?secret=");
        out.push_str(&self.secret.to_base32());
        out.push_str("&issuer=");
        percent_encode(&self.issuer, &mut out);
        out.push_str("&algorithm=");
        out.push_str(self.params.algorithm().as_str());
        out.push_str(&format!(
            "&digits={}&period={}",
            self.params.digits(),
            self.params.period()
        ));
        out
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The secret.
    pub fn secret(&self) -> &TotpSecret {
        &self.secret
    }

    /// The parameters.
    pub fn params(&self) -> &TotpParams {
        &self.params
    }

    /// Splits into the secret and the parameters.
    pub fn into_parts(self) -> (TotpSecret, TotpParams) {
        (self.secret, self.params)
    }
}

/// Fills `slot` once: a repeated parameter is refused rather than silently overridden.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), Error> {
    if slot.replace(value).is_some() {
        return Err(Error::Input("repeated otpauth parameter"));
    }
    Ok(())
}

fn percent_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(Error::Input("bad percent-encoding in otpauth URI"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::Input("otpauth URI is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        let params = TotpParams::new(Algorithm::Sha256, 8, 60).unwrap();
        let uri = OtpAuthUri::new("ACME Co", "alice@example.com", secret, params).unwrap();
        let text = uri.to_uri();
        assert_eq!(
            text.as_str(),
            "otpauth://totp/ACME%20Co:alice%40example.com?secret=JBSWY3DPEHPK3PXP\
             &issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60"
        );
        let back = OtpAuthUri::parse(&text).unwrap();
        assert_eq!(
            (back.issuer(), back.account()),
            ("ACME Co", "alice@example.com")
        );
        assert_eq!(*back.params(), params);
        assert!(format!("{back:?}").contains("redacted"));
        assert!(!format!("{back:?}").contains("JBSWY3DP"));

        for bad in [
            "otpauth://hotp/A:b?secret=JBSWY3DPEHPK3PXP",
            "otpauth://totp/A:b",
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&issuer=B",
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP",
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=9",
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&period=0",
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
            "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PX%",
            "otpauth://totp/b?secret=JBSWY3DPEHPK3PXP",
            "otpauth://totp/A:%20?secret=JBSWY3DPEHPK3PXP",
        ] {
            assert!(OtpAuthUri::parse(bad).is_err(), "{bad}");
        }
        // Found by the fuzzer: an issuer parameter with outer spaces and no label issuer.
        let spaced =
            OtpAuthUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=+A").unwrap();
        assert_eq!(spaced.issuer(), "A");
        assert!(OtpAuthUri::parse(&spaced.to_uri()).is_ok());
        for bad in [" A", "A ", ""] {
            let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
            assert!(OtpAuthUri::new(bad, "b", secret, TotpParams::default()).is_err());
        }
    }
}
