//! Known-answer session tokens from `tests/data/`, computed without this crate (see
//! `tests/data/make_session_tokens.py`): the manager issues exactly these bytes from the
//! same key, clock and session id, verifies them, and refuses each tampered variant for
//! its own reason.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use session_tokens::{
    Aal, Clock, Error, KeySet, MemoryStore, RandomSource, Reason, SessionManager,
    SessionManagerBuilder, SessionRequest, SessionStore, SigningKey, TenantId, UserId,
    VerifyingKey,
};
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    alg: String,
    kid: String,
    secret: Option<String>,
    seed: Option<String>,
    public_key: Option<String>,
    issuer: String,
    audience: String,
    now: u64,
    tenant: String,
    user: String,
    aal: u8,
    amr: Vec<String>,
    sid_bytes: String,
    header: String,
    claims: String,
    token: String,
    tampered: Vec<Tampered>,
}

#[derive(Deserialize)]
struct Tampered {
    what: String,
    token: String,
    reason: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/session-tokens.json"
    );
    let text = std::fs::read_to_string(path).expect("the known-answer file");
    serde_json::from_str::<File>(&text)
        .expect("well-formed vectors")
        .vectors
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex32(text: &str) -> [u8; 32] {
    hex(text).try_into().expect("32 bytes")
}

struct FixedClock(u64);

impl Clock for FixedClock {
    fn now(&self) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0)
    }
}

/// Hands out the vector's session id bytes.
struct FixedRandom(Vec<u8>);

impl RandomSource for FixedRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        dest.copy_from_slice(&self.0);
        Ok(())
    }
}

fn signing_key(v: &Vector) -> SigningKey {
    match v.alg.as_str() {
        "HS256" => SigningKey::hs256(&v.kid, &hex(v.secret.as_deref().expect("secret"))),
        "EdDSA" => SigningKey::ed25519_from_seed(&v.kid, &hex32(v.seed.as_deref().expect("seed"))),
        other => panic!("unknown algorithm {other}"),
    }
    .expect("a valid key")
}

fn builder(v: &Vector, keys: KeySet, store: impl SessionStore) -> SessionManagerBuilder {
    SessionManager::builder(keys, store)
        .issuer(&v.issuer)
        .audience(&v.audience)
        .dangerous()
        .clock(FixedClock(v.now))
        .random(FixedRandom(hex(&v.sid_bytes)))
        .done()
}

fn reason(name: &str) -> Reason {
    match name {
        "BadSignature" => Reason::BadSignature,
        "WrongType" => Reason::WrongType,
        "WrongAudience" => Reason::WrongAudience,
        "Expired" => Reason::Expired,
        other => panic!("unknown reason {other}"),
    }
}

fn decoded(segment: &str) -> String {
    String::from_utf8(URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("UTF-8")
}

#[tokio::test]
async fn issued_tokens_are_the_known_answers() {
    for v in vectors() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let manager = builder(
            &v,
            KeySet::new(signing_key(&v)),
            std::sync::Arc::clone(&store),
        )
        .build()
        .unwrap();
        let request = SessionRequest::new(
            TenantId::new(&v.tenant).unwrap(),
            UserId::new(&v.user).unwrap(),
        )
        .aal(Aal::from_level(v.aal).unwrap())
        .amr(v.amr.clone());
        let issued = manager.issue(request).await.unwrap();
        let token = issued.token().expose();
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(decoded(segments[0]), v.header, "{}", v.alg);
        assert_eq!(decoded(segments[1]), v.claims, "{}", v.alg);
        assert_eq!(token, v.token, "{}", v.alg);

        // The known token verifies, as the session the store holds under SHA-256(sid).
        let session = manager.verify(&v.token).await.unwrap();
        let sid = URL_SAFE_NO_PAD.encode(hex(&v.sid_bytes));
        assert_eq!(
            session.handle().as_bytes()[..],
            Sha256::digest(sid.as_bytes())[..]
        );
        assert_eq!(
            (session.tenant().as_str(), session.user().as_str()),
            (v.tenant.as_str(), v.user.as_str())
        );
        assert_eq!(session.aal().level(), v.aal);
        assert_eq!(session.amr(), v.amr.as_slice());

        // An instance that holds only the Ed25519 public key verifies it too.
        if let Some(public) = &v.public_key {
            assert_eq!(signing_key(&v).ed25519_public_key(), Some(hex32(public)));
            let verify_only = KeySet::new(SigningKey::hs256("own", &[9; 32]).unwrap())
                .with_verify_only(VerifyingKey::ed25519(&v.kid, &hex32(public)).unwrap())
                .unwrap();
            let verifier = builder(&v, verify_only, std::sync::Arc::clone(&store))
                .build()
                .unwrap();
            assert!(verifier.verify(&v.token).await.is_ok());
        }

        for tampered in &v.tampered {
            let refused = manager.verify(&tampered.token).await.unwrap_err();
            assert_eq!(
                refused.rejection(),
                Some(reason(&tampered.reason)),
                "{}: {}",
                v.alg,
                tampered.what
            );
        }
        // Another secret under the same kid does not verify the known token.
        let other = match v.alg.as_str() {
            "HS256" => SigningKey::hs256(&v.kid, &[0x99; 32]).unwrap(),
            _ => SigningKey::ed25519_from_seed(&v.kid, &[0x99; 32]).unwrap(),
        };
        manager.set_keys(KeySet::new(other));
        let refused = manager.verify(&v.token).await.unwrap_err();
        assert_eq!(refused.rejection(), Some(Reason::BadSignature), "{}", v.alg);
    }
}

#[tokio::test]
async fn the_rfc8037_example_jws_is_no_session_token() {
    // RFC 8037, A.4: a genuine EdDSA JWS under a key the manager holds, but untyped and
    // without a kid: not a session token.
    #[derive(Deserialize)]
    struct Rfc8037 {
        d: String,
        protected: String,
        payload: String,
        signature: String,
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc8037-a4.json");
    let rfc: Rfc8037 = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let seed: [u8; 32] = URL_SAFE_NO_PAD.decode(&rfc.d).unwrap().try_into().unwrap();
    let manager = SessionManager::builder(
        KeySet::new(SigningKey::ed25519_from_seed("rfc8037", &seed).unwrap()),
        MemoryStore::new(),
    )
    .issuer("https://auth.example.com")
    .audience("https://app.example.com")
    .build()
    .unwrap();
    let jws = format!("{}.{}.{}", rfc.protected, rfc.payload, rfc.signature);
    let refused = manager.verify(&jws).await.unwrap_err();
    assert_eq!(refused.rejection(), Some(Reason::WrongType));
}
