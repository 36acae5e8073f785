//! Helpers shared by the integration tests.

use std::path::PathBuf;

use passwords::{Argon2Params, Hasher, RandomSource};

/// Argon2id parameters far below the OWASP minimum, for tests that are not about cost.
pub(crate) fn weak_params() -> Argon2Params {
    Argon2Params::dangerous_weak(256, 1, 1).expect("valid argon2 parameters")
}

/// A hasher with [`weak_params`].
pub(crate) fn fast_hasher() -> Hasher {
    Hasher::builder()
        .argon2id(weak_params())
        .build()
        .expect("hasher builds")
}

/// Fills every buffer with 0, 1, 2, ...: the salt of the known-answer fixtures.
pub(crate) struct CountingBytes;

impl RandomSource for CountingBytes {
    fn fill(&self, dest: &mut [u8]) -> Result<(), std::io::Error> {
        for (i, byte) in dest.iter_mut().enumerate() {
            *byte = u8::try_from(i % 256).expect("below 256");
        }
        Ok(())
    }
}

/// The `password<TAB>hash` lines of `tests/data/<name>`, comments skipped.
pub(crate) fn fixture(name: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let lines: Vec<(String, String)> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (password, hash) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("{name}: no tab in {line:?}"));
            (password.to_owned(), hash.to_owned())
        })
        .collect();
    assert!(!lines.is_empty(), "{name} has no fixtures");
    lines
}
