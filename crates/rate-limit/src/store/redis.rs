//! The Redis store: one Lua script, the server's clock, several policies at once.

use std::fmt;
use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::decision::PolicyOutcome;
use crate::store::{Check, MAX_CHECKS, Store, too_many_checks};
use crate::{Decision, Error, Policy};

static SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("gcra.lua")));
static REFUND: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("refund.lua")));

/// A [`Store`] in Redis, shared by every instance of an application (feature `redis`).
///
/// - **Atomic.** A check of several policies is one Lua script, so one round trip, and
///   Redis runs scripts one at a time: every policy admits the request and is charged, or
///   none is charged.
/// - **One clock.** The script reads the server's clock (`TIME`), so application hosts
///   whose clocks disagree still share exact limits.
/// - **Bounded.** Each counter (`<prefix><policy>:<key>`) expires when its bucket is full
///   again, so Redis holds only keys that carry information.
/// - **Lazy and resilient.** Building the store does not connect; the first check does,
///   and a lost connection is re-established. A check that cannot reach Redis within the
///   response timeout returns [`Error::Unavailable`], which the tower layer turns into
///   its rule's fail-open or fail-closed answer.
///
/// One Redis server (or a primary with replicas), version 5 or later (scripts that read
/// `TIME` and then write are replicated by their effects), is supported; in Redis Cluster
/// the keys of one check could live on different nodes and the script would be refused.
/// The server must run with `maxmemory-policy noeviction`: under an eviction policy it may
/// drop a counter under memory pressure, and that key starts again with a full burst.
///
/// # Example
///
/// ```no_run
/// use rate_limit::{Check, Policy, RedisStore, Store};
///
/// # async fn run() -> Result<(), rate_limit::Error> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379").prefix("app:rl:").build()?;
/// let (origin, upload) = (Policy::api_origin(), Policy::upload());
/// let decision = store
///     .check(&[Check::new(&origin, "https://app.example"), Check::new(&upload, "user-42")])
///     .await?;
/// # let _ = decision;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection holds the URL, which may hold a password: print only the prefix.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisStore`]; see [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("response_timeout", &self.response_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Configures a store on the Redis server at `url` (`redis://[:password@]host[:port][/db]`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: "rate-limit:".to_owned(),
            response_timeout: Duration::from_millis(500),
            connection_timeout: Duration::from_millis(500),
        }
    }

    fn counter_key(&self, check: &Check<'_>) -> Vec<u8> {
        // Policy names never contain ':', so the key cannot be confused with another
        // policy's.
        let name = check.policy().name().as_bytes();
        let mut key = Vec::with_capacity(self.prefix.len() + name.len() + 1 + check.key().len());
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(name);
        key.push(b':');
        key.extend_from_slice(check.key());
        key
    }

    async fn run(&self, checks: &[Check<'_>]) -> Result<Decision, Error> {
        if checks.len() > MAX_CHECKS {
            return Err(too_many_checks(checks.len()));
        }
        if checks.is_empty() {
            return Ok(Decision::from_outcomes(Vec::new()));
        }
        let mut invocation = SCRIPT.prepare_invoke();
        for check in checks {
            let gcra = check.policy().gcra();
            invocation
                .key(self.counter_key(check))
                .arg(gcra.tolerance)
                .arg(gcra.increment);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|e| Error::Unavailable(Box::new(e)))?;
        decide(checks, &reply)
    }
}

/// Rebuilds the decision from the script's reply: `{admitted, now, judged TATs...}`.
fn decide(checks: &[Check<'_>], reply: &[i64]) -> Result<Decision, Error> {
    let malformed =
        || Error::Unavailable("the rate-limit script returned a malformed reply".into());
    let [admitted, now, judged @ ..] = reply else {
        return Err(malformed());
    };
    if judged.len() != checks.len() {
        return Err(malformed());
    }
    let now = u64::try_from(*now).map_err(|_| malformed())?;
    let mut tats = Vec::with_capacity(checks.len());
    for tat in judged {
        tats.push(u64::try_from(*tat).map_err(|_| malformed())?);
    }
    let allowed = checks
        .iter()
        .zip(&tats)
        .all(|(check, tat)| check.policy().gcra().step(*tat, now).allowed);
    // The script and this crate run the same rule on the same integers; a disagreement
    // means a foreign script or value, and no decision can be trusted.
    if allowed != (*admitted == 1) {
        return Err(Error::Unavailable(
            "the rate-limit script and the client disagree".into(),
        ));
    }
    let outcomes = checks
        .iter()
        .zip(&tats)
        .map(|(check, tat)| {
            let gcra = check.policy().gcra();
            let step = if allowed {
                gcra.step(*tat, now)
            } else {
                gcra.refused(*tat, now)
            };
            PolicyOutcome::new(check.policy(), &step)
        })
        .collect();
    Ok(Decision::from_outcomes(outcomes))
}

impl Store for RedisStore {
    fn check(&self, checks: &[Check<'_>]) -> impl Future<Output = Result<Decision, Error>> + Send {
        self.run(checks)
    }

    fn reset(&self, policy: &Policy, key: &[u8]) -> impl Future<Output = Result<(), Error>> + Send {
        let counter = self.counter_key(&Check::new(policy, key));
        let mut conn = self.conn.clone();
        async move {
            redis::cmd("DEL")
                .arg(counter)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| Error::Unavailable(Box::new(e)))
        }
    }

    fn refund(
        &self,
        policy: &Policy,
        key: &[u8],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let counter = self.counter_key(&Check::new(policy, key));
        let increment = policy.gcra().increment;
        let mut conn = self.conn.clone();
        async move {
            REFUND
                .key(counter)
                .arg(increment)
                .invoke_async::<i64>(&mut conn)
                .await
                .map(drop)
                .map_err(|e| Error::Unavailable(Box::new(e)))
        }
    }
}

impl RedisStoreBuilder {
    /// Prefix of every key the store writes (default `rate-limit:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a check waits for Redis's answer before failing (default 500 ms).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long a connection attempt may take (default 500 ms).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Builds the store, without connecting yet.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL does not parse or when called outside a tokio
    /// runtime (the connection lives on it).
    pub fn build(self) -> Result<RedisStore, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(
                "a RedisStore must be built inside a tokio runtime".to_owned(),
            ));
        }
        // The error would repeat the URL, which may hold a password: say only what failed.
        let client = redis::Client::open(self.url.as_str()).map_err(|_| {
            Error::Config(
                "the Redis URL does not parse (redis://[:password@]host[:port][/db])".to_owned(),
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.connection_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| Error::Config(format!("the Redis connection cannot be set up: {e}")))?;
        Ok(RedisStore {
            conn,
            prefix: self.prefix,
        })
    }
}
