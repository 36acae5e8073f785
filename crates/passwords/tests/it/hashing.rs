//! Hashing, verifying, rehash decisions, length limits and malformed input.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use passwords::{
    Algorithm, Argon2Params, BcryptCost, Error, Hasher, MAX_PASSWORD_LEN, Normalization,
    PasswordHash, Policy, VerifyLimits,
};
use proptest::prelude::*;

use crate::common::{fast_hasher, fixture, weak_params};

fn bcrypt_hasher() -> Hasher {
    Hasher::builder()
        .bcrypt(BcryptCost::dangerous_weak(4).expect("valid cost"))
        .build()
        .expect("bcrypt hasher")
}

#[test]
fn defaults_are_argon2id_at_the_owasp_minimum() {
    let hasher = Hasher::new().unwrap();
    let hash = hasher.hash("correct horse battery staple").unwrap();
    assert!(
        hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(hash.algorithm(), Algorithm::Argon2id);
    assert!(
        !hasher
            .verify("correct horse battery staple", hash.as_str())
            .unwrap()
            .needs_rehash()
    );
    assert!(matches!(
        hasher.verify("correct horse battery stapler", hash.as_str()),
        Err(Error::Invalid)
    ));
}

#[test]
fn salts_are_fresh_for_every_hash() {
    let hasher = fast_hasher();
    let a = hasher.hash("same password").unwrap();
    let b = hasher.hash("same password").unwrap();
    assert_ne!(a, b);
    assert!(hasher.verify("same password", a.as_str()).is_ok());
    assert!(hasher.verify("same password", b.as_str()).is_ok());
}

#[test]
fn bcrypt_and_weaker_argon2_need_a_rehash_and_upgrade_to_current_argon2id() {
    let hasher = Hasher::new().unwrap();
    let (password, htpasswd) = fixture("htpasswd-2y.txt").remove(1);
    let weak = fast_hasher().hash(&password).unwrap();
    for stored in [htpasswd.as_str(), weak.as_str()] {
        assert!(
            hasher.verify(&password, stored).unwrap().needs_rehash(),
            "{stored}"
        );
        let upgraded = hasher
            .verify_and_upgrade(&password, stored)
            .unwrap()
            .expect("a replacement hash");
        assert!(
            upgraded
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{upgraded}"
        );
        let verified = hasher.verify(&password, upgraded.as_str()).unwrap();
        assert!(!verified.needs_rehash());
        // Nothing is upgraded for a wrong password.
        assert!(matches!(
            hasher.verify_and_upgrade("wrong", stored),
            Err(Error::Invalid)
        ));
    }
    let current = hasher.hash(&password).unwrap();
    assert_eq!(
        hasher
            .verify_and_upgrade(&password, current.as_str())
            .unwrap(),
        None
    );
}

#[test]
fn rehash_follows_each_parameter() {
    let current = Hasher::builder()
        .argon2id(Argon2Params::dangerous_weak(512, 2, 1).unwrap())
        .build()
        .unwrap();
    let made_with = |m, t, p| {
        Hasher::builder()
            .argon2id(Argon2Params::dangerous_weak(m, t, p).unwrap())
            .build()
            .unwrap()
            .hash("pw")
            .unwrap()
    };
    assert!(current.needs_rehash(&made_with(256, 2, 1)), "less memory");
    assert!(current.needs_rehash(&made_with(512, 1, 1)), "fewer passes");
    assert!(!current.needs_rehash(&made_with(512, 2, 1)), "same");
    assert!(!current.needs_rehash(&made_with(1024, 3, 1)), "stronger");
    // More memory and fewer passes, as much work or more: kept, never made cheaper.
    assert!(!current.needs_rehash(&made_with(1024, 1, 1)), "same work");
    assert!(!current.needs_rehash(&made_with(4096, 1, 1)), "more work");
    // Passes do not make up for too little memory.
    assert!(
        current.needs_rehash(&made_with(128, 16, 1)),
        "too little memory"
    );
    assert!(
        !current.needs_rehash(&made_with(512, 2, 2)),
        "parallelism only"
    );
    let bcrypt = bcrypt_hasher().hash("pw").unwrap();
    assert!(current.needs_rehash(&bcrypt));
    // A bcrypt hasher wants bcrypt at its own cost.
    let bcrypt5 = Hasher::builder()
        .bcrypt(BcryptCost::dangerous_weak(5).unwrap())
        .build()
        .unwrap();
    assert!(bcrypt5.needs_rehash(&bcrypt), "lower cost");
    assert!(!bcrypt5.needs_rehash(&bcrypt5.hash("pw").unwrap()));
    assert!(bcrypt5.needs_rehash(&made_with(512, 2, 1)));
}

#[test]
fn argon2_version_0x10_hashes_verify_and_need_a_rehash() {
    // A version 0x10 hash, made by the argon2 crate itself.
    let salt = b"somesaltsomesalt";
    let mut out = [0u8; 32];
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x10,
        argon2::Params::new(256, 1, 1, Some(32)).unwrap(),
    )
    .hash_password_into(b"old password", salt, &mut out)
    .unwrap();
    let b64 = |bytes: &[u8]| STANDARD_NO_PAD.encode(bytes);
    let stored = format!("$argon2id$v=16$m=256,t=1,p=1${}${}", b64(salt), b64(&out));
    let hasher = fast_hasher();
    assert!(
        hasher
            .verify("old password", &stored)
            .unwrap()
            .needs_rehash()
    );
    assert!(matches!(
        hasher.verify("new password", &stored),
        Err(Error::Invalid)
    ));
}

/// bcrypt repeats the password and a NUL over its 72 bytes, so `a` and `a\0a` hash
/// alike: a password with a NUL byte is refused for bcrypt and never verifies.
#[test]
fn bcrypt_refuses_nul_bytes_that_would_make_passwords_collide() {
    let hasher = bcrypt_hasher();
    assert!(matches!(hasher.hash("a\0a"), Err(Error::NulByte)));
    let stored = hasher.hash("hunter2").unwrap();
    // The raw bcrypt crate takes the one for the other; this crate does not.
    assert!(bcrypt::verify("hunter2\0hunter2", stored.as_str()).unwrap());
    for collides in ["hunter2\0hunter2", "hunter2\0"] {
        assert!(
            matches!(
                hasher.verify(collides, stored.as_str()),
                Err(Error::Invalid)
            ),
            "{collides:?}"
        );
    }
    assert!(hasher.verify("hunter2", stored.as_str()).is_ok());
}

#[test]
fn bcrypt_over_72_bytes_is_an_error_never_a_truncation() {
    let hasher = bcrypt_hasher();
    let prefix = "p".repeat(71) + "!";
    assert_eq!(prefix.len(), 72);
    let stored = hasher.hash(&prefix).unwrap();
    assert!(hasher.verify(&prefix, stored.as_str()).is_ok());

    let longer = format!("{prefix}x");
    assert_eq!(longer.len(), 73);
    assert!(matches!(
        hasher.hash(&longer),
        Err(Error::PasswordTooLong { max: 72 })
    ));
    // The raw bcrypt crate accepts the 73-byte password against the 72-byte one's hash,
    // because it silently drops the 73rd byte; this crate refuses it.
    assert!(bcrypt::verify(&longer, stored.as_str()).unwrap());
    assert!(matches!(
        hasher.verify(&longer, stored.as_str()),
        Err(Error::Invalid)
    ));
    // An argon2id hasher refuses it against a legacy bcrypt hash just the same.
    let argon2_hasher = fast_hasher();
    assert!(matches!(
        argon2_hasher.verify(&longer, stored.as_str()),
        Err(Error::Invalid)
    ));
}

#[test]
fn bcrypt_hashes_made_by_htpasswd_never_match_over_72_bytes() {
    // htpasswd hashed a 72-byte password, and a 73-byte one whose 73rd byte it silently
    // dropped (so that hash is the 72-byte prefix's hash too).
    let lines = fixture("htpasswd-72.txt");
    let [(prefix, prefix_hash), (longer, longer_hash)] = lines.as_slice() else {
        panic!("two lines expected: {lines:?}");
    };
    assert_eq!((prefix.len(), longer.len()), (72, 73));
    assert!(longer.starts_with(prefix.as_str()));
    let hasher = fast_hasher();
    assert!(hasher.verify(prefix, prefix_hash).is_ok());
    // The truncation is real: the raw bcrypt crate accepts either password for either
    // hash, and the 72-byte prefix verifies against the 73-byte password's hash.
    for hash in [prefix_hash, longer_hash] {
        assert!(bcrypt::verify(longer, hash).unwrap(), "{hash}");
        assert!(hasher.verify(prefix, hash).is_ok(), "{hash}");
    }
    // This crate never matches the 73-byte password, even against the hash htpasswd made
    // of it.
    for hash in [prefix_hash, longer_hash] {
        assert!(
            matches!(hasher.verify(longer, hash), Err(Error::Invalid)),
            "{hash}"
        );
    }
}

#[test]
fn a_64_character_passphrase_works_with_both_schemes() {
    let passphrase = "a 64-character passphrase, long enough to need every byte of it!";
    assert_eq!(passphrase.chars().count(), 64);
    for hasher in [fast_hasher(), bcrypt_hasher()] {
        let stored = hasher.hash(passphrase).unwrap();
        assert!(hasher.verify(passphrase, stored.as_str()).is_ok());
        // Every byte counts: changing the last one fails.
        let changed = passphrase.replace('!', "?");
        assert!(matches!(
            hasher.verify(&changed, stored.as_str()),
            Err(Error::Invalid)
        ));
    }
}

#[test]
fn argon2_takes_up_to_1024_bytes_and_refuses_more() {
    let hasher = fast_hasher();
    let longest = "é".repeat(MAX_PASSWORD_LEN / 2);
    assert_eq!(longest.len(), 1024);
    let stored = hasher.hash(&longest).unwrap();
    assert!(hasher.verify(&longest, stored.as_str()).is_ok());
    let too_long = format!("{longest}x");
    assert!(matches!(
        hasher.hash(&too_long),
        Err(Error::PasswordTooLong { max: 1024 })
    ));
    assert!(matches!(
        hasher.verify(&too_long, stored.as_str()),
        Err(Error::PasswordTooLong { max: 1024 })
    ));
}

#[test]
fn the_same_text_typed_composed_or_decomposed_verifies() {
    let hasher = fast_hasher();
    let stored = hasher.hash("caf\u{e9} cr\u{e8}me").unwrap();
    assert!(
        hasher
            .verify("cafe\u{301} cre\u{300}me", stored.as_str())
            .is_ok()
    );
}

#[test]
fn what_the_policy_accepts_hashes_under_nfkc_but_may_not_as_typed() {
    let policy = Policy::builder()
        .max_chars(Policy::MAX_CHARS_LIMIT)
        .build()
        .unwrap();
    let nfkc = fast_hasher();
    let as_typed = Hasher::builder()
        .argon2id(weak_params())
        .normalization(Normalization::None)
        .build()
        .unwrap();
    // The longest NFKC text the policy accepts: 256 four-byte characters, 1024 bytes.
    let widest = "\u{1f600}".repeat(Policy::MAX_CHARS_LIMIT);
    assert_eq!(widest.len(), MAX_PASSWORD_LEN);
    assert_eq!(policy.check(&widest), Ok(()));
    assert!(nfkc.hash(&widest).is_ok());
    assert!(as_typed.hash(&widest).is_ok());
    // 256 characters once normalized, but four code points each as typed: 2048 bytes.
    let decomposed = "\u{391}\u{313}\u{342}\u{345}".repeat(Policy::MAX_CHARS_LIMIT);
    assert_eq!(policy.check(&decomposed), Ok(()));
    let stored = nfkc.hash(&decomposed).unwrap();
    assert!(nfkc.verify(&decomposed, stored.as_str()).is_ok());
    assert!(matches!(
        as_typed.hash(&decomposed),
        Err(Error::PasswordTooLong {
            max: MAX_PASSWORD_LEN
        })
    ));
}

/// Under bcrypt, a legacy hash of text that verifies only as typed, and whose normalized
/// text is longer than bcrypt's 72 bytes, still lets its password in: the upgrade keeps
/// the stored hash instead of failing the sign-in.
#[test]
fn bcrypt_upgrade_keeps_a_hash_whose_normalized_text_does_not_fit() {
    let nfkc = bcrypt_hasher();
    let as_typed = Hasher::builder()
        .bcrypt(BcryptCost::dangerous_weak(4).expect("valid cost"))
        .normalization(Normalization::None)
        .build()
        .unwrap();
    // Nine bytes as typed; NFKC spells out each ligature, 99 bytes in all.
    let typed = "\u{fdfa}".repeat(3);
    assert!(typed.len() <= 72);
    assert!(matches!(
        nfkc.hash(&typed),
        Err(Error::PasswordTooLong { max: 72 })
    ));
    let legacy = as_typed.hash(&typed).unwrap();
    assert!(nfkc.verify(&typed, legacy.as_str()).unwrap().needs_rehash());
    assert_eq!(
        nfkc.verify_and_upgrade(&typed, legacy.as_str()).unwrap(),
        None
    );
    assert!(matches!(
        nfkc.verify_and_upgrade("wrong", legacy.as_str()),
        Err(Error::Invalid)
    ));
}

#[test]
fn malformed_and_unsupported_hashes_are_typed_errors() {
    let hasher = fast_hasher();
    for stored in [
        "",
        "hunter2",
        "$1$saltsalt$abcdefghijklmnopqrstuv",
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ",
        "$2x$05$TVlQ/9vrgJ93VSglTyN0quit3b0oZHBMvKMdWBqDHwSK7FmKRc6WS",
        "$2y$05$TVlQ/9vrgJ93VSglTyN0quit3b0oZHBMvKMdWBqDHwSK7FmKRc6W",
    ] {
        let result = hasher.verify("hunter2", stored);
        assert!(
            matches!(result, Err(Error::MalformedHash(_))),
            "{stored}: {result:?}"
        );
    }
}

#[test]
fn hashes_that_ask_too_much_work_are_refused_before_any() {
    let hasher = fast_hasher();
    // 4 GiB of memory; bcrypt cost 31 (days of work): refused at once.
    let huge_memory =
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let huge_cost = "$2b$31$TVlQ/9vrgJ93VSglTyN0quit3b0oZHBMvKMdWBqDHwSK7FmKRc6WS";
    for stored in [huge_memory, huge_cost] {
        let result = hasher.verify("pw", stored);
        assert!(matches!(result, Err(Error::TooExpensive(_))), "{result:?}");
    }
    // Raised limits admit what they name.
    let generous = Hasher::builder()
        .argon2id(weak_params())
        .verify_limits(VerifyLimits::DEFAULT.max_bcrypt_cost(5))
        .build()
        .unwrap();
    let (password, htpasswd) = fixture("htpasswd-2y.txt").remove(0);
    assert!(generous.verify(&password, &htpasswd).is_ok());
    let strict = Hasher::builder()
        .argon2id(weak_params())
        .verify_limits(VerifyLimits::DEFAULT.max_bcrypt_cost(4))
        .build()
        .unwrap();
    assert!(matches!(
        strict.verify(&password, &htpasswd),
        Err(Error::TooExpensive(_))
    ));
}

#[test]
fn parsed_hashes_round_trip_and_keep_secrets_out_of_debug() {
    let stored = fast_hasher().hash("pw").unwrap();
    let reparsed: PasswordHash = stored.as_str().parse().unwrap();
    assert_eq!(reparsed, stored);
    let shown = format!("{stored:?}");
    let salt_and_output = stored.as_str().rsplit('$').next().unwrap();
    assert!(!shown.contains(salt_and_output), "{shown}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_password_round_trips_and_no_other_verifies(
        password in proptest::collection::vec(any::<u8>(), 0..200),
        other in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let hasher = fast_hasher();
        let stored = hasher.hash(&password).unwrap();
        prop_assert!(hasher.verify(&password, stored.as_str()).is_ok());
        if other != password {
            prop_assert!(matches!(hasher.verify(&other, stored.as_str()), Err(Error::Invalid)));
        }
    }
}
