#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

// Schema names are generated here from `[a-z0-9_]` only, so formatting them into DDL is safe.
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "PALISADE_TEST_POSTGRES";
/// Environment variable naming the Redis server for tests.
pub const REDIS_ENV: &str = "PALISADE_TEST_REDIS";
/// Environment variable that turns a skipped service test into a failure when set to `1`.
pub const REQUIRE_ENV: &str = "PALISADE_REQUIRE_SERVICES";
/// PostgreSQL URL used when [`POSTGRES_ENV`] is unset.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Redis URL used when [`REDIS_ENV`] is unset.
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the test services are and whether a test may skip when they are missing.
#[derive(Debug, Clone)]
pub struct Services {
    postgres_url: String,
    redis_url: String,
    require: bool,
}

impl Services {
    /// Reads [`POSTGRES_ENV`], [`REDIS_ENV`] and [`REQUIRE_ENV`], with the documented defaults.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            postgres_url: var(POSTGRES_ENV, DEFAULT_POSTGRES),
            redis_url: var(REDIS_ENV, DEFAULT_REDIS),
            require: std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1"),
        }
    }

    /// Explicit service locations; `require` plays the part of `PALISADE_REQUIRE_SERVICES=1`.
    pub fn new(
        postgres_url: impl Into<String>,
        redis_url: impl Into<String>,
        require: bool,
    ) -> Self {
        Self {
            postgres_url: postgres_url.into(),
            redis_url: redis_url.into(),
            require,
        }
    }

    /// Creates a fresh PostgreSQL schema for the test named `test`.
    ///
    /// Returns `None` after printing `SKIPPED: postgres unreachable at <url>` when the server
    /// cannot be reached.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached and the services are required, or when the schema
    /// cannot be created on a reachable server.
    pub async fn postgres(&self, test: &str) -> Option<PgSchema> {
        let connect =
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&self.postgres_url));
        let mut conn = match connect.await {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => {
                return self.unreachable("postgres", &self.postgres_url, &err.to_string());
            }
            Err(_) => return self.unreachable("postgres", &self.postgres_url, "connect timed out"),
        };
        let schema = unique_name(test);
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("creating schema {schema}: {err}"));
        let _ = conn.close().await;
        let separator = if self.postgres_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Some(PgSchema {
            url: format!(
                "{}{separator}options=-c%20search_path%3D{schema}",
                self.postgres_url
            ),
            base_url: self.postgres_url.clone(),
            schema,
        })
    }

    /// Reserves a fresh Redis key prefix for the test named `test`.
    ///
    /// Returns `None` after printing `SKIPPED: redis unreachable at <url>` when the server
    /// does not answer `PING`.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached and the services are required.
    pub fn redis(&self, test: &str) -> Option<RedisPrefix> {
        match redis_command(&self.redis_url, &["PING"]) {
            Ok(reply) if reply == "+PONG" => Some(RedisPrefix {
                url: self.redis_url.clone(),
                prefix: format!("{}:", unique_name(test)),
            }),
            Ok(reply) => {
                self.unreachable("redis", &self.redis_url, &format!("PING answered {reply}"))
            }
            Err(err) => self.unreachable("redis", &self.redis_url, &err.to_string()),
        }
    }

    fn unreachable<T>(&self, service: &str, url: &str, why: &str) -> Option<T> {
        let line = format!("{service} unreachable at {url}");
        if self.require {
            panic!("{line} ({why}) and {REQUIRE_ENV}=1");
        }
        // Straight to the stderr handle: the test harness captures `eprintln!`, and a skip
        // must be loud.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {line}\n    reason: {why}");
        None
    }
}

/// A PostgreSQL schema of one's own for one test; dropped with everything in it on drop.
#[derive(Debug)]
pub struct PgSchema {
    url: String,
    base_url: String,
    schema: String,
}

impl PgSchema {
    /// A connection URL whose `search_path` is this schema, so unqualified tables land in it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.base_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        // Drop may run inside a test's runtime, which must not be blocked on itself:
        // clean up from a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&url).await {
                        let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                        let _ = conn.close().await;
                    }
                });
            }
        });
        let _ = cleanup.join();
    }
}

/// A Redis key prefix of one's own for one test; its keys are deleted on drop.
#[derive(Debug)]
pub struct RedisPrefix {
    url: String,
    prefix: String,
}

impl RedisPrefix {
    /// The Redis connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The prefix, ending in `:`; every key the test writes should start with it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        const DELETE_PREFIX: &str = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                                     redis.call('DEL', k) end return 0";
        let pattern = format!("{}*", self.prefix);
        let _ = redis_command(&self.url, &["EVAL", DELETE_PREFIX, "0", &pattern]);
    }
}

/// A name no other test in any process uses: `t_<test>_<pid>_<counter>`, at most 63 bytes
/// (PostgreSQL's identifier limit), lowercase ASCII.
fn unique_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("_{}_{n}", std::process::id());
    let cleaned: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(63 - 2 - suffix.len())
        .collect();
    format!("t_{cleaned}{suffix}")
}

/// Sends one command over RESP and returns the first reply line, without its `\r\n`.
fn redis_command(url: &str, args: &[&str]) -> std::io::Result<String> {
    let addr = redis_addr(url)?;
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    (&stream).write_all(request.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    Ok(line.trim_end().to_owned())
}

/// `redis://host:port[/db]` to a socket address. Credentials are not supported: the test
/// services run without them.
fn redis_addr(url: &str) -> std::io::Result<SocketAddr> {
    let invalid = |what: &str| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {url}"))
    };
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| invalid("not a redis:// URL"))?;
    let host_port = rest.split('/').next().unwrap_or_default();
    if host_port.contains('@') {
        return Err(invalid("credentials in the Redis URL are not supported"));
    }
    let with_port = if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid("no address for host"))
}

/// Environment variable naming the directory of the shared known-answer vectors.
pub const VECTORS_ENV: &str = "PALISADE_VECTORS";

/// The directory of the project's shared known-answer data (`xaes-256-gcm.md`,
/// `rfc6962/`, ...), which lives beside the checkout as `../shared/vectors`.
///
/// Looks at [`VECTORS_ENV`] first, then for `shared/vectors` beside each ancestor of this
/// crate's directory, so it is found from any clone that sits next to `shared/`.
///
/// # Panics
///
/// When the directory cannot be found: a known-answer test must never pass without its
/// data.
pub fn shared_vectors() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os(VECTORS_ENV) {
        return dir.into();
    }
    let start = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("shared").join("vectors"))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "shared known-answer vectors not found beside any ancestor of {}: set {VECTORS_ENV}",
                start.display()
            )
        })
}

/// [`Services::from_env`] then [`Services::postgres`]: the one call a test makes.
///
/// ```no_run
/// # async fn test() {
/// let Some(db) = palisade_test_support::postgres("my_test").await else { return };
/// let url = db.url(); // connect here; tables go to the test's own schema
/// # }
/// ```
pub async fn postgres(test: &str) -> Option<PgSchema> {
    Services::from_env().postgres(test).await
}

/// [`Services::from_env`] then [`Services::redis`]: the one call a test makes.
pub fn redis(test: &str) -> Option<RedisPrefix> {
    Services::from_env().redis(test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_distinct_bounded_identifiers() {
        let long = "x".repeat(200);
        let a = unique_name(&long);
        let b = unique_name(&long);
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(unique_name("Weird Name!").starts_with("t_weird_name__"));
    }

    #[test]
    fn redis_addresses_parse() {
        assert_eq!(redis_addr("redis://127.0.0.1:6379").unwrap().port(), 6379);
        assert_eq!(redis_addr("redis://127.0.0.1/2").unwrap().port(), 6379);
        assert!(redis_addr("http://127.0.0.1").is_err());
        assert!(redis_addr("redis://user:pw@127.0.0.1:6379").is_err());
    }

    #[test]
    fn shared_vectors_are_found_beside_the_checkout() {
        let dir = shared_vectors();
        assert!(dir.join("xaes-256-gcm.md").is_file(), "{}", dir.display());
        assert!(dir.join("rfc6962").is_dir(), "{}", dir.display());
    }
}
