//! Opens arbitrary bytes as an envelope, binary and armored, under an arbitrary binding.
//! Nothing may panic, and nothing but a genuine envelope may open.
#![no_main]

use envelope_crypto::{Binding, Envelope, Error, Header, Keyring, Sealer};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const KEYRING: &str = "palisade-keyring v1\n\
    1 retired 2025-01-01T00:00:00Z -\n\
    2 decrypt-only 2025-01-01T00:00:00Z AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n\
    3 primary 2025-01-01T00:00:00Z AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n";

fn sealer() -> &'static Sealer {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    SEALER.get_or_init(|| {
        Keyring::parse(KEYRING)
            .and_then(|k| k.sealer("fuzz"))
            .expect("valid keyring")
    })
}

/// Splits the input into a binding (first bytes) and an envelope (the rest).
fn split(data: &[u8]) -> (Binding, &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return (Binding::new(), data);
    };
    let take = usize::from(control & 0x0f).min(rest.len());
    let (field, envelope) = rest.split_at(take);
    let field = String::from_utf8_lossy(field).into_owned();
    let mut binding = Binding::new();
    if control & 0x10 != 0 {
        binding = binding.tenant(field.clone());
    }
    if control & 0x20 != 0 {
        binding = binding.record(field.clone());
    }
    if control & 0x40 != 0 {
        binding = binding.pair(field.clone(), "v");
    }
    (binding, envelope)
}

fuzz_target!(|data: &[u8]| {
    let sealer = sealer();
    let (binding, bytes) = split(data);
    let header = Header::peek(bytes);
    match sealer.open(bytes, &binding) {
        Ok(plaintext) => {
            // Only a genuine envelope opens. The one genuine envelope the fuzzer knows is
            // the seed corpus's, sealed with `palisade seal --purpose fuzz` under this
            // keyring; anything else opening would be a forgery.
            assert_eq!(plaintext.as_bytes(), b"seed secret", "forged envelope opened");
        }
        Err(Error::RetiredKey(v)) => assert_eq!(v.get(), 1),
        Err(Error::UnknownKeyVersion(v)) => assert!(v.get() > 3),
        Err(Error::Invalid) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
    if let Ok(header) = header {
        assert_eq!(Envelope::from_bytes(bytes.to_vec()).map(|e| e.header()).ok(), Some(header));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(envelope) = Envelope::from_armor(text) {
            assert_eq!(Envelope::from_armor(&envelope.to_armor()).ok(), Some(envelope.clone()));
            if let Ok(plaintext) = sealer.open(&envelope, &binding) {
                assert_eq!(plaintext.as_bytes(), b"seed secret", "forged envelope opened");
            }
        }
    }
});
