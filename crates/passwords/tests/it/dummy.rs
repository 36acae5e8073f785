//! The dummy verify for unknown users runs the same hash function, with the same
//! parameters and pepper, as a real verify. What ran is observed through the `tracing`
//! event the hasher emits just before it computes a hash.

use passwords::{BcryptCost, Error, Hasher, MAX_PASSWORD_LEN, PepperId, PepperKey, Peppers};

use crate::common::{capture_events, weak_params};

/// The hash computations `f` performed, as seen by the hasher's own event.
fn computations(f: impl FnOnce()) -> Vec<Vec<String>> {
    capture_events(f)
        .into_iter()
        .map(|(_, fields)| fields)
        .filter(|fields| fields.iter().any(|f| f.contains("computing password hash")))
        .collect()
}

#[test]
fn dummy_verify_runs_the_same_argon2id_computation_as_a_real_verify() {
    let hasher = Hasher::builder()
        .argon2id(weak_params())
        .pepper(Peppers::new(
            PepperKey::new(PepperId::new(7), &[7; 32]).unwrap(),
        ))
        .build()
        .unwrap();
    let stored = hasher.hash("alice's password").unwrap();

    let real = computations(|| {
        assert!(hasher.verify("alice's password", stored.as_str()).is_ok());
    });
    let dummy = computations(|| {
        assert!(matches!(
            hasher.dummy_verify("alice's password"),
            Err(Error::Invalid)
        ));
    });
    assert_eq!(real.len(), 1, "{real:?}");
    assert_eq!(dummy, real);
    let fields = &real[0];
    for expected in [
        "algorithm=argon2id",
        "version=19",
        "m_cost=256",
        "t_cost=1",
        "p_cost=1",
        "output_len=32",
        "pepper=7",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    // The dummy hash is one the hasher considers current.
    assert!(!hasher.needs_rehash(hasher.dummy_hash()));
    assert_eq!(hasher.dummy_hash().pepper_id(), Some(PepperId::new(7)));
}

#[test]
fn dummy_verify_follows_a_bcrypt_configuration() {
    let hasher = Hasher::builder()
        .bcrypt(BcryptCost::dangerous_weak(5).unwrap())
        .build()
        .unwrap();
    let stored = hasher.hash("bob's password").unwrap();
    let real = computations(|| {
        assert!(hasher.verify("bob's password", stored.as_str()).is_ok());
    });
    let dummy = computations(|| {
        assert!(matches!(
            hasher.dummy_verify("bob's password"),
            Err(Error::Invalid)
        ));
    });
    assert_eq!(dummy, real);
    assert!(real[0].iter().any(|f| f == "cost=5"), "{real:?}");
}

#[test]
fn dummy_verify_never_succeeds_and_fails_like_verify_on_long_input() {
    let hasher = Hasher::builder().argon2id(weak_params()).build().unwrap();
    for password in ["", "password", "anything at all"] {
        assert!(matches!(hasher.dummy_verify(password), Err(Error::Invalid)));
    }
    let too_long = "x".repeat(MAX_PASSWORD_LEN + 1);
    assert!(matches!(
        hasher.dummy_verify(&too_long),
        Err(Error::PasswordTooLong { .. })
    ));
    let stored = hasher.hash("short").unwrap();
    assert!(matches!(
        hasher.verify(&too_long, stored.as_str()),
        Err(Error::PasswordTooLong { .. })
    ));
}

#[test]
fn text_that_nfkc_changes_costs_the_same_for_known_and_unknown_users() {
    // A wrong password that NFKC changes (a decomposed accent): against a hash without a
    // pepper key id, the text as typed is tried too, so a failed verify computes twice.
    let wrong = "cre\u{300}me br\u{fb}le\u{301}e";
    for peppered in [false, true] {
        let builder = Hasher::builder().argon2id(weak_params());
        let hasher = if peppered {
            builder.pepper(Peppers::new(
                PepperKey::new(PepperId::new(3), &[3; 32]).unwrap(),
            ))
        } else {
            builder
        }
        .build()
        .unwrap();
        let stored = hasher.hash("the real password").unwrap();
        let real = computations(|| {
            assert!(matches!(
                hasher.verify(wrong, stored.as_str()),
                Err(Error::Invalid)
            ));
        });
        let dummy = computations(|| {
            assert!(matches!(hasher.dummy_verify(wrong), Err(Error::Invalid)));
        });
        // A peppered hash was made by this crate from normalized text: no second try.
        let expected = if peppered { 1 } else { 2 };
        assert_eq!(real.len(), expected, "peppered: {peppered}, {real:?}");
        assert_eq!(dummy, real, "peppered: {peppered}");
        // Text that NFKC leaves alone is computed once, whatever the hash.
        let once = computations(|| {
            let _ = hasher.verify("plain wrong", stored.as_str());
        });
        assert_eq!(once.len(), 1, "{once:?}");
    }
}
