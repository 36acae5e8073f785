//! The batch rotator: move a table of envelopes to the primary key version, resumably.

use std::fmt::{self, Display};
use std::future::{Future, poll_fn};
use std::pin::pin;

use futures_core::Stream;

use crate::binding::Binding;
use crate::envelope::{Envelope, Header};
use crate::error::{Error, Result};
use crate::sealer::Sealer;

/// One stored envelope to rotate: its id (the primary key of its row, say), its bytes
/// and the binding it was sealed with.
#[derive(Debug, Clone)]
pub struct RotationItem<Id> {
    /// The item's id; items arrive in strictly ascending id order.
    pub id: Id,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
    /// The binding it was sealed with (and will be sealed with again).
    pub binding: Binding,
}

/// An envelope the rotator rewrapped, for the `write` callback of [`Rotator::run`] to
/// store.
#[derive(Debug)]
#[non_exhaustive]
pub struct Rewrapped<Id> {
    /// The item's id.
    pub id: Id,
    /// The envelope as the stream delivered it. Store `new` only where the row still
    /// holds these bytes (`UPDATE t SET envelope = $new WHERE id = $id AND envelope =
    /// $old`), and answer [`Written::Changed`] when it does not: a row the application
    /// wrote after it was read (a refreshed token) keeps its newer value.
    pub old: Vec<u8>,
    /// The envelope under the primary version.
    pub new: Envelope,
}

/// What the `write` callback of [`Rotator::run`] did with a [`Rewrapped`] envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored in place of the old envelope.
    Stored,
    /// Not stored: the row no longer held the old envelope (written or deleted since it
    /// was read). Counted in [`Progress::changed`].
    Changed,
}

/// How far a rotation has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Items at or before the resume cursor, found already under the primary version
    /// (one there that is not is rewrapped and counted in `rewrapped`).
    pub skipped: u64,
    /// Items already under the primary version, left alone.
    pub current: u64,
    /// Items rewrapped under the primary version and written back.
    pub rewrapped: u64,
    /// Items rewrapped but not written back, because their row changed after it was read
    /// ([`Written::Changed`]). The application's write normally seals under the primary
    /// already; a fresh pass from the start ([`Rotator::new`]) finds any that does not.
    pub changed: u64,
}

impl Progress {
    /// Items handled, all but the skipped: `current + rewrapped + changed`.
    pub fn done(&self) -> u64 {
        self.current + self.rewrapped + self.changed
    }
}

impl Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rewrapped, {} already current, {} changed meanwhile, {} skipped",
            self.rewrapped, self.current, self.changed, self.skipped
        )
    }
}

type ProgressFn<'a, Id> = Box<dyn FnMut(&Progress, &Id) + Send + 'a>;

/// Rewraps a stream of envelopes onto the primary key version, resumably.
///
/// Items must arrive in strictly ascending id order (`ORDER BY id`). For each, the
/// rotator peeks at the header: an envelope already under the primary is left alone;
/// any other is rewrapped ([`Sealer::rewrap`]: the plaintext never leaves the crate) and
/// handed to the `write` callback with the bytes it replaces, so the callback can store
/// it only where the row is unchanged ([`Rewrapped`]). After each item the cursor moves
/// to its id and the progress callback gets both ([`Rotator::on_progress`]): save the
/// cursor there, and after a crash or a failure a new rotator made with
/// [`Rotator::resume_after`] takes a stream of the items after it (`WHERE id > $cursor
/// ORDER BY id`). Ids must sort in the stream as they do in Rust (`Ord`): for text ids
/// in PostgreSQL, `ORDER BY id COLLATE "C"`. The rotator never passes over an envelope
/// on its word: one at or before the resume cursor is still looked at, and rewrapped if
/// it is not under the primary. An envelope that does not open stops the rotation with
/// [`Error::Rotation`] naming it: fail closed, fix or quarantine it, and resume after
/// it.
///
/// ```
/// # use envelope_crypto::{Binding, Keyring, Rotator, RotationItem, Written};
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// let mut keyring = Keyring::generate()?;
/// let old = keyring.sealer("oauth.token")?;
/// let rows: Vec<RotationItem<u64>> = (1..=3)
///     .map(|id| {
///         let binding = Binding::new().record(id.to_string());
///         let envelope = old.seal(b"token", &binding).unwrap().into_bytes();
///         RotationItem { id, envelope, binding }
///     })
///     .collect();
///
/// keyring.rotate()?;
/// let sealer = keyring.sealer("oauth.token")?;
/// let mut written = Vec::new();
/// let mut rotator = Rotator::new(&sealer).on_progress(|p, cursor| eprintln!("{p}; at {cursor}"));
/// let stream = futures_util::stream::iter(rows.into_iter().map(Ok));
/// let progress = block_on(rotator.run(stream, |rewrapped| {
///     // In SQL: UPDATE .. SET envelope = new WHERE id = .. AND envelope = old
///     written.push((rewrapped.id, rewrapped.new));
///     async { Ok(Written::Stored) }
/// }))?;
/// assert_eq!(progress.rewrapped, 3);
/// assert_eq!(rotator.cursor(), Some(&3));
/// # Ok::<(), envelope_crypto::Error>(())
/// ```
pub struct Rotator<'a, Id> {
    sealer: &'a Sealer,
    cursor: Option<Id>,
    resume_from: Option<Id>,
    progress: Progress,
    report: Option<ProgressFn<'a, Id>>,
}

impl<Id: fmt::Debug> fmt::Debug for Rotator<'_, Id> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotator")
            .field("cursor", &self.cursor)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl<'a, Id> Rotator<'a, Id>
where
    Id: Ord + Clone + Display,
{
    /// A rotator that starts at the first item.
    pub fn new(sealer: &'a Sealer) -> Self {
        Self {
            sealer,
            cursor: None,
            resume_from: None,
            progress: Progress::default(),
            report: None,
        }
    }

    /// A rotator that resumes after `cursor` (the [`Rotator::cursor`] saved from an
    /// earlier run): items at or before it that are already under the primary are
    /// counted as skipped; any that is not is rewrapped all the same.
    pub fn resume_after(sealer: &'a Sealer, cursor: Id) -> Self {
        Self {
            cursor: Some(cursor.clone()),
            resume_from: Some(cursor),
            ..Self::new(sealer)
        }
    }

    /// Calls `report` after every item with the progress so far and the cursor to save
    /// (the id of the item just done, or the resume cursor where that is later).
    #[must_use]
    pub fn on_progress(mut self, report: impl FnMut(&Progress, &Id) + Send + 'a) -> Self {
        self.report = Some(Box::new(report));
        self
    }

    /// The id of the last item handled (or the resume cursor): save it to resume.
    pub fn cursor(&self) -> Option<&Id> {
        self.cursor.as_ref()
    }

    /// The progress so far.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Runs through `items`, calling `write` with each rewrapped envelope and the bytes it
    /// replaces, and waiting for it before moving on. Returns the final progress.
    ///
    /// # Errors
    ///
    /// An error of the stream, as it is; [`Error::Rotation`] naming the item when its
    /// envelope does not parse or open, when its id is not above the previous item's, or
    /// when `write` fails. The cursor then still names the last item done.
    pub async fn run<S, W, F>(&mut self, items: S, mut write: W) -> Result<Progress>
    where
        S: Stream<Item = Result<RotationItem<Id>>>,
        W: FnMut(Rewrapped<Id>) -> F,
        F: Future<Output = Result<Written>>,
    {
        let mut items = pin!(items);
        let mut previous: Option<Id> = None;
        while let Some(item) = poll_fn(|cx| items.as_mut().poll_next(cx)).await {
            let item = item?;
            if previous.as_ref().is_some_and(|last| item.id <= *last) {
                return Err(failed(
                    &item.id,
                    Error::store("item ids must arrive in strictly ascending order"),
                ));
            }
            previous = Some(item.id.clone());
            let resumed_past = self
                .resume_from
                .as_ref()
                .is_some_and(|from| item.id <= *from);
            let header = Header::peek(&item.envelope).map_err(|e| failed(&item.id, e))?;
            if header.key_version() == self.sealer.primary() {
                if resumed_past {
                    self.progress.skipped += 1;
                } else {
                    self.progress.current += 1;
                }
            } else {
                let new = self
                    .sealer
                    .rewrap(&item.envelope, &item.binding)
                    .map_err(|e| failed(&item.id, e))?;
                let rewrapped = Rewrapped {
                    id: item.id.clone(),
                    old: item.envelope,
                    new,
                };
                match write(rewrapped).await.map_err(|e| failed(&item.id, e))? {
                    Written::Stored => self.progress.rewrapped += 1,
                    Written::Changed => self.progress.changed += 1,
                }
            }
            if self.cursor.as_ref().is_none_or(|cursor| item.id > *cursor) {
                self.cursor = Some(item.id);
            }
            if let (Some(report), Some(cursor)) = (&mut self.report, &self.cursor) {
                report(&self.progress, cursor);
            }
        }
        tracing::info!(
            purpose = %self.sealer.purpose(),
            primary = self.sealer.primary().get(),
            rewrapped = self.progress.rewrapped,
            current = self.progress.current,
            changed = self.progress.changed,
            skipped = self.progress.skipped,
            "rotation pass finished"
        );
        Ok(self.progress)
    }
}

fn failed(id: &impl Display, source: Error) -> Error {
    Error::Rotation {
        id: id.to_string(),
        source: Box::new(source),
    }
}
