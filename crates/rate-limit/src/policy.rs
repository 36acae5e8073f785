//! Named GCRA policies and the presets.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::Error;
use crate::gcra::Gcra;

/// The longest a burst may take to earn back: ten years. Keeps every time value well
/// inside the 2^53 integers that Redis's Lua numbers hold exactly.
const MAX_TOLERANCE_MICROS: u64 = 10 * 366 * 24 * 3600 * 1_000_000;
/// Policy names are at most this long.
const MAX_NAME_LEN: usize = 64;

/// A rate-limit policy: `quota` units of credit per `period`, at most `burst` units spent
/// at once, `cost` units per request. The name identifies the policy's counters in a
/// store and in the `RateLimit-Policy` and `RateLimit` response fields.
///
/// The limiter is GCRA: credit comes back continuously, one unit every `period / quota`
/// (rounded up to the microsecond, so a policy never admits more than it says). A key
/// unseen for a while starts with a full bucket of `burst` units, so over any stretch of
/// time `d` a key is admitted at most `burst + quota × d / period` units.
///
/// # Example
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use rate_limit::Policy;
///
/// let search = Policy::builder("search", NonZeroU32::new(30).unwrap(), Duration::from_secs(60))
///     .burst(NonZeroU32::new(5).unwrap())
///     .build()?;
/// assert_eq!(search.burst().get(), 5);
/// # Ok::<(), rate_limit::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Policy {
    name: Name,
    salt: u64,
    quota: NonZeroU32,
    period: Duration,
    burst: NonZeroU32,
    cost: NonZeroU32,
    /// `quota / cost`, worked out once: decisions report it on every check.
    requests: u32,
    gcra: Gcra,
}

/// A policy name: borrowed for presets and literals, shared when built at run time, so
/// that copying it into every decision never allocates.
#[derive(Debug, Clone)]
pub(crate) enum Name {
    Static(&'static str),
    Shared(Arc<str>),
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl Name {
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Static(s) => s,
            Self::Shared(s) => s,
        }
    }
}

impl From<Cow<'static, str>> for Name {
    fn from(name: Cow<'static, str>) -> Self {
        match name {
            Cow::Borrowed(s) => Self::Static(s),
            Cow::Owned(s) => Self::Shared(s.into()),
        }
    }
}

/// A 64-bit salt per policy name, from a keyed hash under a random key drawn once per
/// process: the in-memory store mixes it into each key's fingerprint, so policies keep
/// separate counters without hashing the name on every check.
fn name_salt(name: &str) -> u64 {
    static SALT_KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    SALT_KEY.hash_one(name)
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name())
            .field("quota", &self.quota)
            .field("period", &self.period)
            .field("burst", &self.burst)
            .field("cost", &self.cost)
            .finish()
    }
}

const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("a preset quota is zero"),
    }
}

impl Policy {
    /// Starts a policy of `quota` units per `period`, with a burst of `quota` and a cost of
    /// one unit per request unless the builder says otherwise.
    pub fn builder(
        name: impl Into<Cow<'static, str>>,
        quota: NonZeroU32,
        period: Duration,
    ) -> PolicyBuilder {
        PolicyBuilder {
            name: name.into(),
            quota,
            period,
            burst: None,
            cost: NonZeroU32::MIN,
        }
    }

    /// `api-origin`: 100 requests per minute, the global ceiling for each API origin.
    pub fn api_origin() -> Self {
        Self::preset("api-origin", nonzero(100), 60)
    }

    /// `ai-extraction`: 10 requests per hour, for each user.
    pub fn ai_extraction() -> Self {
        Self::preset("ai-extraction", nonzero(10), 3600)
    }

    /// `upload`: 20 requests per hour, for each user.
    pub fn upload() -> Self {
        Self::preset("upload", nonzero(20), 3600)
    }

    /// `login`: 10 attempts per 15 minutes, for each client IP. Meant for
    /// [`LoginLimiter`](crate::LoginLimiter), which counts failed attempts only.
    pub fn login() -> Self {
        Self::preset("login", nonzero(10), 15 * 60)
    }

    /// A preset: `quota` per `seconds`, burst `quota`, cost 1. The presets' numbers are
    /// far inside every bound [`PolicyBuilder::build`] checks (a unit test holds them to it).
    fn preset(name: &'static str, quota: NonZeroU32, seconds: u64) -> Self {
        let period_micros = seconds * 1_000_000;
        let emission = period_micros.div_ceil(u64::from(quota.get()));
        Self {
            name: Name::Static(name),
            salt: name_salt(name),
            quota,
            period: Duration::from_secs(seconds),
            burst: quota,
            cost: NonZeroU32::MIN,
            requests: quota.get(),
            gcra: Gcra {
                emission,
                tolerance: emission * u64::from(quota.get()),
                increment: emission,
            },
        }
    }

    /// The policy's name.
    #[inline]
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Units of credit earned back per [`period`](Self::period).
    #[inline]
    pub fn quota(&self) -> NonZeroU32 {
        self.quota
    }

    /// The window the quota is stated over, a whole number of seconds.
    #[inline]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The most units a key may spend at once.
    #[inline]
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    /// Units one request consumes.
    #[inline]
    pub fn cost(&self) -> NonZeroU32 {
        self.cost
    }

    /// Requests per period (`quota / cost`, rounded down): the `q` of `RateLimit-Policy`.
    #[inline]
    pub fn requests_per_period(&self) -> u32 {
        self.requests
    }

    #[inline]
    pub(crate) fn shared_name(&self) -> &Name {
        &self.name
    }

    #[inline]
    pub(crate) fn salt(&self) -> u64 {
        self.salt
    }

    #[inline]
    pub(crate) fn gcra(&self) -> Gcra {
        self.gcra
    }
}

/// Builds a [`Policy`]; see [`Policy::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder {
    name: Cow<'static, str>,
    quota: NonZeroU32,
    period: Duration,
    burst: Option<NonZeroU32>,
    cost: NonZeroU32,
}

impl PolicyBuilder {
    /// The most units a key may spend at once (default: the quota).
    pub fn burst(mut self, burst: NonZeroU32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Units each request consumes (default: 1).
    pub fn cost(mut self, cost: NonZeroU32) -> Self {
        self.cost = cost;
        self
    }

    /// Checks the parameters and builds the policy.
    ///
    /// # Errors
    ///
    /// [`Error::Policy`], saying what to fix, when the name is not 1 to 64 characters from
    /// `A-Z a-z 0-9 . _ -`; the period is not a whole, non-zero number of seconds (the
    /// `RateLimit-Policy` field cannot state anything else); the quota earns more than one
    /// unit per microsecond; the cost exceeds the burst (no request could ever be admitted);
    /// or a full burst takes more than ten years to earn back.
    pub fn build(self) -> Result<Policy, Error> {
        let Self {
            name,
            quota,
            period,
            burst,
            cost,
        } = self;
        check_name(&name)?;
        if period.is_zero() || period.subsec_nanos() != 0 {
            return Err(Error::Policy(format!(
                "policy {name:?}: the period must be a whole, non-zero number of seconds, got {period:?}"
            )));
        }
        let period_micros = period
            .as_secs()
            .checked_mul(1_000_000)
            .ok_or_else(|| Error::Policy(format!("policy {name:?}: the period is too long")))?;
        if u64::from(quota.get()) > period_micros {
            return Err(Error::Policy(format!(
                "policy {name:?}: a quota of {quota} per {}s earns more than one unit per microsecond",
                period.as_secs()
            )));
        }
        let burst = burst.unwrap_or(quota);
        if cost > burst {
            return Err(Error::Policy(format!(
                "policy {name:?}: the cost per request ({cost}) exceeds the burst ({burst}), so no request could ever be admitted"
            )));
        }
        let emission = period_micros.div_ceil(u64::from(quota.get()));
        let tolerance = emission
            .checked_mul(u64::from(burst.get()))
            .filter(|t| *t <= MAX_TOLERANCE_MICROS)
            .ok_or_else(|| {
                Error::Policy(format!(
                    "policy {name:?}: a full burst of {burst} would take more than ten years to earn back"
                ))
            })?;
        Ok(Policy {
            salt: name_salt(&name),
            name: name.into(),
            quota,
            period,
            burst,
            cost,
            requests: quota.get() / cost.get(),
            gcra: Gcra {
                emission,
                tolerance,
                // cost <= burst, so this is at most the tolerance.
                increment: emission * u64::from(cost.get()),
            },
        })
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Policy(format!(
            "policy names are 1 to {MAX_NAME_LEN} characters from A-Z a-z 0-9 . _ -, got {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn presets_are_what_the_builder_would_make() {
        for preset in [
            Policy::api_origin(),
            Policy::ai_extraction(),
            Policy::upload(),
            Policy::login(),
        ] {
            let built = Policy::builder(preset.name().to_owned(), preset.quota(), preset.period())
                .build()
                .unwrap();
            assert_eq!(built, preset);
        }
        let presets = [
            (Policy::api_origin(), "api-origin", 100, 60),
            (Policy::ai_extraction(), "ai-extraction", 10, 3600),
            (Policy::upload(), "upload", 20, 3600),
            (Policy::login(), "login", 10, 900),
        ];
        for (policy, name, quota, secs) in presets {
            assert_eq!(policy.name(), name);
            assert_eq!(policy.quota().get(), quota);
            assert_eq!(policy.burst().get(), quota);
            assert_eq!(policy.period(), Duration::from_secs(secs));
            assert_eq!(policy.requests_per_period(), quota);
        }
    }

    #[test]
    fn emission_rounds_up_so_the_rate_never_exceeds_the_quota() {
        let p = Policy::builder("odd", nz(3), Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(p.gcra().emission, 333_334);
        assert!(p.gcra().emission * 3 >= 1_000_000);
    }

    #[test]
    fn bad_parameters_are_refused_with_what_to_fix() {
        let sec = Duration::from_secs(1);
        let cases = [
            (Policy::builder("", nz(1), sec), "policy names"),
            (Policy::builder("a:b", nz(1), sec), "policy names"),
            (Policy::builder("x".repeat(65), nz(1), sec), "policy names"),
            (
                Policy::builder("p", nz(1), Duration::from_millis(1500)),
                "whole, non-zero",
            ),
            (
                Policy::builder("p", nz(1), Duration::ZERO),
                "whole, non-zero",
            ),
            (
                Policy::builder("p", nz(2_000_000), sec),
                "more than one unit per microsecond",
            ),
            (
                Policy::builder("p", nz(10), sec).cost(nz(11)),
                "exceeds the burst",
            ),
            (
                Policy::builder("p", nz(1), Duration::from_secs(86_400 * 365)).burst(nz(11)),
                "ten years",
            ),
        ];
        for (builder, needle) in cases {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
