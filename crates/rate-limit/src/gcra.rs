//! The generic cell rate algorithm, on integer microseconds.
//!
//! State per (policy, key) is one number, the theoretical arrival time (TAT): the time at
//! which the key's bucket would be full again. A request costing `increment` microseconds
//! of credit is admitted when `max(TAT, now) + increment <= now + tolerance`, and then
//! moves the TAT there. A TAT at or before `now` means a full bucket, which is why an
//! expired entry can be dropped without changing any decision.
//!
//! A stored TAT is also read as at most `now + tolerance`: an empty bucket. Admissions
//! never store more, so a TAT beyond that was stored under a looser policy of the same
//! name (a longer period, a larger burst) or by a clock that ran ahead. The stores write
//! the capped value back even when they refuse ([`Gcra::capped`]), so a key then waits
//! what the policy in force says, not what the earlier one did.
//!
//! The Redis script implements the same admission rule in Lua; both stores then run
//! [`Gcra::step`] to describe the decision, so the two backends agree to the microsecond.

/// One policy's GCRA parameters, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Time to earn back one unit of quota: `ceil(period / quota)`.
    pub(crate) emission: u64,
    /// How far ahead of now the TAT may run: `emission × burst`.
    pub(crate) tolerance: u64,
    /// Credit one request consumes: `emission × cost`.
    pub(crate) increment: u64,
}

/// The outcome of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// Whether the request fits.
    pub(crate) allowed: bool,
    /// The TAT to store when every policy of the check admitted the request.
    pub(crate) tat: u64,
    /// Credit left after this step, in microseconds (`emission` per unit of quota).
    pub(crate) slack: u64,
    /// Microseconds until the bucket is full again.
    pub(crate) reset: u64,
    /// Microseconds until this request would fit; zero when it fits now.
    pub(crate) retry_after: u64,
}

impl Gcra {
    /// The TAT to store in place of `stored` when it runs further ahead of `now` than
    /// the tolerance allows; `None` when it does not.
    #[inline]
    pub(crate) fn capped(&self, stored: u64, now: u64) -> Option<u64> {
        let limit = now.saturating_add(self.tolerance);
        (stored > limit).then_some(limit)
    }

    /// Decides one request against the `stored` TAT (zero when the key has no state).
    #[inline]
    pub(crate) fn step(&self, stored: u64, now: u64) -> Step {
        let limit = now.saturating_add(self.tolerance);
        let tat = stored.clamp(now, limit);
        let new_tat = tat.saturating_add(self.increment);
        if new_tat <= limit {
            Step {
                allowed: true,
                tat: new_tat,
                slack: limit - new_tat,
                reset: new_tat - now,
                retry_after: 0,
            }
        } else {
            Step {
                allowed: false,
                tat,
                slack: limit.saturating_sub(tat),
                reset: tat - now,
                retry_after: new_tat - limit,
            }
        }
    }

    /// [`step`](Self::step) as reported when the request was refused, by this policy or
    /// by another one checked with it: nothing is charged, so a policy that would have
    /// admitted the request reports what it has left before any charge.
    #[inline]
    pub(crate) fn refused(&self, stored: u64, now: u64) -> Step {
        let step = self.step(stored, now);
        if !step.allowed {
            return step;
        }
        let limit = now.saturating_add(self.tolerance);
        let tat = stored.clamp(now, limit);
        Step {
            allowed: true,
            tat,
            slack: limit - tat,
            reset: tat - now,
            retry_after: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Gcra = Gcra {
        emission: 10,
        tolerance: 30,
        increment: 10,
    };

    #[test]
    fn a_fresh_key_gets_its_burst_then_waits_one_emission() {
        let mut tat = 0;
        for left in [2, 1, 0] {
            let step = G.step(tat, 100);
            assert!(step.allowed);
            assert_eq!(step.slack / G.emission, left);
            tat = step.tat;
        }
        let denied = G.step(tat, 100);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, 10);
        assert_eq!(denied.reset, 30);
        assert_eq!(denied.tat, tat, "a denial must not move the TAT");
        assert!(G.step(tat, 110).allowed);
    }

    #[test]
    fn a_refused_request_charges_nothing_and_reports_the_uncharged_state() {
        let fits = G.refused(0, 100);
        assert!(fits.allowed);
        assert_eq!((fits.slack, fits.reset, fits.tat), (30, 0, 100));
        assert_eq!(G.refused(130, 100), G.step(130, 100));
    }

    #[test]
    fn a_tat_beyond_the_tolerance_counts_as_an_empty_bucket() {
        let far = G.step(1_000, 100);
        assert!(!far.allowed);
        assert_eq!(far, G.step(130, 100));
        assert_eq!((far.retry_after, far.reset), (10, 30));
        assert_eq!(G.refused(1_000, 100), far);
    }

    #[test]
    fn a_stale_tat_counts_as_a_full_bucket() {
        assert_eq!(G.step(5, 1_000), G.step(0, 1_000));
    }
}
