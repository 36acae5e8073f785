//! The TOTP and recovery-code service.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use envelope_crypto::{Binding, Envelope, Sealer};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::env::random_id;
use crate::recovery::{self, RecoveryCodes, RecoveryConfig};
use crate::store::{MfaStore, RecoveryHash, RecoverySet, TotpRecord};
use crate::{
    Clock, CredentialKind, Error, Method, OsRandom, OtpAuthUri, Random, SystemClock, TotpCode,
    TotpParams, TotpSecret, UserFactors, UserId, Verified, qr_svg, totp_check,
};

/// The `envelope-crypto` purpose TOTP seeds are sealed under. Get the sealer with
/// `keyring.sealer(mfa::SEED_PURPOSE)`.
pub const SEED_PURPOSE: &str = "mfa.totp-seed";

/// What a new TOTP enrollment shows the user, once: the secret, the `otpauth://` URI and
/// its QR code. Every field holds the secret; it is zeroized on drop and never printed.
pub struct TotpEnrollment {
    secret: Zeroizing<String>,
    uri: Zeroizing<String>,
    qr_svg: Zeroizing<String>,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrollment(redacted)")
    }
}

impl TotpEnrollment {
    /// The secret in base32, for manual entry.
    pub fn secret_base32(&self) -> &str {
        &self.secret
    }

    /// The `otpauth://totp/` URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The URI as a QR code, an SVG document.
    pub fn qr_svg(&self) -> &str {
        &self.qr_svg
    }
}

/// TOTP and recovery codes for the users of one instance, on one [`MfaStore`].
///
/// Built with [`Mfa::builder`]. Cheap to share behind an `Arc`.
pub struct Mfa {
    store: Arc<dyn MfaStore>,
    sealer: Sealer,
    issuer: String,
    params: TotpParams,
    skew: u8,
    recovery: RecoveryConfig,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    /// Recovery-code hashes that may run at once; further ones wait for a permit.
    hashing: Arc<Semaphore>,
    max_concurrent_hashes: NonZeroUsize,
}

impl fmt::Debug for Mfa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfa")
            .field("issuer", &self.issuer)
            .field("params", &self.params)
            .field("skew", &self.skew)
            .field("recovery", &self.recovery)
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Mfa`].
#[must_use]
pub struct MfaBuilder {
    store: Arc<dyn MfaStore>,
    sealer: Sealer,
    issuer: String,
    params: TotpParams,
    skew: u8,
    recovery: RecoveryConfig,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    max_concurrent_hashes: NonZeroUsize,
}

impl MfaBuilder {
    /// The TOTP parameters for new enrollments (default SHA-1, 6 digits, 30 s).
    pub fn totp_params(mut self, params: TotpParams) -> Self {
        self.params = params;
        self
    }

    /// Steps accepted either side of now (default 1, at most 2).
    pub fn skew(mut self, skew: u8) -> Self {
        self.skew = skew;
        self
    }

    /// Recovery code settings.
    pub fn recovery(mut self, config: RecoveryConfig) -> Self {
        self.recovery = config;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source (default: the operating system's).
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// How many recovery-code hashes run at once (default: the number of CPUs). Each
    /// argon2id hash holds `m_kib` of memory (19 MiB by default) on tokio's blocking
    /// pool, which grows to hundreds of threads; without this bound a burst of
    /// redemption attempts would hold that much memory per attempt. Attempts beyond the
    /// bound wait their turn.
    pub fn max_concurrent_hashes(mut self, n: NonZeroUsize) -> Self {
        self.max_concurrent_hashes = n;
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the issuer is empty, longer than 256 bytes, or has `:`,
    /// control characters or surrounding spaces, the sealer is not for
    /// [`SEED_PURPOSE`], the skew is over 2, or the recovery settings are out of range.
    pub fn build(self) -> Result<Mfa, Error> {
        // The check every otpauth URI applies, so a bad issuer fails here and not at
        // every enrollment.
        crate::otpauth::check_name(&self.issuer, "issuer").map_err(|_| {
            Error::Config(
                "the issuer must be 1 to 256 bytes without ':', control characters or surrounding spaces"
                    .into(),
            )
        })?;
        if self.sealer.purpose().as_str() != SEED_PURPOSE {
            return Err(Error::Config(format!(
                "the seed sealer must be for purpose {SEED_PURPOSE:?}"
            )));
        }
        if self.skew > 2 {
            return Err(Error::Config("a skew over 2 steps is not allowed".into()));
        }
        self.recovery.check()?;
        Ok(Mfa {
            store: self.store,
            sealer: self.sealer,
            issuer: self.issuer,
            params: self.params,
            skew: self.skew,
            recovery: self.recovery,
            clock: self.clock,
            random: self.random,
            hashing: Arc::new(Semaphore::new(self.max_concurrent_hashes.get())),
            max_concurrent_hashes: self.max_concurrent_hashes,
        })
    }
}

fn seed_binding(user: &UserId, enrollment: &str) -> Binding {
    Binding::new()
        .record(format!("user:{}", user.as_str()))
        .pair("enrollment", enrollment)
}

impl Mfa {
    /// A builder: `store` keeps the state, `sealer` (from `keyring.sealer(SEED_PURPOSE)`)
    /// seals the seeds, `issuer` names the service in authenticator apps.
    pub fn builder(store: Arc<dyn MfaStore>, sealer: Sealer, issuer: &str) -> MfaBuilder {
        MfaBuilder {
            store,
            sealer,
            issuer: issuer.to_owned(),
            params: TotpParams::default(),
            skew: 1,
            recovery: RecoveryConfig::default(),
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            max_concurrent_hashes: std::thread::available_parallelism()
                .unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// Starts a TOTP enrollment: a fresh 160-bit seed, sealed and bound to `user`, stored
    /// unconfirmed. The factor does not count (and [`Mfa::totp_verify`] refuses) until
    /// [`Mfa::totp_confirm`] sees a first code. Starting again replaces an unconfirmed
    /// enrollment.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyEnrolled`] when the user has a confirmed TOTP factor;
    /// [`Error::Input`] for a bad account name; store, crypto and random failures.
    pub async fn totp_enroll(&self, user: &UserId, account: &str) -> Result<TotpEnrollment, Error> {
        let secret = TotpSecret::generate(self.random.as_ref())?;
        let id = random_id(self.random.as_ref())?;
        let sealed = self
            .sealer
            .seal(secret.as_bytes(), &seed_binding(user, &id))?
            .to_armor();
        let base32 = secret.to_base32();
        let uri = OtpAuthUri::new(&self.issuer, account, secret, self.params)?;
        let text = uri.to_uri();
        let qr = qr_svg(&text)?;
        let record = TotpRecord {
            id,
            sealed_seed: sealed,
            algorithm: self.params.algorithm().as_str().to_owned(),
            digits: self.params.digits(),
            period: self.params.period(),
            confirmed: false,
            last_step: None,
            created_at: self.clock.now(),
        };
        if !self.store.put_totp(user, &record).await? {
            return Err(Error::AlreadyEnrolled);
        }
        tracing::info!(user = %user, "totp enrollment started");
        Ok(TotpEnrollment {
            secret: base32,
            uri: text,
            qr_svg: qr,
        })
    }

    /// Confirms a pending enrollment with a first code. From then on the factor counts.
    /// The code's step is recorded: it cannot be used again.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong code, no pending enrollment, or an enrollment that
    /// is already confirmed.
    pub async fn totp_confirm(&self, user: &UserId, code: &str) -> Result<Verified, Error> {
        self.check_totp(user, code, false).await
    }

    /// Verifies a code for a confirmed TOTP factor with the replay guard: accepted only if
    /// its step (within +-skew of now) is newer than the last accepted step, decided
    /// atomically by the store.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong, replayed or older code, an unconfirmed or missing
    /// factor, or malformed input.
    pub async fn totp_verify(&self, user: &UserId, code: &str) -> Result<Verified, Error> {
        self.check_totp(user, code, true).await
    }

    async fn check_totp(
        &self,
        user: &UserId,
        code: &str,
        confirmed: bool,
    ) -> Result<Verified, Error> {
        let Some(record) = self.store.totp(user).await? else {
            return Err(Error::Invalid);
        };
        if record.confirmed != confirmed {
            return Err(Error::Invalid);
        }
        let params = TotpParams::new(record.algorithm.parse()?, record.digits, record.period)?;
        let code = TotpCode::parse(code, params.digits()).map_err(|_| Error::Invalid)?;
        let envelope = Envelope::from_armor(&record.sealed_seed)?;
        let seed = self
            .sealer
            .open(&envelope, &seed_binding(user, &record.id))?;
        let secret = TotpSecret::from_bytes(seed.as_bytes())?;
        let Some(step) = totp_check(&secret, &params, &code, self.clock.now(), self.skew) else {
            tracing::info!(user = %user, "totp code rejected");
            return Err(Error::Invalid);
        };
        if !self.store.accept_totp_step(user, &record.id, step).await? {
            tracing::warn!(user = %user, "totp code replayed or older than the last accepted");
            return Err(Error::Invalid);
        }
        Ok(Verified {
            method: Method::Totp,
            recovery_codes_left: None,
            credential: None,
        })
    }

    /// Removes the user's TOTP factor. Returns whether there was one. Demand a recent
    /// second factor before calling this.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn totp_remove(&self, user: &UserId) -> Result<bool, Error> {
        Ok(self.store.remove_totp(user).await?)
    }

    /// Generates a new set of recovery codes and stores their hashes, voiding the old set
    /// in the same step. Show the codes once; they cannot be read back.
    ///
    /// # Errors
    ///
    /// Random, hashing and store failures.
    pub async fn recovery_generate(&self, user: &UserId) -> Result<RecoveryCodes, Error> {
        let (codes, normalized) = recovery::generate_set(&self.recovery, self.random.as_ref())?;
        let salt = recovery::new_salt(self.random.as_ref())?;
        let scheme = self.recovery.scheme();
        let set_id = random_id(self.random.as_ref())?;
        let hashes = {
            let (scheme, salt) = (scheme.clone(), salt.clone());
            blocking(&self.hashing, move || {
                normalized
                    .iter()
                    .map(|code| recovery::hash(&scheme, &salt, code))
                    .collect::<Result<Vec<_>, Error>>()
            })
            .await?
        };
        let set = RecoverySet {
            set_id,
            scheme,
            salt,
            codes: hashes
                .into_iter()
                .zip(0u32..)
                .map(|(hash, index)| RecoveryHash {
                    index,
                    hash: hash.to_vec(),
                })
                .collect(),
            created_at: self.clock.now(),
        };
        self.store.replace_recovery(user, &set).await?;
        tracing::info!(user = %user, count = codes.len(), "recovery codes generated");
        Ok(codes)
    }

    /// Redeems a recovery code: it verifies at most once, even under concurrent attempts.
    /// Input is forgiving: case, `-` and spaces, and `O`/`I`/`L` for `0`/`1` do not matter.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an unknown, used or voided code.
    pub async fn recovery_redeem(&self, user: &UserId, code: &str) -> Result<Verified, Error> {
        let Some(set) = self.store.recovery(user).await? else {
            return Err(Error::Invalid);
        };
        let Some(normalized) = recovery::normalize(code) else {
            return Err(Error::Invalid);
        };
        let candidate = {
            let (scheme, salt) = (set.scheme.clone(), set.salt.clone());
            blocking(&self.hashing, move || {
                recovery::hash(&scheme, &salt, &normalized)
            })
            .await?
        };
        let Some(index) = recovery::find(&candidate, &set.codes) else {
            tracing::info!(user = %user, "recovery code rejected");
            return Err(Error::Invalid);
        };
        if !self
            .store
            .consume_recovery(user, &set.set_id, index, self.clock.now())
            .await?
        {
            tracing::warn!(user = %user, "recovery code used twice");
            return Err(Error::Invalid);
        }
        // Read again: another code may have been redeemed since the set was read (the
        // hash takes a while). If the read fails, the code is used all the same: the
        // count from before is the best left to report.
        let left = match self.store.recovery(user).await {
            Ok(current) => current.map_or(0, |current| current.codes.len()),
            Err(err) => {
                tracing::warn!(user = %user, error = %err, "recovery codes left: not read again");
                set.codes.len().saturating_sub(1)
            }
        };
        tracing::info!(user = %user, left, "recovery code redeemed");
        Ok(Verified {
            method: Method::RecoveryCode,
            recovery_codes_left: Some(left),
            credential: None,
        })
    }

    /// How many unused recovery codes the user has.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn recovery_remaining(&self, user: &UserId) -> Result<usize, Error> {
        Ok(self
            .store
            .recovery(user)
            .await?
            .map_or(0, |s| s.codes.len()))
    }

    /// What the user has enrolled, for [`crate::Policy::evaluate`].
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn factors(&self, user: &UserId) -> Result<UserFactors, Error> {
        let totp = self.store.totp(user).await?.is_some_and(|r| r.confirmed);
        let credentials = self.store.credentials(user).await?;
        Ok(UserFactors {
            totp,
            passkeys: credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::Passkey.as_str())
                .count(),
            security_keys: credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::SecurityKey.as_str())
                .count(),
            recovery_codes: self.recovery_remaining(user).await?,
        })
    }

    /// Whether the user has a second factor, as [`UserFactors::has_mfa`] of
    /// [`Mfa::factors`], without reading the recovery codes: for the sign-in path, where
    /// it runs on every password that verifies.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn has_mfa(&self, user: &UserId) -> Result<bool, Error> {
        if self.store.totp(user).await?.is_some_and(|r| r.confirmed) {
            return Ok(true);
        }
        let webauthn = [
            CredentialKind::Passkey.as_str(),
            CredentialKind::SecurityKey.as_str(),
        ];
        Ok(self
            .store
            .credentials(user)
            .await?
            .iter()
            .any(|c| webauthn.contains(&c.kind.as_str())))
    }

    /// Removes every factor of the user: TOTP, recovery codes and WebAuthn credentials.
    /// The documented way back for an operator when a user (or the last owner) lost
    /// every factor: verify who they are out of band first.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn reset(&self, user: &UserId) -> Result<(), Error> {
        self.store.remove_totp(user).await?;
        let empty = RecoverySet {
            set_id: random_id(self.random.as_ref())?,
            scheme: "sha256".into(),
            salt: Vec::new(),
            codes: Vec::new(),
            created_at: self.clock.now(),
        };
        self.store.replace_recovery(user, &empty).await?;
        for credential in self.store.credentials(user).await? {
            self.store.remove_credential(user, &credential.id).await?;
        }
        tracing::warn!(user = %user, "every mfa factor of the user was reset");
        Ok(())
    }
}

/// Runs hashing off the async runtime when there is one, holding one of `limit`'s
/// permits until the work is done (also when the caller stops waiting for it).
async fn blocking<T: Send + 'static>(
    limit: &Arc<Semaphore>,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let permit = Arc::clone(limit)
        .acquire_owned()
        .await
        .map_err(|_| Error::Config("the hashing limit was closed".into()))?;
    let work = move || {
        let _permit = permit;
        work()
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(work)
            .await
            .map_err(|e| Error::Config(format!("hashing task failed: {e}")))?,
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use tokio::sync::mpsc::UnboundedSender;
    use tokio::task::JoinHandle;

    use super::*;

    /// Spawns a hash under `limit` that sends `name` on `started` once it runs, then holds
    /// its permit until the returned sender sends or is dropped.
    fn spawn_hash(
        limit: &Arc<Semaphore>,
        started: &UnboundedSender<&'static str>,
        name: &'static str,
    ) -> (JoinHandle<Result<(), Error>>, mpsc::Sender<()>) {
        let (release, released) = mpsc::channel::<()>();
        let (limit, started) = (Arc::clone(limit), started.clone());
        let task = tokio::spawn(async move {
            blocking(&limit, move || {
                started.send(name).expect("the test listens");
                // A message or a dropped sender: either releases the hash.
                let _ = released.recv();
                Ok(())
            })
            .await
        });
        (task, release)
    }

    /// Whether a second hash starts while a first one holds its permit under `limit`,
    /// waiting up to `patience` for it to start.
    async fn second_starts_alongside_first(limit: usize, patience: Duration) -> bool {
        let limit = Arc::new(Semaphore::new(limit));
        let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
        let (first, release_first) = spawn_hash(&limit, &started, "first");
        assert_eq!(starts.recv().await, Some("first"));
        // The second hash does not wait for a release once it runs.
        let (second, _) = spawn_hash(&limit, &started, "second");
        let alongside = tokio::time::timeout(patience, starts.recv()).await.is_ok();
        release_first.send(()).expect("the first hash is waiting");
        first.await.expect("first task").expect("first hash");
        second.await.expect("second task").expect("second hash");
        if !alongside {
            // Released, the second hash runs after all.
            assert_eq!(starts.recv().await, Some("second"));
        }
        alongside
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_beyond_the_limit_wait_for_a_permit() {
        assert!(!second_starts_alongside_first(1, Duration::from_millis(200)).await);
        // The same test without the bound sees both run: it can tell the difference.
        assert!(second_starts_alongside_first(2, Duration::from_secs(30)).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_permit_is_held_until_the_work_ends_even_if_the_caller_leaves() {
        let limit = Arc::new(Semaphore::new(1));
        let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
        let (caller, release) = spawn_hash(&limit, &started, "hash");
        assert_eq!(starts.recv().await, Some("hash"));
        caller.abort();
        assert!(caller.await.expect_err("aborted").is_cancelled());
        // The hash still runs on the blocking pool, and still holds its permit.
        assert_eq!(limit.available_permits(), 0);
        release.send(()).expect("the hash is waiting");
        let _permit = tokio::time::timeout(Duration::from_secs(30), limit.acquire())
            .await
            .expect("the permit comes back when the hash ends")
            .expect("open semaphore");
    }

    #[test]
    fn hashing_runs_without_a_runtime() {
        use std::task::{Context, Poll, Waker};
        // Outside tokio the work runs in place: one poll finishes it.
        let limit = Arc::new(Semaphore::new(1));
        let mut hash = std::pin::pin!(blocking(&limit, || Ok(7)));
        let polled = hash.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(polled, Poll::Ready(Ok(7))));
        assert_eq!(limit.available_permits(), 1);
    }
}
