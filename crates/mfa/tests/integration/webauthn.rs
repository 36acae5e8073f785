//! WebAuthn ceremonies with software authenticators, run on every backend through the
//! conformance suite.

use std::sync::Arc;

use mfa::store::MfaStore;
use mfa::webauthn_types::{PublicKeyCredential, Url};
use mfa::{CeremonyId, CredentialKind, Error, Method, WebAuthn};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;

use crate::support::*;

const ORIGIN: &str = "https://auth.example.com";

fn origin() -> Url {
    Url::parse(ORIGIN).expect("webauthn step")
}

fn relying_party(store: Arc<dyn MfaStore>, clock: Arc<TestClock>) -> WebAuthn {
    WebAuthn::builder("example.com", ORIGIN, "Palisade", store)
        .ceremony_ttl(60)
        .clock(clock)
        .build()
        .expect("webauthn step")
}

/// The user handle a registration challenge carries.
fn handle_of(challenge: &mfa::webauthn_types::CreationChallengeResponse) -> Vec<u8> {
    AsRef::<[u8]>::as_ref(&challenge.public_key.user.id).to_vec()
}

async fn register(
    rp: &WebAuthn,
    who: &mfa::UserId,
    kind: CredentialKind,
    authenticator: &mut dyn WebauthnAuthenticator,
    name: &str,
) -> mfa::CredentialInfo {
    let (ceremony, challenge) = rp
        .start_registration(who, "user", "User", kind)
        .await
        .expect("webauthn step");
    let response = authenticator
        .do_registration(origin(), challenge)
        .expect("webauthn step");
    rp.finish_registration(who, &ceremony, kind, &response, name)
        .await
        .expect("webauthn step")
}

/// Starts an authentication ceremony for `who` and has `authenticator` answer it.
async fn answered(
    rp: &WebAuthn,
    who: &mfa::UserId,
    kind: CredentialKind,
    authenticator: &mut dyn WebauthnAuthenticator,
) -> (CeremonyId, PublicKeyCredential) {
    let (ceremony, challenge) = rp
        .start_authentication(who, kind)
        .await
        .expect("webauthn step");
    let response = authenticator
        .do_authentication(origin(), challenge)
        .expect("webauthn step");
    (ceremony, response)
}

pub(crate) async fn ceremonies(name: &str, store: Arc<dyn MfaStore>) {
    let clock = TestClock::at(T0);
    let rp = relying_party(store.clone(), clock.clone());
    let mfa = mfa_on(store.clone(), clock.clone());
    let hana = user("hana-webauthn");
    assert!(!mfa.has_mfa(&hana).await.expect("store"));

    // A passkey: register, then authenticate.
    let mut passkey = SoftPasskey::new(true);
    let registered = register(&rp, &hana, CredentialKind::Passkey, &mut passkey, "laptop").await;
    assert_eq!(registered.kind, CredentialKind::Passkey);
    assert!(
        mfa.has_mfa(&hana).await.expect("store"),
        "a passkey is a second factor"
    );
    let (ceremony, response) = answered(&rp, &hana, CredentialKind::Passkey, &mut passkey).await;
    let verified = rp
        .finish_authentication(&hana, &ceremony, CredentialKind::Passkey, &response)
        .await
        .expect("webauthn step");
    assert_eq!(verified.method(), Method::Passkey);
    assert_eq!(verified.credential(), Some(registered.id.as_str()));

    // Replaying that response against the same state fails: the state is gone.
    assert!(
        matches!(
            rp.finish_authentication(&hana, &ceremony, CredentialKind::Passkey, &response)
                .await,
            Err(Error::Invalid)
        ),
        "{name}: replayed authentication"
    );
    // And against a fresh state, its challenge does not match.
    let (fresh, _) = rp
        .start_authentication(&hana, CredentialKind::Passkey)
        .await
        .expect("webauthn step");
    assert!(
        rp.finish_authentication(&hana, &fresh, CredentialKind::Passkey, &response)
            .await
            .is_err(),
        "{name}: response for another challenge"
    );

    // Both registrations of one user carry one random handle, not derived from the id.
    let (_, first) = rp
        .start_registration(&hana, "user", "User", CredentialKind::Passkey)
        .await
        .expect("webauthn step");
    let (_, second) = rp
        .start_registration(&hana, "user", "User", CredentialKind::SecurityKey)
        .await
        .expect("webauthn step");
    let handle = handle_of(&first);
    assert_eq!(handle, handle_of(&second), "{name}: one handle");
    assert_eq!(handle.len(), 16);
    let stored = store
        .user_handle(&hana, &[0; 16])
        .await
        .expect("store operation");
    assert_eq!(handle, stored, "{name}: the handle is the stored one");
    // Nothing derives it from the id: another store gives the same user another handle.
    let elsewhere = relying_party(Arc::new(mfa::MemoryStore::new()), clock.clone());
    let (_, fresh) = elsewhere
        .start_registration(&hana, "user", "User", CredentialKind::Passkey)
        .await
        .expect("webauthn step");
    assert_ne!(handle, handle_of(&fresh), "{name}: derived from the id");
    let (_, other) = rp
        .start_registration(&user("ida-webauthn"), "ida", "Ida", CredentialKind::Passkey)
        .await
        .expect("webauthn step");
    assert_ne!(handle, handle_of(&other), "{name}: two users");

    // A security key (second factor): register, then authenticate.
    let (token, _ca) = SoftToken::new(true).expect("webauthn step");
    let mut token = token;
    let key = register(&rp, &hana, CredentialKind::SecurityKey, &mut token, "yubi").await;
    let (ceremony, response) = answered(&rp, &hana, CredentialKind::SecurityKey, &mut token).await;
    let verified = rp
        .finish_authentication(&hana, &ceremony, CredentialKind::SecurityKey, &response)
        .await
        .expect("webauthn step");
    assert_eq!(verified.method(), Method::SecurityKey);
    let stored_counter = rp
        .list(&hana)
        .await
        .expect("webauthn step")
        .into_iter()
        .find(|c| c.id == key.id)
        .expect("webauthn step")
        .counter;
    assert!(stored_counter > 0, "{name}: the counter is stored");

    // An expired state fails, even with a valid response.
    let (ceremony, response) = answered(&rp, &hana, CredentialKind::SecurityKey, &mut token).await;
    clock.advance(61);
    assert!(
        matches!(
            rp.finish_authentication(&hana, &ceremony, CredentialKind::SecurityKey, &response)
                .await,
            Err(Error::Invalid)
        ),
        "{name}: expired ceremony"
    );
    // A ceremony belongs to its user.
    let (ceremony, response) = answered(&rp, &hana, CredentialKind::SecurityKey, &mut token).await;
    assert!(
        rp.finish_authentication(
            &user("mallory"),
            &ceremony,
            CredentialKind::SecurityKey,
            &response
        )
        .await
        .is_err()
    );

    // A counter regression: a clone of the token signs with a counter already seen.
    let clone_bytes = token.to_cbor().expect("webauthn step");
    let mut clone = SoftToken::from_cbor(&clone_bytes).expect("webauthn step");
    let (ceremony, response) = answered(&rp, &hana, CredentialKind::SecurityKey, &mut token).await;
    let verified = rp
        .finish_authentication(&hana, &ceremony, CredentialKind::SecurityKey, &response)
        .await
        .expect("webauthn step");
    assert_eq!(verified.credential(), Some(key.id.as_str()));
    let (ceremony, response) = answered(&rp, &hana, CredentialKind::SecurityKey, &mut clone).await;
    match rp
        .finish_authentication(&hana, &ceremony, CredentialKind::SecurityKey, &response)
        .await
    {
        Err(Error::CounterRegression { credential }) => assert_eq!(credential, key.id),
        other => panic!("{name}: counter regression not reported: {other:?}"),
    }

    // Two sign-ins started and finished together, one answered by the token and one by a
    // clone with the same counter: each is ahead of the counter its own ceremony saw and,
    // when both read the credential before either stored, of the stored one too. Only
    // the store's refusal to take a counter that is not above the one stored meanwhile
    // tells them apart: exactly one goes through.
    let mut clone =
        SoftToken::from_cbor(&token.to_cbor().expect("webauthn step")).expect("webauthn step");
    let start = || rp.start_authentication(&hana, CredentialKind::SecurityKey);
    let (first, first_challenge) = start().await.expect("webauthn step");
    let (second, second_challenge) = start().await.expect("webauthn step");
    let by_token = token
        .do_authentication(origin(), first_challenge)
        .expect("webauthn step");
    let by_clone = clone
        .do_authentication(origin(), second_challenge)
        .expect("webauthn step");
    let (a, b) = tokio::join!(
        rp.finish_authentication(&hana, &first, CredentialKind::SecurityKey, &by_token),
        rp.finish_authentication(&hana, &second, CredentialKind::SecurityKey, &by_clone),
    );
    match (a, b) {
        (Ok(_), Err(Error::CounterRegression { credential }))
        | (Err(Error::CounterRegression { credential }), Ok(_)) => {
            assert_eq!(credential, key.id);
        }
        other => panic!("{name}: racing clone not reported: {other:?}"),
    }

    // Listed, renamed, removed.
    let listed = rp.list(&hana).await.expect("webauthn step");
    assert_eq!(listed.len(), 2);
    assert!(
        rp.rename(&hana, &key.id, "desk key")
            .await
            .expect("webauthn step")
    );
    assert!(rp.rename(&hana, &key.id, "").await.is_err());
    assert!(
        !rp.rename(&user("mallory"), &key.id, "mine")
            .await
            .expect("webauthn step")
    );
    assert!(
        rp.list(&hana)
            .await
            .expect("webauthn step")
            .iter()
            .any(|c| c.name == "desk key")
    );
    assert!(rp.remove(&hana, &key.id).await.expect("webauthn step"));
    assert!(
        matches!(
            rp.start_authentication(&hana, CredentialKind::SecurityKey)
                .await,
            Err(Error::Invalid)
        ),
        "{name}: no security key left"
    );
    assert_eq!(rp.list(&hana).await.expect("webauthn step").len(), 1);
}
