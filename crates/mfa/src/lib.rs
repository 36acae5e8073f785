#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod env;
mod error;
mod mfa;
mod otpauth;
mod policy;
mod recovery;
pub mod store;
mod totp;
mod types;
mod webauthn;

pub use env::{Clock, OsRandom, Random, SystemClock};
pub use error::{Error, StoreError};
pub use mfa::{Mfa, MfaBuilder, SEED_PURPOSE, TotpEnrollment};
pub use otpauth::OtpAuthUri;
pub use policy::{Aal, Evaluation, Method, Next, Policy, UserFactors};
pub use recovery::{KdfParams, MIN_RECOVERY_BITS, RecoveryCodes, RecoveryConfig};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{MemoryStore, MfaStore};
pub use totp::{Algorithm, TotpCode, TotpParams, TotpSecret, qr_svg, totp_check, totp_code};
pub use types::{UserId, Verified};
pub use webauthn::{
    CeremonyId, CredentialInfo, CredentialKind, DEFAULT_CEREMONY_TTL, WebAuthn, WebAuthnBuilder,
};

/// The WebAuthn types that cross the API: challenges sent to the browser and the
/// browser's responses, re-exported from `webauthn-rs` so callers need not depend on it.
pub mod webauthn_types {
    pub use webauthn_rs::prelude::{
        CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
        RequestChallengeResponse, Url,
    };
}
