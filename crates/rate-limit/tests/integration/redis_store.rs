//! The Redis store: the conformance suite, and exactness across OS processes.

use std::num::NonZeroU32;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rate_limit::{Check, Policy, RedisStore, Store};

fn store(prefix: &palisade_test_support::RedisPrefix) -> RedisStore {
    RedisStore::builder(prefix.url())
        .prefix(prefix.prefix())
        .build()
        .expect("a valid Redis URL")
}

#[tokio::test]
async fn the_redis_store_conforms() {
    let Some(prefix) = palisade_test_support::redis("rate_limit_conformance") else {
        return;
    };
    crate::conformance::suite(store(&prefix)).await;
}

#[tokio::test]
async fn counters_expire_on_their_own() {
    let Some(prefix) = palisade_test_support::redis("rate_limit_expiry") else {
        return;
    };
    let store = store(&prefix);
    let p = Policy::builder(
        "expiry",
        NonZeroU32::new(1_000).expect("non-zero"),
        Duration::from_secs(1),
    )
    .build()
    .expect("a valid configuration");
    assert!(
        store
            .check(&[Check::new(&p, "k")])
            .await
            .unwrap()
            .is_allowed()
    );
    // One unit of a 1000/s policy comes back in 1 ms: the key must be gone soon after.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let client = redis::Client::open(prefix.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}expiry:k", prefix.prefix());
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists, "{key} outlived its bucket");
}

const CHILD_PREFIX: &str = "RATE_LIMIT_TEST_CHILD_PREFIX";
const CHILD_START: &str = "RATE_LIMIT_TEST_CHILD_START_MS";
const QUOTA: u32 = 100;
const ATTEMPTS_PER_PROCESS: u32 = 150;

fn shared_policy() -> Policy {
    // 100 per day: nothing refills while the test runs (one unit takes 864 s).
    Policy::builder(
        "processes",
        NonZeroU32::new(QUOTA).expect("non-zero"),
        Duration::from_secs(86_400),
    )
    .build()
    .expect("a valid configuration")
}

/// Run as a child (the parent sets [`CHILD_PREFIX`]): waits for the agreed start, then
/// hammers the shared key and prints how many checks were admitted.
async fn child(prefix: &str) {
    let url = std::env::var(palisade_test_support::REDIS_ENV)
        .unwrap_or_else(|_| palisade_test_support::DEFAULT_REDIS.to_owned());
    let store = RedisStore::builder(url)
        .prefix(prefix)
        .build()
        .expect("a valid configuration");
    let policy = shared_policy();
    let start: u64 = std::env::var(CHILD_START)
        .expect("the parent sets the start")
        .parse()
        .expect("milliseconds");
    while now_ms() < start {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut admitted = 0;
    for _ in 0..ATTEMPTS_PER_PROCESS {
        if store
            .check(&[Check::new(&policy, "shared")])
            .await
            .expect("Redis answers")
            .is_allowed()
        {
            admitted += 1;
        }
    }
    println!("admitted={admitted}");
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("before the year 584 million")
}

#[tokio::test]
async fn three_processes_sharing_redis_never_admit_more_than_the_quota() {
    if let Ok(prefix) = std::env::var(CHILD_PREFIX) {
        child(&prefix).await;
        return;
    }
    let Some(prefix) = palisade_test_support::redis("rate_limit_processes") else {
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let start = now_ms() + 1_500;
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "redis_store::three_processes_sharing_redis_never_admit_more_than_the_quota",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_PREFIX, prefix.prefix())
                .env(CHILD_START, start.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the test binary runs again as a child")
        })
        .collect();
    let mut counts = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The harness may print the test's name on the same line, before the count.
        let admitted: u32 = stdout
            .split("admitted=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .expect("the child reports its count")
            .parse()
            .unwrap();
        counts.push(admitted);
    }
    // Far more attempts than the quota, and no refill while they run: exactly the quota
    // is admitted, however the processes interleave.
    let total: u32 = counts.iter().sum();
    assert_eq!(total, QUOTA, "admitted per process: {counts:?}");
    println!("admitted per process: {counts:?}");
}

#[tokio::test]
async fn a_corrupt_counter_is_an_error_that_never_names_the_key() {
    let Some(prefix) = palisade_test_support::redis("rate_limit_corrupt") else {
        return;
    };
    let store = store(&prefix);
    let p = Policy::login();
    let client = redis::Client::open(prefix.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}login:user-secret-42", prefix.prefix());
    let () = redis::cmd("SET")
        .arg(&key)
        .arg("not a number")
        .query_async(&mut conn)
        .await
        .unwrap();
    let checked = store.check(&[Check::new(&p, "user-secret-42")]).await;
    let refunded = store.refund(&p, b"user-secret-42").await;
    for result in [checked.map(drop), refunded] {
        let err = result.expect_err("a corrupt counter is no decision");
        assert!(matches!(err, rate_limit::Error::Unavailable(_)), "{err}");
        let mut text = format!("{err} {err:?}");
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert!(
            !text.contains("user-secret-42"),
            "the error names the key: {text}"
        );
    }
}
