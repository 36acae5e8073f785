//! Canonical entry bytes from outside (an export line, a store row): decoding never
//! panics, and whatever decodes re-encodes to exactly the same bytes.
#![no_main]

use audit_chain::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::from_leaf_bytes(data) {
        assert_eq!(entry.to_leaf_bytes(), data);
    }
});
