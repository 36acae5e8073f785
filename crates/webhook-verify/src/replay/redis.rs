//! A replay guard in Redis, shared by every instance of a service.

use std::fmt;
use std::time::{Duration, SystemTime};

use redis::aio::ConnectionManager;

use super::{Freshness, ReplayGuard};
use crate::Error;
use crate::secret::BoxFuture;

/// A replay guard in Redis: one `SET key token NX EX ttl` per verified delivery, so any
/// number of verifier instances sharing the server reject each other's replays.
/// Forgetting a key deletes it only while it holds the token it was recorded under (one
/// script, so atomically): a late release never forgets a later delivery's record.
///
/// Keys are `<prefix><key>` and expire on their own. Redis keeps time for the expiry
/// and counts it in real time, while windows count whole seconds: the verifier's TTL
/// adds one second, and a margin for clock differences between the instances
/// ([`VerifierBuilder::replay_clock_margin`](crate::VerifierBuilder::replay_clock_margin)).
/// When Redis cannot be reached the delivery is refused.
///
/// The Redis server must run with `maxmemory-policy noeviction`: under an eviction policy
/// it may drop a remembered key under memory pressure, and the delivery verifies again.
#[derive(Clone)]
pub struct RedisReplayGuard {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisReplayGuard {
    /// Connects to `url` (`redis://host:port/db`); keys get `prefix` in front.
    ///
    /// # Errors
    ///
    /// [`Error::ReplayGuard`] when the URL is invalid or the server unreachable.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let connection = ConnectionManager::new(client).await.map_err(unavailable)?;
        Ok(Self::with_connection(connection, prefix))
    }

    /// Uses an existing connection manager; keys get `prefix` in front.
    pub fn with_connection(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
        }
    }
}

fn unavailable(err: redis::RedisError) -> Error {
    Error::ReplayGuard(format!("redis: {err}"))
}

/// Deletes `KEYS[1]` if it holds `ARGV[1]`.
const FORGET_IF_OURS: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

impl ReplayGuard for RedisReplayGuard {
    fn check_and_remember<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        _now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Freshness, Error>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let set: Option<String> = redis::cmd("SET")
                .arg(format!("{}{key}", self.prefix))
                .arg(token)
                .arg("NX")
                .arg("EX")
                .arg(ttl.as_secs().max(1))
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(if set.is_some() {
                Freshness::Fresh
            } else {
                Freshness::Replayed
            })
        })
    }

    fn forget<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = redis::cmd("EVAL")
                .arg(FORGET_IF_OURS)
                .arg(1)
                .arg(format!("{}{key}", self.prefix))
                .arg(token)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }
}

impl fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
