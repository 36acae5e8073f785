//! XAES-256-GCM against the C2SP known answers in `shared/vectors/xaes-256-gcm.md`: both
//! worked vectors, and the accumulated randomized test.
//!
//! The accumulated test runs 10 000 iterations by default. CI runs the 1 000 000-iteration
//! one in release mode:
//!
//! ```sh
//! PALISADE_XAES_ITERATIONS=1000000 cargo test --release -p envelope-crypto --all-features \
//!     --test xaes_kat accumulated_randomized_known_answer
//! ```

use envelope_crypto::Backend;
use envelope_crypto::dangerous::Xaes256Gcm;
use sha3::Shake128;
use sha3::digest::{ExtendableOutput, Update, XofReader};

const ITERATIONS_ENV: &str = "PALISADE_XAES_ITERATIONS";

fn spec() -> String {
    let path = palisade_test_support::shared_vectors().join("xaes-256-gcm.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A value of the spec: `"ASCII"` or hex.
fn value(field: &str) -> Vec<u8> {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(ascii) => ascii.as_bytes().to_vec(),
        None => hex::decode(field).unwrap_or_else(|e| panic!("{field}: {e}")),
    }
}

struct Vector {
    name: String,
    key: [u8; 32],
    nonce: [u8; 24],
    plaintext: Vec<u8>,
    aad: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let spec = spec();
    let mut vectors = Vec::new();
    for block in spec.split("\nVector ").skip(1) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(|v| value(v.trim()))
                .unwrap_or_else(|| panic!("vector without {name}"))
        };
        vectors.push(Vector {
            name: block.lines().next().unwrap_or_default().to_owned(),
            key: field("K").try_into().expect("32-byte key"),
            nonce: field("N").try_into().expect("24-byte nonce"),
            plaintext: field("Plaintext"),
            aad: field("AAD"),
            ciphertext: field("Ciphertext"),
        });
    }
    vectors
}

#[test]
fn c2sp_vectors_encrypt_decrypt_and_reject_tampering() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 2, "both C2SP vectors are in the file");
    for v in &vectors {
        for &backend in Backend::all() {
            let xaes = Xaes256Gcm::new(&v.key, backend);
            let sealed = xaes.encrypt(&v.nonce, &v.plaintext, &v.aad).unwrap();
            assert_eq!(
                hex::encode(&sealed),
                hex::encode(&v.ciphertext),
                "{} {backend}",
                v.name
            );
            let opened = xaes.decrypt(&v.nonce, &v.ciphertext, &v.aad).unwrap();
            assert_eq!(opened.as_bytes(), v.plaintext, "{} {backend}", v.name);

            for i in 0..v.ciphertext.len() {
                let mut bad = v.ciphertext.clone();
                bad[i] ^= 0x80;
                assert!(
                    xaes.decrypt(&v.nonce, &bad, &v.aad).is_err(),
                    "{} byte {i}",
                    v.name
                );
            }
            let mut bad_nonce = v.nonce;
            bad_nonce[0] ^= 1;
            assert!(xaes.decrypt(&bad_nonce, &v.ciphertext, &v.aad).is_err());
            let mut bad_nonce = v.nonce;
            bad_nonce[23] ^= 1;
            assert!(xaes.decrypt(&bad_nonce, &v.ciphertext, &v.aad).is_err());
            assert!(xaes.decrypt(&v.nonce, &v.ciphertext, b"other").is_err());
            assert!(
                xaes.decrypt(&v.nonce, &v.ciphertext[..v.ciphertext.len() - 1], &v.aad)
                    .is_err()
            );
        }
    }
}

/// The published expected hash for `iterations`, read from the spec file.
fn expected_hash(iterations: u64) -> String {
    spec()
        .lines()
        .find_map(|line| {
            let (count, hash) = line.split_once("iterations:")?;
            let count: String = count.chars().filter(char::is_ascii_digit).collect();
            (count.parse::<u64>().ok()? == iterations).then(|| hash.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no published hash for {iterations} iterations"))
}

fn iterations() -> u64 {
    match std::env::var(ITERATIONS_ENV) {
        Err(_) => 10_000,
        Ok(v) => match v.as_str() {
            "10000" => 10_000,
            "1000000" => 1_000_000,
            other => panic!("{ITERATIONS_ENV} must be 10000 or 1000000, got {other:?}"),
        },
    }
}

/// The C2SP accumulated randomized test: a SHAKE-128 stream supplies key, nonce,
/// plaintext and AAD; every ciphertext is absorbed into a second SHAKE-128 whose first 32
/// bytes of output are published. Runs every compiled backend side by side, and checks
/// each ciphertext decrypts again.
#[test]
fn accumulated_randomized_known_answer() {
    let iterations = iterations();
    let expected = expected_hash(iterations);
    let mut source = Shake128::default().finalize_xof();
    let mut sinks: Vec<_> = Backend::all().iter().map(|_| Shake128::default()).collect();
    let mut key = [0u8; 32];
    let mut nonce = [0u8; 24];
    let mut len = [0u8; 1];
    let mut plaintext = [0u8; 256];
    let mut aad = [0u8; 256];
    for _ in 0..iterations {
        source.read(&mut key);
        source.read(&mut nonce);
        source.read(&mut len);
        let plaintext = &mut plaintext[..usize::from(len[0])];
        source.read(plaintext);
        source.read(&mut len);
        let aad = &mut aad[..usize::from(len[0])];
        source.read(aad);
        for (&backend, sink) in Backend::all().iter().zip(&mut sinks) {
            let xaes = Xaes256Gcm::new(&key, backend);
            let ciphertext = xaes.encrypt(&nonce, plaintext, aad).unwrap();
            let opened = xaes.decrypt(&nonce, &ciphertext, aad).unwrap();
            assert_eq!(opened.as_bytes(), &*plaintext);
            sink.update(&ciphertext);
        }
    }
    for (&backend, sink) in Backend::all().iter().zip(sinks) {
        let mut out = [0u8; 32];
        sink.finalize_xof().read(&mut out);
        assert_eq!(
            hex::encode(out),
            expected,
            "{iterations} iterations, {backend}"
        );
    }
}
