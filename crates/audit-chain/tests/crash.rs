//! Crash safety: a child process appending in a loop is killed with SIGKILL, again and
//! again; every entry it acknowledged is there on reopen, and the log verifies.
//!
//! The child is this test binary itself, run with `CHILD_ENV` set.
#![allow(clippy::cast_possible_truncation, reason = "test sizes are small")]

mod common;

use audit_chain::{AuditLog, FileStore, Verifier};
use common::{event, signer, tenant};
use std::io::{BufRead, BufReader, Write};
use std::num::NonZeroU64;
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "AUDIT_CHAIN_CRASH_CHILD_DIR";
const TEST_NAME: &str = "sigkill_loses_no_acknowledged_entry";

/// The child: appends batches of 1 to 7 events forever to a log of small segments, printing `ack <index>` for each
/// entry once `append_batch` has returned (it is durable then).
fn child(dir: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        // Small segments: a new one starts every few batches, so kills also land while a
        // segment is being created.
        let store = FileStore::open(dir)
            .expect("open")
            .with_segment_bytes(4096)
            .expect("segment size");
        let log = AuditLog::builder(store)
            .signer(signer())
            .checkpoint_every(NonZeroU64::new(25).expect("non-zero"))
            .build()
            .expect("log");
        let acme = tenant("acme");
        let mut next = log.tree_head(&acme).await.expect("head").size;
        let mut stdout = std::io::stdout();
        loop {
            let batch = 1 + next % 7;
            let events = (next..next + batch).map(|i| event(&acme, i)).collect();
            for receipt in log.append_batch(events).await.expect("append") {
                writeln!(stdout, "ack {}", receipt.index).expect("stdout");
            }
            stdout.flush().expect("flush");
            next += batch;
        }
    });
}

/// The index in an `ack <index>` line; the test harness may print its own text in front
/// of the first one.
fn ack(line: &str) -> Option<u64> {
    let at = line.find("ack ")?;
    Some(line[at + 4..].trim().parse().expect("ack index"))
}

#[test]
fn sigkill_loses_no_acknowledged_entry() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut acknowledged = Vec::new();
    for round in 0..8u64 {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let kill_after = 20 + round * 13;
        let mut seen = 0;
        while seen < kill_after {
            let line = lines.next().expect("child ended early").expect("read");
            if let Some(index) = ack(&line) {
                acknowledged.push(index);
                seen += 1;
            }
        }
        child.kill().expect("SIGKILL");
        // Acknowledgements already in the pipe were given before the kill.
        for line in lines {
            if let Some(index) = ack(&line.expect("read")) {
                acknowledged.push(index);
            }
        }
        child.wait().expect("reap");
    }
    // Indexes only grow across the crashes (an entry written but not yet acknowledged
    // when the child died may survive it, so there can be gaps between rounds).
    assert!(
        acknowledged.windows(2).all(|w| w[0] < w[1]),
        "{acknowledged:?}"
    );
    let last = *acknowledged.last().expect("acknowledgements");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let acme = tenant("acme");
        let store = FileStore::open(dir.path()).expect("reopen");
        let (log, _) = common::log(store.clone());
        let head = log.tree_head(&acme).await.expect("recovers");
        assert!(
            head.size > last,
            "{} entries, {last} acknowledged",
            head.size
        );
        let entries = log.entries(&acme, 0, usize::MAX).await.expect("entries");
        for index in &acknowledged {
            let entry = &entries[*index as usize];
            let sent = event(&acme, *index);
            assert_eq!(entry.event().actor_name(), sent.actor_name());
            assert_eq!(entry.event().action(), sent.action());
            assert_eq!(entry.event().details_map(), sent.details_map());
        }
        let verified = Verifier::with_key(signer().verifying_key())
            .verify_log(&store, &acme)
            .await
            .expect("verifies after the crashes");
        assert_eq!(verified.size, head.size);
        assert!(verified.checkpoint.is_some());
        let segments = std::fs::read_dir(dir.path().join("acme"))
            .expect("tenant dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("segment-"))
            })
            .count();
        assert!(segments > 3, "{segments} segments");
    });
}
