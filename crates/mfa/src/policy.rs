//! The instance-wide MFA policy and its evaluation.

use crate::Error;

/// A way of authenticating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Method {
    /// A password (the first factor).
    Password,
    /// A TOTP code.
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// A passkey with user verification: multi-factor on its own.
    Passkey,
    /// A security key used as a second factor (registered without attestation, so not
    /// shown to be hardware).
    SecurityKey,
}

/// Authenticator assurance level (NIST SP 800-63B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aal {
    /// One factor.
    Aal1,
    /// Two factors, or a multi-factor authenticator (a passkey).
    Aal2,
    /// A phishing-resistant authenticator shown to keep its key in hardware, with a second
    /// factor. This crate never reports it: security keys are registered without
    /// attestation, which is what would show it.
    Aal3,
}

impl Aal {
    /// The level as a number (1 to 3), as `session-tokens` records it.
    pub fn level(self) -> u8 {
        match self {
            Self::Aal1 => 1,
            Self::Aal2 => 2,
            Self::Aal3 => 3,
        }
    }
}

/// What a user has enrolled (see [`crate::Mfa::factors`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserFactors {
    /// A confirmed TOTP factor.
    pub totp: bool,
    /// Registered passkeys.
    pub passkeys: usize,
    /// Registered security keys.
    pub security_keys: usize,
    /// Unused recovery codes.
    pub recovery_codes: usize,
}

impl UserFactors {
    /// Whether the user has any second factor (recovery codes alone do not count).
    pub fn has_mfa(&self) -> bool {
        self.totp || self.passkeys > 0 || self.security_keys > 0
    }

    /// Whether the user has a way back if one authenticator is lost: recovery codes or a
    /// second authenticator.
    pub fn has_backup(&self) -> bool {
        let authenticators = usize::from(self.totp) + self.passkeys + self.security_keys;
        self.has_mfa() && (self.recovery_codes > 0 || authenticators >= 2)
    }

    fn second_factors(&self) -> Vec<Method> {
        let mut methods = Vec::new();
        if self.passkeys > 0 {
            methods.push(Method::Passkey);
        }
        if self.security_keys > 0 {
            methods.push(Method::SecurityKey);
        }
        if self.totp {
            methods.push(Method::Totp);
        }
        if self.recovery_codes > 0 {
            methods.push(Method::RecoveryCode);
        }
        methods
    }
}

/// What the user must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Nothing: the session may proceed.
    Nothing,
    /// Proceed, but ask the user to enroll a second factor before `deadline` (Unix s).
    EnrollBy {
        /// The end of the grace period.
        deadline: u64,
    },
    /// The grace period is over: the session may only enroll a second factor (the user
    /// is not locked out: enrolling is always allowed).
    EnrollNow,
    /// Complete a challenge with one of these methods (strongest first).
    Challenge {
        /// The methods the user has enrolled.
        methods: Vec<Method>,
    },
}

/// The result of [`Policy::evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Evaluation {
    /// What the user must do next.
    pub next: Next,
    /// The assurance level reached by the methods completed so far (`None`: nothing yet).
    pub aal: Option<Aal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Optional,
    Required { since: u64, grace: u64 },
}

/// The instance-wide MFA policy: off, optional, or required with a grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    mode: Mode,
}

/// The AAL reached by the methods completed in this sign-in.
///
/// Never AAL3: that needs an authenticator proven to keep its key in hardware, which only
/// verified attestation shows, and security keys are registered without it (any
/// authenticator the browser offers is accepted, a synced passkey or a software token
/// included). A security key after a password or passkey is AAL2.
pub(crate) fn aal(completed: &[Method]) -> Option<Aal> {
    let has = |m| completed.contains(&m);
    if has(Method::Passkey)
        || (has(Method::Password)
            && (has(Method::Totp) || has(Method::RecoveryCode) || has(Method::SecurityKey)))
    {
        Some(Aal::Aal2)
    } else if completed.is_empty() {
        None
    } else {
        Some(Aal::Aal1)
    }
}

impl Policy {
    /// MFA is not used: no challenges, no enrollment prompts.
    pub fn off() -> Self {
        Self { mode: Mode::Off }
    }

    /// Users may enroll; those who did are challenged.
    pub fn optional() -> Self {
        Self {
            mode: Mode::Optional,
        }
    }

    /// Every user must use MFA. Users without a second factor may sign in until
    /// `since + grace` (Unix s) and are then limited to enrolling one.
    pub fn required(since: u64, grace: u64) -> Self {
        Self {
            mode: Mode::Required { since, grace },
        }
    }

    /// Whether the policy requires MFA.
    pub fn is_required(&self) -> bool {
        matches!(self.mode, Mode::Required { .. })
    }

    /// What a user with `factors`, who completed `completed` in this sign-in, must do next
    /// at time `now`, and the AAL reached.
    ///
    /// | policy | enrolled | AAL2 reached | next |
    /// |---|---|---|---|
    /// | off | any | any | nothing |
    /// | optional / required | yes | no | challenge with the enrolled methods |
    /// | optional / required | any | yes | nothing |
    /// | optional | no | no | nothing |
    /// | required, within grace | no | no | enroll by the deadline |
    /// | required, after grace | no | no | enroll now (nothing else) |
    pub fn evaluate(&self, factors: &UserFactors, completed: &[Method], now: u64) -> Evaluation {
        let aal = aal(completed);
        let satisfied = aal.is_some_and(|a| a >= Aal::Aal2);
        let methods = factors.second_factors();
        let next = match self.mode {
            Mode::Off => Next::Nothing,
            _ if satisfied => Next::Nothing,
            _ if !methods.is_empty() => Next::Challenge { methods },
            Mode::Optional => Next::Nothing,
            Mode::Required { since, grace } => {
                let deadline = since.saturating_add(grace);
                if now < deadline {
                    Next::EnrollBy { deadline }
                } else {
                    Next::EnrollNow
                }
            }
        };
        Evaluation { next, aal }
    }

    /// Checks a change from this policy to `next` against the instance's owners.
    ///
    /// A change to *required* is refused when no owner has a second factor *with a
    /// backup* (recovery codes or a second authenticator) and the new policy gives no
    /// grace period: the owners would be limited to enrolling at once, with nothing to
    /// fall back on. The way back, documented in the crate docs, is to enroll and
    /// generate recovery codes first (or give a grace period); an operator with access
    /// to the store can always reset a user's factors with [`crate::Mfa::reset`], and
    /// evaluation never refuses enrollment, so no policy locks anyone out.
    ///
    /// # Errors
    ///
    /// [`Error::WouldLockOut`] when the change is refused, saying why.
    pub fn check_change(&self, next: &Policy, owners: &[UserFactors]) -> Result<(), Error> {
        let Mode::Required { grace, .. } = next.mode else {
            return Ok(());
        };
        if owners.is_empty() {
            return Err(Error::WouldLockOut(
                "requiring MFA with no owner on record".into(),
            ));
        }
        if grace == 0 && !owners.iter().any(UserFactors::has_backup) {
            return Err(Error::WouldLockOut(
                "requiring MFA at once while no owner has a second factor with recovery \
                 codes or a second authenticator: enroll one first, or give a grace period"
                    .into(),
            ));
        }
        Ok(())
    }
}
