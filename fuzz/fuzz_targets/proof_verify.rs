//! Inclusion and consistency proofs from outside: verification never panics, whatever
//! the sizes, indexes and hash lengths.
#![no_main]

use audit_chain::{verify_consistency, verify_inclusion};
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    for (i, b) in data.iter().skip(at).take(8).enumerate() {
        bytes[i] = *b;
    }
    u64::from_le_bytes(bytes)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let (a, b) = (u64_at(data, 1), u64_at(data, 9));
    // Small sizes half of the time, so the interesting shapes come up.
    let (a, b) = if data[0] & 1 == 0 { (a % 64, b % 64) } else { (a, b) };
    let rest = &data[17..];
    // Hashes of mostly 32 bytes, sometimes another length.
    let chunk = if data[0] & 2 == 0 { 32 } else { 1 + usize::from(data[0] >> 3) };
    let hashes: Vec<&[u8]> = rest.chunks(chunk).collect();
    let (first, proof) = hashes.split_first().map_or((&[][..], &[][..]), |(f, p)| (*f, p));
    let (second, proof) = proof.split_first().map_or((&[][..], &[][..]), |(s, p)| (*s, p));
    let _ = verify_inclusion(a, b, first, proof, second);
    let _ = verify_consistency(a, b, proof, first, second);
});
