//! WebAuthn on `webauthn-rs`: passkeys and security keys, with ceremony state kept in the
//! store, single use and with a time to live.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn, WebauthnError,
};

use crate::env::random_id;
use crate::store::{CeremonyRecord, CredentialRecord, MfaStore};
use crate::{Clock, Error, Method, OsRandom, Random, SystemClock, UserId, Verified};

/// How long a ceremony may take by default: five minutes.
pub const DEFAULT_CEREMONY_TTL: u64 = 300;

/// The two kinds of WebAuthn credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A passkey: discoverable, user-verified, often synced. Multi-factor on its own.
    Passkey,
    /// A hardware security key used as a second factor after a password.
    SecurityKey,
}

impl CredentialKind {
    /// `passkey` or `security-key`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passkey => "passkey",
            Self::SecurityKey => "security-key",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "passkey" => Some(Self::Passkey),
            "security-key" => Some(Self::SecurityKey),
            _ => None,
        }
    }
}

/// The handle of a ceremony in progress: hand it to the browser with the challenge and
/// take it back with the response. 128 random bits, as 32 hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CeremonyId(String);

impl fmt::Debug for CeremonyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CeremonyId({})", self.0)
    }
}

impl CeremonyId {
    /// Parses a ceremony id as sent back by a client.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless it is 32 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::Invalid)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered credential, as listed to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    /// The credential id, base64url without padding.
    pub id: String,
    /// Passkey or security key.
    pub kind: CredentialKind,
    /// The user's name for it.
    pub name: String,
    /// The last signature counter seen (0 for authenticators without a counter).
    pub counter: u32,
    /// When it was registered (Unix s).
    pub created_at: u64,
    /// When it last signed in (Unix s).
    pub last_used_at: Option<u64>,
}

/// WebAuthn registration and authentication for one relying party, on one [`MfaStore`].
pub struct WebAuthn {
    webauthn: Webauthn,
    store: Arc<dyn MfaStore>,
    ttl: u64,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl fmt::Debug for WebAuthn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthn")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WebAuthn`].
#[must_use]
pub struct WebAuthnBuilder {
    rp_id: String,
    origin: String,
    rp_name: String,
    store: Arc<dyn MfaStore>,
    ttl: u64,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl WebAuthnBuilder {
    /// How long a started ceremony stays valid, in seconds (default 300, 10 to 3600).
    pub fn ceremony_ttl(mut self, seconds: u64) -> Self {
        self.ttl = seconds;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source for ceremony ids (default: the operating system's).
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the origin is not a URL, the relying party id is not a
    /// suffix of the origin's host, or the TTL is out of range.
    pub fn build(self) -> Result<WebAuthn, Error> {
        if !(10..=3600).contains(&self.ttl) {
            return Err(Error::Config(
                "the ceremony TTL must be 10 to 3600 seconds".into(),
            ));
        }
        let origin = Url::parse(&self.origin)
            .map_err(|e| Error::Config(format!("relying party origin: {e}")))?;
        let webauthn = webauthn_rs::WebauthnBuilder::new(&self.rp_id, &origin)
            .and_then(|b| b.rp_name(&self.rp_name).build())
            .map_err(|e| Error::Config(format!("relying party: {e}")))?;
        Ok(WebAuthn {
            webauthn,
            store: self.store,
            ttl: self.ttl,
            clock: self.clock,
            random: self.random,
        })
    }
}

fn encode_id(id: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(id)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::WebAuthn(format!("serialize: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    // A state or credential that does not parse was damaged in the store: refuse.
    serde_json::from_str(text).map_err(|_| Error::Invalid)
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::Input("a credential name is 1 to 64 characters"));
    }
    Ok(())
}

impl WebAuthn {
    /// A builder for relying party `rp_id` (a domain such as `example.com`) served at
    /// `origin` (such as `https://example.com`), shown to users as `rp_name`.
    pub fn builder(
        rp_id: &str,
        origin: &str,
        rp_name: &str,
        store: Arc<dyn MfaStore>,
    ) -> WebAuthnBuilder {
        WebAuthnBuilder {
            rp_id: rp_id.to_owned(),
            origin: origin.to_owned(),
            rp_name: rp_name.to_owned(),
            store,
            ttl: DEFAULT_CEREMONY_TTL,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
        }
    }

    /// The user's WebAuthn user handle: 16 random bytes, drawn at the user's first
    /// registration and stored. Every later registration carries the same handle, so an
    /// authenticator replaces its old credential for the user instead of keeping two;
    /// and as it is random, nothing about the user id can be learnt or confirmed from it
    /// (WebAuthn Level 2, 14.6.1: the handle is not personally identifying).
    async fn user_handle(&self, user: &UserId) -> Result<Uuid, Error> {
        let mut candidate = [0u8; 16];
        self.random.fill(&mut candidate)?;
        Ok(Uuid::from_bytes(
            self.store.user_handle(user, &candidate).await?,
        ))
    }

    async fn put_ceremony(
        &self,
        user: &UserId,
        kind: String,
        state: String,
    ) -> Result<CeremonyId, Error> {
        let id = random_id(self.random.as_ref())?;
        let record = CeremonyRecord {
            user: user.clone(),
            kind,
            state,
            expires_at: self.clock.now().saturating_add(self.ttl),
        };
        self.store.put_ceremony(&id, &record).await?;
        Ok(CeremonyId(id))
    }

    /// Takes the ceremony (it can never be taken again) and checks it belongs to `user`,
    /// is of `kind`, and has not expired.
    async fn take_ceremony(
        &self,
        user: &UserId,
        ceremony: &CeremonyId,
        kind: &str,
    ) -> Result<String, Error> {
        let Some(record) = self.store.take_ceremony(ceremony.as_str()).await? else {
            return Err(Error::Invalid);
        };
        if &record.user != user || record.kind != kind {
            return Err(Error::Invalid);
        }
        if record.expires_at <= self.clock.now() {
            tracing::info!(user = %user, "webauthn ceremony expired");
            return Err(Error::Invalid);
        }
        Ok(record.state)
    }

    /// Starts registering a credential of `kind` for `user`. `user_name` and
    /// `display_name` are shown by the authenticator. The user's existing credentials are
    /// excluded, so one authenticator is not registered twice.
    ///
    /// # Errors
    ///
    /// [`Error::WebAuthn`] when `webauthn-rs` refuses; store and random failures.
    pub async fn start_registration(
        &self,
        user: &UserId,
        user_name: &str,
        display_name: &str,
        kind: CredentialKind,
    ) -> Result<(CeremonyId, CreationChallengeResponse), Error> {
        let existing = self.store.credentials(user).await?;
        let exclude = existing
            .iter()
            .filter_map(|c| data_encoding::BASE64URL_NOPAD.decode(c.id.as_bytes()).ok())
            .collect::<Vec<_>>();
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let handle = self.user_handle(user).await?;
        let err = |e: WebauthnError| Error::WebAuthn(e.to_string());
        let (challenge, state) = match kind {
            CredentialKind::Passkey => {
                let (c, s) = self
                    .webauthn
                    .start_passkey_registration(handle, user_name, display_name, exclude)
                    .map_err(err)?;
                (c, to_json(&s)?)
            }
            CredentialKind::SecurityKey => {
                let (c, s) = self
                    .webauthn
                    .start_securitykey_registration(
                        handle,
                        user_name,
                        display_name,
                        exclude,
                        None,
                        None,
                    )
                    .map_err(err)?;
                (c, to_json(&s)?)
            }
        };
        let id = self
            .put_ceremony(user, format!("register:{}", kind.as_str()), state)
            .await?;
        Ok((id, challenge))
    }

    /// Finishes a registration: the ceremony is consumed whatever the outcome, and the new
    /// credential is stored under `name`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an unknown, used, expired or foreign ceremony or a response
    /// that does not verify; [`Error::Input`] for a bad name.
    pub async fn finish_registration(
        &self,
        user: &UserId,
        ceremony: &CeremonyId,
        kind: CredentialKind,
        response: &RegisterPublicKeyCredential,
        name: &str,
    ) -> Result<CredentialInfo, Error> {
        check_name(name)?;
        let state = self
            .take_ceremony(user, ceremony, &format!("register:{}", kind.as_str()))
            .await?;
        let (id, data) = match kind {
            CredentialKind::Passkey => {
                let state: PasskeyRegistration = from_json(&state)?;
                let key = self
                    .webauthn
                    .finish_passkey_registration(response, &state)
                    .map_err(|_| Error::Invalid)?;
                (encode_id(key.cred_id().as_ref()), to_json(&key)?)
            }
            CredentialKind::SecurityKey => {
                let state: SecurityKeyRegistration = from_json(&state)?;
                let key = self
                    .webauthn
                    .finish_securitykey_registration(response, &state)
                    .map_err(|_| Error::Invalid)?;
                (encode_id(key.cred_id().as_ref()), to_json(&key)?)
            }
        };
        let record = CredentialRecord {
            id,
            user: user.clone(),
            kind: kind.as_str().to_owned(),
            name: name.to_owned(),
            data,
            counter: 0,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.store.add_credential(&record).await?;
        tracing::info!(user = %user, kind = kind.as_str(), "webauthn credential registered");
        Ok(info(record))
    }

    /// Starts authenticating `user` with their credentials of `kind`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the user has no credential of that kind;
    /// [`Error::WebAuthn`] when `webauthn-rs` refuses; store failures.
    pub async fn start_authentication(
        &self,
        user: &UserId,
        kind: CredentialKind,
    ) -> Result<(CeremonyId, RequestChallengeResponse), Error> {
        let records: Vec<_> = self
            .store
            .credentials(user)
            .await?
            .into_iter()
            .filter(|c| c.kind == kind.as_str())
            .collect();
        if records.is_empty() {
            return Err(Error::Invalid);
        }
        let err = |e: WebauthnError| Error::WebAuthn(e.to_string());
        let (challenge, state) = match kind {
            CredentialKind::Passkey => {
                let keys = records
                    .iter()
                    .map(|r| from_json::<Passkey>(&r.data))
                    .collect::<Result<Vec<_>, _>>()?;
                let (c, s) = self
                    .webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(err)?;
                (c, to_json(&s)?)
            }
            CredentialKind::SecurityKey => {
                let keys = records
                    .iter()
                    .map(|r| from_json::<SecurityKey>(&r.data))
                    .collect::<Result<Vec<_>, _>>()?;
                let (c, s) = self
                    .webauthn
                    .start_securitykey_authentication(&keys)
                    .map_err(err)?;
                (c, to_json(&s)?)
            }
        };
        let id = self
            .put_ceremony(user, format!("authenticate:{}", kind.as_str()), state)
            .await?;
        Ok((id, challenge))
    }

    /// Finishes an authentication. The ceremony is consumed first, so the same response
    /// (or any other) never verifies twice against one state. The credential's counter
    /// is stored; a counter that did not move forward is reported.
    ///
    /// # Errors
    ///
    /// [`Error::CounterRegression`] when the signature counter went backwards (possible
    /// clone); [`Error::Invalid`] for an unknown, used, expired or foreign ceremony or a
    /// response that does not verify.
    pub async fn finish_authentication(
        &self,
        user: &UserId,
        ceremony: &CeremonyId,
        kind: CredentialKind,
        response: &PublicKeyCredential,
    ) -> Result<Verified, Error> {
        let state = self
            .take_ceremony(user, ceremony, &format!("authenticate:{}", kind.as_str()))
            .await?;
        let regression = |e: WebauthnError| match e {
            WebauthnError::CredentialPossibleCompromise => {
                let credential = encode_id(response.raw_id.as_ref());
                tracing::warn!(user = %user, credential, "webauthn counter went backwards");
                Error::CounterRegression { credential }
            }
            _ => Error::Invalid,
        };
        let result = match kind {
            CredentialKind::Passkey => {
                let state: PasskeyAuthentication = from_json(&state)?;
                self.webauthn
                    .finish_passkey_authentication(response, &state)
                    .map_err(regression)?
            }
            CredentialKind::SecurityKey => {
                let state: SecurityKeyAuthentication = from_json(&state)?;
                self.webauthn
                    .finish_securitykey_authentication(response, &state)
                    .map_err(regression)?
            }
        };
        let id = encode_id(result.cred_id().as_ref());
        let Some(record) = self
            .store
            .credentials(user)
            .await?
            .into_iter()
            .find(|c| c.id == id && c.kind == kind.as_str())
        else {
            // Removed while the ceremony ran.
            return Err(Error::Invalid);
        };
        let data = match kind {
            CredentialKind::Passkey => {
                let mut key: Passkey = from_json(&record.data)?;
                key.update_credential(&result);
                to_json(&key)?
            }
            CredentialKind::SecurityKey => {
                let mut key: SecurityKey = from_json(&record.data)?;
                key.update_credential(&result);
                to_json(&key)?
            }
        };
        let counter = result.counter();
        // Refused before anything is written, so a refused sign-in is not recorded as a
        // use; the store refuses in turn if another sign-in stored a higher counter since
        // this ceremony started.
        // WebAuthn 7.2 step 21: unless both are zero (an authenticator without a counter),
        // the counter must move strictly forward.
        let regressed = (counter > 0 || record.counter > 0) && counter <= record.counter;
        if regressed
            || !self
                .store
                .update_credential(user, &id, &data, counter, self.clock.now())
                .await?
        {
            // The store refuses when another sign-in stored a counter at least as high
            // since the record was read, and when the credential was removed meanwhile:
            // only the first is an alarm.
            if !regressed
                && !self
                    .store
                    .credentials(user)
                    .await?
                    .iter()
                    .any(|c| c.id == id)
            {
                return Err(Error::Invalid);
            }
            tracing::warn!(user = %user, credential = id, "webauthn counter went backwards");
            return Err(Error::CounterRegression { credential: id });
        }
        Ok(Verified {
            method: match kind {
                CredentialKind::Passkey => Method::Passkey,
                CredentialKind::SecurityKey => Method::SecurityKey,
            },
            recovery_codes_left: None,
            credential: Some(id),
        })
    }

    /// The user's credentials, oldest first.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn list(&self, user: &UserId) -> Result<Vec<CredentialInfo>, Error> {
        Ok(self
            .store
            .credentials(user)
            .await?
            .into_iter()
            .map(info)
            .collect())
    }

    /// Renames one of the user's credentials. Returns whether it exists.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a bad name; store failures.
    pub async fn rename(&self, user: &UserId, id: &str, name: &str) -> Result<bool, Error> {
        check_name(name)?;
        Ok(self.store.rename_credential(user, id, name).await?)
    }

    /// Removes one of the user's credentials. Returns whether it existed.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn remove(&self, user: &UserId, id: &str) -> Result<bool, Error> {
        Ok(self.store.remove_credential(user, id).await?)
    }

    /// Deletes expired ceremonies. Returns how many.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn purge_expired(&self) -> Result<u64, Error> {
        Ok(self.store.purge_ceremonies(self.clock.now()).await?)
    }
}

fn info(record: CredentialRecord) -> CredentialInfo {
    CredentialInfo {
        kind: CredentialKind::parse(&record.kind).unwrap_or(CredentialKind::SecurityKey),
        id: record.id,
        name: record.name,
        counter: record.counter,
        created_at: record.created_at,
        last_used_at: record.last_used_at,
    }
}
