//! The hashing pool: bounded concurrency measured, `Busy` at once when full, and the
//! async runtime kept free while the pool is saturated.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};

use passwords::{
    Argon2Params, BcryptCost, Error, Hasher, HashingPool, Policy, RandomSource, Violation,
};
use tracing::Level;

use crate::common::{Capture, capture_events, fast_hasher, weak_params};

fn pool(hasher: Hasher, max_concurrent: usize, max_queued: usize) -> HashingPool {
    HashingPool::builder(hasher)
        .max_concurrent(NonZeroUsize::new(max_concurrent).expect("at least one slot"))
        .max_queued(max_queued)
        .build()
}

/// One slot, one queue place, and bcrypt cost 12: each hash keeps the slot busy for a good
/// fraction of a second.
fn one_slow_slot() -> HashingPool {
    let hasher = Hasher::builder()
        .bcrypt(BcryptCost::new(12).expect("valid cost"))
        .build()
        .expect("bcrypt hasher");
    pool(hasher, 1, 1)
}

fn spawn_hash(
    pool: &HashingPool,
    password: &'static str,
) -> tokio::task::JoinHandle<Result<passwords::PasswordHash, Error>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.hash(password).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_never_run_more_than_the_limit() {
    // Moderate argon2 work (4 MiB) so requests overlap for real.
    let hasher = Hasher::builder()
        .argon2id(Argon2Params::dangerous_weak(4096, 2, 1).unwrap())
        .build()
        .unwrap();
    let pool = pool(hasher, 2, 64);
    // Watch the running count from outside too, while the requests run.
    let watcher = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut most = 0;
            for _ in 0..2_000 {
                most = most.max(pool.metrics().running);
                tokio::time::sleep(Duration::from_millis(1)).await;
                if pool.metrics().running == 0 && pool.metrics().queued == 0 && most > 0 {
                    break;
                }
            }
            most
        })
    };
    let requests: Vec<_> = (0..24)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.hash(format!("password {i}")).await })
        })
        .collect();
    for request in requests {
        let stored = request.await.unwrap().unwrap();
        assert!(stored.as_str().starts_with("$argon2id$"));
    }
    let metrics = pool.metrics();
    assert!(metrics.peak_running <= 2, "{metrics:?}");
    // 24 overlapping requests on a 2-slot pool do fill it.
    assert_eq!(metrics.peak_running, 2, "{metrics:?}");
    assert_eq!(
        (metrics.running, metrics.queued, metrics.rejected),
        (0, 0, 0)
    );
    let watched = watcher.await.unwrap();
    assert!((1..=2).contains(&watched), "watcher saw {watched} running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_queue_get_busy_without_waiting() {
    let pool = one_slow_slot();
    let running = spawn_hash(&pool, "first");
    let queued = spawn_hash(&pool, "second");
    let deadline = Instant::now() + Duration::from_secs(30);
    while (pool.metrics().running, pool.metrics().queued) != (1, 1) {
        assert!(
            Instant::now() < deadline,
            "pool never filled: {:?}",
            pool.metrics()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The third request is refused on its very first poll: it never waits for a slot.
    let mut third = pin!(pool.hash("third"));
    let mut first_poll = Poll::Pending;
    let events = capture_events(|| {
        first_poll = third.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    });
    assert!(
        matches!(first_poll, Poll::Ready(Err(Error::Busy))),
        "{first_poll:?}"
    );
    assert_eq!(pool.metrics().rejected, 1);
    // A refusal is counted and logged at debug level only: a flood of refusals must not
    // become a flood of warnings.
    assert!(
        events.iter().any(|(level, fields)| *level == Level::DEBUG
            && fields.iter().any(|f| f.contains("pool full"))),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|(level, _)| *level != Level::WARN && *level != Level::ERROR),
        "{events:?}"
    );
    // The verify and dummy paths share the same bound.
    let mut dummy = pin!(pool.dummy_verify("x"));
    assert!(matches!(
        dummy.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(Err(Error::Busy))
    ));
    running.await.unwrap().unwrap();
    queued.await.unwrap().unwrap();
    // Room again once the work is done.
    let (running, queued) = (pool.metrics().running, pool.metrics().queued);
    assert_eq!((running, queued), (0, 0));
    pool.hash("fourth").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_gives_its_place_back() {
    let pool = one_slow_slot();
    let running = spawn_hash(&pool, "first");
    while pool.metrics().running != 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    {
        let mut waiting = pin!(pool.hash("queued then dropped"));
        let poll = waiting
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(poll.is_pending());
        assert_eq!(pool.metrics().queued, 1);
    }
    assert_eq!(pool.metrics().queued, 0);
    running.await.unwrap().unwrap();
}

/// A current-thread runtime: if hashing ran on it, nothing else could run until every
/// hash was done. The ticker below must keep ticking, on time, while the pool is full.
#[tokio::test(flavor = "current_thread")]
async fn a_tokio_task_keeps_running_on_time_while_the_pool_is_saturated() {
    let pool = pool(Hasher::new().unwrap(), 2, 32);
    let requests: Vec<_> = (0..24)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.hash(format!("password {i}")).await })
        })
        .collect();

    let period = Duration::from_millis(10);
    let mut ticks_while_saturated = 0;
    let mut worst_lateness = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let before = Instant::now();
        tokio::time::sleep(period).await;
        let lateness = before.elapsed().saturating_sub(period);
        let metrics = pool.metrics();
        if metrics.running == 2 {
            ticks_while_saturated += 1;
            worst_lateness = worst_lateness.max(lateness);
        }
        if metrics.running == 0 && metrics.queued == 0 && ticks_while_saturated > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hashing never finished: {metrics:?}"
        );
    }
    for request in requests {
        request.await.unwrap().unwrap();
    }
    // 24 OWASP-cost hashes two at a time take well over 100 ms even on a fast machine, so a
    // ticker with a 10 ms period that is never blocked fires many times meanwhile. The
    // lateness bound is generous: other builds share this machine's cores.
    assert!(
        ticks_while_saturated >= 5,
        "ticker fired only {ticks_while_saturated} times while the pool was full"
    );
    assert!(
        worst_lateness < Duration::from_millis(500),
        "a tick came {worst_lateness:?} late while the pool was full"
    );
}

#[tokio::test]
async fn the_pool_verifies_upgrades_and_dummy_verifies() {
    let pool = HashingPool::new(fast_hasher());
    let stored = pool.hash("hunter2").await.unwrap();
    assert!(
        !pool
            .verify("hunter2", stored.as_str())
            .await
            .unwrap()
            .needs_rehash()
    );
    assert!(matches!(
        pool.verify("hunter3", stored.as_str()).await,
        Err(Error::Invalid)
    ));
    assert!(matches!(
        pool.dummy_verify("hunter2").await,
        Err(Error::Invalid)
    ));
    assert!(matches!(
        pool.verify("hunter2", "not a hash").await,
        Err(Error::MalformedHash(_))
    ));
    let stronger = HashingPool::new(
        Hasher::builder()
            .argon2id(Argon2Params::dangerous_weak(512, 1, 1).unwrap())
            .build()
            .unwrap(),
    );
    let upgraded = stronger
        .verify_and_upgrade("hunter2", stored.as_str())
        .await
        .unwrap()
        .expect("weaker parameters are upgraded");
    assert!(
        upgraded
            .as_str()
            .starts_with("$argon2id$v=19$m=512,t=1,p=1$")
    );
}

/// Works for the hasher's construction (the dummy hash takes two fills), then panics: a
/// stand-in for a bug in the hashing code.
struct PanicsAfterBuild(AtomicUsize);

impl RandomSource for PanicsAfterBuild {
    fn fill(&self, dest: &mut [u8]) -> Result<(), std::io::Error> {
        assert!(
            self.0.fetch_add(1, Ordering::SeqCst) < 2,
            "random source broke"
        );
        dest.fill(7);
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_job_is_reported_as_stopped_and_gives_its_slot_back() {
    let hasher = Hasher::builder()
        .argon2id(weak_params())
        .dangerous_random_source(PanicsAfterBuild(AtomicUsize::new(0)))
        .build()
        .unwrap();
    // One slot and no queue: a slot the panic kept would make the next request Busy.
    let pool = pool(hasher, 1, 0);
    // A current-thread runtime: the request is awaited on this thread, under this
    // subscriber.
    let capture = Capture::default();
    let guard = tracing::subscriber::set_default(capture.clone());
    assert!(matches!(
        pool.hash("needs a salt").await,
        Err(Error::WorkerStopped)
    ));
    drop(guard);
    let events = capture.events();
    assert!(
        events.iter().any(|(level, fields)| *level == Level::ERROR
            && fields.iter().any(|f| f.contains("panicked"))),
        "{events:?}"
    );
    // The panic message is not logged: it could quote what the job worked on.
    assert!(
        !events
            .iter()
            .any(|(_, fields)| fields.iter().any(|f| f.contains("random source broke"))),
        "{events:?}"
    );
    let metrics = pool.metrics();
    assert_eq!((metrics.running, metrics.queued), (0, 0), "{metrics:?}");
    assert!(matches!(
        pool.dummy_verify("no salt needed").await,
        Err(Error::Invalid)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_check_takes_a_slot_like_a_hash() {
    let policy = Policy::new();
    let pool = one_slow_slot();
    assert_eq!(
        pool.check_policy(&policy, "correct horse battery staple")
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        pool.check_policy(&policy, "p@ssw0rd").await.unwrap(),
        Err(vec![Violation::Common])
    );

    let running = spawn_hash(&pool, "first");
    let queued = spawn_hash(&pool, "second");
    let deadline = Instant::now() + Duration::from_secs(30);
    while (pool.metrics().running, pool.metrics().queued) != (1, 1) {
        assert!(Instant::now() < deadline, "pool never filled");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // A full pool refuses the check like any other request...
    let mut check = pin!(pool.check_policy(&policy, "a 20-char l33t: 4@8("));
    assert!(matches!(
        check.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(Err(Error::Busy))
    ));
    // ...but input too long to pass is answered at once, without a slot.
    let huge = "x".repeat(1 << 20);
    let mut too_long = pin!(pool.check_policy(&policy, &huge));
    let verdict = too_long
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(
        matches!(&verdict, Poll::Ready(Ok(Err(reasons))) if reasons == &[Violation::TooLong { max: 128 }]),
        "{verdict:?}"
    );
    running.await.unwrap().unwrap();
    queued.await.unwrap().unwrap();
}
