//! Conformance with the RFC 6962 / RFC 9162 proof vectors of transparency-dev/merkle,
//! read from the shared vectors directory: every happy path verifies, every tampered
//! case (`wantErr`) is rejected.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are small")]

use audit_chain::{verify_consistency, verify_inclusion};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn vector_files(kind: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for item in std::fs::read_dir(dir).expect("read vector dir") {
            let path = item.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &palisade_test_support::shared_vectors()
            .join("rfc6962")
            .join(kind),
        &mut files,
    );
    files.sort();
    files
}

fn b64(value: &Value) -> Vec<u8> {
    STANDARD
        .decode(value.as_str().expect("base64 string"))
        .expect("valid base64 in vector")
}

fn proof(value: &Value) -> Vec<Vec<u8>> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(b64).collect(),
        other => panic!("proof is {other}"),
    }
}

fn load(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read vector")).expect("vector JSON")
}

/// Runs `verify` on every vector of `kind`: happy paths must verify, `wantErr` cases
/// must be rejected. Returns (happy, rejected) counts.
fn run_all(
    kind: &str,
    verify: impl Fn(&Value) -> Result<(), audit_chain::Error>,
) -> (usize, usize) {
    let (mut happy, mut rejected) = (0, 0);
    for path in vector_files(kind) {
        let v = load(&path);
        let result = verify(&v);
        if v["wantErr"].as_bool().expect("wantErr") {
            assert!(result.is_err(), "accepted {}", path.display());
            rejected += 1;
        } else {
            assert!(result.is_ok(), "rejected {}", path.display());
            happy += 1;
        }
    }
    (happy, rejected)
}

#[test]
fn inclusion_vectors() {
    let (happy, rejected) = run_all("inclusion", |v| {
        verify_inclusion(
            v["leafIdx"].as_u64().expect("leafIdx"),
            v["treeSize"].as_u64().expect("treeSize"),
            &b64(&v["leafHash"]),
            &proof(&v["proof"]),
            &b64(&v["root"]),
        )
    });
    // Every file of the data set.
    assert_eq!((happy, rejected), (6, 92));
}

#[test]
fn consistency_vectors() {
    let (happy, rejected) = run_all("consistency", |v| {
        verify_consistency(
            v["size1"].as_u64().expect("size1"),
            v["size2"].as_u64().expect("size2"),
            &proof(&v["proof"]),
            &b64(&v["root1"]),
            &b64(&v["root2"]),
        )
    });
    assert_eq!((happy, rejected), (6, 92));
}
