//! Signed checkpoint notes from outside: parsing and verifying never panic, and nothing
//! but a note signed by the key verifies.
#![no_main]

use audit_chain::{Checkpoint, SignedCheckpoint, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Checkpoint::parse_unsigned(text);
    let _ = Checkpoint::from_note_unverified(text);
    let _ = VerifyingKey::from_text(text);
    let _ = SigningKey::from_text(text);
    let key = SigningKey::from_seed("fuzz.example", &[9; 32]).expect("valid name");
    if let Ok(signed) = SignedCheckpoint::verify(text, &key.verifying_key()) {
        // Only a note whose text the key signed can verify: signing it again gives the
        // same checkpoint.
        let again = key.sign(signed.checkpoint());
        assert_eq!(again.checkpoint(), signed.checkpoint());
    }
});
