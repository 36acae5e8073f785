//! Conformance with the RFC 6962 / RFC 9162 proof vectors of transparency-dev/merkle,
//! read from the shared vectors directory: every happy path verifies, every tampered
//! case (`wantErr`) is rejected.

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
    walk(&palisade_test_support::shared_vectors().join("rfc6962").join(kind), &mut files);
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

#[test]
fn inclusion_vectors() {
    let files = vector_files("inclusion");
    assert!(files.len() > 80, "only {} inclusion vectors", files.len());
    let (mut happy, mut rejected) = (0, 0);
    for path in files {
        let v = load(&path);
        let result = verify_inclusion(
            v["leafIdx"].as_u64().expect("leafIdx"),
            v["treeSize"].as_u64().expect("treeSize"),
            &b64(&v["leafHash"]),
            &proof(&v["proof"]),
            &b64(&v["root"]),
        );
        if v["wantErr"].as_bool().expect("wantErr") {
            assert!(result.is_err(), "accepted {}", path.display());
            rejected += 1;
        } else {
            assert!(result.is_ok(), "rejected {}", path.display());
            happy += 1;
        }
    }
    assert!(happy >= 6 && rejected >= 80, "{happy} happy, {rejected} rejected");
}

#[test]
fn consistency_vectors() {
    let files = vector_files("consistency");
    assert!(files.len() > 60, "only {} consistency vectors", files.len());
    let (mut happy, mut rejected) = (0, 0);
    for path in files {
        let v = load(&path);
        let result = verify_consistency(
            v["size1"].as_u64().expect("size1"),
            v["size2"].as_u64().expect("size2"),
            &proof(&v["proof"]),
            &b64(&v["root1"]),
            &b64(&v["root2"]),
        );
        if v["wantErr"].as_bool().expect("wantErr") {
            assert!(result.is_err(), "accepted {}", path.display());
            rejected += 1;
        } else {
            assert!(result.is_ok(), "rejected {}", path.display());
            happy += 1;
        }
    }
    assert!(happy >= 4 && rejected >= 60, "{happy} happy, {rejected} rejected");
}
