//! The session manager: issue, verify, touch, list, revoke, step up.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use zeroize::Zeroizing;

use crate::env::{Clock, OsRandom, RandomSource, SystemClock, unix_secs};
use crate::jws::{self, Claims, Sid};
use crate::session::{Client, SessionRequest, check_amr};
use crate::store::{SessionRecord, SessionStore};
use crate::types::SID_LEN;
use crate::{
    Aal, CsrfGuard, Error, Issued, KeySet, Reason, Session, SessionHandle, SessionInfo,
    SessionToken, TenantId, UserId, cookie,
};

/// Default absolute lifetime: 30 days.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Default touch interval: `last_seen_at` is written at most once a minute per session.
pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Default clock-skew allowance for `exp`, `nbf` and `iat` between instances.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Most sessions [`SessionManager::list`] and [`SessionManager::list_user`] return (the
/// newest ones), so that one user with a great many sessions cannot make a listing
/// unbounded.
pub const LIST_LIMIT: usize = 256;

const MIN_LIFETIME: u64 = 60;
/// Chrome caps cookie lifetimes at 400 days; a longer session could not stay in its cookie.
const MAX_LIFETIME: u64 = 400 * 24 * 60 * 60;
const MAX_LEEWAY: u64 = 300;

/// When a session began, when its absolute lifetime ends, and when its user last
/// authenticated.
#[derive(Clone, Copy)]
struct Span {
    created_at: u64,
    expires_at: u64,
    authenticated_at: u64,
}

impl Span {
    /// The times of `record`, for a replacement that neither re-authenticates nor
    /// extends it.
    fn kept(record: &SessionRecord) -> Self {
        Self {
            created_at: record.created_at,
            expires_at: record.expires_at,
            authenticated_at: record.authenticated_at,
        }
    }
}

/// Issues, verifies and revokes sessions. Cheap to clone: clones share keys, store and
/// configuration.
///
/// Build one with [`SessionManager::builder`].
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<Arc<KeySet>>,
    store: Box<dyn SessionStore>,
    clock: Box<dyn Clock>,
    random: Box<dyn RandomSource>,
    issuer: String,
    audience: String,
    lifetime: u64,
    idle_timeout: Option<u64>,
    touch_interval: u64,
    leeway: u64,
    max_sessions_per_user: Option<usize>,
    cookie_name: String,
    clear_cookie: HeaderValue,
    csrf: CsrfGuard,
}

/// Configuration for a [`SessionManager`]; [`SessionManager::builder`] makes one.
#[must_use]
pub struct SessionManagerBuilder {
    keys: KeySet,
    store: Box<dyn SessionStore>,
    clock: Box<dyn Clock>,
    random: Box<dyn RandomSource>,
    issuer: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    idle_timeout: Option<Duration>,
    touch_interval: Duration,
    leeway: Duration,
    max_sessions_per_user: Option<usize>,
    cookie_name: String,
    csrf: CsrfGuard,
}

impl SessionManagerBuilder {
    /// The `iss` claim written and required. Required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` claim written and required. Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Absolute lifetime from sign-in, whole seconds, 1 minute to 400 days. Default 30 days.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Ends a session after this long without activity (as recorded by
    /// [`SessionManager::touch`]). Off by default; must exceed the touch interval.
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = Some(idle_timeout);
        self
    }

    /// The least time between two writes of a session's `last_seen_at`. Default 1 minute.
    /// An idle timeout then takes effect between `idle_timeout - touch_interval` and
    /// `idle_timeout` after the last request.
    pub fn touch_interval(mut self, interval: Duration) -> Self {
        self.touch_interval = interval;
        self
    }

    /// Clock skew allowed on the token's own `exp`, `nbf` and `iat`, at most 5 minutes.
    /// Default 30 s.
    ///
    /// The session record is authoritative: its end of the absolute lifetime is checked
    /// with no leeway, and this crate issues every token with `exp` equal to it, so the
    /// leeway never lengthens a session. What it does in practice is accept a token whose
    /// `nbf` and `iat` come from an instance whose clock runs a little ahead.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Caps the live sessions of one user: when a sign-in ([`SessionManager::issue`])
    /// would exceed `max`, the user's sessions that idled out are revoked, then the
    /// oldest. Off by default.
    ///
    /// This bounds what one account (a credential-stuffing bot that got in, a script
    /// signing in on every run) can make the store hold. With [`MemoryStore`]'s automatic
    /// purge, revoked records then leave memory too.
    ///
    /// [`MemoryStore`]: crate::MemoryStore
    pub fn max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_sessions_per_user = Some(max);
        self
    }

    /// The cookie name; it must start with `__Host-`. Default `__Host-session`.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The CSRF guard the axum extractor (and `SessionManager::csrf_layer`) applies.
    /// Default [`CsrfGuard::new`].
    pub fn csrf(mut self, guard: CsrfGuard) -> Self {
        self.csrf = guard;
        self
    }

    /// The options that can undo the manager's guarantees: where time and session ids come
    /// from. See [`DangerousBuilder`].
    pub fn dangerous(self) -> DangerousBuilder {
        DangerousBuilder { builder: self }
    }

    /// Checks the configuration and builds the manager.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming what to fix: a missing issuer or audience, a lifetime out
    /// of range, an idle timeout not above the touch interval, a leeway over 5 minutes, or
    /// a cookie name without the `__Host-` prefix.
    pub fn build(self) -> Result<SessionManager, Error> {
        let required = |value: Option<String>, what: &str| match value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Error::Config(format!(
                "the {what} is required: call .{what}(...) on the builder"
            ))),
        };
        let issuer = required(self.issuer, "issuer")?;
        let audience = required(self.audience, "audience")?;
        let lifetime = self.lifetime.as_secs();
        if !(MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime) {
            return Err(Error::Config(format!(
                "the session lifetime must be between {MIN_LIFETIME} s and 400 days, got {lifetime} s"
            )));
        }
        let touch_interval = self.touch_interval.as_secs();
        let idle_timeout = self.idle_timeout.map(|d| d.as_secs());
        if let Some(idle) = idle_timeout
            && (idle <= touch_interval || idle > lifetime)
        {
            return Err(Error::Config(format!(
                "the idle timeout ({idle} s) must exceed the touch interval ({touch_interval} s) \
                 and not exceed the lifetime ({lifetime} s)"
            )));
        }
        if touch_interval > lifetime {
            return Err(Error::Config(format!(
                "the touch interval ({touch_interval} s) must not exceed the lifetime ({lifetime} s)"
            )));
        }
        let leeway = self.leeway.as_secs();
        if leeway > MAX_LEEWAY {
            return Err(Error::Config(format!(
                "the leeway must be at most {MAX_LEEWAY} s, got {leeway} s"
            )));
        }
        if self.max_sessions_per_user == Some(0) {
            return Err(Error::Config(
                "max_sessions_per_user must be at least 1".into(),
            ));
        }
        cookie::check_name(&self.cookie_name)?;
        let clear_cookie = cookie::clear(&self.cookie_name)?;
        Ok(SessionManager {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(self.keys)),
                store: self.store,
                clock: self.clock,
                random: self.random,
                issuer,
                audience,
                lifetime,
                idle_timeout,
                touch_interval,
                leeway,
                max_sessions_per_user: self.max_sessions_per_user,
                cookie_name: self.cookie_name,
                clear_cookie,
                csrf: self.csrf,
            }),
        })
    }
}

/// Options that break the manager's guarantees when misused, behind
/// [`SessionManagerBuilder::dangerous`] so that they stand out in review.
///
/// A clock that runs late keeps expired and idle sessions alive, and one that can be set
/// revives them; a random source that is not a cryptographically secure generator makes
/// session ids guessable. These exist for deterministic tests and for platforms with their
/// own time or entropy service.
///
/// ```
/// # use session_tokens::{KeySet, MemoryStore, SessionManager, SigningKey, SystemClock};
/// # fn main() -> Result<(), session_tokens::Error> {
/// # let keys = KeySet::new(SigningKey::hs256("k", &[7u8; 32])?);
/// let manager = SessionManager::builder(keys, MemoryStore::new())
///     .issuer("https://auth.example.com")
///     .audience("https://app.example.com")
///     .dangerous()
///     .clock(SystemClock)
///     .done()
///     .build()?;
/// # let _ = manager;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct DangerousBuilder {
    builder: SessionManagerBuilder,
}

impl DangerousBuilder {
    /// Where time comes from. Default [`SystemClock`]. Every lifetime, idle timeout and
    /// `nbf`/`iat` check trusts it.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.builder.clock = Box::new(clock);
        self
    }

    /// Where session ids come from. Default [`OsRandom`], the operating system's
    /// generator. Anything else must be a cryptographically secure generator: whoever
    /// predicts a session id and holds a signing key holds the session.
    pub fn random(mut self, random: impl RandomSource) -> Self {
        self.builder.random = Box::new(random);
        self
    }

    /// Back to the ordinary options.
    pub fn done(self) -> SessionManagerBuilder {
        self.builder
    }
}

impl fmt::Debug for DangerousBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DangerousBuilder").finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Starts configuring a manager that signs with `keys` and keeps records in `store`.
    pub fn builder(keys: KeySet, store: impl SessionStore) -> SessionManagerBuilder {
        SessionManagerBuilder {
            keys,
            store: Box::new(store),
            clock: Box::new(SystemClock),
            random: Box::new(OsRandom),
            issuer: None,
            audience: None,
            lifetime: DEFAULT_LIFETIME,
            idle_timeout: None,
            touch_interval: DEFAULT_TOUCH_INTERVAL,
            leeway: DEFAULT_LEEWAY,
            max_sessions_per_user: None,
            cookie_name: cookie::DEFAULT_NAME.to_owned(),
            csrf: CsrfGuard::new(),
        }
    }

    /// Issues a session: stores its record and signs its token. With
    /// [`max_sessions_per_user`](SessionManagerBuilder::max_sessions_per_user) set, then
    /// revokes the user's oldest sessions beyond the cap.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a bad amr list or label, [`Error::CookieTooLarge`] when the
    /// token would not fit a cookie, [`Error::Random`], [`Error::Store`] (if the cap
    /// cannot be applied, the new session is revoked and not returned).
    pub async fn issue(&self, request: SessionRequest) -> Result<Issued, Error> {
        let request = request.validated()?;
        let generation = self
            .inner
            .store
            .generation(&request.tenant, &request.user)
            .await?;
        let issued = self
            .create(
                request.tenant,
                request.user,
                request.aal,
                request.amr,
                request.client,
                generation,
                None,
            )
            .await?;
        if let Some(max) = self.inner.max_sessions_per_user {
            self.enforce_cap(&issued.session, max).await?;
        }
        tracing::info!(
            tenant = %issued.session.tenant(),
            user = %issued.session.user(),
            session = %issued.session.handle(),
            aal = %issued.session.aal(),
            "session issued"
        );
        Ok(issued)
    }

    /// Revokes `new`'s user's sessions that idled out, then the oldest, so that at most
    /// `max` stay live, `new` among them. On failure revokes `new` too, so that issue
    /// never hands out a session beyond the cap.
    async fn enforce_cap(&self, new: &Session, max: usize) -> Result<(), Error> {
        let store = &self.inner.store;
        let (tenant, user, now) = (new.tenant(), new.user(), self.now());
        let capped = async {
            self.revoke_idle(new, now).await?;
            store
                .revoke_oldest(tenant, user, new.handle(), max - 1, now)
                .await
        };
        match capped.await {
            Ok(0) => Ok(()),
            Ok(revoked) => {
                tracing::info!(%tenant, %user, revoked, max, "oldest sessions revoked: per-user cap");
                Ok(())
            }
            Err(err) => {
                if let Err(undo) = store.revoke(tenant, user, new.handle(), now).await {
                    tracing::warn!(error = %undo, session = %new.handle(), "revoking a session issued past the cap failed");
                }
                Err(err.into())
            }
        }
    }

    /// Revokes the sessions of `new`'s user (among the [`LIST_LIMIT`] newest) that idled
    /// out: they are dead already, and must not take places under the cap from sessions
    /// in use.
    async fn revoke_idle(&self, new: &Session, now: u64) -> Result<(), crate::StoreError> {
        if self.inner.idle_timeout.is_none() {
            return Ok(());
        }
        let store = &self.inner.store;
        let (tenant, user) = (new.tenant(), new.user());
        let mut revoked = 0u32;
        for record in store.list(tenant, user, now, LIST_LIMIT).await? {
            if record.handle != *new.handle()
                && self.idle(&record, now)
                && store.revoke(tenant, user, &record.handle, now).await?
            {
                revoked += 1;
            }
        }
        if revoked > 0 {
            tracing::info!(%tenant, %user, revoked, "idle sessions revoked: per-user cap");
        }
        Ok(())
    }

    /// Verifies a token: its header, signature and claims, then one store lookup. The
    /// session must exist, not be revoked, expired or idle for longer than the idle
    /// timeout, and carry the user's current generation.
    ///
    /// Verification does not record activity: call [`SessionManager::touch`] (the axum
    /// extractor does). Nor does it check for cross-site requests, which it cannot see:
    /// the axum extractor runs the manager's [`CsrfGuard`] before verifying; elsewhere run
    /// [`CsrfGuard::check`] (or the `CsrfLayer`) on requests with unsafe methods.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for every refusal (its [`Reason`] is for logs only);
    /// [`Error::Store`] when the store cannot answer (fail closed).
    pub async fn verify(&self, token: &str) -> Result<Session, Error> {
        let result = self.verify_token(token).await;
        if let Err(Error::Invalid(rejection)) = &result {
            tracing::debug!(reason = ?rejection.reason(), "session token refused");
        }
        result
    }

    async fn verify_token(&self, token: &str) -> Result<Session, Error> {
        let claims = jws::verify(&self.keys(), token).map_err(Error::invalid)?;
        let now = self.now();
        self.check_claims(&claims, now).map_err(Error::invalid)?;
        let handle = SessionHandle::of_sid(claims.sid.as_str());
        let found = self
            .inner
            .store
            .lookup(&handle)
            .await?
            .ok_or(Error::invalid(Reason::UnknownSession))?;
        let record = found.record;
        let reject = |reason| Err(Error::invalid(reason));
        if record.tenant.as_str() != claims.org
            || record.user.as_str() != claims.sub
            || record.aal.level() != claims.aal
            || record.authenticated_at != claims.auth_time
        {
            return reject(Reason::Mismatch);
        }
        if record.generation != claims.generation || record.generation != found.current_generation {
            return reject(Reason::StaleGeneration);
        }
        if record.revoked_at.is_some() {
            return reject(Reason::Revoked);
        }
        if now >= record.expires_at {
            return reject(Reason::Expired);
        }
        if self.idle(&record, now) {
            return reject(Reason::IdleExpired);
        }
        Ok(Session { record })
    }

    fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), Reason> {
        let leeway = self.inner.leeway;
        if claims.iss != self.inner.issuer {
            return Err(Reason::WrongIssuer);
        }
        if claims.aud != self.inner.audience {
            return Err(Reason::WrongAudience);
        }
        if now >= claims.exp.saturating_add(leeway) {
            return Err(Reason::Expired);
        }
        if claims.nbf > now.saturating_add(leeway) || claims.iat > now.saturating_add(leeway) {
            return Err(Reason::NotYetValid);
        }
        if claims.sid.as_str().len() != SID_LEN || Aal::from_level(claims.aal).is_none() {
            return Err(Reason::Malformed);
        }
        Ok(())
    }

    fn idle(&self, record: &SessionRecord, now: u64) -> bool {
        self.inner
            .idle_timeout
            .is_some_and(|idle| now >= record.last_seen_at.saturating_add(idle))
    }

    /// Records activity: writes `last_seen_at = now` when the last write is at least the
    /// touch interval old, otherwise does nothing (without a store round trip). Returns
    /// whether it wrote.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn touch(&self, session: &Session) -> Result<bool, Error> {
        let now = self.now();
        let interval = self.inner.touch_interval;
        // A session that idled out after it was verified stays dead. (The store's
        // `last_seen_at` may be newer than this copy's, if another request touched the
        // session since: skipping then loses at most the time between the two touches.)
        if now < session.record.last_seen_at.saturating_add(interval)
            || self.idle(&session.record, now)
        {
            return Ok(false);
        }
        Ok(self
            .inner
            .store
            .touch(session.handle(), now, interval)
            .await?)
    }

    /// The live sessions of `current`'s user, newest first, with `current` marked: at
    /// most the [`LIST_LIMIT`] newest (less any of those that idled out).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list(&self, current: &Session) -> Result<Vec<SessionInfo>, Error> {
        self.list_sessions(current.tenant(), current.user(), Some(current.handle()))
            .await
    }

    /// The live sessions of a user, newest first, for an administrator: at most the
    /// [`LIST_LIMIT`] newest (less any of those that idled out).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list_user(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<SessionInfo>, Error> {
        self.list_sessions(tenant, user, None).await
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        current: Option<&SessionHandle>,
    ) -> Result<Vec<SessionInfo>, Error> {
        let now = self.now();
        let records = self.inner.store.list(tenant, user, now, LIST_LIMIT).await?;
        Ok(records
            .into_iter()
            .filter(|record| !self.idle(record, now))
            .map(|record| SessionInfo {
                current: Some(&record.handle) == current,
                record,
            })
            .collect())
    }

    /// Signs out: revokes `session` itself. Returns whether it was still live.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn sign_out(&self, session: &Session) -> Result<bool, Error> {
        self.revoke(session, session.handle()).await
    }

    /// Revokes one of `current`'s user's sessions (from [`SessionManager::list`]). A handle
    /// of another user's session is left alone. Returns whether a session was revoked.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn revoke(&self, current: &Session, handle: &SessionHandle) -> Result<bool, Error> {
        let revoked = self
            .inner
            .store
            .revoke(current.tenant(), current.user(), handle, self.now())
            .await?;
        if revoked {
            tracing::info!(tenant = %current.tenant(), user = %current.user(), session = %handle, "session revoked");
        }
        Ok(revoked)
    }

    /// Signs out everywhere: revokes every session of `current`'s user, `current` included,
    /// and bumps the user's generation, so a session being issued or replaced at this
    /// moment dies too. Returns how many were revoked.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn revoke_all(&self, current: &Session) -> Result<u64, Error> {
        self.revoke_user(current.tenant(), current.user()).await
    }

    /// Signs out every other device: revokes every session of `current`'s user, bumps the
    /// user's generation (so a session being issued or replaced at this moment dies too)
    /// and issues a replacement for `current` with a new session id and everything else
    /// kept, as [`SessionManager::rotate`] does. Returns the replacement, whose cookie
    /// must be set on the response, and how many other sessions were revoked.
    ///
    /// If `current` expired or was revoked while the request ran, the others are still
    /// signed out and the generation bumped, but no replacement is issued.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `current` expired or was revoked meanwhile, or is of an
    /// earlier generation than the user's ([`Reason::StaleGeneration`]);
    /// [`Error::Store`], [`Error::Random`]. On an error after the bump the user is signed
    /// out everywhere, which is the safe side.
    pub async fn revoke_others(&self, current: &Session) -> Result<(Issued, u64), Error> {
        let (tenant, user) = (current.tenant(), current.user());
        // The count; the renewal's bump is what revokes, so it runs even when counting
        // failed (and then the replacement is not handed out: signed out everywhere).
        let revoked = self
            .inner
            .store
            .revoke_all(tenant, user, Some(current.handle()), self.now())
            .await;
        let span = Span::kept(&current.record);
        let renewed = self
            .renew_under_new_generation(current, Some(span), "other sessions signed out")
            .await;
        let revoked = match revoked {
            Ok(revoked) => revoked,
            Err(err) => {
                // The replacement is not handed out, so it must not live on unseen.
                if let Ok(issued) = &renewed
                    && let Err(undo) = self
                        .inner
                        .store
                        .revoke(tenant, user, issued.session().handle(), self.now())
                        .await
                {
                    tracing::warn!(error = %undo, session = %issued.session().handle(), "revoking an unreturned replacement failed");
                }
                return Err(err.into());
            }
        };
        tracing::info!(%tenant, %user, revoked, "other sessions revoked");
        Ok((renewed?, revoked))
    }

    /// Administrator action (a lost device, a suspended account): revokes every session of
    /// a user and bumps the user's generation, so a sign-in that is storing its session at
    /// this moment gets a dead one. Returns how many were revoked.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn revoke_user(&self, tenant: &TenantId, user: &UserId) -> Result<u64, Error> {
        let store = &self.inner.store;
        // The count first; the bump then also kills whatever is stored after it under an
        // earlier generation (a sign-in or step-up that read the generation before). The
        // bump is what revokes, so it runs even when counting failed.
        let revoked = store.revoke_all(tenant, user, None, self.now()).await;
        let generation = store.bump_generation(tenant, user, self.now()).await?;
        let revoked = revoked?;
        tracing::info!(%tenant, %user, revoked, generation, "all sessions of user revoked");
        Ok(revoked)
    }

    /// After a password change made from `current`: bumps the user's generation (every
    /// session of the user dies, including ones being issued at this moment) and issues a
    /// replacement for `current` with a new session id, re-authenticated now. Set the new
    /// token's cookie on the response.
    ///
    /// `current` was verified when the request began; if it expired, or was revoked (by
    /// the user, an administrator or a concurrent password change), before this call, the
    /// generation is still bumped but no replacement is issued: a revoked session never
    /// comes back as a fresh one.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `current` expired or was revoked meanwhile, or is of an
    /// earlier generation than the user's ([`Reason::StaleGeneration`]);
    /// [`Error::Store`], [`Error::Random`]. On an error after the bump the user is signed
    /// out everywhere, which is the safe side.
    pub async fn password_changed(&self, current: &Session) -> Result<Issued, Error> {
        self.renew_under_new_generation(current, None, "password changed: sessions invalidated")
            .await
    }

    /// Revokes `current`, bumps its user's generation (every session of the user dies) and
    /// issues `current`'s replacement under the new generation: authenticated now, or
    /// with the times of `span`. When `current` expired, was revoked or was not of the
    /// user's latest generation, the bump still happens and nothing is issued.
    async fn renew_under_new_generation(
        &self,
        current: &Session,
        span: Option<Span>,
        event: &'static str,
    ) -> Result<Issued, Error> {
        let now = self.now();
        let expired = now >= current.record.expires_at;
        // Before the bump, which revokes every session of the user: `false` when `current`
        // was revoked meanwhile, and for the second of two renewals from one session. A
        // failure here is reported only after the bump, which must happen regardless.
        let live = if expired {
            Ok(false)
        } else {
            self.inner
                .store
                .revoke(current.tenant(), current.user(), current.handle(), now)
                .await
        };
        let generation = self
            .inner
            .store
            .bump_generation(current.tenant(), current.user(), now)
            .await?;
        tracing::info!(tenant = %current.tenant(), user = %current.user(), generation, "{event}");
        let live = live?;
        if expired {
            return Err(Error::invalid(Reason::Expired));
        }
        if !live {
            return Err(Error::invalid(Reason::Revoked));
        }
        // `current` must have been of the generation just replaced. A record stored
        // under an earlier one (a sign-in that raced an administrator's revocation) is
        // unrevoked but dead, and must not come back as a live session; nor is one
        // renewed when another bump came in between (the safe side).
        if current.record.generation.checked_add(1) != Some(generation) {
            return Err(Error::invalid(Reason::StaleGeneration));
        }
        self.reissue(
            current,
            current.aal(),
            current.amr().to_vec(),
            generation,
            span,
        )
        .await
    }

    /// After a password reset (no session at hand): bumps the user's generation, so every
    /// session of the user dies.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn password_reset(&self, tenant: &TenantId, user: &UserId) -> Result<(), Error> {
        let generation = self
            .inner
            .store
            .bump_generation(tenant, user, self.now())
            .await?;
        tracing::info!(%tenant, %user, generation, "password reset: sessions invalidated");
        Ok(())
    }

    /// After the user of `current` authenticated again (re-entered the password, passed
    /// MFA): revokes `current` and issues a replacement with a new session id,
    /// `authenticated_at` now, the higher of the two assurance levels and the union of the
    /// authentication methods. The old token stops working.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `current` was revoked or has expired meanwhile;
    /// [`Error::Input`] for a bad amr list; [`Error::Store`], [`Error::Random`].
    pub async fn step_up<I, S>(&self, current: &Session, aal: Aal, amr: I) -> Result<Issued, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut methods = current.amr().to_vec();
        for method in amr {
            let method = method.into();
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        check_amr(&methods)?;
        self.replace(
            current,
            aal.max(current.aal()),
            methods,
            None,
            "session stepped up",
        )
        .await
    }

    /// After a change of privilege that is not a new authentication (a role granted or
    /// taken away, a switch to an administrator view): revokes `current` and issues a
    /// replacement with a new session id and everything else kept: the authentication
    /// time, level and methods, the creation time and the end of the absolute lifetime.
    /// The old token stops working; set the new token's cookie on the response.
    ///
    /// Unlike [`SessionManager::step_up`], this does not claim that the user
    /// authenticated again, so [`SessionManager::require_recent_auth`] answers as before.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `current` was revoked or has expired meanwhile;
    /// [`Error::Store`], [`Error::Random`].
    pub async fn rotate(&self, current: &Session) -> Result<Issued, Error> {
        let amr = current.amr().to_vec();
        self.replace(
            current,
            current.aal(),
            amr,
            Some(Span::kept(&current.record)),
            "session id rotated",
        )
        .await
    }

    /// Revokes `current` and issues its replacement under the same generation (step-up,
    /// rotation), then logs `event`. Refuses when `current` has expired or was revoked
    /// meanwhile, so one session is never replaced twice.
    async fn replace(
        &self,
        current: &Session,
        aal: Aal,
        amr: Vec<String>,
        span: Option<Span>,
        event: &'static str,
    ) -> Result<Issued, Error> {
        let now = self.now();
        if now >= current.record.expires_at {
            return Err(Error::invalid(Reason::Expired));
        }
        if !self
            .inner
            .store
            .revoke(current.tenant(), current.user(), current.handle(), now)
            .await?
        {
            return Err(Error::invalid(Reason::Revoked));
        }
        let generation = current.record.generation;
        let issued = self.reissue(current, aal, amr, generation, span).await?;
        tracing::info!(
            tenant = %current.tenant(),
            user = %current.user(),
            old = %current.handle(),
            new = %issued.session.handle(),
            aal = %issued.session.aal(),
            "{event}"
        );
        Ok(issued)
    }

    async fn reissue(
        &self,
        current: &Session,
        aal: Aal,
        amr: Vec<String>,
        generation: u64,
        span: Option<Span>,
    ) -> Result<Issued, Error> {
        let client = Client {
            ip: current.record.ip,
            user_agent: current.record.user_agent.clone(),
            label: current.record.label.clone(),
        };
        self.create(
            current.tenant().clone(),
            current.user().clone(),
            aal,
            amr,
            client,
            generation,
            span,
        )
        .await
    }

    /// Creates, signs and stores a session: authenticated and starting now, or with the
    /// times of `span` (a rotation).
    #[expect(
        clippy::too_many_arguments,
        reason = "one private constructor, named fields"
    )]
    async fn create(
        &self,
        tenant: TenantId,
        user: UserId,
        aal: Aal,
        amr: Vec<String>,
        client: Client,
        generation: u64,
        span: Option<Span>,
    ) -> Result<Issued, Error> {
        let now = self.now();
        let span = span.unwrap_or(Span {
            created_at: now,
            expires_at: now.saturating_add(self.inner.lifetime),
            authenticated_at: now,
        });
        let sid = self.new_session_id()?;
        let expires_at = span.expires_at;
        let record = SessionRecord {
            handle: SessionHandle::of_sid(&sid),
            tenant,
            user,
            generation,
            created_at: span.created_at,
            expires_at,
            last_seen_at: now,
            authenticated_at: span.authenticated_at,
            aal,
            amr,
            ip: client.ip,
            user_agent: client.user_agent,
            label: client.label,
            revoked_at: None,
        };
        let claims = Claims {
            iss: self.inner.issuer.clone(),
            aud: self.inner.audience.clone(),
            sub: record.user.as_str().to_owned(),
            org: record.tenant.as_str().to_owned(),
            sid: Sid::new(sid),
            iat: now,
            nbf: now,
            exp: expires_at,
            auth_time: span.authenticated_at,
            aal: aal.level(),
            amr: record.amr.clone(),
            generation,
        };
        let token = SessionToken::new(jws::sign(&self.keys(), &claims)?);
        drop(claims);
        // Refuse now, before storing anything, a session whose cookie could not be set.
        cookie::check_size(
            &self.inner.cookie_name,
            token.expose().len(),
            self.inner.lifetime,
        )?;
        self.inner.store.insert(&record).await?;
        Ok(Issued {
            token,
            session: Session { record },
        })
    }

    /// 32 random bytes, base64url: the secret session id.
    fn new_session_id(&self) -> Result<Zeroizing<String>, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        self.inner.random.fill(bytes.as_mut())?;
        Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    /// Refuses the action unless the session reached `required`.
    ///
    /// # Errors
    ///
    /// [`Error::InsufficientAal`]: send the user through MFA, then
    /// [`SessionManager::step_up`].
    pub fn require_aal(&self, session: &Session, required: Aal) -> Result<(), Error> {
        if session.aal() >= required {
            Ok(())
        } else {
            Err(Error::InsufficientAal {
                required,
                actual: session.aal(),
            })
        }
    }

    /// Refuses the action unless the user authenticated within `max_age`.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`]: ask for the password (or a passkey) again,
    /// then [`SessionManager::step_up`].
    pub fn require_recent_auth(&self, session: &Session, max_age: Duration) -> Result<(), Error> {
        let age = self.now().saturating_sub(session.record.authenticated_at);
        if age <= max_age.as_secs() {
            Ok(())
        } else {
            Err(Error::ReauthenticationRequired { max_age })
        }
    }

    /// The `Set-Cookie` value carrying `issued`'s token: `__Host-` name, `HttpOnly`,
    /// `Secure`, `SameSite=Lax`, `Path=/`, `Max-Age` the session's remaining lifetime.
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`] past 4096 bytes (issue refuses such tokens already).
    pub fn cookie(&self, issued: &Issued) -> Result<HeaderValue, Error> {
        let remaining = issued.session.record.expires_at.saturating_sub(self.now());
        cookie::set(&self.inner.cookie_name, issued.token.expose(), remaining)
    }

    /// The `Set-Cookie` value that deletes the session cookie (for sign-out).
    pub fn clear_cookie(&self) -> HeaderValue {
        self.inner.clear_cookie.clone()
    }

    /// The session token in the request's `Cookie` headers.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Reason::Missing`] when there is none, [`Reason::Malformed`]
    /// when the cookie appears twice.
    pub fn token_from_headers<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, Error> {
        cookie::find(headers, &self.inner.cookie_name).map_err(Error::invalid)
    }

    /// The CSRF guard configured for this manager.
    pub fn csrf(&self) -> &CsrfGuard {
        &self.inner.csrf
    }

    /// A [`CsrfLayer`](crate::CsrfLayer) applying this manager's CSRF guard, for routes
    /// that change state without a session (sign-in, sign-up, password reset).
    #[cfg(feature = "tower")]
    pub fn csrf_layer(&self) -> crate::CsrfLayer {
        crate::CsrfLayer::new(self.inner.csrf.clone())
    }

    /// Replaces the key set (rotation): tokens whose `kid` is not in `keys` stop verifying
    /// at once; new tokens are signed with `keys`' primary key.
    pub fn set_keys(&self, keys: KeySet) {
        let kid = keys.primary_kid().to_owned();
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        tracing::info!(primary = %kid, "session keys replaced");
    }

    /// Deletes expired and revoked records from the store. Returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn purge(&self) -> Result<u64, Error> {
        Ok(self.inner.store.purge(self.now()).await?)
    }

    fn keys(&self) -> Arc<KeySet> {
        // The lock guards a plain pointer swap: a poisoned lock still holds a valid set.
        Arc::clone(
            &self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn now(&self) -> u64 {
        unix_secs(self.inner.clock.now())
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("primary_kid", &self.keys().primary_kid())
            .field("lifetime", &self.inner.lifetime)
            .field("idle_timeout", &self.inner.idle_timeout)
            .field("cookie_name", &self.inner.cookie_name)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "axum")]
impl SessionManager {
    pub(crate) fn check_csrf_parts(&self, parts: &http::request::Parts) -> Result<(), Error> {
        self.inner
            .csrf
            .check_parts(&parts.method, &parts.uri, &parts.headers)
    }
}
