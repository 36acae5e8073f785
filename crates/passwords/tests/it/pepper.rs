//! Pepper rotation: old key ids verify and are flagged; a missing key fails closed.

use passwords::{BcryptCost, Error, Hasher, PepperId, PepperKey, Peppers};

use crate::common::weak_params;

fn key(id: u32, byte: u8) -> PepperKey {
    PepperKey::new(PepperId::new(id), &[byte; 32]).expect("32-byte key")
}

fn hasher_with(peppers: Option<Peppers>) -> Hasher {
    let builder = Hasher::builder().argon2id(weak_params());
    match peppers {
        Some(peppers) => builder.pepper(peppers),
        None => builder,
    }
    .build()
    .expect("hasher builds")
}

#[test]
fn a_hash_under_key_1_verifies_after_key_2_becomes_current_and_is_flagged() {
    let under_key_1 = hasher_with(Some(Peppers::new(key(1, 0x11))));
    let stored = under_key_1.hash("hunter2").unwrap();
    assert_eq!(stored.pepper_id(), Some(PepperId::new(1)));
    // The key id is recorded as the argon2 `keyid` parameter: 1 as 4 big-endian bytes.
    assert!(stored.as_str().contains(",keyid=AAAAAQ$"), "{stored}");
    assert!(
        !under_key_1
            .verify("hunter2", stored.as_str())
            .unwrap()
            .needs_rehash()
    );

    let rotated = hasher_with(Some(Peppers::new(key(2, 0x22)).with_previous(key(1, 0x11))));
    assert!(
        rotated
            .verify("hunter2", stored.as_str())
            .unwrap()
            .needs_rehash()
    );
    assert!(matches!(
        rotated.verify("hunter3", stored.as_str()),
        Err(Error::Invalid)
    ));

    let upgraded = rotated
        .verify_and_upgrade("hunter2", stored.as_str())
        .unwrap()
        .expect("rehashed under key 2");
    assert_eq!(upgraded.pepper_id(), Some(PepperId::new(2)));
    assert!(
        !rotated
            .verify("hunter2", upgraded.as_str())
            .unwrap()
            .needs_rehash()
    );
}

#[test]
fn a_hash_whose_pepper_key_is_missing_fails_closed() {
    let stored = hasher_with(Some(Peppers::new(key(1, 0x11))))
        .hash("hunter2")
        .unwrap();
    let only_key_2 = hasher_with(Some(Peppers::new(key(2, 0x22))));
    let no_pepper = hasher_with(None);
    for hasher in [&only_key_2, &no_pepper] {
        let result = hasher.verify("hunter2", stored.as_str());
        assert!(
            matches!(result, Err(Error::UnknownPepperKey(id)) if id == PepperId::new(1)),
            "{result:?}"
        );
        // The dummy hash is made under the hasher's own current key (or none), never a
        // missing one: an unknown user gets the plain `Invalid` of a wrong password, not
        // the configuration error above.
        let dummy = hasher.dummy_verify("hunter2");
        assert!(matches!(dummy, Err(Error::Invalid)), "{dummy:?}");
    }
}

#[test]
fn the_pepper_is_really_mixed_in() {
    let stored = hasher_with(Some(Peppers::new(key(1, 0x11))))
        .hash("hunter2")
        .unwrap();
    // Same key id, other key bytes: the password no longer matches.
    let wrong_key = hasher_with(Some(Peppers::new(key(1, 0x99))));
    assert!(matches!(
        wrong_key.verify("hunter2", stored.as_str()),
        Err(Error::Invalid)
    ));
    // Stripping the key id from the stored string does not let it verify without the pepper.
    let stripped = stored.as_str().replace(",keyid=AAAAAQ", "");
    assert!(matches!(
        no_pepper_verify("hunter2", &stripped),
        Err(Error::Invalid)
    ));
}

fn no_pepper_verify(password: &str, stored: &str) -> Result<passwords::Verified, Error> {
    hasher_with(None).verify(password, stored)
}

#[test]
fn unpeppered_hashes_verify_and_are_upgraded_to_the_pepper() {
    let stored = hasher_with(None).hash("hunter2").unwrap();
    let peppered = hasher_with(Some(Peppers::new(key(3, 0x33))));
    assert!(
        peppered
            .verify("hunter2", stored.as_str())
            .unwrap()
            .needs_rehash()
    );
    let upgraded = peppered
        .verify_and_upgrade("hunter2", stored.as_str())
        .unwrap()
        .unwrap();
    assert_eq!(upgraded.pepper_id(), Some(PepperId::new(3)));
}

#[test]
fn bcrypt_cannot_carry_a_pepper() {
    let result = Hasher::builder()
        .bcrypt(BcryptCost::new(10).unwrap())
        .pepper(Peppers::new(key(1, 0x11)))
        .build();
    assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
}
