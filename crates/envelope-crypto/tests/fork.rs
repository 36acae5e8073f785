//! `ThreadRandom` across a real `fork`: the child must not draw its parent's nonces.
//!
//! Both processes hold the same generator state right after the fork. Without fork
//! detection their next nonces would be byte-identical past the 8 bytes the clock hedge
//! covers, and two envelopes sealed under one key with one nonce lose confidentiality.
//!
//! This test forks, so it runs without libtest's harness: the process must have a single
//! thread when it forks.

#[cfg(unix)]
fn main() {
    use std::io::{Read, Write};

    use envelope_crypto::{Random, ThreadRandom};

    const DRAWS: usize = 4;

    fn draw() -> [u8; 24] {
        let mut nonce = [0u8; 24];
        ThreadRandom.fill(&mut nonce).expect("a nonce");
        nonce
    }

    // Key this thread's generator in the parent, before the fork.
    let before = draw();
    let (mut reader, mut writer) = std::io::pipe().expect("a pipe");
    let child = match safe_fork::fork().expect("fork a single-threaded process") {
        None => {
            // The child: its nonces go to the parent, and it leaves without unwinding.
            let mut nonces = Vec::with_capacity(DRAWS * 24);
            for _ in 0..DRAWS {
                nonces.extend_from_slice(&draw());
            }
            let sent = writer.write_all(&nonces).is_ok();
            std::process::exit(if sent { 0 } else { 1 });
        }
        Some(child) => child,
    };
    drop(writer);
    let parent: Vec<[u8; 24]> = (0..DRAWS).map(|_| draw()).collect();
    let mut received = Vec::new();
    reader
        .read_to_end(&mut received)
        .expect("the child's nonces");
    let status = child.join().expect("wait for the child");
    assert!(status.success(), "the child failed: {status}");
    assert_eq!(received.len(), DRAWS * 24, "the child sent every nonce");

    // The clock hedge covers bytes 0..8; the generator alone decides the rest.
    let generated = |nonce: &[u8]| nonce[8..24].to_vec();
    let mut seen = std::collections::HashSet::new();
    assert!(seen.insert(generated(&before)));
    for nonce in &parent {
        assert!(seen.insert(generated(nonce)), "the parent repeated a nonce");
    }
    for nonce in received.chunks_exact(24) {
        assert!(
            seen.insert(generated(nonce)),
            "the child drew a nonce its parent drew: fork not detected"
        );
    }
    println!("fork: parent and child drew {} distinct nonces", seen.len());
}

#[cfg(not(unix))]
fn main() {}
