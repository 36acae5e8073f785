#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod hash;
mod hasher;
mod normalize;
mod params;
mod pepper;
mod policy;
mod pool;
mod random;

pub use crate::error::Error;
pub use crate::hash::{Algorithm, MAX_HASH_LEN, PasswordHash};
pub use crate::hasher::{
    BCRYPT_MAX_PASSWORD_LEN, Hasher, HasherBuilder, MAX_PASSWORD_LEN, Normalization, Verified,
};
pub use crate::params::{Argon2Params, BcryptCost, VerifyLimits};
pub use crate::pepper::{MIN_PEPPER_KEY_LEN, PepperId, PepperKey, Peppers};
pub use crate::policy::{Policy, PolicyBuilder, Violation};
pub use crate::pool::{HashingPool, PoolBuilder, PoolMetrics};
pub use crate::random::{OsRandom, RandomSource};
