//! Parses arbitrary text as a keyring. Nothing may panic, and a keyring that parses must
//! write out text that parses back to the same keyring.
#![no_main]

use envelope_crypto::Keyring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(keyring) = Keyring::parse(text) else {
        return;
    };
    let written = keyring.to_text();
    let again = Keyring::parse(&written).expect("written keyring parses");
    assert_eq!(*again.to_text(), *written);
    assert_eq!(again.primary(), keyring.primary());
    assert_eq!(
        again.versions().collect::<Vec<_>>(),
        keyring.versions().collect::<Vec<_>>()
    );
    let sealer = keyring.sealer("fuzz").expect("valid purpose");
    let envelope = sealer
        .seal(b"fuzz", &envelope_crypto::Binding::new())
        .expect("seal");
    let opened = again.sealer("fuzz").expect("valid purpose").open(&envelope, &Default::default());
    assert_eq!(opened.expect("opens under the reparsed keyring").as_bytes(), b"fuzz");
});
