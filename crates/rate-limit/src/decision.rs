//! Decisions and how they are rendered on the wire.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Policy;
use crate::gcra::Step;
use crate::policy::Name;

/// The problem type of a 429 answer (draft-ietf-httpapi-ratelimit-headers-11, section 5.1).
pub const QUOTA_EXCEEDED_TYPE: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// How one policy judged one request.
///
/// Holds the raw GCRA numbers; the counts and durations are worked out when asked for,
/// so a check that only needs [`is_allowed`](Self::is_allowed) does no division.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    name: Name,
    requests: u32,
    window: Duration,
    allowed: bool,
    /// Microseconds of credit per request: `emission × cost`.
    price: u64,
    slack: u64,
    reset: u64,
    retry_after: u64,
}

impl PolicyOutcome {
    #[inline]
    pub(crate) fn new(policy: &Policy, step: &Step) -> Self {
        let gcra = policy.gcra();
        Self {
            name: policy.shared_name().clone(),
            requests: policy.requests_per_period(),
            window: policy.period(),
            allowed: step.allowed,
            price: gcra.increment,
            slack: step.slack,
            reset: step.reset,
            retry_after: step.retry_after,
        }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Requests the policy allows per window.
    pub fn quota(&self) -> u32 {
        self.requests
    }

    /// The policy's window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether this policy would admit the request. A request refused by another policy
    /// can have policies that would have admitted it; none of them was charged.
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// Requests this key may still make right now under this policy: after this request
    /// when it was admitted, before it (nothing was charged) when it was refused.
    pub fn remaining(&self) -> u32 {
        // floor(floor(slack / emission) / cost) = floor(slack / (emission × cost)).
        u32::try_from(self.slack / self.price).unwrap_or(u32::MAX)
    }

    /// Time until this key's quota under this policy is fully restored.
    pub fn reset(&self) -> Duration {
        Duration::from_micros(self.reset)
    }

    /// When the policy denied the request: how long until the same request would fit.
    pub fn retry_after(&self) -> Option<Duration> {
        (!self.allowed).then(|| Duration::from_micros(self.retry_after))
    }

    /// The effective window `t` of the `RateLimit` field, in whole seconds rounded up:
    /// the time until the quota is fully restored when the request was admitted, and the
    /// time until a request fits again (nothing is available until then) when it was not.
    pub fn effective_window_secs(&self) -> u64 {
        ceil_secs(self.retry_after().unwrap_or(self.reset()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcomes {
    One(PolicyOutcome),
    Many(Box<[PolicyOutcome]>),
}

/// The answer to a rate-limit check: admitted or not, and each policy's view.
///
/// A check of several policies is all or nothing: the request is admitted only when every
/// policy admits it, and then it is charged to every policy; otherwise nothing is charged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a rate-limit decision must be acted upon"]
pub struct Decision {
    allowed: bool,
    outcomes: Outcomes,
}

impl Decision {
    #[inline]
    pub(crate) fn single(outcome: PolicyOutcome) -> Self {
        Self {
            allowed: outcome.allowed,
            outcomes: Outcomes::One(outcome),
        }
    }

    pub(crate) fn from_outcomes(outcomes: Vec<PolicyOutcome>) -> Self {
        let allowed = outcomes.iter().all(|o| o.allowed);
        let outcomes = match <[PolicyOutcome; 1]>::try_from(outcomes) {
            Ok([one]) => Outcomes::One(one),
            Err(many) => Outcomes::Many(many.into_boxed_slice()),
        };
        Self { allowed, outcomes }
    }

    /// Whether the request was admitted (and charged).
    #[inline]
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// Each policy's view, in the order the policies were checked.
    pub fn policies(&self) -> &[PolicyOutcome] {
        match &self.outcomes {
            Outcomes::One(one) => std::slice::from_ref(one),
            Outcomes::Many(many) => many,
        }
    }

    /// The fewest requests left under any policy (0 for a check of no policies).
    pub fn remaining(&self) -> u32 {
        self.policies()
            .iter()
            .map(PolicyOutcome::remaining)
            .min()
            .unwrap_or(0)
    }

    /// The longest time until a policy's quota is fully restored.
    pub fn reset(&self) -> Duration {
        self.policies()
            .iter()
            .map(PolicyOutcome::reset)
            .max()
            .unwrap_or_default()
    }

    /// For a denied request: how long until it would be admitted (the longest wait among
    /// the policies that denied it). `None` when admitted.
    pub fn retry_after(&self) -> Option<Duration> {
        self.policies()
            .iter()
            .filter_map(PolicyOutcome::retry_after)
            .max()
    }

    /// The `Retry-After` field value (delay-seconds, rounded up, at least 1) for a denied
    /// request; `None` when admitted.
    pub fn retry_after_header(&self) -> Option<String> {
        self.retry_after()
            .map(|wait| ceil_secs(wait).max(1).to_string())
    }

    /// The `RateLimit-Policy` field value: `"name";q=<requests>;w=<seconds>` for each
    /// policy, as a structured-field list (draft-ietf-httpapi-ratelimit-headers-11, section 3).
    pub fn rate_limit_policy_header(&self) -> String {
        self.structured_list(|p| ('q', u64::from(p.quota()), 'w', p.window.as_secs()))
    }

    /// The `RateLimit` field value: `"name";r=<remaining>;t=<seconds>` for each policy
    /// (draft-ietf-httpapi-ratelimit-headers-11, section 4); see
    /// [`PolicyOutcome::effective_window_secs`] for `t`.
    pub fn rate_limit_header(&self) -> String {
        self.structured_list(|p| {
            (
                'r',
                u64::from(p.remaining()),
                't',
                p.effective_window_secs(),
            )
        })
    }

    /// A structured-field list with one item per policy: the name as a string, then two
    /// integer parameters.
    fn structured_list(&self, params: impl Fn(&PolicyOutcome) -> (char, u64, char, u64)) -> String {
        let mut out = String::new();
        for (i, p) in self.policies().iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let (k1, v1, k2, v2) = params(p);
            // Policy names are restricted to A-Z a-z 0-9 . _ -, which need no escaping
            // inside a structured-field string.
            let _ = write!(out, "\"{}\";{k1}={v1};{k2}={v2}", p.name());
        }
        out
    }

    /// Writes the response fields for this decision into `headers`: appends
    /// `RateLimit-Policy` and `RateLimit` for its policies (after any fields of those
    /// names already there), and sets `Retry-After` when it denies. The fields the layer
    /// sends, for a handler that checks a limiter itself (a
    /// [`LoginLimiter`](crate::LoginLimiter), say). A decision without policies writes
    /// nothing.
    #[cfg(feature = "tower")]
    pub fn write_headers(&self, headers: &mut http::HeaderMap) {
        use http::HeaderValue;
        use http::header::RETRY_AFTER;

        use crate::layer::{RATELIMIT, RATELIMIT_POLICY};

        if self.policies().is_empty() {
            return;
        }
        // Every value is built from integers and from names restricted to
        // A-Z a-z 0-9 . _ -, so it is always a valid field value.
        if let Some(value) = self
            .retry_after_header()
            .and_then(|v| HeaderValue::try_from(v).ok())
        {
            headers.insert(RETRY_AFTER, value);
        }
        if let Ok(value) = HeaderValue::try_from(self.rate_limit_policy_header()) {
            headers.append(RATELIMIT_POLICY.clone(), value);
        }
        if let Ok(value) = HeaderValue::try_from(self.rate_limit_header()) {
            headers.append(RATELIMIT.clone(), value);
        }
    }

    /// An RFC 9457 `application/problem+json` body for a 429 answer, of the
    /// [`QUOTA_EXCEEDED_TYPE`] problem type, naming the policies that denied the request
    /// in `violated-policies`.
    pub fn problem_json(&self) -> String {
        let mut out = format!(
            "{{\"type\":\"{QUOTA_EXCEEDED_TYPE}\",\
             \"title\":\"Request cannot be satisfied as assigned quota has been exceeded\",\
             \"status\":429"
        );
        if let Some(wait) = self.retry_after_header() {
            let _ = write!(out, ",\"detail\":\"Retry after {wait} seconds.\"");
        }
        out.push_str(",\"violated-policies\":[");
        let denied = self.policies().iter().filter(|p| !p.allowed);
        for (i, p) in denied.enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Names need no JSON escaping: see `rate_limit_policy_header`.
            let _ = write!(out, "\"{}\"", p.name());
        }
        out.push_str("]}");
        out
    }
}

/// Whole seconds in `d`, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcra::Step;
    use std::num::NonZeroU32;

    fn outcome(
        policy: &Policy,
        allowed: bool,
        remaining_units: u64,
        reset: u64,
        retry: u64,
    ) -> PolicyOutcome {
        PolicyOutcome::new(
            policy,
            &Step {
                allowed,
                tat: 0,
                slack: remaining_units * policy.gcra().emission,
                reset,
                retry_after: retry,
            },
        )
    }

    #[test]
    fn admitted_decisions_render_policy_and_limit_fields() {
        let d = Decision::from_outcomes(vec![
            outcome(&Policy::api_origin(), true, 99, 600_000, 0),
            outcome(&Policy::upload(), true, 19, 180_000_000, 0),
        ]);
        assert!(d.is_allowed());
        assert_eq!(d.retry_after_header(), None);
        assert_eq!(
            d.rate_limit_policy_header(),
            "\"api-origin\";q=100;w=60, \"upload\";q=20;w=3600"
        );
        assert_eq!(
            d.rate_limit_header(),
            "\"api-origin\";r=99;t=1, \"upload\";r=19;t=180"
        );
        assert_eq!(d.remaining(), 19);
        assert_eq!(d.reset(), Duration::from_secs(180));
    }

    #[test]
    fn denied_decisions_carry_retry_after_and_name_the_violated_policies() {
        let d = Decision::from_outcomes(vec![
            outcome(&Policy::api_origin(), true, 50, 30_000_000, 0),
            outcome(&Policy::login(), false, 0, 900_000_000, 89_500_000),
        ]);
        assert!(!d.is_allowed());
        assert_eq!(d.retry_after(), Some(Duration::from_micros(89_500_000)));
        assert_eq!(d.retry_after_header().as_deref(), Some("90"));
        assert_eq!(
            d.rate_limit_header(),
            "\"api-origin\";r=50;t=30, \"login\";r=0;t=90"
        );
        let body: serde_json::Value = serde_json::from_str(&d.problem_json()).unwrap();
        assert_eq!(body["type"], QUOTA_EXCEEDED_TYPE);
        assert_eq!(body["status"], 429);
        assert_eq!(body["violated-policies"], serde_json::json!(["login"]));
        assert_eq!(body["detail"], "Retry after 90 seconds.");
    }

    #[cfg(feature = "tower")]
    #[test]
    fn write_headers_adds_retry_after_only_to_a_denial() {
        let admitted = Decision::single(outcome(&Policy::api_origin(), true, 50, 30_000_000, 0));
        let mut headers = http::HeaderMap::new();
        admitted.write_headers(&mut headers);
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers["ratelimit-policy"], "\"api-origin\";q=100;w=60");
        assert_eq!(headers["ratelimit"], "\"api-origin\";r=50;t=30");

        let denied = Decision::from_outcomes(vec![
            outcome(&Policy::api_origin(), true, 50, 30_000_000, 0),
            outcome(&Policy::login(), false, 0, 900_000_000, 89_500_000),
        ]);
        let mut headers = http::HeaderMap::new();
        denied.write_headers(&mut headers);
        denied.write_headers(&mut headers);
        // The RateLimit fields add up (one list item per policy, per writer), while
        // there is only ever one Retry-After.
        assert_eq!(headers.get_all("ratelimit").iter().count(), 2);
        assert_eq!(headers.get_all("ratelimit-policy").iter().count(), 2);
        assert_eq!(headers.get_all(http::header::RETRY_AFTER).iter().count(), 1);
        assert_eq!(headers[http::header::RETRY_AFTER], "90");
        assert_eq!(headers["ratelimit"], denied.rate_limit_header().as_str());
        assert_eq!(
            headers["ratelimit-policy"],
            denied.rate_limit_policy_header().as_str()
        );

        let mut headers = http::HeaderMap::new();
        Decision::from_outcomes(Vec::new()).write_headers(&mut headers);
        assert!(headers.is_empty());
    }

    #[test]
    fn remaining_is_counted_in_requests_when_a_request_costs_several_units() {
        let p = Policy::builder(
            "heavy",
            NonZeroU32::new(10).unwrap(),
            Duration::from_secs(10),
        )
        .cost(NonZeroU32::new(3).unwrap())
        .build()
        .unwrap();
        let d = Decision::single(outcome(&p, true, 7, 3_000_000, 0));
        assert_eq!(d.rate_limit_policy_header(), "\"heavy\";q=3;w=10");
        assert_eq!(d.rate_limit_header(), "\"heavy\";r=2;t=3");
    }

    #[test]
    fn a_sub_second_wait_still_says_one_second() {
        let d = Decision::single(outcome(&Policy::api_origin(), false, 0, 600_000, 1));
        assert_eq!(d.retry_after_header().as_deref(), Some("1"));
        assert_eq!(d.rate_limit_header(), "\"api-origin\";r=0;t=1");
    }
}
