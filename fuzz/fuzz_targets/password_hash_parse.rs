//! Arbitrary stored-hash strings: parsing never panics, a parsed hash displays as the
//! exact input and parses again to the same value, and verifying it (under tight work
//! limits, so every input is cheap) ends in a result, never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use passwords::{Argon2Params, Hasher, PasswordHash, VerifyLimits};

static HASHER: LazyLock<Hasher> = LazyLock::new(|| {
    Hasher::builder()
        .argon2id(Argon2Params::dangerous_weak(8, 1, 1).expect("valid parameters"))
        .verify_limits(
            VerifyLimits::DEFAULT
                .max_m_cost(64)
                .max_t_cost(2)
                .max_p_cost(2)
                .max_bcrypt_cost(4),
        )
        .build()
        .expect("hasher builds")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match PasswordHash::parse(text) {
        Ok(hash) => {
            assert_eq!(hash.as_str(), text);
            assert!(PasswordHash::parse(hash.as_str()).is_ok_and(|again| again == hash));
            let _ = HASHER.needs_rehash(&hash);
            let _ = HASHER.verify(b"password", text);
        }
        Err(_) => assert!(HASHER.verify(b"password", text).is_err()),
    }
});
