//! The in-memory store: exact under concurrency, bounded, swept without being asked.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use rate_limit::{Check, Error, FakeClock, MemoryStore, Policy, WhenFull};

fn policy(name: &'static str, quota: u32, period_secs: u64) -> Policy {
    Policy::builder(
        name,
        NonZeroU32::new(quota).expect("non-zero"),
        Duration::from_secs(period_secs),
    )
    .build()
    .expect("a valid configuration")
}

#[test]
fn threads_hammering_one_key_never_get_more_than_the_quota() {
    let clock = FakeClock::new();
    let store = Arc::new(
        MemoryStore::builder()
            .clock(clock)
            .build()
            .expect("a valid configuration"),
    );
    let single = Arc::new(policy("hammer", 1_000, 3600));
    let pair = Arc::new((
        policy("hammer-a", 700, 3600),
        policy("hammer-b", 5_000, 3600),
    ));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, single, pair) =
                (Arc::clone(&store), Arc::clone(&single), Arc::clone(&pair));
            std::thread::spawn(move || {
                let (mut one, mut two) = (0u32, 0u32);
                for _ in 0..5_000 {
                    one += u32::from(
                        store
                            .check_sync(&[Check::new(&single, "hot")])
                            .unwrap()
                            .is_allowed(),
                    );
                    let both = [Check::new(&pair.0, "hot"), Check::new(&pair.1, "hot")];
                    two += u32::from(store.check_sync(&both).unwrap().is_allowed());
                }
                (one, two)
            })
        })
        .collect();
    let (mut one, mut two) = (0, 0);
    for t in threads {
        let (a, b) = t.join().unwrap();
        one += a;
        two += b;
    }
    // The clock stands still, so exactly the burst is admitted: never more, and no lost
    // update makes it fewer.
    assert_eq!(one, 1_000);
    assert_eq!(two, 700);
    let b_left = store
        .check_sync(&[Check::new(&pair.1, "hot")])
        .unwrap()
        .remaining();
    assert_eq!(
        b_left,
        5_000 - 700 - 1,
        "refusals charged nothing to the other policy"
    );
}

#[test]
fn a_million_keys_never_pass_a_cap_of_a_hundred_thousand() {
    let clock = FakeClock::new();
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(100_000)
        .build()
        .expect("a valid configuration");
    assert!(store.max_keys() <= 100_000 && store.max_keys() > 99_000);
    let p = policy("cap", 10, 3600);
    let mut peak = 0;
    for i in 0u32..1_000_000 {
        let d = store
            .check_sync(&[Check::new(&p, &i.to_le_bytes())])
            .unwrap();
        assert!(d.is_allowed(), "a new key always has its burst");
        if i % 10_000 == 0 {
            peak = peak.max(store.len());
            clock.advance(Duration::from_millis(1));
        }
    }
    peak = peak.max(store.len());
    assert!(peak <= 100_000, "the store grew to {peak} keys");
    // Evicting drops an eighth of a full shard at a time: most state is kept.
    assert!(store.len() >= 85_000, "{}", store.len());
}

#[test]
fn a_full_store_set_to_reject_refuses_new_keys_and_keeps_old_ones() {
    let clock = FakeClock::new();
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(64)
        .shards(4)
        .when_full(WhenFull::Reject)
        .build()
        .expect("a valid configuration");
    let p = policy("reject", 2, 60);
    let mut refused = 0;
    for i in 0u32..200 {
        match store.check_sync(&[Check::new(&p, &i.to_le_bytes())]) {
            Ok(d) => assert!(d.is_allowed()),
            Err(Error::StoreFull) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused >= 200 - 64);
    assert_eq!(store.len(), 64);
    // A key already held still works, and is still limited.
    let held = (0u32..200)
        .find(|i| {
            store
                .check_sync(&[Check::new(&p, &i.to_le_bytes())])
                .is_ok_and(|d| d.is_allowed())
        })
        .expect("some key is held");
    assert!(
        !store
            .check_sync(&[Check::new(&p, &held.to_le_bytes())])
            .unwrap()
            .is_allowed()
    );
    // Once their buckets are full again, held keys make room for new ones.
    clock.advance(Duration::from_secs(60));
    assert!(
        store
            .check_sync(&[Check::new(&p, b"newcomer")])
            .unwrap()
            .is_allowed()
    );
}

#[test]
fn expired_keys_disappear_with_no_call_at_all() {
    let clock = FakeClock::new();
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .shards(8)
        .sweep_interval(Duration::from_millis(10))
        .build()
        .expect("a valid configuration");
    let p = policy("sweep", 10, 60); // one request's credit comes back in 6 s
    for i in 0u32..10_000 {
        assert!(
            store
                .check_sync(&[Check::new(&p, &i.to_le_bytes())])
                .unwrap()
                .is_allowed()
        );
    }
    assert_eq!(store.len(), 10_000);
    clock.advance(Duration::from_secs(7));
    // No check, no reset, no call of any kind: the store's own thread sweeps.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !store.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store.len(), 0, "expired keys were left in the store");
}

#[test]
fn live_keys_survive_the_sweeper() {
    let clock = FakeClock::new();
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .sweep_interval(Duration::from_millis(1))
        .build()
        .expect("a valid configuration");
    let p = policy("live", 2, 60);
    assert!(
        store
            .check_sync(&[Check::new(&p, "k")])
            .unwrap()
            .is_allowed()
    );
    assert!(
        store
            .check_sync(&[Check::new(&p, "k")])
            .unwrap()
            .is_allowed()
    );
    clock.advance(Duration::from_secs(29));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(store.len(), 1);
    assert!(
        !store
            .check_sync(&[Check::new(&p, "k")])
            .unwrap()
            .is_allowed()
    );
}

/// A multi-policy check that finds one of its keys held but expired: the sweep that makes
/// room drops that key too, and it must be counted as new again, or the store passes its
/// cap by one.
#[test]
fn a_check_of_several_policies_never_passes_the_cap() {
    for when_full in [WhenFull::Reject, WhenFull::EvictNearestRefill] {
        let clock = FakeClock::new();
        let store = MemoryStore::builder()
            .clock(clock.clone())
            .shards(1)
            .max_keys(16)
            .when_full(when_full)
            // The sweeper must not drop the expired key before the check does.
            .sweep_interval(Duration::from_secs(3600))
            .build()
            .expect("a valid configuration");
        let short = policy("short", 10, 60);
        let long = policy("long", 10, 3600);
        assert!(
            store
                .check_sync(&[Check::new(&short, "a")])
                .unwrap()
                .is_allowed()
        );
        for i in 0u32..15 {
            let key = i.to_le_bytes();
            assert!(
                store
                    .check_sync(&[Check::new(&long, &key)])
                    .unwrap()
                    .is_allowed()
            );
        }
        assert_eq!(store.len(), 16);
        clock.advance(Duration::from_secs(7)); // "a" is full again, still held
        let both = [Check::new(&short, "a"), Check::new(&long, "new")];
        match (when_full, store.check_sync(&both)) {
            (WhenFull::Reject, Err(Error::StoreFull)) => {}
            (WhenFull::EvictNearestRefill, Ok(d)) => assert!(d.is_allowed()),
            (w, other) => panic!("{w:?}: {other:?}"),
        }
        assert!(store.len() <= 16, "{when_full:?}: {} keys", store.len());
    }
}

#[test]
fn the_configuration_is_checked() {
    for bad in [
        MemoryStore::builder().shards(3).build(),
        MemoryStore::builder().shards(8).max_keys(100).build(),
    ] {
        let err = bad.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }
}
