//! The policy evaluation table and the lock-out guard.

use mfa::{Aal, Error, Method, Next, Policy, UserFactors};

const NOW: u64 = 1_000_000;
const DAY: u64 = 86_400;

/// One row: name, policy, enrolled factors, completed methods, expected next, expected AAL.
type Row = (
    &'static str,
    Policy,
    UserFactors,
    Vec<Method>,
    Next,
    Option<Aal>,
);

fn none() -> UserFactors {
    UserFactors::default()
}

fn totp_only() -> UserFactors {
    UserFactors {
        totp: true,
        ..UserFactors::default()
    }
}

fn everything() -> UserFactors {
    UserFactors {
        totp: true,
        passkeys: 1,
        security_keys: 2,
        recovery_codes: 10,
    }
}

#[test]
fn evaluation_table() {
    use Method::*;
    let required_since_yesterday = Policy::required(NOW - DAY, 7 * DAY);
    let required_grace_over = Policy::required(NOW - 8 * DAY, 7 * DAY);
    let challenge = |methods: Vec<Method>| Next::Challenge { methods };
    let rows: Vec<Row> = vec![
        (
            "off, nothing enrolled",
            Policy::off(),
            none(),
            vec![Password],
            Next::Nothing,
            Some(Aal::Aal1),
        ),
        (
            "off, enrolled: no challenge",
            Policy::off(),
            totp_only(),
            vec![Password],
            Next::Nothing,
            Some(Aal::Aal1),
        ),
        (
            "optional, not enrolled",
            Policy::optional(),
            none(),
            vec![Password],
            Next::Nothing,
            Some(Aal::Aal1),
        ),
        (
            "optional, enrolled",
            Policy::optional(),
            totp_only(),
            vec![Password],
            challenge(vec![Totp]),
            Some(Aal::Aal1),
        ),
        (
            "optional, enrolled, done",
            Policy::optional(),
            totp_only(),
            vec![Password, Totp],
            Next::Nothing,
            Some(Aal::Aal2),
        ),
        (
            "required, in grace, not enrolled",
            required_since_yesterday,
            none(),
            vec![Password],
            Next::EnrollBy {
                deadline: NOW + 6 * DAY,
            },
            Some(Aal::Aal1),
        ),
        (
            "required, in grace, enrolled",
            required_since_yesterday,
            totp_only(),
            vec![Password],
            challenge(vec![Totp]),
            Some(Aal::Aal1),
        ),
        (
            "required, after grace, not enrolled",
            required_grace_over,
            none(),
            vec![Password],
            Next::EnrollNow,
            Some(Aal::Aal1),
        ),
        (
            "required, after grace, enrolled",
            required_grace_over,
            everything(),
            vec![Password],
            challenge(vec![Passkey, SecurityKey, Totp, RecoveryCode]),
            Some(Aal::Aal1),
        ),
        (
            "required, after grace, recovery code",
            required_grace_over,
            everything(),
            vec![Password, RecoveryCode],
            Next::Nothing,
            Some(Aal::Aal2),
        ),
        (
            "required, passkey alone",
            required_grace_over,
            everything(),
            vec![Passkey],
            Next::Nothing,
            Some(Aal::Aal2),
        ),
        (
            "required, password + security key",
            required_grace_over,
            everything(),
            vec![Password, SecurityKey],
            Next::Nothing,
            // Not AAL3: nothing proves an unattested security key is hardware.
            Some(Aal::Aal2),
        ),
        (
            "required, nothing done yet",
            required_grace_over,
            totp_only(),
            vec![],
            challenge(vec![Totp]),
            None,
        ),
        (
            "required, zero grace",
            Policy::required(NOW, 0),
            none(),
            vec![Password],
            Next::EnrollNow,
            Some(Aal::Aal1),
        ),
        (
            "required, grace ends exactly now",
            Policy::required(NOW - DAY, DAY),
            none(),
            vec![Password],
            Next::EnrollNow,
            Some(Aal::Aal1),
        ),
        (
            "required, only recovery codes left",
            required_grace_over,
            UserFactors {
                recovery_codes: 3,
                ..UserFactors::default()
            },
            vec![Password],
            challenge(vec![RecoveryCode]),
            Some(Aal::Aal1),
        ),
    ];
    for (name, policy, factors, completed, next, aal) in rows {
        let evaluation = policy.evaluate(&factors, &completed, NOW);
        assert_eq!(evaluation.next, next, "{name}");
        assert_eq!(evaluation.aal, aal, "{name}");
    }
}

#[test]
fn a_policy_change_never_strands_the_last_owner() {
    let current = Policy::optional();
    let owner_without_backup = totp_only();
    let owner_with_codes = UserFactors {
        recovery_codes: 10,
        ..totp_only()
    };
    // Required at once, and no owner could recover from losing their authenticator.
    let err = current
        .check_change(&Policy::required(NOW, 0), &[none(), owner_without_backup])
        .unwrap_err();
    assert!(matches!(err, Error::WouldLockOut(_)));
    assert!(
        err.to_string().contains("grace period"),
        "says the way back: {err}"
    );
    // With a grace period, or an owner with a backup, the change goes through.
    current
        .check_change(&Policy::required(NOW, 7 * DAY), &[none()])
        .unwrap();
    current
        .check_change(&Policy::required(NOW, 0), &[none(), owner_with_codes])
        .unwrap();
    // No owners on record at all: refused.
    assert!(
        current
            .check_change(&Policy::required(NOW, DAY), &[])
            .is_err()
    );
    // Relaxing is always allowed.
    Policy::required(NOW, 0)
        .check_change(&Policy::off(), &[])
        .unwrap();
    // And evaluation never refuses enrollment: the worst case is "enroll now".
    let evaluation = Policy::required(NOW, 0).evaluate(&none(), &[Method::Password], NOW + DAY);
    assert_eq!(evaluation.next, Next::EnrollNow);
}
