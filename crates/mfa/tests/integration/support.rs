//! Shared test fixtures: a settable clock, a keyring, an `Mfa` on a store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use envelope_crypto::Keyring;
use mfa::{Clock, KdfParams, Mfa, MfaStore, RecoveryConfig, SEED_PURPOSE, UserId};

/// A clock the test sets.
#[derive(Debug)]
pub(crate) struct TestClock(AtomicU64);

impl TestClock {
    pub(crate) fn at(now: u64) -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(now)))
    }

    pub(crate) fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) const T0: u64 = 1_767_225_600;

pub(crate) fn user(id: &str) -> UserId {
    UserId::new(id).expect("valid user id")
}

/// Cheap argon2id for tests only; production defaults are checked in their own test.
pub(crate) fn test_recovery() -> RecoveryConfig {
    RecoveryConfig::default().kdf(KdfParams::dangerous_insecure_for_tests(64, 1))
}

pub(crate) fn mfa_on(store: Arc<dyn MfaStore>, clock: Arc<TestClock>) -> Mfa {
    let keyring = Keyring::generate().expect("keyring");
    Mfa::builder(
        store,
        keyring.sealer(SEED_PURPOSE).expect("sealer"),
        "Palisade",
    )
    .clock(clock)
    .recovery(test_recovery())
    .build()
    .expect("mfa")
}
