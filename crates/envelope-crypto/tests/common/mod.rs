//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_encoding::BASE64;
use envelope_crypto::{Clock, Error, Keyring, Random, Result};

/// Hands out queued bytes, then fails: deterministic nonces and keys for known answers.
#[derive(Debug, Default)]
pub struct QueuedRandom(Mutex<VecDeque<u8>>);

impl QueuedRandom {
    pub fn new(bytes: &[u8]) -> Arc<Self> {
        Arc::new(Self(Mutex::new(bytes.iter().copied().collect())))
    }
}

impl Random for QueuedRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<()> {
        let mut queue = self.0.lock().expect("queue lock");
        if queue.len() < dest.len() {
            return Err(Error::Random);
        }
        for b in dest {
            *b = queue.pop_front().expect("checked length");
        }
        Ok(())
    }
}

/// A clock stuck at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl FixedClock {
    pub fn at(unix_secs: u64) -> Self {
        Self(UNIX_EPOCH + Duration::from_secs(unix_secs))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// Keyring text with the given `(version, state, key)` records.
pub fn keyring_text(records: &[(u32, &str, &[u8])]) -> String {
    let mut text = String::from("palisade-keyring v1\n");
    for (version, state, key) in records {
        let key = if key.is_empty() {
            "-".to_owned()
        } else {
            BASE64.encode(key)
        };
        text.push_str(&format!("{version} {state} 2025-01-01T00:00:00Z {key}\n"));
    }
    text
}

/// A keyring with one primary version 1 holding `key`.
pub fn keyring(key: &[u8]) -> Keyring {
    Keyring::parse(&keyring_text(&[(1, "primary", key)])).expect("valid keyring")
}
