//! The limiter against a plain token-bucket model, under a fake clock.
//!
//! The model keeps a bucket of credit (in microseconds) that refills one microsecond per
//! microsecond up to `emission × burst`, and a request costs `emission × cost`. It is
//! written independently of the crate's TAT arithmetic; the two must agree on every
//! decision, remaining count, reset and retry-after, to the microsecond.

use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;
use rate_limit::{Check, FakeClock, MemoryStore, Policy};

#[derive(Debug, Clone)]
struct Bucket {
    emission: u64,
    capacity: u64,
    price: u64,
    cost: u64,
    level: u64,
    last: u64,
}

#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    allowed: bool,
    remaining: u32,
    reset: Duration,
    retry_after: Option<Duration>,
}

impl Bucket {
    fn new(quota: u32, period_secs: u64, burst: u32, cost: u32) -> Self {
        let emission = (period_secs * 1_000_000).div_ceil(u64::from(quota));
        let capacity = emission * u64::from(burst);
        Self {
            emission,
            capacity,
            price: emission * u64::from(cost),
            cost: u64::from(cost),
            level: capacity,
            last: 0,
        }
    }

    fn refill(&mut self, now: u64) {
        self.level = (self.level + (now - self.last)).min(self.capacity);
        self.last = now;
    }

    fn fits(&self) -> bool {
        self.level >= self.price
    }

    fn verdict(&self, allowed: bool) -> Verdict {
        Verdict {
            allowed,
            remaining: u32::try_from(self.level / self.emission / self.cost)
                .expect("at most the burst"),
            reset: Duration::from_micros(self.capacity - self.level),
            retry_after: (!allowed).then(|| Duration::from_micros(self.price - self.level)),
        }
    }
}

fn verdicts(decision: &rate_limit::Decision) -> Vec<Verdict> {
    decision
        .policies()
        .iter()
        .map(|p| Verdict {
            allowed: p.is_allowed(),
            remaining: p.remaining(),
            reset: p.reset(),
            retry_after: p.retry_after(),
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Params {
    quota: u32,
    period_secs: u64,
    burst: u32,
    cost: u32,
}

fn params() -> impl Strategy<Value = Params> {
    // Periods of seconds and of hours to days: the in-memory store keeps bursts that take
    // up to about an hour to earn back in a narrow table, longer ones in a wide one.
    let period = prop_oneof![1u64..=120, 3_000u64..=200_000];
    (1u32..=40, period, 1u32..=40)
        .prop_flat_map(|(quota, period_secs, burst)| {
            (Just(quota), Just(period_secs), Just(burst), 1..=burst)
        })
        .prop_map(|(quota, period_secs, burst, cost)| Params {
            quota,
            period_secs,
            burst,
            cost,
        })
}

fn policy(name: &'static str, p: &Params) -> Policy {
    Policy::builder(
        name,
        NonZeroU32::new(p.quota).expect("non-zero"),
        Duration::from_secs(p.period_secs),
    )
    .burst(NonZeroU32::new(p.burst).expect("non-zero"))
    .cost(NonZeroU32::new(p.cost).expect("non-zero"))
    .build()
    .expect("a valid configuration")
}

/// A step: how far the clock moves (in units of 1/8 emission interval, so bursts, partial
/// refills and long idles all occur), then which key asks.
fn steps() -> impl Strategy<Value = Vec<(u64, usize)>> {
    let advance = prop_oneof![4 => Just(0u64), 4 => 1u64..=12, 1 => 0u64..=2_000];
    proptest::collection::vec((advance, 0usize..3), 1..120)
}

fn store(clock: &FakeClock) -> MemoryStore<FakeClock> {
    MemoryStore::builder()
        .clock(clock.clone())
        .build()
        .expect("a valid configuration")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn one_policy_matches_the_token_bucket(p in params(), steps in steps()) {
        let clock = FakeClock::new();
        let store = store(&clock);
        let policy = policy("model", &p);
        let mut buckets = vec![Bucket::new(p.quota, p.period_secs, p.burst, p.cost); 3];
        let eighth = buckets[0].emission / 8;
        let mut now = 0;
        for (advance, key) in steps {
            now += advance * eighth.max(1);
            clock.set(Duration::from_micros(now));
            let bucket = &mut buckets[key];
            bucket.refill(now);
            let allowed = bucket.fits();
            if allowed {
                bucket.level -= bucket.price;
            }
            let expected = bucket.verdict(allowed);
            let decision = store.check_sync(&[Check::new(&policy, &[u8::try_from(key).unwrap()])]).unwrap();
            prop_assert_eq!(decision.is_allowed(), allowed);
            prop_assert_eq!(verdicts(&decision), vec![expected]);
        }
    }

    #[test]
    fn two_policies_are_charged_together_or_not_at_all(
        a in params(),
        b in params(),
        steps in steps(),
    ) {
        let clock = FakeClock::new();
        let store = store(&clock);
        let (pa, pb) = (policy("a", &a), policy("b", &b));
        let mut ba = Bucket::new(a.quota, a.period_secs, a.burst, a.cost);
        let mut bb = Bucket::new(b.quota, b.period_secs, b.burst, b.cost);
        let eighth = ba.emission.min(bb.emission) / 8;
        let mut now = 0;
        for (advance, _) in steps {
            now += advance * eighth.max(1);
            clock.set(Duration::from_micros(now));
            ba.refill(now);
            bb.refill(now);
            let (fits_a, fits_b) = (ba.fits(), bb.fits());
            let allowed = fits_a && fits_b;
            if allowed {
                ba.level -= ba.price;
                bb.level -= bb.price;
            }
            let decision = store
                .check_sync(&[Check::new(&pa, "k"), Check::new(&pb, "k")])
                .unwrap();
            prop_assert_eq!(decision.is_allowed(), allowed);
            let mut expected = vec![ba.verdict(fits_a), bb.verdict(fits_b)];
            if allowed {
                expected = vec![ba.verdict(true), bb.verdict(true)];
            }
            prop_assert_eq!(verdicts(&decision), expected);
            if !allowed {
                let wait = decision.retry_after().unwrap();
                let longest = [ba.verdict(fits_a), bb.verdict(fits_b)]
                    .iter()
                    .filter_map(|v| v.retry_after)
                    .max()
                    .unwrap();
                prop_assert_eq!(wait, longest);
            }
        }
    }
}

#[test]
fn a_burst_then_a_steady_trickle_never_passes_burst_plus_rate() {
    // 30 per minute, burst 5: over 10 minutes at most 5 + 300 requests, and exactly that
    // many for a client that asks every 100 ms.
    let clock = FakeClock::new();
    let store = store(&clock);
    let policy = Policy::builder(
        "trickle",
        NonZeroU32::new(30).expect("non-zero"),
        Duration::from_secs(60),
    )
    .burst(NonZeroU32::new(5).expect("non-zero"))
    .build()
    .expect("a valid configuration");
    let mut admitted = 0;
    for _ in 0..=6_000 {
        if store
            .check_sync(&[Check::new(&policy, "k")])
            .unwrap()
            .is_allowed()
        {
            admitted += 1;
        }
        clock.advance(Duration::from_millis(100));
    }
    assert_eq!(admitted, 5 + 300);
}
