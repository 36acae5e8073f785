//! Tampering with the file store's files, and rollback against a pinned verifier.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are small")]

mod common;

use audit_chain::{
    AuditLog, Error, FileStore, ManualClock, MemoryStore, SignedCheckpoint, Store, TenantId,
    Verified, Verifier,
};
use common::{event, signer, tenant};
use std::path::{Path, PathBuf};

const ENTRIES: u64 = 6;

/// A small log of ENTRIES entries under `root`, checkpointed at the end.
async fn small_log(root: &Path) -> SignedCheckpoint {
    let (log, _) = common::log(FileStore::open(root).expect("open"));
    let acme = tenant("acme");
    for i in 0..ENTRIES {
        log.append(event(&acme, i)).await.expect("append");
    }
    log.checkpoint(&acme).await.expect("checkpoint")
}

async fn verify(root: &Path) -> Result<Verified, Error> {
    let store = FileStore::open_read_only(root)?;
    Verifier::with_key(signer().verifying_key())
        .verify_log(&store, &tenant("acme"))
        .await
}

fn log_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("acme"))
        .expect("tenant dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

fn segment(root: &Path) -> PathBuf {
    root.join("acme").join("segment-00000000000000000000.log")
}

/// A frame's header length: payload length, payload CRC, header CRC.
const FRAME_HEADER: usize = 12;

/// The segment's header and its frames, as the documented format lays them out.
fn frames(bytes: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (header, mut rest) = bytes.split_at(20);
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        frames.push(rest[..FRAME_HEADER + len].to_vec());
        rest = &rest[FRAME_HEADER + len..];
    }
    (header.to_vec(), frames)
}

/// A small log whose newest entries are not covered by a checkpoint: checkpoints at 2
/// and 4 entries, then 2 more entries.
async fn small_log_with_unchecked_tail(root: &Path) {
    let (log, _) = common::log(FileStore::open(root).expect("open"));
    let acme = tenant("acme");
    for i in 0..ENTRIES {
        log.append(event(&acme, i)).await.expect("append");
        if i == 1 || i == 3 {
            log.checkpoint(&acme).await.expect("checkpoint");
        }
    }
}

/// Opens the log for writing, as an application restarting would, and verifies it
/// through that writer.
async fn open_and_verify(root: &Path) -> Result<Verified, Error> {
    let store = FileStore::open(root)?;
    let (log, _) = common::log(store.clone());
    log.tree_head(&tenant("acme")).await?;
    Verifier::with_key(signer().verifying_key())
        .verify_log(&store, &tenant("acme"))
        .await
}

fn write_frames(path: &Path, header: &[u8], frames: &[Vec<u8>]) {
    let mut bytes = header.to_vec();
    for frame in frames {
        bytes.extend_from_slice(frame);
    }
    std::fs::write(path, bytes).expect("write segment");
}

#[tokio::test]
async fn flipping_any_single_byte_of_the_files_fails_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log_with_unchecked_tail(dir.path()).await;
    let untouched = verify(dir.path()).await.expect("untouched log verifies");
    assert_eq!(untouched.size, ENTRIES);
    assert_eq!(
        open_and_verify(dir.path())
            .await
            .expect("a writer opens the untouched log"),
        untouched
    );
    let files = log_files(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let mut flipped = 0;
    for file in &files {
        let original = std::fs::read(file).expect("read");
        for offset in 0..original.len() {
            let mut tampered = original.clone();
            tampered[offset] ^= 0xff;
            std::fs::write(file, &tampered).expect("write");
            let result = verify(dir.path()).await;
            assert!(
                result.is_err(),
                "{} byte {offset} flipped and the log still verifies",
                file.display()
            );
            // A writer opening the log refuses it too, and repairs nothing: a flipped
            // byte is never taken for an interrupted write and cut off.
            let result = open_and_verify(dir.path()).await;
            assert!(
                matches!(result, Err(Error::Damaged { .. })),
                "{} byte {offset} flipped: a writer got {result:?}",
                file.display()
            );
            assert_eq!(
                std::fs::read(file).expect("read"),
                tampered,
                "{} byte {offset} flipped: the writer changed the file",
                file.display()
            );
            flipped += 1;
        }
        std::fs::write(file, &original).expect("restore");
    }
    assert!(flipped > 1000, "{flipped}");
    assert_eq!(
        verify(dir.path()).await.expect("restored log verifies"),
        untouched
    );
}

/// The cases a length-only frame check took for a torn tail and cut: a damaged length
/// in the last record, or in a record before it, that points past the end of the file.
#[tokio::test]
async fn a_damaged_length_near_the_end_is_damage_not_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log_with_unchecked_tail(dir.path()).await;
    let path = segment(dir.path());
    let original = std::fs::read(&path).expect("read");
    let (header, frames) = frames(&original);
    for victim in [frames.len() - 1, frames.len() - 2] {
        let offset = header.len() + frames[..victim].iter().map(Vec::len).sum::<usize>();
        let mut tampered = original.clone();
        // Length + 4096: past the end of the file.
        tampered[offset + 1] ^= 0x10;
        std::fs::write(&path, &tampered).expect("write");
        match open_and_verify(dir.path()).await {
            Err(err @ Error::Damaged { .. }) => {
                let message = err.to_string();
                assert!(message.contains(&format!("byte {offset}")), "{message}");
                assert!(message.contains("header checksum"), "{message}");
            }
            other => panic!("frame {victim}: expected damage, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).expect("read"), tampered);
    }

    // The last record complete but with one payload byte changed: damage as well.
    let offset = original.len() - frames[frames.len() - 1].len();
    let mut tampered = original.clone();
    *tampered.last_mut().expect("a byte") ^= 0x01;
    std::fs::write(&path, &tampered).expect("write");
    match open_and_verify(dir.path()).await {
        Err(err @ Error::Damaged { .. }) => {
            let message = err.to_string();
            assert!(message.contains(&format!("byte {offset}")), "{message}");
            assert!(message.contains("record checksum"), "{message}");
        }
        other => panic!("expected damage, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), tampered);

    std::fs::write(&path, &original).expect("restore");
    assert_eq!(
        open_and_verify(dir.path()).await.expect("restored").size,
        ENTRIES
    );
}

#[tokio::test]
async fn damage_in_the_middle_names_its_position_and_is_never_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log(dir.path()).await;
    let path = segment(dir.path());
    let original = std::fs::read(&path).expect("read");
    let (header, frames) = frames(&original);
    let offset = header.len() + frames[0].len() + frames[1].len();
    let mut tampered = original.clone();
    tampered[offset + 20] ^= 0x01;
    std::fs::write(&path, &tampered).expect("write");
    for attempt in [
        verify(dir.path()).await.map(|_| ()),
        // A writer refuses it too, and leaves the file as it found it.
        common::log(FileStore::open(dir.path()).expect("open"))
            .0
            .tree_head(&tenant("acme"))
            .await
            .map(|_| ()),
    ] {
        match attempt {
            Err(err @ Error::Damaged { .. }) => {
                let message = err.to_string();
                assert!(message.contains(&format!("byte {offset}")), "{message}");
                assert!(
                    message.contains("segment-00000000000000000000.log"),
                    "{message}"
                );
            }
            other => panic!("expected damage, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read(&path).expect("read"), tampered);
}

#[tokio::test]
async fn deleting_or_swapping_entries_fails_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log(dir.path()).await;
    let path = segment(dir.path());
    let original = std::fs::read(&path).expect("read");
    let (header, frames) = frames(&original);
    assert_eq!(frames.len() as u64, ENTRIES);

    let mut deleted = frames.clone();
    deleted.remove(2);
    write_frames(&path, &header, &deleted);
    let err = verify(dir.path()).await.expect_err("deletion detected");
    assert!(err.to_string().contains("entry 2 claims index 3"), "{err}");

    let mut deleted_last = frames.clone();
    deleted_last.pop();
    write_frames(&path, &header, &deleted_last);
    let err = verify(dir.path())
        .await
        .expect_err("deleting the last entry is detected");
    assert!(err.to_string().contains("truncated"), "{err}");

    let mut swapped = frames.clone();
    swapped.swap(1, 4);
    write_frames(&path, &header, &swapped);
    let err = verify(dir.path()).await.expect_err("swap detected");
    assert!(err.to_string().contains("entry 1 claims index 4"), "{err}");

    write_frames(&path, &header, &frames);
    verify(dir.path()).await.expect("restored");
}

#[tokio::test]
async fn truncating_below_the_last_checkpoint_fails_verification_and_opening() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log(dir.path()).await;
    let path = segment(dir.path());
    let original = std::fs::read(&path).expect("read");
    let (header, frames) = frames(&original);

    // At a record boundary.
    write_frames(&path, &header, &frames[..3]);
    let err = verify(dir.path()).await.expect_err("truncation detected");
    assert!(err.to_string().contains("truncated"), "{err}");
    let writer = common::log(FileStore::open(dir.path()).expect("open")).0;
    let err = writer
        .tree_head(&tenant("acme"))
        .await
        .expect_err("refuses to open");
    assert!(matches!(err, Error::Verification(_)), "{err}");
    drop(writer);

    // Inside a record: to a reader a torn tail; a writer sees that the checkpoint
    // covers more entries than would remain, so it is no interrupted write: it refuses
    // to cut and leaves the file as it is.
    let cut = &original[..original.len() - 10];
    std::fs::write(&path, cut).expect("write");
    assert!(matches!(
        verify(dir.path()).await,
        Err(Error::Damaged { .. })
    ));
    let err = open_and_verify(dir.path())
        .await
        .expect_err("a writer refuses");
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("checkpoint covers"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), cut);
}

#[tokio::test]
async fn a_torn_tail_after_the_last_record_is_cut_by_a_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log(dir.path()).await;
    let path = segment(dir.path());
    let original = std::fs::read(&path).expect("read");
    // One more entry, after the checkpoint, then its frame cut part-way, as a crash in
    // the middle of its write leaves it: inside the payload, and inside the header.
    {
        let (log, _) = common::log(FileStore::open(dir.path()).expect("open"));
        log.append(event(&tenant("acme"), ENTRIES))
            .await
            .expect("append");
    }
    let written = std::fs::read(&path).expect("read");
    assert!(written.len() > original.len() + FRAME_HEADER + 10);
    let torn = &written[..original.len() + FRAME_HEADER + 10];
    std::fs::write(&path, torn).expect("write");
    let err = verify(dir.path())
        .await
        .expect_err("a reader reports the torn tail");
    assert!(
        err.to_string()
            .contains(&format!("byte {}", original.len())),
        "{err}"
    );
    assert_eq!(
        open_and_verify(dir.path()).await.expect("cut").size,
        ENTRIES
    );
    assert_eq!(std::fs::read(&path).expect("read"), original);
    std::fs::write(&path, &written[..original.len() + 5]).expect("write");
    assert_eq!(
        open_and_verify(dir.path()).await.expect("cut").size,
        ENTRIES
    );
    assert_eq!(std::fs::read(&path).expect("read"), original);

    {
        let (log, _) = common::log(FileStore::open(dir.path()).expect("open"));
        let head = log.tree_head(&tenant("acme")).await.expect("recovered");
        assert_eq!(head.size, ENTRIES);
        log.append(event(&tenant("acme"), ENTRIES))
            .await
            .expect("append after recovery");
    }
    assert_eq!(
        verify(dir.path()).await.expect("verifies").size,
        ENTRIES + 1
    );

    // Zero padding at the end (a preallocated tail) is torn as well.
    let mut padded = std::fs::read(&path).expect("read");
    let len = padded.len();
    padded.extend_from_slice(&[0; 64]);
    std::fs::write(&path, &padded).expect("write");
    assert!(verify(dir.path()).await.is_err());
    drop(FileStore::open(dir.path()).expect("open"));
    let (log, _) = common::log(FileStore::open(dir.path()).expect("open"));
    assert_eq!(
        log.tree_head(&tenant("acme"))
            .await
            .expect("recovered")
            .size,
        ENTRIES + 1
    );
    assert_eq!(std::fs::read(&path).expect("read").len(), len);
}

/// A crash while a new segment or the checkpoint file is being created leaves only a
/// `*.tmp` file, never a file without its header; a writer removes it, a reader ignores
/// it. A torn checkpoint at the end of the checkpoint file is cut like a torn entry.
#[tokio::test]
async fn half_created_files_and_torn_checkpoints_are_recovered() {
    let dir = tempfile::tempdir().expect("tempdir");
    small_log(dir.path()).await;
    let acme_dir = dir.path().join("acme");
    let leftover = acme_dir.join("segment-00000000000000000006.log.tmp");
    std::fs::write(&leftover, b"PAUDSE").expect("write");
    assert_eq!(verify(dir.path()).await.expect("ignored").size, ENTRIES);
    assert_eq!(
        open_and_verify(dir.path()).await.expect("removed").size,
        ENTRIES
    );
    assert!(!leftover.exists());

    let checkpoints = acme_dir.join("checkpoints.log");
    let original = std::fs::read(&checkpoints).expect("read");
    {
        let (log, _) = common::log(FileStore::open(dir.path()).expect("open"));
        log.checkpoint(&tenant("acme")).await.expect("checkpoint");
    }
    let written = std::fs::read(&checkpoints).expect("read");
    assert!(written.len() > original.len() + FRAME_HEADER + 10);
    std::fs::write(&checkpoints, &written[..original.len() + FRAME_HEADER + 10]).expect("write");
    let err = verify(dir.path()).await.expect_err("a reader reports it");
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
    let verified = open_and_verify(dir.path()).await.expect("a writer cuts it");
    assert_eq!(verified.size, ENTRIES);
    assert_eq!(std::fs::read(&checkpoints).expect("read"), original);
}

/// A log of `n` entries in memory, checkpointed at the end; its export lines.
async fn memory_log(n: u64, seed: u64) -> (MemoryStore, SignedCheckpoint, Vec<u8>) {
    let store = MemoryStore::new();
    let (log, _): (AuditLog<MemoryStore, ManualClock>, _) = common::log(store.clone());
    let acme = tenant("acme");
    for i in 0..n {
        log.append(event(&acme, i + seed)).await.expect("append");
    }
    let checkpoint = log.checkpoint(&acme).await.expect("checkpoint");
    let export = export(&store, &acme).await;
    (store, checkpoint, export)
}

async fn export(store: &MemoryStore, tenant: &TenantId) -> Vec<u8> {
    let mut out = Vec::new();
    for leaf in store.read(tenant, 0, usize::MAX).await.expect("read") {
        out.extend_from_slice(&leaf);
        out.push(b'\n');
    }
    out
}

#[tokio::test]
async fn a_pinned_verifier_refuses_rewritten_or_truncated_logs_and_exports() {
    let acme = tenant("acme");
    let key = signer().verifying_key();
    // The verifier saw the log at 10 entries and pinned that checkpoint.
    let (_, pinned, _) = memory_log(10, 0).await;
    let pinned_verifier = Verifier::with_key(key.clone()).pin(pinned.checkpoint().clone());

    // The honest log grew to 15: consistent.
    let (grown, grown_cp, grown_export) = memory_log(15, 0).await;
    let verified = pinned_verifier
        .verify_log(&grown, &acme)
        .await
        .expect("grown log");
    assert_eq!(verified.size, 15);
    pinned_verifier
        .verify_export(grown_export.as_slice(), grown_cp.as_str())
        .expect("grown export");

    // Rewritten: same key, different entries, even with a valid fresh checkpoint.
    let (rewritten, rewritten_cp, rewritten_export) = memory_log(15, 1).await;
    Verifier::with_key(key.clone())
        .verify_log(&rewritten, &acme)
        .await
        .expect("valid on its own");
    let err = pinned_verifier
        .verify_log(&rewritten, &acme)
        .await
        .expect_err("rewrite");
    assert!(err.to_string().contains("rewritten"), "{err}");
    let err = pinned_verifier
        .verify_export(rewritten_export.as_slice(), rewritten_cp.as_str())
        .expect_err("rewritten export");
    assert!(err.to_string().contains("rewritten"), "{err}");

    // Truncated: the first 8 entries of the honest log, with a valid checkpoint of 8.
    let (truncated, truncated_cp, truncated_export) = memory_log(8, 0).await;
    let err = pinned_verifier
        .verify_log(&truncated, &acme)
        .await
        .expect_err("rollback");
    assert!(err.to_string().contains("rolled back"), "{err}");
    let err = pinned_verifier
        .verify_export(truncated_export.as_slice(), truncated_cp.as_str())
        .expect_err("rolled back export");
    assert!(err.to_string().contains("rolled back"), "{err}");

    // An export cut short against the full checkpoint, or with a line changed, fails
    // even without a pin.
    let unpinned = Verifier::with_key(key);
    let cut = &grown_export[..grown_export.len() / 2];
    assert!(unpinned.verify_export(cut, grown_cp.as_str()).is_err());
    let mut changed = grown_export.clone();
    let at = changed.iter().position(|b| *b == b'u').expect("a 'u'");
    changed[at] = b'v';
    assert!(
        unpinned
            .verify_export(changed.as_slice(), grown_cp.as_str())
            .is_err()
    );
    assert!(
        unpinned
            .verify_export(&grown_export[..], truncated_cp.as_str())
            .is_err()
    );
}

/// On a case-insensitive file system (macOS, Windows) `acme` and `Acme` name one
/// directory; a symbolic link stands in for the folding here. Neither a store that was
/// reopened nor one that has both tenants open writes one tenant's entries into the
/// other's log.
#[tokio::test]
async fn tenants_that_differ_only_in_case_never_share_a_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    small_log(root).await;
    std::os::unix::fs::symlink(root.join("acme"), root.join("ACME")).expect("symlink");
    let folded = tenant("ACME");

    // Reopened: the directory's entries name another tenant.
    let (log, _) = common::log(FileStore::open(root).expect("open"));
    let err = log.append(event(&folded, 0)).await.expect_err("refused");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("differ only in case"), "{err}");
    drop(log);

    // Both open in one store before either wrote: the same directory is refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let store = FileStore::open(root).expect("open");
    assert!(
        store
            .read(&tenant("acme"), 0, 10)
            .await
            .expect("read")
            .is_empty()
    );
    // Neither directory exists yet (the link dangles): they are compared all the same.
    std::os::unix::fs::symlink(root.join("acme"), root.join("ACME")).expect("symlink");
    let err = store.read(&folded, 0, 10).await.expect_err("refused");
    assert!(err.to_string().contains("differ only in case"), "{err}");
    // Ids that differ only in case but have directories of their own are two tenants,
    // and reading one leaves no empty directory behind.
    assert!(
        store
            .read(&tenant("Acme"), 0, 10)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(!root.join("Acme").exists());
    assert!(log_files(root).is_empty(), "nothing was written");
}
