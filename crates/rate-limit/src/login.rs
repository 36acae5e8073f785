//! Login throttling that counts failures only.

use crate::{Check, Decision, Error, Policy, Store};

/// The prefix of a client's counter, so a login key never shares a counter with a key
/// the layer or another caller charges under the same policy name.
const CLIENT_PREFIX: &[u8] = b"login-client:";
/// The prefix of an account's counter.
const ACCOUNT_PREFIX: &[u8] = b"login-account:";

/// Throttles login attempts, counting failed attempts only.
///
/// Each client (usually its IP, as the tower layer's `Key::client_ip` finds it) may fail
/// `per_client` times per window, whichever accounts it tries. Optionally
/// ([`per_account`](Self::per_account)) each account may also fail a number of times,
/// from any client; a successful login to an account resets that account's failures.
///
/// - **Charged up front.** [`begin`](Self::begin) charges the attempt before the password
///   is checked, so concurrent guesses cannot slip past the limit while earlier ones are
///   still being verified.
/// - **A success is not a failure.** [`LoginAttempt::succeeded`] gives back the one
///   attempt it reports, and nothing more: the client's other failures stay counted. A
///   client that owns an account therefore cannot log into it to wipe out its guesses
///   at other accounts.
/// - **Failures stay.** [`LoginAttempt::failed`], or dropping the attempt without a
///   verdict, leaves the charge in place.
///
/// A per-account limit protects an account from guesses spread over many addresses, but
/// lets anyone lock the account's owner out for a while by failing on purpose; use it
/// with a generous quota, or not at all.
///
/// # Example
///
/// ```
/// use rate_limit::{LoginCheck, LoginLimiter, MemoryStore, Policy};
///
/// # tokio_test_block_on(async {
/// let logins = LoginLimiter::new(MemoryStore::new(), Policy::login());
/// match logins.begin(b"198.51.100.4", b"alice").await? {
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
    per_client: Policy,
    per_account: Option<Policy>,
}

/// Whether a login attempt may go ahead.
#[derive(Debug)]
#[must_use = "a limited login must be refused"]
pub enum LoginCheck<'a, S: Store> {
    /// The attempt may proceed; report how it ended.
    Allowed(LoginAttempt<'a, S>),
    /// Too many recent failures: refuse without checking the password. The decision
    /// holds the client's policy, and the account's when that is what refused.
    Limited(Decision),
}

/// An admitted login attempt, already counted as a failure until
/// [`succeeded`](Self::succeeded) says otherwise.
#[derive(Debug)]
#[must_use = "report the attempt's outcome with succeeded() or failed()"]
pub struct LoginAttempt<'a, S: Store> {
    limiter: &'a LoginLimiter<S>,
    client: Vec<u8>,
    account: Vec<u8>,
    decision: Decision,
}

fn prefixed(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + key.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(key);
    out
}

impl<S: Store> LoginLimiter<S> {
    /// Throttles logins in `store`, each client held to `per_client` failures (usually
    /// [`Policy::login`]).
    pub fn new(store: S, per_client: Policy) -> Self {
        Self {
            store,
            per_client,
            per_account: None,
        }
    }

    /// Also holds each account to `policy` failures, from all clients together; a
    /// successful login to the account resets them.
    #[must_use]
    pub fn per_account(mut self, policy: Policy) -> Self {
        self.per_account = Some(policy);
        self
    }

    /// The policy each client is held to.
    pub fn policy(&self) -> &Policy {
        &self.per_client
    }

    /// Starts a login attempt by `client` at `account`, charging it as a failure until
    /// told otherwise. `account` is the account name as your login code will look it up
    /// (normalized the same way); it is only charged when a
    /// [`per_account`](Self::per_account) policy is set.
    ///
    /// # Errors
    ///
    /// The store's errors ([`Store::check`]). Refuse the login when this fails: the
    /// limiter cannot vouch for it.
    pub async fn begin(&self, client: &[u8], account: &[u8]) -> Result<LoginCheck<'_, S>, Error> {
        let client = prefixed(CLIENT_PREFIX, client);
        let account = prefixed(ACCOUNT_PREFIX, account);
        let decision = match &self.per_account {
            None => {
                self.store
                    .check(&[Check::new(&self.per_client, &client)])
                    .await?
            }
            Some(per_account) => {
                let checks = [
                    Check::new(&self.per_client, &client),
                    Check::new(per_account, &account),
                ];
                client_view(self.store.check(&checks).await?)
            }
        };
        Ok(if decision.is_allowed() {
            LoginCheck::Allowed(LoginAttempt {
                limiter: self,
                client,
                account,
                decision,
            })
        } else {
            LoginCheck::Limited(decision)
        })
    }
}

/// The decision as the client may see it: the client's own policy, and the account's only
/// when it refused the attempt. Anyone can name any account, so the account's remaining
/// failures would tell them how many others made at it.
fn client_view(decision: Decision) -> Decision {
    match decision.policies() {
        [client, account] if account.is_allowed() => Decision::from_outcomes(vec![client.clone()]),
        _ => decision,
    }
}

impl<S: Store> LoginAttempt<'_, S> {
    /// The decision that admitted the attempt, for the `RateLimit` response fields: the
    /// client's policy only (an account's count of failures, from every client, is not
    /// the client's to see).
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The credentials were right: this attempt is not counted against the client, and
    /// the account's failures (under a [`per_account`](LoginLimiter::per_account) policy)
    /// are forgotten. The client's other failures stay counted.
    ///
    /// # Errors
    ///
    /// The store's errors ([`Store::refund`], [`Store::reset`]); the attempt then stays
    /// counted as a failure.
    pub async fn succeeded(self) -> Result<(), Error> {
        let limiter = self.limiter;
        if let Some(per_account) = &limiter.per_account {
            limiter.store.reset(per_account, &self.account).await?;
        }
        limiter
            .store
            .refund(&limiter.per_client, &self.client)
            .await
    }

    /// The credentials were wrong: the attempt stays counted.
    pub fn failed(self) {}
}
