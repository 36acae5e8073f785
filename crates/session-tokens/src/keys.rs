//! Signing keys, named by `kid`, and the key set that rotates them.

use std::fmt;

use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::jwk::EllipticCurve;
use jsonwebtoken::{DecodingKey, EncodingKey};
use zeroize::Zeroizing;

use crate::Error;

/// Shortest HS256 secret: RFC 7518, section 3.2 asks for a key at least as long as the
/// hash output.
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// Longest key id.
const MAX_KID_LEN: usize = 64;

/// The signature algorithms a session token may carry. Nothing else ever verifies: not
/// `none`, not RSA or ECDSA, not an HMAC made with a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    Hs256,
    /// Ed25519 signatures (`EdDSA`).
    EdDsa,
}

impl Algorithm {
    /// The JOSE name in the token's `alg` header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Self::Hs256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Refuses an Ed25519 public key that is not the canonical encoding of a curve point, or
/// whose point has small order (a "weak" key). jsonwebtoken verifies Ed25519 without
/// RFC 8032's strict checks, and under a small-order key one signature verifies for
/// almost every message: a weak key set by mistake would let anyone forge tokens.
fn check_ed25519_public(kid: &str, public: &[u8; 32]) -> Result<(), Error> {
    let bad = |what: &str| Error::Config(format!("the Ed25519 public key of key {kid:?} {what}"));
    let key = ed25519_dalek::VerifyingKey::from_bytes(public)
        .map_err(|_| bad("is not a point on the curve"))?;
    if key.to_edwards().compress().to_bytes() != *public {
        return Err(bad("is not canonically encoded"));
    }
    if key.is_weak() {
        return Err(bad(
            "has small order (a weak key, under which signatures can be forged)",
        ));
    }
    Ok(())
}

fn check_kid(kid: &str) -> Result<(), Error> {
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(Error::Config(format!(
            "a key id must be 1 to {MAX_KID_LEN} bytes, got {}",
            kid.len()
        )));
    }
    if !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Config(
            "a key id must be printable ASCII without spaces".into(),
        ));
    }
    Ok(())
}

/// A key that signs and verifies session tokens, named by its key id (`kid`).
///
/// Not `Clone`; the secret is zeroized on drop and `Debug` prints only the `kid` and the
/// algorithm.
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    /// An HS256 key from a secret of at least 32 bytes. Draw the secret from a CSPRNG.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the secret is shorter than [`MIN_HS256_SECRET_LEN`] or the
    /// key id is empty, longer than 64 bytes or not printable ASCII.
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<Self, Error> {
        let kid = kid.into();
        check_kid(&kid)?;
        if secret.len() < MIN_HS256_SECRET_LEN {
            return Err(Error::Config(format!(
                "the HS256 secret for key {kid:?} is {} bytes, at least {MIN_HS256_SECRET_LEN} are required",
                secret.len()
            )));
        }
        Ok(Self {
            kid,
            algorithm: Algorithm::Hs256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// An Ed25519 key from its 32-byte private seed.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad key id.
    pub fn ed25519_from_seed(kid: impl Into<String>, seed: &[u8; 32]) -> Result<Self, Error> {
        // RFC 8410, section 7: a PKCS #8 v1 OneAsymmetricKey with the Ed25519 OID, whose
        // privateKey is the OCTET STRING wrapping the 32-byte seed.
        const PKCS8_PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_PREFIX);
        der.extend_from_slice(seed);
        Self::ed25519_from_pkcs8_der(kid, &der)
    }

    /// An Ed25519 key from a PKCS #8 DER document (`openssl genpkey -algorithm ed25519
    /// -outform DER`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the document is not an Ed25519 private key, or for a bad key
    /// id.
    pub fn ed25519_from_pkcs8_der(kid: impl Into<String>, der: &[u8]) -> Result<Self, Error> {
        let kid = kid.into();
        check_kid(&kid)?;
        let public = (DEFAULT_PROVIDER
            .key_utils
            .ed_pub_components_from_private_key)(der, &EllipticCurve::Ed25519)
        .map_err(|_| {
            Error::Config(format!(
                "key {kid:?} is not a PKCS #8 DER Ed25519 private key"
            ))
        })?;
        // Derived from the seed, so a sound point; checked anyway, like every public key.
        let point: &[u8; 32] = public
            .as_slice()
            .try_into()
            .map_err(|_| Error::Config(format!("key {kid:?} has no 32-byte Ed25519 public key")))?;
        check_ed25519_public(&kid, point)?;
        Ok(Self {
            kid,
            algorithm: Algorithm::EdDsa,
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public),
        })
    }

    /// The key id carried in the token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The Ed25519 public key, for instances that only verify; `None` for HS256.
    pub fn ed25519_public_key(&self) -> Option<[u8; 32]> {
        match self.algorithm {
            Algorithm::EdDsa => self.decoding.try_get_as_bytes().ok()?.try_into().ok(),
            Algorithm::Hs256 => None,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A key that only verifies: a retiring key, or the public half of an Ed25519 key.
///
/// Not `Clone`; secrets are zeroized on drop and `Debug` prints only the `kid` and the
/// algorithm.
pub struct VerifyingKey {
    kid: String,
    algorithm: Algorithm,
    decoding: DecodingKey,
}

impl VerifyingKey {
    /// An Ed25519 public key (RFC 8032 encoding, 32 bytes).
    ///
    /// The key is decompressed here, so a bad key is refused when it is loaded rather than
    /// trusted until the first token.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the bytes are not the canonical encoding of a point on the
    /// curve, when the point has small order (a weak key: under it one signature verifies
    /// for almost any token, so anyone could forge sessions), or for a bad key id.
    pub fn ed25519(kid: impl Into<String>, public_key: &[u8; 32]) -> Result<Self, Error> {
        let kid = kid.into();
        check_kid(&kid)?;
        check_ed25519_public(&kid, public_key)?;
        Ok(Self {
            kid,
            algorithm: Algorithm::EdDsa,
            decoding: DecodingKey::from_ed_der(public_key),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl From<SigningKey> for VerifyingKey {
    /// Keeps the verifying half; the signing secret is dropped (and zeroized).
    fn from(key: SigningKey) -> Self {
        Self {
            kid: key.kid,
            algorithm: key.algorithm,
            decoding: key.decoding,
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The keys a manager signs and verifies with: one primary key that signs new tokens, and
/// any number of verify-only keys.
///
/// Rotation: make the new key primary and keep the old one with
/// [`KeySet::with_verify_only`]; tokens signed under the old `kid` keep verifying. Once
/// they have expired (or you want them dead), build the set without the old key and
/// install it with [`SessionManager::set_keys`](crate::SessionManager::set_keys): its
/// tokens then fail with [`Reason::UnknownKey`](crate::Reason::UnknownKey).
///
/// The allowlist of algorithms is exactly the algorithms of the keys in the set, and a
/// token's `alg` must also be the algorithm of the key its `kid` names.
#[derive(Debug)]
pub struct KeySet {
    primary: SigningKey,
    verify_only: Vec<VerifyingKey>,
}

impl KeySet {
    /// A set whose only key is `primary`.
    pub fn new(primary: SigningKey) -> Self {
        Self {
            primary,
            verify_only: Vec::new(),
        }
    }

    /// Adds a key that verifies tokens but never signs new ones.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the set already holds a key with the same `kid`.
    pub fn with_verify_only(mut self, key: impl Into<VerifyingKey>) -> Result<Self, Error> {
        let key = key.into();
        if self.primary.kid == key.kid || self.verify_only.iter().any(|k| k.kid == key.kid) {
            return Err(Error::Config(format!(
                "the key set already holds a key with id {:?}",
                key.kid
            )));
        }
        self.verify_only.push(key);
        Ok(self)
    }

    /// The primary key's id: the `kid` of every token issued now.
    pub fn primary_kid(&self) -> &str {
        &self.primary.kid
    }

    /// Whether some key in the set uses `algorithm`.
    pub fn allows(&self, algorithm: Algorithm) -> bool {
        self.primary.algorithm == algorithm
            || self.verify_only.iter().any(|k| k.algorithm == algorithm)
    }

    pub(crate) fn signer(&self) -> (&str, Algorithm, &EncodingKey) {
        (
            &self.primary.kid,
            self.primary.algorithm,
            &self.primary.encoding,
        )
    }

    /// The verifying key named `kid`, with its algorithm.
    pub(crate) fn verifier(&self, kid: &str) -> Option<(Algorithm, &DecodingKey)> {
        if self.primary.kid == kid {
            return Some((self.primary.algorithm, &self.primary.decoding));
        }
        self.verify_only
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| (k.algorithm, &k.decoding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hs256_secrets_are_refused() {
        let err = SigningKey::hs256("k1", &[1; 31]).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        assert!(SigningKey::hs256("k1", &[1; 32]).is_ok());
    }

    #[test]
    fn key_ids_are_checked() {
        assert!(SigningKey::hs256("", &[1; 32]).is_err());
        assert!(SigningKey::hs256("has space", &[1; 32]).is_err());
        assert!(SigningKey::hs256("k".repeat(65), &[1; 32]).is_err());
    }

    #[test]
    fn ed25519_seed_gives_the_rfc8032_public_key() {
        // RFC 8032, section 7.1, TEST 1.
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let public: [u8; 32] = [
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ];
        let key = SigningKey::ed25519_from_seed("ed", &seed).unwrap();
        assert_eq!(key.ed25519_public_key(), Some(public));
        assert_eq!(key.algorithm(), Algorithm::EdDsa);
    }

    #[test]
    fn rfc8037_a4_signature_is_reproduced_and_verified() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;

        let rfc: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/rfc8037-a4.json")).unwrap();
        let field = |name: &str| rfc[name].as_str().unwrap().to_owned();
        let bytes = |name: &str| URL_SAFE_NO_PAD.decode(field(name)).unwrap();
        let seed: [u8; 32] = bytes("d").try_into().unwrap();
        let public: [u8; 32] = bytes("x").try_into().unwrap();
        let key = SigningKey::ed25519_from_seed("rfc8037", &seed).unwrap();
        assert_eq!(key.ed25519_public_key(), Some(public));

        let input = format!("{}.{}", field("protected"), field("payload"));
        let signer =
            (DEFAULT_PROVIDER.signer_factory)(&jsonwebtoken::Algorithm::EdDSA, &key.encoding)
                .unwrap();
        let signature = signer.try_sign(input.as_bytes()).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&signature), field("signature"));

        let verifying = VerifyingKey::ed25519("rfc8037", &public).unwrap();
        let verifier = (DEFAULT_PROVIDER.verifier_factory)(
            &jsonwebtoken::Algorithm::EdDSA,
            &verifying.decoding,
        )
        .unwrap();
        assert!(verifier.verify(input.as_bytes(), &signature).is_ok());
        // Tampered negatives: another payload, one signature bit.
        assert!(
            verifier
                .verify(b"eyJhbGciOiJFZERTQSJ9.e30", &signature)
                .is_err()
        );
        let mut flipped = signature.clone();
        flipped[10] ^= 0x80;
        assert!(verifier.verify(input.as_bytes(), &flipped).is_err());
    }

    #[test]
    fn garbage_pkcs8_is_refused() {
        assert!(matches!(
            SigningKey::ed25519_from_pkcs8_der("ed", b"not a key"),
            Err(Error::Config(_))
        ));
    }

    fn hex32(text: &str) -> [u8; 32] {
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    /// The encodings of the eight points of small order (orders 1, 2, 4 and 8).
    const SMALL_ORDER: [&str; 8] = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    ];

    #[test]
    fn weak_ed25519_public_keys_are_refused() {
        for encoding in SMALL_ORDER {
            let err = VerifyingKey::ed25519("weak", &hex32(encoding)).unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if m.contains("small order")),
                "{encoding}: {err}"
            );
        }
    }

    #[test]
    fn a_weak_key_would_let_anyone_forge() {
        // What the check prevents: under the identity point, the signature R = identity,
        // S = 0 passes jsonwebtoken's Ed25519 verification for any message.
        let identity = hex32(SMALL_ORDER[0]);
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&identity);
        let key = DecodingKey::from_ed_der(&identity);
        let verifier =
            (DEFAULT_PROVIDER.verifier_factory)(&jsonwebtoken::Algorithm::EdDSA, &key).unwrap();
        assert!(
            verifier
                .verify(b"any header.any claims", &forged.to_vec())
                .is_ok()
        );
        assert!(VerifyingKey::ed25519("weak", &identity).is_err());
    }

    #[test]
    fn ed25519_public_keys_off_the_curve_or_non_canonical_are_refused() {
        // y = 2 is no point's y coordinate.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        let err = VerifyingKey::ed25519("bad", &off_curve).unwrap_err();
        assert!(err.to_string().contains("not a point"), "{err}");
        // y = 3 + p: the point with y = 3, encoded without reducing modulo p.
        let mut unreduced = [0xff; 32];
        unreduced[0] = 0xf0;
        unreduced[31] = 0x7f;
        let err = VerifyingKey::ed25519("bad", &unreduced).unwrap_err();
        assert!(err.to_string().contains("not canonically encoded"), "{err}");
        let mut reduced = [0u8; 32];
        reduced[0] = 3;
        assert!(VerifyingKey::ed25519("good", &reduced).is_ok());
    }

    #[test]
    fn genuine_ed25519_public_keys_are_accepted() {
        let key = SigningKey::ed25519_from_seed("ed", &[7; 32]).unwrap();
        let public = key.ed25519_public_key().unwrap();
        assert!(VerifyingKey::ed25519("ed", &public).is_ok());
    }

    #[test]
    fn duplicate_kids_are_refused() {
        let set = KeySet::new(SigningKey::hs256("a", &[1; 32]).unwrap());
        let err = set
            .with_verify_only(SigningKey::hs256("a", &[2; 32]).unwrap())
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let key = SigningKey::hs256("k1", &[0x41; 32]).unwrap();
        let key_text = format!("{key:?}");
        let text = format!("{key_text} {:?}", KeySet::new(key));
        assert!(!text.contains("AAAA") && !text.contains("65, 65"), "{text}");
        assert!(text.contains("k1"));
    }

    #[test]
    fn allowlist_follows_the_keys() {
        let set = KeySet::new(SigningKey::ed25519_from_seed("ed", &[7; 32]).unwrap());
        assert!(set.allows(Algorithm::EdDsa));
        assert!(!set.allows(Algorithm::Hs256));
        let set = set
            .with_verify_only(SigningKey::hs256("old", &[1; 32]).unwrap())
            .unwrap();
        assert!(set.allows(Algorithm::Hs256));
        assert_eq!(set.primary_kid(), "ed");
        assert_eq!(set.verifier("old").map(|(a, _)| a), Some(Algorithm::Hs256));
        assert!(set.verifier("nope").is_none());
    }
}
