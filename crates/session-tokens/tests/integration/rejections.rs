//! One test per way a token or session is refused. Each starts from a token that verifies,
//! changes one thing, and checks the precise reason (which the outside never sees).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use session_tokens::{Error, KeySet, MemoryStore, Reason, SessionManager};

use crate::support::*;

/// A manager, its clock, and a token that verifies.
async fn fixture() -> (SessionManager, ManualClock, String) {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager
        .issue(request("acme", "alice").amr(["pwd"]))
        .await
        .expect("issue");
    let token = issued.token().expose().to_owned();
    assert!(
        manager.verify(&token).await.is_ok(),
        "the untouched token verifies"
    );
    (manager, clock, token)
}

async fn reason(manager: &SessionManager, token: &str) -> Reason {
    match manager.verify(token).await {
        Err(err @ Error::Invalid(_)) => {
            assert_eq!(err.to_string(), "invalid session", "refusals are opaque");
            err.rejection()
                .expect("an invalid-session error has a reason")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (manager, _, token) = fixture().await;
    let (mut header, claims, _) = open(&token);
    header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        base64_url(&serde_json::to_vec(&header).unwrap()),
        base64_url(&serde_json::to_vec(&claims).unwrap())
    );
    assert_eq!(
        reason(&manager, &unsigned).await,
        Reason::AlgorithmNotAllowed
    );
    // The same with the original signature left on.
    let signed = format!("{}{}", unsigned, token.rsplit('.').next().unwrap());
    assert_eq!(reason(&manager, &signed).await, Reason::AlgorithmNotAllowed);
}

#[tokio::test]
async fn hs256_token_is_refused_where_only_eddsa_is_allowed() {
    let clock = ManualClock::new();
    let ed_manager = builder(KeySet::new(ed_key()), MemoryStore::new(), &clock)
        .build()
        .unwrap();
    let issued = ed_manager.issue(request("acme", "alice")).await.unwrap();
    let token = issued.token().expose();
    assert!(ed_manager.verify(token).await.is_ok());
    // Key confusion: an HMAC keyed with the Ed25519 public key, under the Ed25519 key's kid.
    let public = ed_key().ed25519_public_key().unwrap();
    let (mut header, claims, _) = open(token);
    header["alg"] = json!("HS256");
    let forged = sign(
        &header,
        &claims,
        Algorithm::HS256,
        &EncodingKey::from_secret(&public),
    );
    assert_eq!(
        reason(&ed_manager, &forged).await,
        Reason::AlgorithmNotAllowed
    );
    // A genuine HS256 token from another manager: its kid is not in the set.
    let hs_manager = manager(MemoryStore::new(), &clock);
    let hs_token = hs_manager.issue(request("acme", "alice")).await.unwrap();
    assert_eq!(
        reason(&ed_manager, hs_token.token().expose()).await,
        Reason::UnknownKey
    );
}

#[tokio::test]
async fn eddsa_token_is_refused_where_only_hs256_is_allowed() {
    let (manager, _, token) = fixture().await;
    let (mut header, claims, _) = open(&token);
    header["alg"] = json!("EdDSA");
    let ed = EncodingKey::from_ed_der(&ed25519_pkcs8(&ED_SEED));
    let forged = sign(&header, &claims, Algorithm::EdDSA, &ed);
    assert_eq!(reason(&manager, &forged).await, Reason::AlgorithmNotAllowed);
}

#[tokio::test]
async fn other_algorithms_are_refused() {
    let (manager, _, token) = fixture().await;
    for alg in ["HS384", "HS512", "RS256", "ES256", "PS256", "hs256", ""] {
        let forged = resign_hs(&token, |header, _| header["alg"] = json!(alg));
        assert_eq!(
            reason(&manager, &forged).await,
            Reason::AlgorithmNotAllowed,
            "{alg}"
        );
    }
}

#[tokio::test]
async fn wrong_typ_is_refused() {
    let (manager, _, token) = fixture().await;
    let jwt = resign_hs(&token, |header, _| header["typ"] = json!("JWT"));
    assert_eq!(reason(&manager, &jwt).await, Reason::WrongType);
    let untyped = resign_hs(&token, |header, _| {
        header.as_object_mut().unwrap().remove("typ");
    });
    assert_eq!(reason(&manager, &untyped).await, Reason::WrongType);
}

#[tokio::test]
async fn crit_header_is_refused_whatever_its_value() {
    let (manager, _, token) = fixture().await;
    // `null` too: the member is present, and RFC 7515 gives `crit` no null form.
    for crit in [
        json!(["exp"]),
        json!([]),
        json!(null),
        json!(false),
        json!("x"),
    ] {
        let forged = resign_hs(&token, |header, _| header["crit"] = crit.clone());
        assert_eq!(reason(&manager, &forged).await, Reason::Malformed, "{crit}");
    }
}

#[tokio::test]
async fn header_and_claims_must_be_json_objects() {
    let (manager, _, token) = fixture().await;
    // The same members as JSON arrays, in declaration order: what a derived `Deserialize`
    // would read positionally.
    let header_array = resign_hs(&token, |header, _| {
        *header = json!([header["alg"], header["typ"], header["kid"]]);
    });
    assert_eq!(reason(&manager, &header_array).await, Reason::Malformed);
    let claims_array = resign_hs(&token, |_, claims| {
        let fields = [
            "iss",
            "aud",
            "sub",
            "org",
            "sid",
            "iat",
            "nbf",
            "exp",
            "auth_time",
            "aal",
            "amr",
            "gen",
        ];
        *claims = fields.iter().map(|field| claims[*field].clone()).collect();
    });
    assert_eq!(reason(&manager, &claims_array).await, Reason::Malformed);
    // Other JSON values are no objects either.
    for value in [json!("x"), json!(1), json!(null)] {
        let header_value = resign_hs(&token, |header, _| *header = value.clone());
        assert_eq!(reason(&manager, &header_value).await, Reason::Malformed);
        let claims_value = resign_hs(&token, |_, claims| *claims = value.clone());
        assert_eq!(reason(&manager, &claims_value).await, Reason::Malformed);
    }
    // Whitespace before the object is JSON, and still verifies.
    let spaced = sign_segments(&token, |header, claims| {
        (format!(" \n{header}"), format!("\t{claims}"))
    });
    assert!(manager.verify(&spaced).await.is_ok());
}

#[tokio::test]
async fn missing_or_unknown_kid_is_refused() {
    let (manager, _, token) = fixture().await;
    let unknown = resign_hs(&token, |header, _| header["kid"] = json!("hs-1999"));
    assert_eq!(reason(&manager, &unknown).await, Reason::UnknownKey);
    let missing = resign_hs(&token, |header, _| {
        header.as_object_mut().unwrap().remove("kid");
    });
    assert_eq!(reason(&manager, &missing).await, Reason::UnknownKey);
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let (manager, _, token) = fixture().await;
    let forged = resign_hs(&token, |_, claims| {
        claims["iss"] = json!("https://evil.example.com");
    });
    assert_eq!(reason(&manager, &forged).await, Reason::WrongIssuer);
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let (manager, _, token) = fixture().await;
    let other = resign_hs(&token, |_, claims| {
        claims["aud"] = json!("https://other-app.example.com");
    });
    assert_eq!(reason(&manager, &other).await, Reason::WrongAudience);
    // An audience list is not this crate's format, even one holding the right audience.
    let list = resign_hs(&token, |_, claims| claims["aud"] = json!([AUDIENCE]));
    assert_eq!(reason(&manager, &list).await, Reason::Malformed);
}

#[tokio::test]
async fn expired_token_is_refused() {
    let (manager, clock, token) = fixture().await;
    clock.advance(Duration::from_secs(30 * 24 * 3600 - 1));
    assert!(manager.verify(&token).await.is_ok(), "valid until the end");
    clock.advance(Duration::from_secs(1));
    assert_eq!(reason(&manager, &token).await, Reason::Expired);
}

#[tokio::test]
async fn expired_token_is_refused_while_its_record_lives() {
    let (manager, _, token) = fixture().await;
    // The record lives for 30 more days; only the token's own `exp` is past. Signed with
    // the key, as only an issuer with a clock far behind could make it.
    let past = resign_hs(&token, |_, claims| claims["exp"] = json!(START - 31));
    assert_eq!(reason(&manager, &past).await, Reason::Expired);
    let at_leeway = resign_hs(&token, |_, claims| claims["exp"] = json!(START - 30));
    assert_eq!(reason(&manager, &at_leeway).await, Reason::Expired);
    // Within the 30 s leeway the token's `exp` passes, and the live record decides.
    let skewed = resign_hs(&token, |_, claims| claims["exp"] = json!(START - 29));
    assert!(manager.verify(&skewed).await.is_ok());
}

#[tokio::test]
async fn expired_record_is_refused_even_if_the_token_claims_more() {
    let (manager, clock, token) = fixture().await;
    let extended = resign_hs(&token, |_, claims| {
        claims["exp"] = json!(START + 365 * 24 * 3600);
    });
    assert!(manager.verify(&extended).await.is_ok());
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    assert_eq!(reason(&manager, &extended).await, Reason::Expired);
}

#[tokio::test]
async fn not_yet_valid_token_is_refused() {
    let (manager, _, token) = fixture().await;
    let future_nbf = resign_hs(&token, |_, claims| claims["nbf"] = json!(START + 3600));
    assert_eq!(reason(&manager, &future_nbf).await, Reason::NotYetValid);
    let future_iat = resign_hs(&token, |_, claims| claims["iat"] = json!(START + 3600));
    assert_eq!(reason(&manager, &future_iat).await, Reason::NotYetValid);
    // Within the 30 s leeway: clock skew between instances.
    let skewed = resign_hs(&token, |_, claims| claims["nbf"] = json!(START + 20));
    assert!(manager.verify(&skewed).await.is_ok());
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let (manager, _, token) = fixture().await;
    let forged = tamper_payload(&token, |claims| claims["sub"] = json!("mallory"));
    assert_eq!(reason(&manager, &forged).await, Reason::BadSignature);
    let raised = tamper_payload(&token, |claims| claims["aal"] = json!(3));
    assert_eq!(reason(&manager, &raised).await, Reason::BadSignature);
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let (manager, _, token) = fixture().await;
    let (_, _, mut signature) = open(&token);
    signature[0] ^= 1;
    let (head, _) = token.rsplit_once('.').unwrap();
    let flipped = format!("{head}.{}", base64_url(&signature));
    assert_eq!(reason(&manager, &flipped).await, Reason::BadSignature);
    let truncated = &token[..token.len() - 2];
    assert_eq!(reason(&manager, truncated).await, Reason::BadSignature);
    let stripped = format!("{head}.");
    assert_eq!(reason(&manager, &stripped).await, Reason::BadSignature);
}

#[tokio::test]
async fn unknown_sid_is_refused() {
    let (manager, _, token) = fixture().await;
    let forged = resign_hs(&token, |_, claims| {
        claims["sid"] = json!(base64_url(&[9u8; 32]));
    });
    assert_ne!(sid_of(&forged), sid_of(&token));
    assert_eq!(reason(&manager, &forged).await, Reason::UnknownSession);
}

#[tokio::test]
async fn revoked_sid_is_refused() {
    let (manager, _, token) = fixture().await;
    let session = manager.verify(&token).await.unwrap();
    assert!(manager.sign_out(&session).await.unwrap());
    assert_eq!(reason(&manager, &token).await, Reason::Revoked);
}

#[tokio::test]
async fn stale_generation_is_refused() {
    let (manager, _, token) = fixture().await;
    let session = manager.verify(&token).await.unwrap();
    let renewed = manager.password_changed(&session).await.unwrap();
    assert_eq!(reason(&manager, &token).await, Reason::StaleGeneration);
    assert!(manager.verify(renewed.token().expose()).await.is_ok());
    // A token re-signed to claim the new generation still names the old record.
    let claimed = resign_hs(&token, |_, claims| claims["gen"] = json!(1));
    assert_eq!(reason(&manager, &claimed).await, Reason::StaleGeneration);
}

/// A session revoked while its request ran (signed out elsewhere, by an administrator, or
/// by an earlier password change from it) gets no replacement from `password_changed`;
/// the change still ends every other session of the user.
#[tokio::test]
async fn password_change_from_a_session_revoked_meanwhile_issues_nothing() {
    let (manager, _, token) = fixture().await;
    let session = manager.verify(&token).await.unwrap();
    let other = manager.issue(request("acme", "alice")).await.unwrap();
    assert!(manager.sign_out(&session).await.unwrap());
    let err = manager.password_changed(&session).await.unwrap_err();
    assert_eq!(err.rejection(), Some(Reason::Revoked));
    assert_eq!(
        reason(&manager, other.token().expose()).await,
        Reason::StaleGeneration
    );

    // Twice from one session: the second change issues nothing.
    let (manager, _, token) = fixture().await;
    let session = manager.verify(&token).await.unwrap();
    let renewed = manager.password_changed(&session).await.unwrap();
    let err = manager.password_changed(&session).await.unwrap_err();
    assert_eq!(err.rejection(), Some(Reason::Revoked));
    assert_eq!(
        reason(&manager, renewed.token().expose()).await,
        Reason::StaleGeneration,
        "the second change signs the user out everywhere too"
    );
}

/// A session that passed its absolute lifetime while its request ran is not renewed for
/// another lifetime by `password_changed`.
#[tokio::test]
async fn password_change_from_a_session_expired_meanwhile_issues_nothing() {
    let (manager, clock, token) = fixture().await;
    let session = manager.verify(&token).await.unwrap();
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    let err = manager.password_changed(&session).await.unwrap_err();
    assert_eq!(err.rejection(), Some(Reason::Expired));
}

/// A manager with a 15-minute idle timeout, its clock, and a token just issued.
async fn idle_fixture() -> (SessionManager, ManualClock, String) {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs_key()), MemoryStore::new(), &clock)
        .idle_timeout(Duration::from_secs(15 * 60))
        .build()
        .expect("a valid configuration");
    let issued = manager
        .issue(request("acme", "alice"))
        .await
        .expect("issue");
    let token = issued.token().expose().to_owned();
    (manager, clock, token)
}

#[tokio::test]
async fn idle_expired_session_is_refused() {
    let (manager, clock, token) = idle_fixture().await;
    let token = token.as_str();
    clock.advance(Duration::from_secs(10 * 60));
    let session = manager.verify(token).await.unwrap();
    assert!(manager.touch(&session).await.unwrap(), "activity recorded");
    clock.advance(Duration::from_secs(10 * 60));
    assert!(
        manager.verify(token).await.is_ok(),
        "10 minutes after the touch"
    );
    clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(reason(&manager, token).await, Reason::IdleExpired);
}

/// A session verified just before it idled out (a slow request) is not brought back by the
/// touch that request makes afterwards.
#[tokio::test]
async fn a_late_touch_does_not_revive_an_idled_out_session() {
    let (manager, clock, token) = idle_fixture().await;
    let token = token.as_str();
    clock.advance(Duration::from_secs(15 * 60 - 1));
    let session = manager.verify(token).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert!(!manager.touch(&session).await.unwrap(), "nothing written");
    assert_eq!(reason(&manager, token).await, Reason::IdleExpired);
}

#[tokio::test]
async fn claims_that_disagree_with_the_record_are_refused() {
    let (manager, _, token) = fixture().await;
    let other_user = resign_hs(&token, |_, claims| claims["sub"] = json!("mallory"));
    assert_eq!(reason(&manager, &other_user).await, Reason::Mismatch);
    let other_tenant = resign_hs(&token, |_, claims| claims["org"] = json!("globex"));
    assert_eq!(reason(&manager, &other_tenant).await, Reason::Mismatch);
    let raised = resign_hs(&token, |_, claims| claims["aal"] = json!(2));
    assert_eq!(reason(&manager, &raised).await, Reason::Mismatch);
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let (manager, _, token) = fixture().await;
    let missing_claim = resign_hs(&token, |_, claims| {
        claims.as_object_mut().unwrap().remove("gen");
    });
    let float_exp = resign_hs(&token, |_, claims| claims["exp"] = json!(1e12));
    let short_sid = resign_hs(&token, |_, claims| claims["sid"] = json!("abc"));
    let bad_aal = resign_hs(&token, |_, claims| claims["aal"] = json!(7));
    for bad in [
        "",
        "not a token",
        "a.b",
        "a.b.c.d",
        "!!!.???.###",
        &missing_claim,
        &float_exp,
        &short_sid,
        &bad_aal,
        &format!("{token}.extra"),
        &"A".repeat(5000),
    ] {
        assert_eq!(reason(&manager, bad).await, Reason::Malformed, "{bad:.40}");
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 8410 PKCS #8 wrapping of an Ed25519 seed.
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}
