//! The envelope keyring (the server's one root secret) and the server keys sealed
//! under it: the session signing secret and the audit checkpoint key.
//!
//! Only the keyring is configured. The other keys are generated on first start,
//! sealed under the keyring and stored in the database, so every instance sharing the
//! database signs with the same keys, and a database dump without the keyring yields
//! neither.

use std::path::{Path, PathBuf};

use envelope_crypto::{Binding, Envelope, Keyring, Sealer};
use zeroize::Zeroizing;

use crate::config::KeyringSource;
use crate::db::Db;
use crate::error::StartError;

/// The purpose server keys are sealed under.
const SERVER_KEY_PURPOSE: &str = "server.key";

/// The session token HMAC secret.
pub(crate) const SESSION_KEY: &str = "session.hs256";
/// The seed of the audit checkpoint signing key (Ed25519).
pub(crate) const AUDIT_KEY: &str = "audit.ed25519";

/// Where the keyring came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringOrigin {
    /// `PALISADE_KEYRING`.
    Env,
    /// A configured file, or the development file from an earlier start.
    File(PathBuf),
    /// Development only: no keyring was configured, and a new one was written here.
    Created(PathBuf),
}

/// Loads the keyring, creating the development one on first start.
///
/// # Errors
///
/// [`StartError::Keyring`] when the keyring is unreadable or malformed;
/// [`StartError::DataDir`] when the development file's directory cannot be created.
pub fn load_keyring(source: &KeyringSource) -> Result<(Keyring, KeyringOrigin), StartError> {
    match source {
        KeyringSource::Env(text) => {
            let keyring =
                Keyring::parse(&Zeroizing::new(text.clone())).map_err(StartError::Keyring)?;
            Ok((keyring, KeyringOrigin::Env))
        }
        KeyringSource::File(path) => {
            let keyring = Keyring::from_file(path).map_err(StartError::Keyring)?;
            Ok((keyring, KeyringOrigin::File(path.clone())))
        }
        KeyringSource::DevelopmentFile(path) => development_keyring(path),
    }
}

fn development_keyring(path: &Path) -> Result<(Keyring, KeyringOrigin), StartError> {
    if path.exists() {
        let keyring = Keyring::from_file(path).map_err(StartError::Keyring)?;
        return Ok((keyring, KeyringOrigin::File(path.to_owned())));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let keyring = Keyring::generate().map_err(StartError::Keyring)?;
    match keyring.write_new_file(path) {
        Ok(()) => Ok((keyring, KeyringOrigin::Created(path.to_owned()))),
        // Another process created it first: use theirs.
        Err(_) if path.exists() => {
            let keyring = Keyring::from_file(path).map_err(StartError::Keyring)?;
            Ok((keyring, KeyringOrigin::File(path.to_owned())))
        }
        Err(error) => Err(StartError::Keyring(error)),
    }
}

/// A 32-byte server key named `name`: opened from the database, or generated, sealed
/// and stored on first start (the first instance to store it wins; all read it back).
pub(crate) async fn server_key(
    db: &Db,
    keyring: &Keyring,
    name: &'static str,
) -> Result<Zeroizing<[u8; 32]>, StartError> {
    let failed = |message: String| StartError::ServerKey { name, message };
    let sealer = keyring
        .sealer(SERVER_KEY_PURPOSE)
        .map_err(|e| failed(e.to_string()))?;
    let binding = Binding::new().record(name);
    if let Some(stored) = db
        .server_key(name)
        .await
        .map_err(|e| failed(e.to_string()))?
    {
        return open_key(&sealer, &stored, &binding).map_err(failed);
    }
    let mut fresh = Zeroizing::new([0u8; 32]);
    getrandom::fill(fresh.as_mut()).map_err(|e| failed(format!("random source: {e}")))?;
    let sealed = sealer
        .seal(fresh.as_ref(), &binding)
        .map_err(|e| failed(e.to_string()))?
        .to_armor();
    db.insert_server_key(name, &sealed)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let stored = db
        .server_key(name)
        .await
        .map_err(|e| failed(e.to_string()))?
        .ok_or_else(|| failed("stored, then not found".into()))?;
    open_key(&sealer, &stored, &binding).map_err(failed)
}

fn open_key(
    sealer: &Sealer,
    stored: &str,
    binding: &Binding,
) -> Result<Zeroizing<[u8; 32]>, String> {
    let envelope = Envelope::from_armor(stored).map_err(|e| e.to_string())?;
    let plaintext = sealer
        .open(&envelope, binding)
        .map_err(|e| format!("{e} (is this the keyring the database was created with?)"))?;
    if plaintext.as_bytes().len() != 32 {
        return Err("stored key is not 32 bytes".to_owned());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(plaintext.as_bytes());
    Ok(key)
}
