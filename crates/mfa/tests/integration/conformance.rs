//! The store conformance suite: the same checks, run against every backend by `storage.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mfa::store::{CeremonyRecord, CredentialRecord, MfaStore, RecoveryHash, RecoverySet};
use mfa::{Error, Method, Mfa, TotpParams, TotpSecret, totp_code};

use crate::support::*;

/// Reads everything the backend holds, as raw bytes (files, or rows as text).
pub(crate) type RawDump =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync>;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Runs every check; `name` tells the backend apart in failure messages.
pub(crate) async fn run(name: &str, store: Arc<dyn MfaStore>, dump: RawDump) {
    totp_replay_guard(name, store.clone()).await;
    seeds_are_sealed_at_rest(name, store.clone(), &dump).await;
    recovery_codes(name, store.clone(), &dump).await;
    recovery_replacements_take_turns(name, store.clone()).await;
    ceremonies_and_credentials(name, store.clone()).await;
    user_handles(name, store.clone()).await;
    crate::webauthn::ceremonies(name, store).await;
}

async fn enrolled(mfa: &Mfa, user: &mfa::UserId) -> TotpSecret {
    let enrollment = mfa
        .totp_enroll(user, "someone")
        .await
        .expect("store operation");
    let secret = TotpSecret::from_base32(enrollment.secret_base32()).expect("store operation");
    let confirmed = mfa
        .totp_confirm(user, &totp_code(&secret, &TotpParams::default(), T0))
        .await
        .expect("store operation");
    assert_eq!(confirmed.method(), Method::Totp);
    secret
}

async fn totp_replay_guard(name: &str, store: Arc<dyn MfaStore>) {
    let clock = TestClock::at(T0);
    let mfa = Arc::new(mfa_on(store, clock.clone()));
    let alice = user("alice-replay");
    let secret = enrolled(&mfa, &alice).await;
    let params = TotpParams::default();
    let code_at = |t: u64| totp_code(&secret, &params, t);

    // The same code twice: the second time fails.
    clock.set(T0 + 30);
    assert_eq!(
        mfa.totp_verify(&alice, &code_at(T0 + 30))
            .await
            .expect("store operation")
            .method(),
        Method::Totp
    );
    assert!(
        matches!(
            mfa.totp_verify(&alice, &code_at(T0 + 30)).await,
            Err(Error::Invalid)
        ),
        "{name}: replay"
    );

    // Concurrent verifications of one code: exactly one wins.
    clock.set(T0 + 60);
    let code = code_at(T0 + 60);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (mfa, alice, code) = (mfa.clone(), alice.clone(), code.clone());
            tokio::spawn(async move { mfa.totp_verify(&alice, &code).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("store operation") {
            Ok(v) => {
                assert_eq!(v.method(), Method::Totp);
                wins += 1;
            }
            Err(Error::Invalid) => {}
            Err(other) => panic!("{name}: unexpected {other}"),
        }
    }
    assert_eq!(wins, 1, "{name}: concurrent verifications of one code");

    // An older step after a newer one fails, although it is inside the window.
    clock.set(T0 + 120);
    assert_eq!(
        mfa.totp_verify(&alice, &code_at(T0 + 150))
            .await
            .expect("store operation")
            .method(),
        Method::Totp
    ); // step +1
    assert!(
        mfa.totp_verify(&alice, &code_at(T0 + 120)).await.is_err(),
        "{name}: older step"
    );
    assert!(
        mfa.totp_verify(&alice, &code_at(T0 + 90)).await.is_err(),
        "{name}: older step"
    );
    clock.set(T0 + 180);
    assert_eq!(
        mfa.totp_verify(&alice, &code_at(T0 + 180))
            .await
            .expect("store operation")
            .method(),
        Method::Totp
    );
    // Out of the window.
    clock.set(T0 + 300);
    assert!(
        mfa.totp_verify(&alice, &code_at(T0 + 240)).await.is_err(),
        "{name}: window"
    );
    assert!(
        mfa.totp_verify(&alice, "12345").await.is_err(),
        "{name}: short code"
    );
    assert!(mfa.totp_verify(&user("nobody"), "123456").await.is_err());
}

async fn seeds_are_sealed_at_rest(name: &str, store: Arc<dyn MfaStore>, dump: &RawDump) {
    let clock = TestClock::at(T0);
    let mfa = mfa_on(store.clone(), clock);
    let dave = user("dave-at-rest");
    let enrollment = mfa
        .totp_enroll(&dave, "dave")
        .await
        .expect("store operation");
    let secret = TotpSecret::from_base32(enrollment.secret_base32()).expect("store operation");
    let raw_seed = data_encoding::BASE32_NOPAD
        .decode(enrollment.secret_base32().as_bytes())
        .expect("store operation");
    assert_eq!(raw_seed.len(), 20, "160-bit seed");

    let bytes = dump().await;
    let record = store
        .totp(&dave)
        .await
        .expect("store operation")
        .expect("store operation");
    assert!(record.sealed_seed.starts_with("pal1."), "an envelope armor");
    assert!(
        contains(&bytes, record.sealed_seed.as_bytes()),
        "{name}: the dump holds the record"
    );
    let b32 = enrollment.secret_base32();
    for (what, needle) in [
        ("base32", b32.as_bytes().to_vec()),
        ("lower-case base32", b32.to_ascii_lowercase().into_bytes()),
        ("raw seed", raw_seed.clone()),
        ("hex seed", hex(&raw_seed).into_bytes()),
    ] {
        assert!(
            !contains(&bytes, &needle),
            "{name}: the store holds the {what}"
        );
    }

    // The envelope is bound to the user: copied to another user's row, it does not open.
    let confirmed = mfa
        .totp_confirm(&dave, &totp_code(&secret, &TotpParams::default(), T0))
        .await
        .expect("store operation");
    assert_eq!(confirmed.method(), Method::Totp);
    let erin = user("erin-at-rest");
    let mut copied = store
        .totp(&dave)
        .await
        .expect("store operation")
        .expect("store operation");
    copied.confirmed = true;
    copied.last_step = None;
    assert!(
        store
            .put_totp(&erin, &copied)
            .await
            .expect("store operation")
    );
    let code = totp_code(&secret, &TotpParams::default(), T0);
    assert!(
        matches!(mfa.totp_verify(&erin, &code).await, Err(Error::Crypto(_))),
        "{name}: a moved envelope does not open"
    );
}

async fn recovery_codes(name: &str, store: Arc<dyn MfaStore>, dump: &RawDump) {
    let clock = TestClock::at(T0);
    let mfa = Arc::new(mfa_on(store, clock));
    let frank = user("frank-recovery");
    assert_eq!(
        mfa.recovery_remaining(&frank)
            .await
            .expect("store operation"),
        0
    );
    let codes = mfa
        .recovery_generate(&frank)
        .await
        .expect("store operation");
    let codes: Vec<String> = codes.iter().map(str::to_owned).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        mfa.recovery_remaining(&frank)
            .await
            .expect("store operation"),
        10
    );

    // Hashes only: no code, in any spelling, is in the store.
    let bytes = dump().await;
    for code in &codes {
        let plain = code.replace('-', "");
        for needle in [
            code.clone(),
            plain.clone(),
            plain.to_ascii_lowercase(),
            hex(plain.as_bytes()),
        ] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{name}: code {code} stored"
            );
        }
    }

    // Single use, forgiving input.
    let first = mfa
        .recovery_redeem(&frank, &codes[0].to_ascii_lowercase().replace('-', " "))
        .await
        .expect("store operation");
    assert_eq!(first.method(), Method::RecoveryCode);
    assert_eq!(first.recovery_codes_left(), Some(9));
    assert!(
        mfa.recovery_redeem(&frank, &codes[0]).await.is_err(),
        "{name}: used twice"
    );
    assert!(
        mfa.recovery_redeem(&frank, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
            .await
            .is_err()
    );
    assert!(mfa.recovery_redeem(&frank, "not a code!").await.is_err());
    assert!(
        mfa.recovery_redeem(&user("nobody"), &codes[1])
            .await
            .is_err()
    );

    // Under concurrency, one code admits exactly one redemption.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (mfa, frank, code) = (mfa.clone(), frank.clone(), codes[1].clone());
            tokio::spawn(async move { mfa.recovery_redeem(&frank, &code).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        if task.await.expect("store operation").is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "{name}: concurrent redemptions of one code");
    assert_eq!(
        mfa.recovery_remaining(&frank)
            .await
            .expect("store operation"),
        8
    );

    // Two codes redeemed at once: the one that went second reports what is left after
    // both, not a count read before the other was used.
    let tasks: Vec<_> = [&codes[2], &codes[3]]
        .into_iter()
        .map(|code| {
            let (mfa, frank, code) = (mfa.clone(), frank.clone(), code.clone());
            tokio::spawn(async move { mfa.recovery_redeem(&frank, &code).await })
        })
        .collect();
    let mut left = Vec::new();
    for task in tasks {
        let verified = task.await.expect("the task ran").expect("each code once");
        left.push(verified.recovery_codes_left().expect("a count"));
    }
    assert_eq!(left.iter().min(), Some(&6), "{name}: counts {left:?}");

    // Regenerating voids every old code.
    let fresh: Vec<String> = mfa
        .recovery_generate(&frank)
        .await
        .expect("store operation")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        mfa.recovery_remaining(&frank)
            .await
            .expect("store operation"),
        10
    );
    for old in &codes[4..] {
        assert!(
            mfa.recovery_redeem(&frank, old).await.is_err(),
            "{name}: voided code"
        );
    }
    let v = mfa
        .recovery_redeem(&frank, &fresh[9])
        .await
        .expect("store operation");
    assert_eq!(v.recovery_codes_left(), Some(9));
    assert_eq!(
        mfa.factors(&frank)
            .await
            .expect("store operation")
            .recovery_codes,
        9
    );

    // Reset removes everything.
    mfa.reset(&frank).await.expect("store operation");
    assert_eq!(
        mfa.recovery_remaining(&frank)
            .await
            .expect("store operation"),
        0
    );
    assert!(mfa.recovery_redeem(&frank, &fresh[0]).await.is_err());
}

/// Sets replacing one another at the same moment leave exactly one whole set: never the
/// codes of two (a double-clicked "regenerate" must still void every other set).
async fn recovery_replacements_take_turns(name: &str, store: Arc<dyn MfaStore>) {
    let ivan = user("ivan-regenerates");
    let set = |n: u8| RecoverySet {
        set_id: format!("set-{n}"),
        scheme: "sha256".into(),
        salt: vec![n; 16],
        codes: (0..10)
            .map(|index| RecoveryHash {
                index,
                hash: vec![n; 32],
            })
            .collect(),
        created_at: T0,
    };
    for round in 0..4u8 {
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let (store, ivan, set) = (store.clone(), ivan.clone(), set(round * 8 + n));
                tokio::spawn(async move { store.replace_recovery(&ivan, &set).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("store operation");
        }
        let stored = store
            .recovery(&ivan)
            .await
            .expect("store operation: one set")
            .expect("a set");
        let n = stored
            .set_id
            .strip_prefix("set-")
            .and_then(|n| n.parse().ok())
            .expect("one of the sets written");
        assert_eq!(stored, set(n), "{name}: round {round}");
    }
}

async fn ceremonies_and_credentials(name: &str, store: Arc<dyn MfaStore>) {
    let gina = user("gina-store");
    let record = CeremonyRecord {
        user: gina.clone(),
        kind: "authenticate:passkey".into(),
        state: "{\"x\":1}".into(),
        expires_at: T0 + 60,
    };
    store
        .put_ceremony("c1", &record)
        .await
        .expect("store operation");
    assert!(
        store.put_ceremony("c1", &record).await.is_err(),
        "{name}: ids are unique"
    );
    assert_eq!(
        store.take_ceremony("c1").await.expect("store operation"),
        Some(record.clone())
    );
    assert_eq!(
        store.take_ceremony("c1").await.expect("store operation"),
        None,
        "{name}: taken once"
    );
    store
        .put_ceremony("c2", &record)
        .await
        .expect("store operation");
    store
        .put_ceremony(
            "c3",
            &CeremonyRecord {
                expires_at: T0 + 600,
                ..record.clone()
            },
        )
        .await
        .expect("store operation");
    assert_eq!(
        store
            .purge_ceremonies(T0 + 60)
            .await
            .expect("store operation"),
        1
    );
    assert!(
        store
            .take_ceremony("c2")
            .await
            .expect("store operation")
            .is_none()
    );
    assert!(
        store
            .take_ceremony("c3")
            .await
            .expect("store operation")
            .is_some()
    );

    let cred = |id: &str, at: u64| CredentialRecord {
        id: id.into(),
        user: gina.clone(),
        kind: "security-key".into(),
        name: "Ünïcödé key 🔑".into(),
        data: "{}".into(),
        counter: 0,
        created_at: at,
        last_used_at: None,
    };
    store
        .add_credential(&cred("k2", T0 + 1))
        .await
        .expect("store operation");
    store
        .add_credential(&cred("k1", T0))
        .await
        .expect("store operation");
    assert!(
        store.add_credential(&cred("k1", T0)).await.is_err(),
        "{name}: unique ids"
    );
    let list = store.credentials(&gina).await.expect("store operation");
    assert_eq!(
        list.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    assert_eq!(list[0], cred("k1", T0), "{name}: round trip");
    assert!(
        store
            .credentials(&user("other"))
            .await
            .expect("store operation")
            .is_empty()
    );

    assert!(
        store
            .update_credential(&gina, "k1", "{\"n\":5}", 5, T0 + 9)
            .await
            .expect("store operation")
    );
    assert!(
        !store
            .update_credential(&gina, "k1", "{}", 4, T0 + 10)
            .await
            .expect("store operation"),
        "{name}: counter never goes back"
    );
    assert!(
        !store
            .update_credential(&gina, "k1", "{}", 5, T0 + 11)
            .await
            .expect("store operation"),
        "{name}: an equal counter is refused (a clone racing the original)"
    );
    // An authenticator without a counter reports zero every time, and signs in again.
    for at in [T0 + 12, T0 + 13] {
        assert!(
            store
                .update_credential(&gina, "k2", "{}", 0, at)
                .await
                .expect("store operation"),
            "{name}: zero after zero"
        );
    }
    assert!(
        store
            .update_credential(&gina, "k2", "{}", 3, T0 + 14)
            .await
            .expect("store operation")
    );
    assert!(
        !store
            .update_credential(&gina, "k2", "{}", 0, T0 + 15)
            .await
            .expect("store operation"),
        "{name}: zero after a counter is refused"
    );
    assert!(
        !store
            .update_credential(&user("other"), "k1", "{}", 9, T0)
            .await
            .expect("store operation")
    );
    let k1 = store
        .credentials(&gina)
        .await
        .expect("store operation")
        .remove(0);
    assert_eq!(
        (k1.counter, k1.last_used_at, k1.data.as_str()),
        (5, Some(T0 + 9), "{\"n\":5}")
    );

    assert!(
        store
            .rename_credential(&gina, "k1", "desk")
            .await
            .expect("store operation")
    );
    assert!(
        !store
            .rename_credential(&user("other"), "k1", "x")
            .await
            .expect("store operation")
    );
    assert_eq!(
        store.credentials(&gina).await.expect("store operation")[0].name,
        "desk"
    );
    assert!(
        store
            .remove_credential(&gina, "k1")
            .await
            .expect("store operation")
    );
    assert!(
        !store
            .remove_credential(&gina, "k1")
            .await
            .expect("store operation")
    );
    assert_eq!(
        store
            .credentials(&gina)
            .await
            .expect("store operation")
            .len(),
        1
    );
}

async fn user_handles(name: &str, store: Arc<dyn MfaStore>) {
    let (ivan, judy) = (user("ivan-handle"), user("judy-handle"));
    // The first candidate is stored; later ones are ignored.
    let first = store
        .user_handle(&ivan, &[1; 16])
        .await
        .expect("store operation");
    assert_eq!(first, [1; 16], "{name}: the first candidate is stored");
    assert_eq!(
        store
            .user_handle(&ivan, &[2; 16])
            .await
            .expect("store operation"),
        [1; 16],
        "{name}: a user keeps their handle"
    );
    // Another user's handle is never handed out again.
    assert!(
        store.user_handle(&judy, &[1; 16]).await.is_err(),
        "{name}: two users cannot share a handle"
    );
    assert_eq!(
        store
            .user_handle(&judy, &[3; 16])
            .await
            .expect("store operation"),
        [3; 16],
        "{name}: a refused candidate leaves the user free to get another"
    );
    // Racing first calls for one user agree on the handle that was stored.
    let kim = user("kim-handle");
    let racers = (4u8..12).map(|fill| {
        let (store, kim) = (store.clone(), kim.clone());
        tokio::spawn(async move { store.user_handle(&kim, &[fill; 16]).await })
    });
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.expect("task").expect("store operation"));
    }
    assert!(
        seen.windows(2).all(|pair| pair[0] == pair[1]),
        "{name}: racing calls saw different handles: {seen:?}"
    );
}
