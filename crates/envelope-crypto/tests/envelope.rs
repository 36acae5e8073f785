//! Envelopes end to end through the public API: round trips, tampering, bindings,
//! purposes, keyrings, backends and secrecy of `Debug`.

mod common;

use common::{QueuedRandom, keyring, keyring_text};
use envelope_crypto::{
    Backend, Binding, Envelope, Error, Header, KeyState, KeyVersion, Keyring, OVERHEAD, SecretKey,
};
use proptest::prelude::*;

const KEY: [u8; 32] = [0x5a; 32];

fn binding() -> Binding {
    Binding::new()
        .tenant("acme")
        .record("user:42")
        .pair("column", "totp_seed")
        .pair("table", "mfa")
}

fn is_invalid<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::Invalid))
}

fn arb_binding() -> impl Strategy<Value = Binding> {
    (
        proptest::option::of(".{0,12}"),
        proptest::option::of(".{0,12}"),
        proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..4),
    )
        .prop_map(|(tenant, record, pairs)| {
            let mut b = Binding::new();
            if let Some(t) = tenant {
                b = b.tenant(t);
            }
            if let Some(r) = record {
                b = b.record(r);
            }
            for (k, v) in pairs {
                b = b.pair(k, v);
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Plaintexts from 0 B to 1 MiB round-trip through seal and open (and the armor),
    /// under every backend, and the envelope is exactly OVERHEAD bytes longer.
    #[test]
    fn round_trip_from_0_bytes_to_1_mib(
        len in prop_oneof![0usize..=1024, 1024usize..=(1 << 20), Just(0usize), Just(1 << 20)],
        fill in any::<u8>(),
        binding in arb_binding(),
    ) {
        let plaintext: Vec<u8> = (0..len).map(|i| fill ^ i.to_le_bytes()[0]).collect();
        let keyring = keyring(&KEY);
        for &backend in Backend::all() {
            let sealer = keyring.sealer("test.round-trip").unwrap().with_backend(backend);
            let envelope = sealer.seal(&plaintext, &binding).unwrap();
            prop_assert_eq!(envelope.len(), len + OVERHEAD);
            let opened = sealer.open(&envelope, &binding).unwrap();
            prop_assert!(opened.as_bytes() == plaintext.as_slice());
            let armored = Envelope::from_armor(&envelope.to_armor()).unwrap();
            prop_assert!(sealer.open(&armored, &binding).unwrap().as_bytes() == plaintext.as_slice());
        }
    }
}

const _: () = assert!(OVERHEAD < 80);

#[test]
fn overhead_is_under_80_bytes() {
    let sealer = keyring(&KEY).sealer("test").unwrap();
    assert_eq!(sealer.seal(b"", &Binding::new()).unwrap().len(), OVERHEAD);
}

#[test]
fn backends_produce_byte_identical_envelopes_for_the_same_nonce() {
    #[cfg(feature = "aws-lc")]
    assert_eq!(Backend::all().len(), 2, "both backends are compiled in");
    let keyring = keyring(&KEY);
    let nonce = [0x24u8; 24];
    for len in [0usize, 1, 15, 16, 17, 64, 255, 4096, 100_000] {
        let plaintext = vec![0xc3u8; len];
        let envelopes: Vec<Envelope> = Backend::all()
            .iter()
            .map(|&backend| {
                keyring
                    .sealer("test.backends")
                    .unwrap()
                    .with_backend(backend)
                    .with_random(QueuedRandom::new(&nonce))
                    .seal(&plaintext, &binding())
                    .unwrap()
            })
            .collect();
        for pair in envelopes.windows(2) {
            assert_eq!(pair[0].as_bytes(), pair[1].as_bytes(), "{len} bytes");
        }
        // And each backend opens what the others sealed.
        for &backend in Backend::all() {
            let sealer = keyring
                .sealer("test.backends")
                .unwrap()
                .with_backend(backend);
            for envelope in &envelopes {
                assert_eq!(
                    sealer.open(envelope, &binding()).unwrap().as_bytes(),
                    plaintext
                );
            }
        }
    }
}

#[test]
fn every_single_bit_flip_of_a_64_byte_envelope_is_rejected() {
    let keyring = keyring(&KEY);
    for &backend in Backend::all() {
        let sealer = keyring.sealer("test.flips").unwrap().with_backend(backend);
        let envelope = sealer.seal(&[0x42; 64], &binding()).unwrap().into_bytes();
        assert_eq!(envelope.len(), 64 + OVERHEAD);
        let mut rejected = 0;
        for byte in 0..envelope.len() {
            for bit in 0..8 {
                let mut bad = envelope.clone();
                bad[byte] ^= 1 << bit;
                let result = sealer.open(&bad, &binding());
                // Flips in the key-version bytes name a version the keyring lacks (or 0,
                // which does not parse): rejected either way, never opened.
                assert!(
                    matches!(result, Err(Error::Invalid | Error::UnknownKeyVersion(_))),
                    "byte {byte} bit {bit}: {result:?}"
                );
                rejected += 1;
            }
        }
        assert_eq!(rejected, envelope.len() * 8);
        assert!(
            sealer.open(&envelope, &binding()).is_ok(),
            "the original still opens"
        );
    }
}

#[test]
fn truncated_and_extended_envelopes_are_rejected() {
    let sealer = keyring(&KEY).sealer("test.lengths").unwrap();
    let envelope = sealer.seal(&[7; 64], &binding()).unwrap().into_bytes();
    for len in 0..envelope.len() {
        assert!(
            is_invalid(sealer.open(&envelope[..len], &binding())),
            "prefix of {len}"
        );
        assert!(is_invalid(
            sealer.open(&envelope[envelope.len() - len..], &binding())
        ));
    }
    for extra in [&[0u8][..], &[0; 16], &envelope[..], b"\n"] {
        let mut longer = envelope.clone();
        longer.extend_from_slice(extra);
        assert!(
            is_invalid(sealer.open(&longer, &binding())),
            "+{} bytes",
            extra.len()
        );
        let mut prefixed = extra.to_vec();
        prefixed.extend_from_slice(&envelope);
        assert!(
            sealer.open(&prefixed, &binding()).is_err(),
            "{} bytes before",
            extra.len()
        );
    }
}

#[test]
fn changed_added_or_removed_binding_fields_are_rejected() {
    let sealer = keyring(&KEY).sealer("test.binding").unwrap();
    let envelope = sealer.seal(b"secret", &binding()).unwrap();
    let others = [
        Binding::new(),
        binding().tenant("acme2"),
        binding().tenant("Acme"),
        binding().record("user:43"),
        binding().record(""),
        binding().pair("column", "other"),
        binding().pair("extra", ""),
        Binding::new()
            .tenant("acme")
            .record("user:42")
            .pair("column", "totp_seed"),
        Binding::new()
            .record("user:42")
            .pair("column", "totp_seed")
            .pair("table", "mfa"),
        Binding::new()
            .tenant("acme")
            .pair("column", "totp_seed")
            .pair("table", "mfa"),
        // The typed fields are not free pairs of the same name.
        Binding::new()
            .pair("tenant", "acme")
            .pair("record", "user:42")
            .pair("column", "totp_seed")
            .pair("table", "mfa"),
    ];
    for other in &others {
        assert!(is_invalid(sealer.open(&envelope, other)), "{other:?}");
    }
    // Free pairs in another order are the same binding.
    let reordered = Binding::new()
        .pair("table", "mfa")
        .pair("column", "totp_seed")
        .record("user:42")
        .tenant("acme");
    assert_eq!(
        sealer.open(&envelope, &reordered).unwrap().as_bytes(),
        b"secret"
    );
}

#[test]
fn another_purpose_or_another_keyring_is_rejected() {
    let keyring_a = keyring(&KEY);
    let keyring_b = keyring(&[0xa5; 32]);
    let envelope = keyring_a
        .sealer("oauth.token")
        .unwrap()
        .seal(b"t", &binding())
        .unwrap();
    for sealer in [
        keyring_a.sealer("oauth.token2").unwrap(),
        keyring_a.sealer("oauth.Token").unwrap(),
        keyring_a.sealer("mfa.totp-seed").unwrap(),
        keyring_b.sealer("oauth.token").unwrap(),
    ] {
        assert!(is_invalid(sealer.open(&envelope, &binding())), "{sealer:?}");
    }
    assert!(
        keyring_a
            .sealer("oauth.token")
            .unwrap()
            .open(&envelope, &binding())
            .is_ok()
    );
}

#[test]
fn nonces_are_fresh_and_a_failing_random_source_fails_closed() {
    let sealer = keyring(&KEY).sealer("test.nonces").unwrap();
    let a = sealer.seal(b"same", &binding()).unwrap();
    let b = sealer.seal(b"same", &binding()).unwrap();
    assert_ne!(a, b);
    let starved = keyring(&KEY)
        .sealer("test.nonces")
        .unwrap()
        .with_random(QueuedRandom::new(&[1; 23]));
    assert!(matches!(starved.seal(b"x", &binding()), Err(Error::Random)));
}

#[test]
fn header_peek_needs_no_key() {
    let mut keyring = keyring(&KEY);
    keyring.rotate().unwrap();
    let envelope = keyring.sealer("p").unwrap().seal(b"x", &binding()).unwrap();
    let header = Header::peek(envelope.as_bytes()).unwrap();
    assert_eq!(header.key_version().get(), 2);
    assert_eq!(header.format_version(), 1);
    assert_eq!(header.algorithm().id(), 1);
    assert_eq!(envelope.header(), header);
    assert_eq!(
        Envelope::from_armor(&envelope.to_armor()).unwrap().header(),
        header
    );
    assert!(Header::peek(b"not an envelope").is_err());
}

#[test]
fn rotation_keeps_old_envelopes_open_and_moves_them_by_rewrap() {
    let mut keyring = keyring(&KEY);
    let old = keyring
        .sealer("oauth.token")
        .unwrap()
        .seal(b"v1 secret", &binding())
        .unwrap();
    assert_eq!(old.header().key_version().get(), 1);

    let v2 = keyring.rotate().unwrap();
    assert_eq!(v2.get(), 2);
    let states: Vec<_> = keyring
        .versions()
        .map(|k| (k.version.get(), k.state))
        .collect();
    assert_eq!(states, [(1, KeyState::DecryptOnly), (2, KeyState::Primary)]);

    let sealer = keyring.sealer("oauth.token").unwrap();
    assert_eq!(
        sealer.open(&old, &binding()).unwrap().as_bytes(),
        b"v1 secret"
    );
    let new = sealer.seal(b"v2 secret", &binding()).unwrap();
    assert_eq!(new.header().key_version(), v2);
    assert!(sealer.needs_rewrap(&old).unwrap());
    assert!(!sealer.needs_rewrap(&new).unwrap());

    let moved = sealer.rewrap(&old, &binding()).unwrap();
    assert_eq!(moved.header().key_version(), v2);
    assert_eq!(
        sealer.open(&moved, &binding()).unwrap().as_bytes(),
        b"v1 secret"
    );
    // rewrap checks the binding like open does.
    assert!(is_invalid(sealer.rewrap(&old, &Binding::new())));

    // The keyring text keeps the rotation.
    let reloaded = Keyring::parse(&keyring.to_text()).unwrap();
    assert_eq!(reloaded.primary(), v2);
    let sealer = reloaded.sealer("oauth.token").unwrap();
    assert_eq!(
        sealer.open(&old, &binding()).unwrap().as_bytes(),
        b"v1 secret"
    );
}

#[test]
fn retired_versions_fail_with_an_error_naming_the_version() {
    let mut keyring = keyring(&KEY);
    let old = keyring
        .sealer("oauth.token")
        .unwrap()
        .seal(b"s", &binding())
        .unwrap();
    keyring.rotate().unwrap();
    let rewrapped = keyring
        .sealer("oauth.token")
        .unwrap()
        .rewrap(&old, &binding())
        .unwrap();
    keyring.retire(KeyVersion::new(1).unwrap()).unwrap();

    for keyring in [Keyring::parse(&keyring.to_text()).unwrap(), keyring] {
        let sealer = keyring.sealer("oauth.token").unwrap();
        let err = sealer.open(&old, &binding()).unwrap_err();
        assert!(
            matches!(err, Error::RetiredKey(v) if v.get() == 1),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("key version 1 is retired"),
            "{err}"
        );
        assert!(matches!(
            sealer.rewrap(&old, &binding()),
            Err(Error::RetiredKey(_))
        ));
        assert_eq!(
            sealer.open(&rewrapped, &binding()).unwrap().as_bytes(),
            b"s"
        );
    }
}

#[test]
fn retiring_the_primary_or_an_unknown_version_is_refused() {
    let mut keyring = keyring(&KEY);
    let err = keyring.retire(KeyVersion::new(1).unwrap()).unwrap_err();
    assert!(err.to_string().contains("rotate"), "{err}");
    let err = keyring.retire(KeyVersion::new(9).unwrap()).unwrap_err();
    assert!(err.to_string().contains("not in the keyring"), "{err}");
}

#[test]
fn an_envelope_of_a_version_not_in_the_keyring_names_it() {
    let mut newer = keyring(&KEY);
    newer.rotate().unwrap();
    let envelope = newer
        .sealer("p")
        .unwrap()
        .seal(b"x", &Binding::new())
        .unwrap();
    let err = keyring(&KEY)
        .sealer("p")
        .unwrap()
        .open(&envelope, &Binding::new())
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownKeyVersion(v) if v.get() == 2),
        "{err:?}"
    );
}

#[test]
fn keyrings_fail_closed_on_missing_short_and_malformed_keys() {
    let key = [7u8; 32];
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("# only a comment\n".into(), "empty"),
        (
            "palisade-keyring v2\n".into(),
            "must start with `palisade-keyring v1`",
        ),
        ("palisade-keyring v1\n".into(), "holds no keys"),
        (
            keyring_text(&[(1, "primary", &[7; 31])]),
            "31 bytes; at least 32",
        ),
        (
            keyring_text(&[(1, "primary", &[7; 16])]),
            "16 bytes; at least 32",
        ),
        (keyring_text(&[(1, "primary", &[7; 65])]), "at most 64"),
        (keyring_text(&[(1, "primary", b"")]), "has no key"),
        (
            "palisade-keyring v1\n1 primary 2025-01-01T00:00:00Z !!notbase64!!".into(),
            "not padded standard base64",
        ),
        (
            "palisade-keyring v1\n1 primary 2025-01-01T00:00:00Z".into(),
            "got 3 fields",
        ),
        (
            keyring_text(&[(1, "active", &key)]),
            "is not primary, decrypt-only or retired",
        ),
        (
            keyring_text(&[(1, "decrypt-only", &key)]),
            "no version is primary",
        ),
        (
            keyring_text(&[(1, "primary", &key), (2, "primary", &key)]),
            "both primary",
        ),
        (
            keyring_text(&[(1, "primary", &key), (1, "decrypt-only", &key)]),
            "appears twice",
        ),
        (keyring_text(&[(0, "primary", &key)]), "is not a number"),
    ];
    for (text, expected) in cases {
        let err = Keyring::parse(&text).unwrap_err();
        assert!(matches!(err, Error::Keyring(_)), "{text:?}: {err:?}");
        assert!(err.to_string().contains(expected), "{text:?}: {err}");
    }
    // Fields out of order put the key where another field belongs: no error shows any of
    // it, since errors reach terminals and logs.
    let secret = "a2V5cmluZy1zZWNyZXQtdGhhdC1tdXN0LW5vdC1sZWFrIQ==";
    for line in [
        format!("{secret} 1 primary 2025-01-01T00:00:00Z"),
        format!("1 {secret} 2025-01-01T00:00:00Z primary"),
        format!("1 primary {secret} 2025-01-01T00:00:00Z"),
    ] {
        let err = Keyring::parse(&format!("palisade-keyring v1\n{line}")).unwrap_err();
        assert!(matches!(err, Error::Keyring(_)), "{err:?}");
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&secret[..8]), "{line}: {shown}");
        }
    }
    let err = Keyring::from_file("/nonexistent/palisade/keyring").unwrap_err();
    assert!(matches!(err, Error::KeyringFile { .. }), "{err:?}");
    assert!(matches!(
        SecretKey::from_slice(&[0; 31]),
        Err(Error::KeyLength(31))
    ));
}

#[test]
fn keyring_text_round_trips_and_allows_one_line_form() {
    let text = keyring_text(&[
        (1, "retired", b""),
        (2, "decrypt-only", &[2; 48]),
        (3, "primary", &[3; 32]),
    ]);
    let keyring = Keyring::parse(&text).unwrap();
    assert_eq!(keyring.primary().get(), 3);
    assert_eq!(*keyring.to_text(), text);
    let one_line = text.trim_end().replace('\n', ";");
    assert_eq!(*Keyring::parse(&one_line).unwrap().to_text(), text);
    let info: Vec<_> = keyring.versions().map(|k| k.created_rfc3339()).collect();
    assert_eq!(info, ["2025-01-01T00:00:00Z"; 3]);
}

#[test]
fn keyring_files_are_written_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let mut keyring = Keyring::generate().unwrap();
    keyring.write_new_file(&path).unwrap();
    assert!(keyring.write_new_file(&path).is_err(), "never overwrites");
    keyring.rotate().unwrap();
    keyring.replace_file(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(Keyring::from_file(&path).unwrap().primary().get(), 2);
}

/// Updates of one keyring file at once take turns: eight rotations leave nine versions,
/// none lost to another update's read-change-write, and a failed change writes nothing.
#[test]
fn keyring_file_updates_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    Keyring::generate().unwrap().write_new_file(&path).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| Keyring::update_file(&path, Keyring::rotate).unwrap());
        }
    });
    let keyring = Keyring::from_file(&path).unwrap();
    assert_eq!(keyring.primary().get(), 9);
    assert_eq!(keyring.versions().count(), 9);

    let before = std::fs::read(&path).unwrap();
    let refused = Keyring::update_file(&path, |keyring| {
        keyring.rotate()?;
        keyring.retire(keyring.primary())
    });
    assert!(refused.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
}

#[test]
fn debug_output_shows_no_key_or_plaintext_bytes() {
    const SECRET_KEY: [u8; 32] = [0xa7; 32];
    let keyring = keyring(&SECRET_KEY);
    let sealer = keyring.sealer("test.debug").unwrap();
    let envelope = sealer.seal(b"super secret plaintext", &binding()).unwrap();
    let opened = sealer.open(&envelope, &binding()).unwrap();
    let blind = keyring.blind_index("test.debug").unwrap();
    let customer = envelope_crypto::CustomerKey::new("acme", SecretKey::from_bytes(SECRET_KEY));
    let outputs = [
        format!("{keyring:?}"),
        format!("{keyring:#?}"),
        format!("{sealer:?}"),
        format!("{opened:?}"),
        format!("{blind:?}"),
        format!("{customer:?}"),
        format!("{:?}", SecretKey::from_bytes(SECRET_KEY)),
        format!(
            "{:?}",
            envelope_crypto::dangerous::Xaes256Gcm::new(&SECRET_KEY, Backend::default())
        ),
    ];
    let forbidden = [
        hex::encode(SECRET_KEY),
        hex::encode_upper(SECRET_KEY),
        data_encoding::BASE64.encode(&SECRET_KEY),
        "167, 167".to_owned(),
        "0xa7".to_owned(),
        "super secret".to_owned(),
        format!("{:?}", b"super secret"),
    ];
    for output in &outputs {
        for needle in &forbidden {
            assert!(
                !output.contains(needle.as_str()),
                "{output} contains {needle}"
            );
        }
    }
    assert!(outputs[0].contains("primary"), "{}", outputs[0]);
    assert_eq!(outputs[3], "Plaintext(<redacted>)");
}

#[test]
fn blind_index_terms_are_versioned_and_purpose_bound() {
    let mut keyring = keyring(&KEY);
    let emails = keyring.blind_index("user.email").unwrap();
    let t1 = emails.term(b"alice@example.com");
    assert_eq!(t1, emails.term(b"alice@example.com"));
    assert_ne!(t1, emails.term(b"bob@example.com"));
    assert_ne!(
        t1,
        keyring
            .blind_index("user.phone")
            .unwrap()
            .term(b"alice@example.com")
    );
    assert!(t1.to_string().starts_with("bi1.1."), "{t1}");
    assert_eq!(t1.to_string().len(), "bi1.1.".len() + 43);

    keyring.rotate().unwrap();
    let emails = keyring.blind_index("user.email").unwrap();
    let terms = emails.terms(b"alice@example.com");
    assert_eq!(terms.len(), 2);
    assert_eq!(terms[0].version().get(), 2);
    assert_eq!(terms[1], t1, "old rows are still found");
    keyring.retire(KeyVersion::new(1).unwrap()).unwrap();
    let emails = keyring.blind_index("user.email").unwrap();
    assert_eq!(emails.terms(b"alice@example.com").len(), 1);
}

/// The mfa crate's use: seal a TOTP seed bound to a user, open it again.
#[test]
fn a_totp_seed_sealed_for_one_user_opens_only_for_that_user() {
    let keyring = Keyring::generate().unwrap();
    let seeds = keyring.sealer("mfa.totp-seed").unwrap();
    let alice = Binding::new().record("user:alice");
    let envelope = seeds.seal(b"JBSWY3DPEHPK3PXP", &alice).unwrap();
    let stored = envelope.to_armor();
    let opened = seeds
        .open(Envelope::from_armor(&stored).unwrap(), &alice)
        .unwrap();
    assert_eq!(opened.as_bytes(), b"JBSWY3DPEHPK3PXP");
    let bob = Binding::new().record("user:bob");
    assert!(is_invalid(seeds.open(&envelope, &bob)));
}
