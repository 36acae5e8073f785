//! Login throttling that counts failures only.

use crate::{Check, Decision, Error, Policy, Store};

/// Throttles login attempts per key (a client IP, or an IP and account name), counting
/// failed attempts only: a successful login restores the key's full quota.
///
/// Each attempt is charged when it begins, so concurrent guesses cannot slip past the
/// limit while earlier ones are still being verified. [`LoginAttempt::succeeded`] then
/// resets the key; [`LoginAttempt::failed`], or dropping the attempt without a verdict,
/// leaves the charge in place. Note that a success resets the whole key: when many users
/// share one IP, key by IP and account name too.
///
/// # Example
///
/// ```
/// use rate_limit::{LoginCheck, LoginLimiter, MemoryStore, Policy};
///
/// # tokio_test_block_on(async {
/// let logins = LoginLimiter::new(MemoryStore::new(), Policy::login());
/// match logins.begin(b"198.51.100.4").await? {
///     LoginCheck::Allowed(attempt) => {
///         let password_ok = true; // verify the password here
///         if password_ok {
///             attempt.succeeded().await?;
///         } else {
///             attempt.failed();
///         }
///     }
///     LoginCheck::Limited(decision) => {
///         // answer 429 with decision.retry_after_header() and decision.problem_json()
///         let _ = decision;
///     }
/// }
/// # Ok::<(), rate_limit::Error>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct LoginLimiter<S> {
    store: S,
    policy: Policy,
}

/// Whether a login attempt may go ahead.
#[derive(Debug)]
#[must_use = "a limited login must be refused"]
pub enum LoginCheck<'a, S: Store> {
    /// The attempt may proceed; report how it ended.
    Allowed(LoginAttempt<'a, S>),
    /// Too many recent failures: refuse without checking the password.
    Limited(Decision),
}

/// An admitted login attempt, already counted as a failure until
/// [`succeeded`](Self::succeeded) says otherwise.
#[derive(Debug)]
#[must_use = "report the attempt's outcome with succeeded() or failed()"]
pub struct LoginAttempt<'a, S: Store> {
    limiter: &'a LoginLimiter<S>,
    key: Vec<u8>,
    decision: Decision,
}

impl<S: Store> LoginLimiter<S> {
    /// Throttles logins in `store` under `policy` (usually [`Policy::login`]).
    pub fn new(store: S, policy: Policy) -> Self {
        Self { store, policy }
    }

    /// The policy logins are held to.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Starts a login attempt for `key`, charging it as a failure until told otherwise.
    ///
    /// # Errors
    ///
    /// The store's errors ([`Store::check`]). Refuse the login when this fails: the
    /// limiter cannot vouch for it.
    pub async fn begin(&self, key: &[u8]) -> Result<LoginCheck<'_, S>, Error> {
        let decision = self.store.check(&[Check::new(&self.policy, key)]).await?;
        Ok(if decision.is_allowed() {
            LoginCheck::Allowed(LoginAttempt {
                limiter: self,
                key: key.to_vec(),
                decision,
            })
        } else {
            LoginCheck::Limited(decision)
        })
    }
}

impl<S: Store> LoginAttempt<'_, S> {
    /// The decision that admitted the attempt, for the `RateLimit` response fields.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The credentials were right: forget the key's failures.
    ///
    /// # Errors
    ///
    /// The store's errors ([`Store::reset`]); the failures stay counted.
    pub async fn succeeded(self) -> Result<(), Error> {
        self.limiter
            .store
            .reset(&self.limiter.policy, &self.key)
            .await
    }

    /// The credentials were wrong: the attempt stays counted.
    pub fn failed(self) {}
}
