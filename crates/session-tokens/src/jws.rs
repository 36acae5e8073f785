//! The token format: a JWS in compact serialization (RFC 7515) carrying JWT claims
//! (RFC 7519), signed and verified with jsonwebtoken's RustCrypto provider.
//!
//! This module owns the compact serialization and the header checks; the cryptography is
//! jsonwebtoken's. It calls the RustCrypto provider directly, so no process-wide
//! jsonwebtoken provider is installed or consulted, and the claim times are checked by the
//! manager against its injected clock rather than the system time.

use std::fmt;
use std::io;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::keys::Algorithm;
use crate::{Error, KeySet, Reason};

/// The `typ` header of a session token (RFC 8725, section 3.11: explicit typing), so no
/// other JWT signed with the same key passes for a session.
pub(crate) const TOKEN_TYPE: &str = "session+jwt";

/// Longest token accepted, in bytes: the browser cookie limit.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Longest signature: Ed25519's 64 bytes (HS256's is 32).
const MAX_SIGNATURE_LEN: usize = 64;

/// A session token's claims.
///
/// Not `Clone`, and `Debug` leaves out the session id, which is zeroized on drop.
#[derive(PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    /// The user.
    pub(crate) sub: String,
    /// The tenant.
    pub(crate) org: String,
    /// The secret session id; the store knows only its SHA-256.
    pub(crate) sid: Sid,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
    /// When the user last authenticated (OpenID Connect's `auth_time`).
    pub(crate) auth_time: u64,
    pub(crate) aal: u8,
    pub(crate) amr: Vec<String>,
    /// The user's session generation when the session was issued.
    #[serde(rename = "gen")]
    pub(crate) generation: u64,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("sub", &self.sub)
            .field("org", &self.org)
            .field("sid", &self.sid)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("exp", &self.exp)
            .field("auth_time", &self.auth_time)
            .field("aal", &self.aal)
            .field("amr", &self.amr)
            .field("generation", &self.generation)
            .finish()
    }
}

/// The secret session id of a token: zeroized on drop, redacted in `Debug`.
#[derive(PartialEq, Eq)]
pub(crate) struct Sid(Zeroizing<String>);

impl Sid {
    pub(crate) fn new(sid: Zeroizing<String>) -> Self {
        Self(sid)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sid([redacted])")
    }
}

impl Serialize for Sid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|sid| Self(Zeroizing::new(sid)))
    }
}

/// A byte buffer for serialized claims that never leaves a copy behind: when it must grow
/// it moves into a larger buffer and zeroizes the old one (a `Vec` would free it as is).
struct SecretBuffer(Zeroizing<Vec<u8>>);

impl io::Write for SecretBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let needed = self.0.len().saturating_add(data.len());
        if needed > self.0.capacity() {
            let mut larger = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.0.capacity())));
            larger.extend_from_slice(&self.0);
            // The old buffer is zeroized (capacity included) as it is dropped here.
            self.0 = larger;
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

#[derive(Deserialize)]
struct HeaderIn {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// RFC 7515, section 4.1.11: extensions the recipient must understand. This crate
    /// understands none, so a `crit` member refuses the token whatever its value, `null`
    /// included.
    #[serde(default)]
    crit: Present,
}

/// Whether a member was present in a JSON object, whatever its value. Unlike
/// `Option<IgnoredAny>`, which reads `null` as absent.
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

/// Parses a JOSE header or a claims set, which RFC 7515 (section 4) and RFC 7519 (section
/// 7.2) require to be a JSON object. A derived `Deserialize` would also accept a JSON
/// array, read positionally, so the first byte that is not whitespace must be `{`.
/// serde then refuses a repeated known member and anything after the object.
fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Reason> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(Reason::Malformed);
    }
    serde_json::from_slice(bytes).map_err(|_| Reason::Malformed)
}

/// Signs `claims` under the key set's primary key.
///
/// Every buffer that holds the session id (the serialized claims, the token) is zeroized
/// when dropped and sized so that it never reallocates with a copy left behind.
pub(crate) fn sign(keys: &KeySet, claims: &Claims) -> Result<Zeroizing<String>, Error> {
    let (kid, algorithm, key) = keys.signer();
    let header = serde_json::to_vec(&HeaderOut {
        alg: algorithm.name(),
        typ: TOKEN_TYPE,
        kid,
    })
    .map_err(|_| Error::Signing)?;
    let mut payload = SecretBuffer(Zeroizing::new(Vec::with_capacity(512)));
    serde_json::to_writer(&mut payload, claims).map_err(|_| Error::Signing)?;
    let payload = payload.0;
    let capacity = [header.len(), payload.len(), MAX_SIGNATURE_LEN]
        .into_iter()
        .map(|len| base64::encoded_len(len, false))
        .try_fold(2usize, |total, len| total.checked_add(len?))
        .ok_or(Error::Signing)?;
    let mut token = Zeroizing::new(String::with_capacity(capacity));
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&*payload, &mut token);
    let signer =
        (DEFAULT_PROVIDER.signer_factory)(&algorithm.jwt(), key).map_err(|_| Error::Signing)?;
    let signature = Zeroizing::new(
        signer
            .try_sign(token.as_bytes())
            .map_err(|_| Error::Signing)?,
    );
    if signature.len() > MAX_SIGNATURE_LEN {
        return Err(Error::Signing);
    }
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&*signature, &mut token);
    Ok(token)
}

/// Checks the header and the signature of `token` and returns its claims, unchecked.
///
/// The header is checked before any cryptography: its `typ` must be [`TOKEN_TYPE`], its
/// `alg` one this crate knows (so `none` stops here), its `kid` a key of the set whose
/// algorithm is that `alg` (so an HMAC made with an Ed25519 public key stops here), and it
/// must not carry `crit`.
pub(crate) fn verify(keys: &KeySet, token: &str) -> Result<Claims, Reason> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Reason::Malformed);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Reason::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(Reason::Malformed)?;
    if payload.contains('.') {
        return Err(Reason::Malformed);
    }
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Reason::Malformed)?;
    let header: HeaderIn = json_object(&header)?;
    if header.crit.0 {
        return Err(Reason::Malformed);
    }
    let algorithm = Algorithm::from_name(&header.alg).ok_or(Reason::AlgorithmNotAllowed)?;
    if header.typ.as_deref() != Some(TOKEN_TYPE) {
        return Err(Reason::WrongType);
    }
    let kid = header.kid.as_deref().ok_or(Reason::UnknownKey)?;
    let (key_algorithm, key) = keys.verifier(kid).ok_or(Reason::UnknownKey)?;
    // The allowlist is the algorithms of the set's keys, so the key's own algorithm being
    // the header's is the whole check.
    if key_algorithm != algorithm {
        return Err(Reason::AlgorithmNotAllowed);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Reason::BadSignature)?;
    let verifier = (DEFAULT_PROVIDER.verifier_factory)(&algorithm.jwt(), key)
        .map_err(|_| Reason::BadSignature)?;
    verifier
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| Reason::BadSignature)?;
    // The payload holds the session id: decode it into a buffer that is zeroized on drop
    // and large enough from the start.
    let mut decoded = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(payload.len())]);
    let len = URL_SAFE_NO_PAD
        .decode_slice(payload, &mut decoded)
        .map_err(|_| Reason::Malformed)?;
    json_object(decoded.get(..len).ok_or(Reason::Malformed)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    fn claims() -> Claims {
        Claims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: "user".into(),
            org: "tenant".into(),
            sid: Sid::new(Zeroizing::new("s".repeat(43))),
            iat: 1,
            nbf: 1,
            exp: 2,
            auth_time: 1,
            aal: 1,
            amr: vec!["pwd".into()],
            generation: 0,
        }
    }

    #[test]
    fn sign_then_verify_round_trips_for_both_algorithms() {
        for key in [
            SigningKey::hs256("h", &[3; 32]).unwrap(),
            SigningKey::ed25519_from_seed("e", &[4; 32]).unwrap(),
        ] {
            let keys = KeySet::new(key);
            let token = sign(&keys, &claims()).unwrap();
            assert_eq!(verify(&keys, &token), Ok(claims()));
        }
    }

    #[test]
    fn claims_debug_leaves_the_session_id_out() {
        let text = format!("{:?}", claims());
        assert!(!text.contains(&"s".repeat(43)), "{text}");
        assert!(
            text.contains("Sid([redacted])") && text.contains("tenant"),
            "{text}"
        );
    }

    #[test]
    fn token_capacity_is_never_exceeded() {
        // A claims set far past the initial buffer, under the longer (Ed25519) signature.
        let keys = KeySet::new(SigningKey::ed25519_from_seed("e", &[4; 32]).unwrap());
        let mut big = claims();
        big.iss = "i".repeat(2000);
        let token = sign(&keys, &big).unwrap();
        // Grown by reallocation, the capacity would have (at least) doubled past the
        // exact size computed up front.
        let parts: Vec<&str> = token.split('.').collect();
        let exact = parts[0].len() + parts[1].len() + parts[2].len() + 2;
        assert_eq!(
            parts[2].len(),
            base64::encoded_len(MAX_SIGNATURE_LEN, false).unwrap()
        );
        assert_eq!(token.capacity(), exact);
        assert_eq!(verify(&keys, &token), Ok(big));
    }

    #[test]
    fn secret_buffer_grows_without_losing_bytes() {
        use std::io::Write;
        let mut buffer = SecretBuffer(Zeroizing::new(Vec::with_capacity(2)));
        for chunk in [&b"ab"[..], b"cde", b"", b"fghijklmnop"] {
            buffer.write_all(chunk).unwrap();
        }
        assert_eq!(buffer.0.as_slice(), b"abcdefghijklmnop");
    }

    #[test]
    fn header_is_explicitly_typed() {
        let keys = KeySet::new(SigningKey::hs256("h", &[3; 32]).unwrap());
        let token = sign(&keys, &claims()).unwrap();
        let header = token.split('.').next().unwrap();
        let header = URL_SAFE_NO_PAD.decode(header).unwrap();
        assert_eq!(
            std::str::from_utf8(&header).unwrap(),
            r#"{"alg":"HS256","typ":"session+jwt","kid":"h"}"#
        );
    }

    #[test]
    fn extra_segments_and_oversized_tokens_are_malformed() {
        let keys = KeySet::new(SigningKey::hs256("h", &[3; 32]).unwrap());
        let token = sign(&keys, &claims()).unwrap();
        assert_eq!(
            verify(&keys, &format!("{}.x", *token)),
            Err(Reason::Malformed)
        );
        assert_eq!(verify(&keys, "a.b"), Err(Reason::Malformed));
        assert_eq!(verify(&keys, ""), Err(Reason::Malformed));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(verify(&keys, &long), Err(Reason::Malformed));
    }
}
