//! The dummy verify for unknown users runs the same hash function, with the same
//! parameters and pepper, as a real verify. What ran is observed through the `tracing`
//! event the hasher emits just before it computes a hash.

use std::fmt;
use std::sync::{Arc, Mutex};

use passwords::{BcryptCost, Error, Hasher, MAX_PASSWORD_LEN, PepperId, PepperKey, Peppers};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::common::weak_params;

/// Records every event's fields as `name=value` lines.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Vec<String>>>>);

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        self.0.lock().expect("capture lock").push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The hash computations `f` performed, as seen by the hasher's own event.
fn computations(f: impl FnOnce()) -> Vec<Vec<String>> {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), f);
    let events = capture.0.lock().expect("capture lock").clone();
    events
        .into_iter()
        .filter(|fields| fields.iter().any(|f| f.contains("computing password hash")))
        .collect()
}

#[test]
fn dummy_verify_runs_the_same_argon2id_computation_as_a_real_verify() {
    let hasher = Hasher::builder()
        .argon2id(weak_params())
        .pepper(Peppers::new(
            PepperKey::new(PepperId::new(7), &[7; 32]).unwrap(),
        ))
        .build()
        .unwrap();
    let stored = hasher.hash("alice's password").unwrap();

    let real = computations(|| {
        assert!(hasher.verify("alice's password", stored.as_str()).is_ok());
    });
    let dummy = computations(|| {
        assert!(matches!(
            hasher.dummy_verify("alice's password"),
            Err(Error::Invalid)
        ));
    });
    assert_eq!(real.len(), 1, "{real:?}");
    assert_eq!(dummy, real);
    let fields = &real[0];
    for expected in [
        "algorithm=argon2id",
        "version=19",
        "m_cost=256",
        "t_cost=1",
        "p_cost=1",
        "output_len=32",
        "pepper=7",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    // The dummy hash is one the hasher considers current.
    assert!(!hasher.needs_rehash(hasher.dummy_hash()));
    assert_eq!(hasher.dummy_hash().pepper_id(), Some(PepperId::new(7)));
}

#[test]
fn dummy_verify_follows_a_bcrypt_configuration() {
    let hasher = Hasher::builder()
        .bcrypt(BcryptCost::dangerous_weak(5).unwrap())
        .build()
        .unwrap();
    let stored = hasher.hash("bob's password").unwrap();
    let real = computations(|| {
        assert!(hasher.verify("bob's password", stored.as_str()).is_ok());
    });
    let dummy = computations(|| {
        let _ = hasher.dummy_verify("bob's password");
    });
    assert_eq!(dummy, real);
    assert!(real[0].iter().any(|f| f == "cost=5"), "{real:?}");
}

#[test]
fn dummy_verify_never_succeeds_and_fails_like_verify_on_long_input() {
    let hasher = Hasher::builder().argon2id(weak_params()).build().unwrap();
    for password in ["", "password", "anything at all"] {
        assert!(matches!(hasher.dummy_verify(password), Err(Error::Invalid)));
    }
    let too_long = "x".repeat(MAX_PASSWORD_LEN + 1);
    assert!(matches!(
        hasher.dummy_verify(&too_long),
        Err(Error::PasswordTooLong { .. })
    ));
    let stored = hasher.hash("short").unwrap();
    assert!(matches!(
        hasher.verify(&too_long, stored.as_str()),
        Err(Error::PasswordTooLong { .. })
    ));
}
