//! Timestamp windows: too old and too far in the future are separate rejections with
//! separate limits.

use webhook_verify::{ManualClock, Rejection};

use crate::{NOW, case, rejection, secs};

#[test]
fn too_old_and_too_far_in_the_future_are_rejected_separately() {
    for label in [
        "standard v1",
        "stripe",
        "slack",
        "zoom",
        "discord",
        "linear",
        "generic",
    ] {
        let case = case(label);
        let verifier = case
            .builder(&ManualClock::new(NOW))
            .max_age(secs(300))
            .max_future_skew(secs(30))
            .build()
            .unwrap();
        let at = |shift: i64| {
            let body = case.body(NOW + shift);
            let headers = case.sign(&body, NOW + shift);
            case.check(&verifier, &headers, &body)
        };
        at(-300).unwrap_or_else(|err| panic!("{label} at the max age: {err}"));
        assert_eq!(rejection(at(-301)), Rejection::TimestampTooOld, "{label}");
        at(30).unwrap_or_else(|err| panic!("{label} at the max skew: {err}"));
        assert_eq!(rejection(at(31)), Rejection::TimestampInFuture, "{label}");
        assert_eq!(
            rejection(at(-100_000)),
            Rejection::TimestampTooOld,
            "{label}"
        );
        assert_eq!(
            rejection(at(100_000)),
            Rejection::TimestampInFuture,
            "{label}"
        );
    }
}

#[test]
fn schemes_without_a_timestamp_ignore_the_clock() {
    for label in ["github", "jira", "shopify", "twilio"] {
        let case = case(label);
        assert!(!case.scheme.has_timestamp());
        let body = case.body(NOW);
        let headers = case.sign(&body, NOW);
        let clock = ManualClock::new(NOW + 10 * 365 * 86_400);
        let verifier = case.builder(&clock).build().unwrap();
        case.check(&verifier, &headers, &body).unwrap();
    }
}

#[test]
fn linear_defaults_to_its_sixty_second_window() {
    let case = case("linear");
    let verifier = case.verifier();
    let body = case.body(NOW - 60);
    case.check(&verifier, &case.sign(&body, NOW - 60), &body)
        .unwrap();
    let body = case.body(NOW - 61);
    assert_eq!(
        rejection(case.check(&verifier, &case.sign(&body, NOW - 61), &body)),
        Rejection::TimestampTooOld
    );
}
