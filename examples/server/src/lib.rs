#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod accounts;
mod app;
mod audit;
mod config;
mod db;
mod error;
mod integrations;
mod keys;
mod limits;
mod second_factor;
mod sessions;
mod state;
mod webhooks;

pub use crate::app::{App, build};
pub use crate::audit::CHECKPOINT_INTERVAL;
pub use crate::config::{
    ADDR_VAR, Config, ConfigError, DATA_DIR_VAR, DATABASE_URL_VAR, DEFAULT_ADDR, DEFAULT_DATA_DIR,
    DEFAULT_REDIS_PREFIX, ENV_VAR, Environment, KEYRING_FILE_VAR, KEYRING_VAR, KeyringSource,
    REDIS_PREFIX_VAR, REDIS_URL_VAR, TRUSTED_PROXIES_VAR,
};
pub use crate::db::SQLITE_FILE;
pub use crate::error::{ApiError, StartError};
pub use crate::keys::{KeyringOrigin, load_keyring};
