//! A log directory from outside (copied, restored or tampered with): opening it for
//! reading and for writing, with its recovery, and reading every entry and checkpoint
//! never panics.
//!
//! The input is split into a segment file and a checkpoint file. Each is a file header
//! (the right one, or the input's bytes, as its first byte says) followed by chunks, each
//! either raw bytes or a frame with correct checksums, so the fuzzer reaches the entry
//! and note decoders behind the frame checks rather than stopping at a CRC.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use audit_chain::{FileStore, Store, TenantId};
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// A directory of this process's own, emptied for every input.
fn fresh_root() -> PathBuf {
    let root = std::env::temp_dir().join(format!("palisade-fuzz-segments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("acme")).expect("a temporary directory");
    root
}

/// A frame as the store writes it: length, payload CRC, header CRC, payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + payload.len());
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_crc = crc32fast::hash(&out[..8]);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A file body from `data`: chunks of a two-byte length (little-endian) and up to that
/// many bytes halved, each written as a checked frame when the length is even and as raw
/// bytes when it is odd.
fn body(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let [low, high, rest @ ..] = data {
        let len = u16::from_le_bytes([*low, *high]);
        let take = usize::from(len / 2).min(rest.len());
        let (chunk, rest) = rest.split_at(take);
        if len % 2 == 0 {
            out.extend_from_slice(&frame(chunk));
        } else {
            out.extend_from_slice(chunk);
        }
        data = rest;
    }
    out
}

fn segment_header() -> Vec<u8> {
    let mut header = b"PAUDSEG2".to_vec();
    header.extend_from_slice(&0u64.to_le_bytes());
    let crc = crc32fast::hash(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

/// Reads every entry and checkpoint of `tenant` and decodes the entries; an error is
/// fine, a panic is not. (Which index an entry claims is the log's check, on load.)
async fn read_all(store: &FileStore, tenant: &TenantId) {
    if let Ok(leaves) = store.read(tenant, 0, 1 << 16).await {
        for leaf in &leaves {
            let _ = audit_chain::Entry::from_leaf_bytes(leaf);
        }
    }
    let _ = store.checkpoints(tenant).await;
    let _ = store.tenants().await;
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let split = rest.len() * usize::from(mode >> 2) / 63;
    let (segment, checkpoints) = rest.split_at(split.min(rest.len()));
    let root = fresh_root();
    let dir = root.join("acme");
    let mut file = if mode & 1 == 1 { segment_header() } else { Vec::new() };
    file.extend_from_slice(&body(segment));
    std::fs::write(dir.join(format!("segment-{:020}.log", 0)), file).expect("write");
    let mut file = if mode & 2 == 2 { b"PAUDCKP2".to_vec() } else { Vec::new() };
    file.extend_from_slice(&body(checkpoints));
    std::fs::write(dir.join("checkpoints.log"), file).expect("write");

    let tenant = TenantId::new("acme").expect("a tenant id");
    runtime().block_on(async {
        if let Ok(store) = FileStore::open_read_only(&root) {
            read_all(&store, &tenant).await;
            // Loading checks every entry and checkpoint, as a log does before appending.
            if let Ok(log) = audit_chain::AuditLog::builder(store).build() {
                let _ = log.tree_head(&tenant).await;
            }
        }
        // Opened for writing, it recovers (cuts a torn tail, or refuses damage).
        if let Ok(store) = FileStore::open(&root) {
            read_all(&store, &tenant).await;
        }
    });
});
