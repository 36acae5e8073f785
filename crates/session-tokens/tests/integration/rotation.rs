//! Key rotation by `kid`: a retiring key verifies until it is removed.

use std::sync::Arc;

use session_tokens::{KeySet, MemoryStore, Reason, SigningKey, VerifyingKey};

use crate::support::*;

fn hs(kid: &str, fill: u8) -> SigningKey {
    SigningKey::hs256(kid, &[fill; 32]).expect("a 32-byte secret")
}

#[tokio::test]
async fn previous_kid_verifies_until_removed() {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs("k1", 1)), MemoryStore::new(), &clock)
        .build()
        .unwrap();
    let old = manager.issue(request("acme", "alice")).await.unwrap();
    assert_eq!(open(old.token().expose()).0["kid"], "k1");

    // Rotate: k2 signs, k1 still verifies.
    manager.set_keys(
        KeySet::new(hs("k2", 2))
            .with_verify_only(hs("k1", 1))
            .unwrap(),
    );
    assert!(manager.verify(old.token().expose()).await.is_ok());
    let new = manager.issue(request("acme", "alice")).await.unwrap();
    assert_eq!(open(new.token().expose()).0["kid"], "k2");
    assert!(manager.verify(new.token().expose()).await.is_ok());

    // Remove k1: its tokens die at once, k2's live on.
    manager.set_keys(KeySet::new(hs("k2", 2)));
    let err = manager.verify(old.token().expose()).await.unwrap_err();
    assert_eq!(err.rejection(), Some(Reason::UnknownKey));
    assert!(manager.verify(new.token().expose()).await.is_ok());
}

#[tokio::test]
async fn a_kid_bound_to_another_secret_does_not_verify() {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs("k1", 1)), MemoryStore::new(), &clock)
        .build()
        .unwrap();
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    // Same kid, different secret (a botched rotation): refused, not confused.
    manager.set_keys(KeySet::new(hs("k1", 9)));
    let err = manager.verify(issued.token().expose()).await.unwrap_err();
    assert_eq!(err.rejection(), Some(Reason::BadSignature));
}

#[tokio::test]
async fn migration_from_hs256_to_eddsa() {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs_key()), MemoryStore::new(), &clock)
        .build()
        .unwrap();
    let hs_token = manager.issue(request("acme", "alice")).await.unwrap();
    manager.set_keys(KeySet::new(ed_key()).with_verify_only(hs_key()).unwrap());
    let ed_token = manager.issue(request("acme", "alice")).await.unwrap();
    assert_eq!(open(ed_token.token().expose()).0["alg"], "EdDSA");
    assert!(manager.verify(hs_token.token().expose()).await.is_ok());
    assert!(manager.verify(ed_token.token().expose()).await.is_ok());
}

#[tokio::test]
async fn an_instance_with_only_the_ed25519_public_key_verifies() {
    let clock = ManualClock::new();
    let store = Arc::new(MemoryStore::new());
    let signer = builder(KeySet::new(ed_key()), Arc::clone(&store), &clock)
        .build()
        .unwrap();
    let public = ed_key().ed25519_public_key().unwrap();
    // This instance signs with its own key but trusts the other's public key.
    let verifier = builder(
        KeySet::new(hs_key())
            .with_verify_only(VerifyingKey::ed25519(ED_KID, &public).unwrap())
            .unwrap(),
        Arc::clone(&store),
        &clock,
    )
    .build()
    .unwrap();
    let issued = signer.issue(request("acme", "alice")).await.unwrap();
    let session = verifier.verify(issued.token().expose()).await.unwrap();
    assert_eq!(session.user().as_str(), "alice");
}
