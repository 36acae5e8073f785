//! The batch rotator: rewraps what is not on the primary, reports progress, resumes.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;

use envelope_crypto::{Binding, Error, Keyring, Progress, RotationItem, Rotator, Written};
use futures_util::stream;

fn binding(id: u64) -> Binding {
    Binding::new().tenant("acme").record(format!("row:{id}"))
}

/// A table of ten rows: 1-6 sealed under version 1, then a rotation, 7-10 under version 2.
fn table() -> (Keyring, BTreeMap<u64, Vec<u8>>) {
    let mut keyring = common::keyring(&[9; 32]);
    let mut rows = BTreeMap::new();
    for ids in [1..=6, 7..=10] {
        if *ids.start() > 1 {
            keyring.rotate().expect("rotate");
        }
        let sealer = keyring.sealer("oauth.token").expect("valid purpose");
        for id in ids {
            let token = format!("token {id}");
            let envelope = sealer.seal(token.as_bytes(), &binding(id)).expect("seal");
            rows.insert(id, envelope.into_bytes());
        }
    }
    (keyring, rows)
}

fn items(rows: &BTreeMap<u64, Vec<u8>>) -> Vec<Result<RotationItem<u64>, Error>> {
    rows.iter()
        .map(|(&id, envelope)| {
            Ok(RotationItem {
                id,
                envelope: envelope.clone(),
                binding: binding(id),
            })
        })
        .collect()
}

#[tokio::test]
async fn rotator_rewraps_old_versions_reports_progress_and_resumes_from_its_cursor() {
    let (keyring, rows) = table();
    let sealer = keyring.sealer("oauth.token").unwrap();
    let table = Mutex::new(rows.clone());
    let reports = Mutex::new(Vec::<(Progress, u64)>::new());

    // First pass: the write of row 4 fails (say the database went away).
    let mut rotator =
        Rotator::new(&sealer).on_progress(|p, cursor| reports.lock().unwrap().push((*p, *cursor)));
    let err = rotator
        .run(stream::iter(items(&rows)), |rewrapped| {
            let result = if rewrapped.id == 4 {
                Err(Error::store("connection reset"))
            } else {
                table
                    .lock()
                    .unwrap()
                    .insert(rewrapped.id, rewrapped.new.into_bytes());
                Ok(Written::Stored)
            };
            async move { result }
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rotation { id, .. } if id == "4"),
        "{err:?}"
    );
    assert_eq!(rotator.cursor(), Some(&3));
    assert_eq!(rotator.progress().rewrapped, 3);
    let cursors: Vec<u64> = reports.lock().unwrap().iter().map(|(_, c)| *c).collect();
    assert_eq!(
        cursors,
        [1, 2, 3],
        "one report per item done, with its cursor"
    );
    let cursor = *rotator.cursor().unwrap();
    drop(rotator);

    // Second pass from the saved cursor: rows 1-3 are passed over, 4-6 rewrapped, 7-10
    // are already current.
    let written = Mutex::new(Vec::new());
    let pending = items(&table.lock().unwrap());
    let mut rotator = Rotator::resume_after(&sealer, cursor);
    let progress = rotator
        .run(stream::iter(pending), |rewrapped| {
            written.lock().unwrap().push(rewrapped.id);
            table
                .lock()
                .unwrap()
                .insert(rewrapped.id, rewrapped.new.into_bytes());
            async { Ok(Written::Stored) }
        })
        .await
        .unwrap();
    assert_eq!(*written.lock().unwrap(), [4, 5, 6]);
    assert_eq!(
        (progress.skipped, progress.rewrapped, progress.current),
        (3, 3, 4)
    );
    assert_eq!(progress.done(), 7);
    assert_eq!(rotator.cursor(), Some(&10));

    // Every row is now under the primary and opens to its own token.
    for (id, envelope) in table.lock().unwrap().iter() {
        assert!(!sealer.needs_rewrap(envelope).unwrap(), "row {id}");
        let opened = sealer.open(envelope, &binding(*id)).unwrap();
        assert_eq!(opened.as_bytes(), format!("token {id}").as_bytes());
    }
}

/// Resuming never takes the cursor's word for an envelope: one at or before it that is
/// not under the primary (its id sorted differently in the database, or the keyring
/// rotated again since) is rewrapped, not passed over.
#[tokio::test]
async fn resuming_rewraps_what_the_cursor_would_have_passed_over() {
    let (keyring, rows) = table();
    let sealer = keyring.sealer("oauth.token").unwrap();
    let written = Mutex::new(Vec::new());
    let mut rotator = Rotator::resume_after(&sealer, 5);
    let progress = rotator
        .run(stream::iter(items(&rows)), |rewrapped| {
            written.lock().unwrap().push(rewrapped.id);
            async { Ok(Written::Stored) }
        })
        .await
        .unwrap();
    assert_eq!(*written.lock().unwrap(), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        (progress.skipped, progress.rewrapped, progress.current),
        (0, 6, 4)
    );
    assert_eq!(rotator.cursor(), Some(&10));
}

#[tokio::test]
async fn rotator_stops_at_an_envelope_that_does_not_open() {
    let (keyring, mut rows) = table();
    rows.get_mut(&2).unwrap()[40] ^= 1;
    let sealer = keyring.sealer("oauth.token").unwrap();
    let mut rotator = Rotator::new(&sealer);
    let err = rotator
        .run(stream::iter(items(&rows)), |_| async {
            Ok(Written::Stored)
        })
        .await
        .unwrap_err();
    match err {
        Error::Rotation { id, source } => {
            assert_eq!(id, "2");
            assert!(matches!(*source, Error::Invalid));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rotator.cursor(), Some(&1));
}

#[tokio::test]
async fn rotator_refuses_ids_out_of_order() {
    let (keyring, rows) = table();
    let sealer = keyring.sealer("oauth.token").unwrap();
    let mut shuffled = items(&rows);
    shuffled.swap(7, 8);
    let err = Rotator::new(&sealer)
        .run(stream::iter(shuffled), |_| async { Ok(Written::Stored) })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ascending"), "{err}");
}

/// The write gets the bytes it replaces, and stores the new envelope only where the row
/// still holds them: a row the application wrote after the stream read it (a refreshed
/// token) keeps its newer value, and the rotation counts it as changed and goes on.
#[tokio::test]
async fn rotator_leaves_a_row_written_meanwhile_alone() {
    let (mut keyring, rows) = table();
    let sealer = keyring.sealer("oauth.token").unwrap();
    let table = Mutex::new(rows.clone());
    let stream = items(&rows);
    // The application refreshes row 5's token after the stream read the row.
    let refreshed = sealer.seal(b"token 5, refreshed", &binding(5)).unwrap();
    table.lock().unwrap().insert(5, refreshed.into_bytes());
    keyring.rotate().unwrap();
    let sealer = keyring.sealer("oauth.token").unwrap();

    let progress = Rotator::new(&sealer)
        .run(stream::iter(stream), |rewrapped| {
            // Compare and swap, as `UPDATE .. WHERE id = $id AND envelope = $old` would.
            let mut table = table.lock().unwrap();
            let row = table.get_mut(&rewrapped.id).unwrap();
            let written = if *row == rewrapped.old {
                *row = rewrapped.new.into_bytes();
                Written::Stored
            } else {
                Written::Changed
            };
            async move { Ok(written) }
        })
        .await
        .unwrap();
    assert_eq!((progress.rewrapped, progress.changed), (9, 1));
    assert_eq!(progress.done(), 10);
    let row5 = table.lock().unwrap()[&5].clone();
    assert_eq!(
        sealer.open(&row5, &binding(5)).unwrap().as_bytes(),
        b"token 5, refreshed"
    );
}
