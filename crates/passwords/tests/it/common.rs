//! Helpers shared by the integration tests.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use passwords::{Argon2Params, Hasher, RandomSource};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

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

/// The `tracing` events `f` emits on this thread: each event's level and its fields as
/// `name=value` strings.
pub(crate) fn capture_events(f: impl FnOnce()) -> Vec<Captured> {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), f);
    capture.events()
}

/// One recorded event: its level and its fields as `name=value` strings.
pub(crate) type Captured = (Level, Vec<String>);

/// Records every event's level and fields.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// The events recorded so far.
    pub(crate) fn events(&self) -> Vec<Captured> {
        self.0.lock().expect("capture lock").clone()
    }
}

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
        self.0
            .lock()
            .expect("capture lock")
            .push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
