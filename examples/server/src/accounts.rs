//! Sign-up, sign-in and password change: passwords hashed on the bounded pool, a dummy
//! verify for unknown accounts, legacy hashes upgraded on login, failed logins counted
//! per client IP and per account, a revocable session in an HttpOnly cookie, every
//! outcome audited.

use std::fmt;
use std::sync::Arc;

use audit_chain::{Action, Event};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rate_limit::{LoginAttempt, LoginCheck, LoginLimiter};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use session_tokens::{Aal, Session, SessionRequest, TenantId, UserId};
use zeroize::Zeroizing;

use crate::audit::{actor_of, tenant_of};
use crate::db::UserRow;
use crate::error::ApiError;
use crate::limits::{ClientAddr, Limits};
use crate::sessions::with_session_cookie;
use crate::state::AppState;

/// Longest email address accepted (the SMTP path limit).
const MAX_EMAIL_LEN: usize = 254;
/// Longest user agent kept with a session or an audit entry.
const MAX_USER_AGENT: usize = 512;

/// A password or credential from a request body: zeroized on drop, never printed.
pub(crate) struct SecretText(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self(Zeroizing::new(text)))
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

impl SecretText {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// `POST /api/signup` and `POST /api/login`.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    tenant: String,
    email: String,
    password: SecretText,
}

/// A tenant name: 1 to 64 of `a-z 0-9 -`, not starting with `-`.
fn tenant_name(text: &str) -> Result<String, ApiError> {
    let name = text.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(ApiError::BadRequest(
            "tenant: 1 to 64 characters of a-z, 0-9 and -".into(),
        ))
    }
}

/// An email address, trimmed and lowercased; only its shape is checked.
fn email_address(text: &str) -> Result<String, ApiError> {
    let email = text.trim().to_lowercase();
    let ok = email.len() <= MAX_EMAIL_LEN
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_control);
    if ok {
        Ok(email)
    } else {
        Err(ApiError::BadRequest("email: not an email address".into()))
    }
}

pub(crate) fn user_agent(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    agent.chars().take(MAX_USER_AGENT).collect()
}

pub(crate) fn random_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal("random id", e))?;
    Ok(hex::encode(bytes))
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Checks the policy off the runtime (it can cost a hash on adversarial input).
async fn check_policy(state: &AppState, password: &str) -> Result<(), ApiError> {
    state
        .passwords
        .check_policy(&state.policy, password)
        .await?
        .map_err(|violations| {
            ApiError::WeakPassword(violations.iter().map(ToString::to_string).collect())
        })
}

/// `POST /api/signup`: creates a tenant and its first account (409 when the tenant
/// name is taken), and the tenant's data key. No session: sign in next.
pub(crate) async fn signup(
    State(state): State<AppState>,
    Json(input): Json<Credentials>,
) -> Result<Response, ApiError> {
    let tenant = tenant_name(&input.tenant)?;
    let email = email_address(&input.email)?;
    check_policy(&state, input.password.expose()).await?;
    let hash = state.passwords.hash(input.password.expose()).await?;

    if !state.db.create_tenant(&tenant, now()).await? {
        return Err(ApiError::Conflict("tenant name taken"));
    }
    state.tenant_keys.create(&tenant).await?;
    let user = UserRow {
        id: random_id()?,
        tenant: tenant.clone(),
        email,
        password_hash: hash.as_str().to_owned(),
    };
    if !state.db.insert_user(&user, now()).await? {
        return Err(ApiError::Conflict("email taken"));
    }
    let audit_tenant = audit_chain::TenantId::new(&tenant)?;
    let created = Action::custom("account.created")?;
    state
        .audit
        .record(Event::new(audit_tenant, format!("user:{}", user.id), created).target(&user.email))
        .await?;
    let body = json!({ "tenant": tenant, "user_id": user.id, "email": user.email });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/login`: counts the attempt against the client's IP and the account first
/// (10 and 20 failures per 15 minutes; a success gives back only its own attempt, so
/// logging into one's own account never buys more guesses at another), verifies on the
/// pool (a dummy verify for an unknown account, so timing and answer are the same),
/// upgrades a legacy hash, and then either asks for the second factor (a user with TOTP;
/// see [`crate::second_factor`]) or issues the session cookie, auditing the outcome.
pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    Json(input): Json<Credentials>,
) -> Result<Response, ApiError> {
    let tenant = tenant_name(&input.tenant)?;
    let email = email_address(&input.email)?;
    let agent = user_agent(&headers);

    let attempt = begin_attempt(&state.logins, &client, &format!("{tenant}/{email}")).await?;

    let user = state.db.user_by_email(&tenant, &email).await?;
    let verified = match &user {
        Some(user) => {
            state
                .passwords
                .verify_and_upgrade(input.password.expose(), &user.password_hash)
                .await
        }
        None => state
            .passwords
            .dummy_verify(input.password.expose())
            .await
            .map(|_| None),
    };
    let account_found = user.is_some();
    let (mut user, upgrade) = match (user, verified) {
        (Some(user), Ok(upgrade)) => (user, upgrade),
        (_, Err(passwords::Error::Invalid)) | (None, Ok(_)) => {
            // Failures are audited in the tenant's log when the tenant exists (it does
            // when the account was found); a made-up tenant name gets no log (anyone
            // could create logs otherwise).
            let audit = if account_found || state.db.tenant_exists(&tenant).await? {
                Some(Event::login_failed(
                    audit_chain::TenantId::new(&tenant)?,
                    format!("email:{email}"),
                    client.ip,
                    agent,
                ))
            } else {
                None
            };
            return reject(&state, attempt, audit).await;
        }
        // Busy, a malformed stored hash, ...: not the client's fault, and not a
        // verdict on the password, so the failure stays counted but is not audited.
        (_, Err(other)) => return Err(other.into()),
    };

    if let Some(new_hash) = upgrade {
        // Only over the hash that was verified: had the password changed while this login
        // ran, writing a fresh hash of the old password would bring it back.
        if !state
            .db
            .upgrade_password_hash(
                &user.tenant,
                &user.id,
                &user.password_hash,
                new_hash.as_str(),
            )
            .await?
        {
            let event = Event::login_failed(
                audit_chain::TenantId::new(&tenant)?,
                format!("email:{email}"),
                client.ip,
                agent,
            )
            .detail("reason", "password changed during sign-in");
            return reject(&state, attempt, Some(event)).await;
        }
        tracing::info!(user = %user.id, "password hash upgraded on login");
        // The second factor's challenge is tied to the stored hash: the new one.
        user.password_hash = new_hash.as_str().to_owned();
    }
    attempt.succeeded().await?;

    // A second factor, when the user has one: a challenge instead of a session.
    if let Some(response) = crate::second_factor::challenge_if_enrolled(&state, &user).await? {
        return Ok(response);
    }
    sign_in(&state, &user, &client, &headers, None).await
}

/// Counts a sign-in attempt for `account` from `client` against `limiter`: the password
/// limits (10 failures per client IP and 20 per `account` from every address in 15
/// minutes) or the second factor's (20 per account a day).
pub(crate) async fn begin_attempt<'a>(
    limiter: &'a LoginLimiter<Arc<Limits>>,
    client: &ClientAddr,
    account: &str,
) -> Result<LoginAttempt<'a, Arc<Limits>>, ApiError> {
    match limiter
        .begin(client.key.as_bytes(), account.as_bytes())
        .await?
    {
        LoginCheck::Allowed(attempt) => Ok(attempt),
        LoginCheck::Limited(decision) => Err(ApiError::Limited(decision)),
    }
}

/// Counts a failed attempt, records `audit` (its `auth.login.failed` entry, if any) and
/// answers 401 with the limit's `RateLimit` fields.
pub(crate) async fn reject(
    state: &AppState,
    attempt: LoginAttempt<'_, Arc<Limits>>,
    audit: Option<Event>,
) -> Result<Response, ApiError> {
    let decision = attempt.decision().clone();
    attempt.failed();
    if let Some(event) = audit {
        state.audit.record(event).await?;
    }
    let mut response = ApiError::Unauthorized.into_response();
    decision.write_headers(response.headers_mut());
    Ok(response)
}

/// Ends the live session whose cookie came with a sign-in, if any: the browser's cookie
/// is about to be replaced, and the old session must not live on where nobody sees it (a
/// copied or planted cookie would otherwise keep working). Audited as a revocation.
async fn end_presented_session(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Ok(token) = state.sessions.token_from_headers(headers) else {
        return Ok(());
    };
    let old = match state.sessions.verify(token).await {
        Ok(old) => old,
        // A dead or forged cookie: nothing to end.
        Err(err) if err.rejection().is_some() => return Ok(()),
        // The store did not answer: the old session may be live, so no sign-in.
        Err(err) => return Err(err.into()),
    };
    if state.sessions.sign_out(&old).await? {
        let event =
            Event::session_revoked(tenant_of(&old)?, actor_of(&old), old.handle().to_string())
                .detail("how", "signed_in_again");
        state.audit.record(event).await?;
    }
    Ok(())
}

/// The second factor that completed a sign-in, for the session and the audit entry.
pub(crate) struct SecondFactorUsed {
    /// `totp` or `recovery_code`.
    pub(crate) factor: &'static str,
    /// After a recovery code: how many are left.
    pub(crate) recovery_codes_left: Option<usize>,
}

/// Issues the session for `user` (AAL2 after a second factor), ends the session whose
/// cookie came with the request, audits the sign-in and answers with the account and
/// the session cookie.
pub(crate) async fn sign_in(
    state: &AppState,
    user: &UserRow,
    client: &ClientAddr,
    headers: &HeaderMap,
    second: Option<SecondFactorUsed>,
) -> Result<Response, ApiError> {
    let agent = user_agent(headers);
    let request = SessionRequest::new(TenantId::new(&user.tenant)?, UserId::new(&user.id)?)
        .ip(client.ip)
        .user_agent(agent.clone());
    let request = match &second {
        None => request.amr(["pwd"]),
        Some(_) => request.aal(Aal::Aal2).amr(["pwd", "otp"]),
    };
    let mut event = Event::login_succeeded(
        audit_chain::TenantId::new(&user.tenant)?,
        format!("user:{}", user.id),
        client.ip,
        agent,
    );
    let mut body = json!({ "tenant": user.tenant, "user_id": user.id, "email": user.email });
    if let Some(second) = &second {
        event = event.detail("factor", second.factor);
        if let Some(left) = second.recovery_codes_left {
            body["recovery_codes_left"] = json!(left);
        }
    }

    end_presented_session(state, headers).await?;
    let issued = state.sessions.issue(request).await?;
    // A session that is not handed out (no cookie, no audit entry of the sign-in) must
    // not live on with nobody holding it.
    let finished = async {
        let cookie = state.sessions.cookie(&issued)?;
        state.audit.record(event).await?;
        Ok::<_, ApiError>(cookie)
    };
    let cookie = match finished.await {
        Ok(cookie) => cookie,
        Err(err) => {
            if let Err(undo) = state.sessions.sign_out(issued.session()).await {
                tracing::warn!(error = %undo, "ending a session that was not handed out failed");
            }
            return Err(err);
        }
    };

    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The account of `session`; 401 when it is gone.
pub(crate) async fn signed_in_user(
    state: &AppState,
    session: &Session,
) -> Result<UserRow, ApiError> {
    state
        .db
        .user_by_id(session.tenant().as_str(), session.user().as_str())
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// `GET /api/me`: the signed-in account.
pub(crate) async fn me(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in_user(&state, &session).await?;
    Ok(Json(json!({
        "tenant": user.tenant,
        "user_id": user.id,
        "email": user.email,
        "aal": session.aal().level(),
        "session": session.handle().to_string(),
    })))
}

/// `POST /api/password`.
#[derive(Debug, Deserialize)]
pub(crate) struct PasswordChange {
    current_password: SecretText,
    new_password: SecretText,
}

/// `POST /api/password`: checks the current password, the policy, stores the new
/// hash, ends every other session of the user and re-issues this one (new cookie).
pub(crate) async fn change_password(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    session: Session,
    Json(input): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let user = signed_in_user(&state, &session).await?;
    reauthenticate(&state, &client, &headers, &user, &input.current_password).await?;
    check_policy(&state, input.new_password.expose()).await?;
    let hash = state.passwords.hash(input.new_password.expose()).await?;
    state
        .db
        .set_password_hash(&user.tenant, &user.id, hash.as_str())
        .await?;
    // The change stands from here. Signing the other sessions out (and, if this one was
    // revoked while the request ran, signing the user out everywhere: 401) and recording
    // the change are each attempted whatever the other's outcome: a failing audit store
    // must not keep alive the sessions of whoever prompted the change.
    let renewed = state.sessions.password_changed(&session).await;
    let changed = Action::custom("account.password.changed")?;
    state
        .audit
        .record(Event::new(
            tenant_of(&session)?,
            actor_of(&session),
            changed,
        ))
        .await?;
    with_session_cookie(&state, &renewed?, json!({ "password_changed": true }))
}

/// [`reauthenticate`] for the user signed in with `session`.
pub(crate) async fn reauthenticate_session(
    state: &AppState,
    client: &ClientAddr,
    headers: &HeaderMap,
    session: &Session,
    password: &SecretText,
) -> Result<(), ApiError> {
    let user = signed_in_user(state, session).await?;
    reauthenticate(state, client, headers, &user, password).await
}

/// Checks `password` as the signed-in `user`'s current one, before a change to how the
/// account signs in (its password, its second factor): a stolen session cookie alone
/// does not make those changes. Wrong passwords count against the login limits, per
/// client and per account, so the cookie does not buy unlimited guesses either, and
/// each is audited as a failed sign-in (`step: reauthenticate`): a session whose
/// holder does not know the password is what a stolen cookie looks like.
///
/// # Errors
///
/// 403 for a wrong password (not 401: the session is fine, and a client must not sign
/// out over it); 429 once the limits are spent.
pub(crate) async fn reauthenticate(
    state: &AppState,
    client: &ClientAddr,
    headers: &HeaderMap,
    user: &UserRow,
    password: &SecretText,
) -> Result<(), ApiError> {
    // The account's key in the login limiter, as `login` counts it: a wrong password
    // here spends the same per-account budget as one at sign-in.
    let attempt = begin_attempt(
        &state.logins,
        client,
        &format!("{}/{}", user.tenant, user.email),
    )
    .await?;
    match state
        .passwords
        .verify(password.expose(), &user.password_hash)
        .await
    {
        Ok(_) => Ok(attempt.succeeded().await?),
        Err(passwords::Error::Invalid) => {
            attempt.failed();
            let event = Event::login_failed(
                audit_chain::TenantId::new(&user.tenant)?,
                format!("user:{}", user.id),
                client.ip,
                user_agent(headers),
            )
            .detail("step", "reauthenticate");
            state.audit.record(event).await?;
            Err(ApiError::Forbidden("the current password is wrong"))
        }
        Err(other) => Err(other.into()),
    }
}
