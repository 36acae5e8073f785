//! Configuration from environment variables, checked before anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `development` (the default) or `production`.
pub const ENV_VAR: &str = "PALISADE_ENV";
/// The address to listen on (default `127.0.0.1:8080`).
pub const ADDR_VAR: &str = "PALISADE_ADDR";
/// Where SQLite files and the development keyring live (default `./data`).
pub const DATA_DIR_VAR: &str = "PALISADE_DATA_DIR";
/// The keyring text itself (envelope-crypto's format).
pub const KEYRING_VAR: &str = envelope_crypto::KEYRING_ENV;
/// A path to a keyring file (as written by `palisade keys new --out FILE`).
pub const KEYRING_FILE_VAR: &str = "PALISADE_KEYRING_FILE";
/// A PostgreSQL URL: sessions, tenant keys, the audit log and accounts go there.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// A Redis URL: rate-limit counters and the webhook replay guard go there.
pub const REDIS_URL_VAR: &str = "REDIS_URL";
/// The prefix of every Redis key the server writes (default `palisade:`), so deployments
/// can share one Redis server.
pub const REDIS_PREFIX_VAR: &str = "PALISADE_REDIS_PREFIX";
/// Comma-separated networks (or addresses) of the load balancers and proxies in front of
/// the server, trusted to append the client's address to `X-Forwarded-For`.
pub const TRUSTED_PROXIES_VAR: &str = "PALISADE_TRUSTED_PROXIES";

/// The default listening address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// The default Redis key prefix.
pub const DEFAULT_REDIS_PREFIX: &str = "palisade:";

/// Which rules the server runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// A developer's machine: a missing keyring is created under the data directory
    /// (with a loud warning), and the CSRF guard accepts a plain-HTTP `Origin`.
    Development,
    /// A deployment: a keyring must be configured, and only `https://` origins pass the
    /// CSRF guard.
    Production,
}

/// Where the envelope keyring comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyringSource {
    /// The text of `PALISADE_KEYRING`.
    Env(String),
    /// A keyring file.
    File(PathBuf),
    /// Development only: `<data dir>/keyring`, created on first start.
    DevelopmentFile(PathBuf),
}

impl std::fmt::Debug for KeyringSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(_) => f.write_str("Env(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::DevelopmentFile(path) => f.debug_tuple("DevelopmentFile").field(path).finish(),
        }
    }
}

/// Everything the server needs to start. `Debug` leaves out the database and Redis
/// URLs, which may carry passwords.
#[derive(Clone)]
pub struct Config {
    /// Development or production.
    pub environment: Environment,
    /// The listening address.
    pub addr: SocketAddr,
    /// The data directory (SQLite files, the development keyring).
    pub data_dir: PathBuf,
    /// The envelope keyring, the root of every other server secret.
    pub keyring: KeyringSource,
    /// PostgreSQL instead of SQLite, when set.
    pub database_url: Option<String>,
    /// Redis for rate limits and the webhook replay guard, when set.
    pub redis_url: Option<String>,
    /// The prefix of every Redis key: rate limits under `<prefix>rl:`, the webhook replay
    /// guard under `<prefix>wh:`.
    pub redis_prefix: String,
    /// The proxies trusted to report the client's address in `X-Forwarded-For`; none by
    /// default (the peer address is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |url: &Option<String>| url.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("keyring", &self.keyring)
            .field("database_url", &redacted(&self.database_url))
            .field("redis_url", &redacted(&self.redis_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// A configuration the server refuses to start with. The message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Production without a keyring.
    #[error(
        "PALISADE_ENV=production needs an envelope keyring: set PALISADE_KEYRING to the keyring text or PALISADE_KEYRING_FILE to a keyring file (create one with `palisade keys new --out FILE`)"
    )]
    KeyringRequired,
    /// Both keyring variables are set.
    #[error("set only one of PALISADE_KEYRING and PALISADE_KEYRING_FILE")]
    TwoKeyrings,
    /// An unknown environment name.
    #[error("PALISADE_ENV must be `development` or `production`, got {0:?}")]
    Environment(String),
    /// A listening address that does not parse.
    #[error("PALISADE_ADDR must be an address and port such as 127.0.0.1:8080, got {0:?}")]
    Addr(String),
    /// A trusted proxy that is not a network or an address.
    #[error(
        "PALISADE_TRUSTED_PROXIES must be comma-separated networks or addresses such as 10.0.0.0/8, 2001:db8::1; got {0:?}"
    )]
    TrustedProxy(String),
    /// A trusted proxy network wider than an IPv4 /8 or an IPv6 /16 (`0.0.0.0/0`, say).
    #[error(
        "PALISADE_TRUSTED_PROXIES must list your proxies' own networks, at most an IPv4 /8 or an IPv6 /16; {0} is wider, and any client in it could choose the address it is limited and audited under"
    )]
    TrustedProxyTooWide(String),
    /// A database or Redis URL of the wrong kind.
    #[error("{var} must be a {kind} URL ({prefix}...)")]
    Url {
        /// The variable.
        var: &'static str,
        /// What it must be.
        kind: &'static str,
        /// The scheme it must start with.
        prefix: &'static str,
    },
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    ///
    /// As [`Config::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (an environment variable's value, or
    /// `None`); empty values count as unset.
    ///
    /// # Errors
    ///
    /// [`ConfigError::KeyringRequired`] in production without a keyring; the other
    /// variants for values that cannot be used.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let environment = match get(ENV_VAR).as_deref().map(str::trim) {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => return Err(ConfigError::Environment(other.to_owned())),
        };
        let addr_text = get(ADDR_VAR).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_text
            .trim()
            .parse()
            .map_err(|_| ConfigError::Addr(addr_text.clone()))?;
        let data_dir = PathBuf::from(get(DATA_DIR_VAR).unwrap_or_else(|| DEFAULT_DATA_DIR.into()));
        let keyring = match (get(KEYRING_VAR), get(KEYRING_FILE_VAR)) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoKeyrings),
            (Some(text), None) => KeyringSource::Env(text),
            (None, Some(path)) => KeyringSource::File(PathBuf::from(path)),
            (None, None) if environment == Environment::Production => {
                return Err(ConfigError::KeyringRequired);
            }
            (None, None) => KeyringSource::DevelopmentFile(data_dir.join("keyring")),
        };
        let database_url = get(DATABASE_URL_VAR);
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Url {
                var: DATABASE_URL_VAR,
                kind: "PostgreSQL",
                prefix: "postgres://",
            });
        }
        let redis_url = get(REDIS_URL_VAR);
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Url {
                var: REDIS_URL_VAR,
                kind: "Redis",
                prefix: "redis://",
            });
        }
        let redis_prefix = get(REDIS_PREFIX_VAR)
            .map(|prefix| prefix.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_REDIS_PREFIX.to_owned());
        let trusted_proxies = get(TRUSTED_PROXIES_VAR)
            .map(|list| parse_networks(&list))
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            environment,
            addr,
            data_dir,
            keyring,
            database_url,
            redis_url,
            redis_prefix,
            trusted_proxies,
        })
    }

    /// A development configuration with everything under `data_dir`: SQLite, in-memory
    /// rate limits, a keyring created on first start. For tests.
    pub fn development(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            environment: Environment::Development,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            keyring: KeyringSource::DevelopmentFile(data_dir.join("keyring")),
            data_dir,
            database_url: None,
            redis_url: None,
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Comma-separated networks, each `addr/prefix` or a bare address (one host).
fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::TrustedProxy(item.to_owned()))?;
            if too_wide(net) {
                return Err(ConfigError::TrustedProxyTooWide(item.to_owned()));
            }
            Ok(net)
        })
        .collect()
}

/// Wider than an IPv4 /8 (also as IPv4 mapped into IPv6) or an IPv6 /16: no one's proxies
/// span that much, and `0.0.0.0/0` (or `0.0.0.0/1` with `128.0.0.0/1`) would make every
/// client's `X-Forwarded-For` count.
fn too_wide(net: ipnet::IpNet) -> bool {
    const MIN_V4: u8 = 8;
    const MIN_V6: u8 = 16;
    match net {
        ipnet::IpNet::V4(v4) => v4.prefix_len() < MIN_V4,
        ipnet::IpNet::V6(v6) => match v6.prefix_len().checked_sub(96) {
            Some(v4_len) if v6.network().to_ipv4_mapped().is_some() => v4_len < MIN_V4,
            _ => v6.prefix_len() < MIN_V6,
        },
    }
}
