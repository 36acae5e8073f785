//! Second factors: TOTP, with recovery codes as the way back in. A user with a
//! confirmed TOTP factor signs in in two steps: the right password answers with a
//! short-lived sealed challenge instead of a session, and `POST /api/login/mfa` with
//! that challenge and a TOTP or recovery code issues the session, at AAL2.

use std::sync::Arc;

use audit_chain::{Action, Event};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use envelope_crypto::{Binding, Envelope, Keyring, Sealer};
use mfa::{Mfa, MfaStore};
use serde::Deserialize;
use serde_json::json;
use session_tokens::Session;

use crate::accounts::{
    SecondFactorUsed, SecretText, begin_attempt, now, reauthenticate, reject, sign_in,
    signed_in_user, user_agent,
};
use crate::audit::{actor_of, tenant_of};
use crate::db::{Db, UserRow};
use crate::error::{ApiError, StartError};
use crate::limits::ClientAddr;
use crate::sessions::with_session_cookie;
use crate::state::AppState;

/// The service's name in authenticator apps.
const ISSUER: &str = "Palisade example";
/// The envelope purpose of sign-in challenges.
const CHALLENGE_PURPOSE: &str = "example-server.mfa-challenge";
/// How long a challenge stays usable after the password was accepted.
const CHALLENGE_TTL_SECS: i64 = 300;

/// The `mfa` crate on the server's database, its seeds sealed under the keyring.
pub(crate) async fn open(db: &Db, keyring: &Keyring) -> Result<Mfa, StartError> {
    let fail = |e: mfa::Error| StartError::component("mfa", e);
    let store: Arc<dyn MfaStore> = match db {
        Db::Sqlite(pool) => {
            let store = mfa::SqliteStore::from_pool(pool.clone());
            store.migrate().await.map_err(|e| fail(e.into()))?;
            Arc::new(store)
        }
        Db::Postgres(pool) => {
            let store = mfa::PostgresStore::from_pool(pool.clone());
            store.migrate().await.map_err(|e| fail(e.into()))?;
            Arc::new(store)
        }
    };
    let sealer = keyring
        .sealer(mfa::SEED_PURPOSE)
        .map_err(StartError::Keyring)?;
    Mfa::builder(store, sealer, ISSUER).build().map_err(fail)
}

/// Sign-in challenges: `tenant`, user id and expiry sealed under the keyring, so a client
/// can carry one between the two steps without the server keeping state, and cannot
/// forge, alter or extend it.
pub(crate) struct Challenges {
    sealer: Sealer,
}

impl Challenges {
    pub(crate) fn new(keyring: &Keyring) -> Result<Self, StartError> {
        Ok(Self {
            sealer: keyring
                .sealer(CHALLENGE_PURPOSE)
                .map_err(StartError::Keyring)?,
        })
    }

    /// A challenge for `user`, valid for five minutes from `now`.
    fn issue(&self, user: &UserRow, now: i64) -> Result<String, ApiError> {
        let expires = now.saturating_add(CHALLENGE_TTL_SECS);
        let text = format!("{}\n{}\n{expires}", user.tenant, user.id);
        Ok(self
            .sealer
            .seal(text.as_bytes(), &Binding::new())?
            .to_armor())
    }

    /// The tenant and user id of an unexpired challenge; `None` for anything else.
    fn open(&self, challenge: &str, now: i64) -> Option<(String, String)> {
        let envelope = Envelope::from_armor(challenge).ok()?;
        let opened = self.sealer.open(&envelope, &Binding::new()).ok()?;
        let text = std::str::from_utf8(opened.as_bytes()).ok()?;
        let mut fields = text.split('\n');
        let (tenant, user, expires) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || expires.parse::<i64>().ok()? < now {
            return None;
        }
        Some((tenant.to_owned(), user.to_owned()))
    }
}

/// The user's id in the `mfa` store: `<tenant>/<user id>`. A tenant name is at most 64
/// bytes and the server's user ids are 32, so the id stays well inside `mfa`'s 255-byte
/// bound; a longer one would be refused here, never cut.
fn mfa_user(tenant: &str, user: &str) -> Result<mfa::UserId, ApiError> {
    mfa::UserId::new(format!("{tenant}/{user}")).map_err(ApiError::from)
}

fn session_user(session: &Session) -> Result<mfa::UserId, ApiError> {
    mfa_user(session.tenant().as_str(), session.user().as_str())
}

/// Called by `POST /api/login` once the password is right: `None` when the user has no
/// second factor (issue the session), otherwise the response that asks for one.
pub(crate) async fn challenge_if_enrolled(
    state: &AppState,
    user: &UserRow,
) -> Result<Option<Response>, ApiError> {
    if !state
        .mfa
        .has_mfa(&mfa_user(&user.tenant, &user.id)?)
        .await?
    {
        return Ok(None);
    }
    let challenge = state.challenges.issue(user, now())?;
    let body = json!({
        "mfa_required": true,
        "methods": ["totp", "recovery_code"],
        "challenge": challenge,
        "expires_in": CHALLENGE_TTL_SECS,
    });
    Ok(Some((StatusCode::OK, Json(body)).into_response()))
}

/// `POST /api/login/mfa`.
#[derive(Debug, Deserialize)]
pub(crate) struct SecondFactor {
    challenge: String,
    code: SecretText,
}

/// `POST /api/login/mfa`: the challenge from the password step and a TOTP code (or an
/// unused recovery code). Failures count per client address and, from every address
/// together, per account: 20 a day, so a known password and many addresses do not buy
/// more guesses at the code (`limits::second_factor_limiter`); a replayed TOTP code or a
/// used recovery code fails.
pub(crate) async fn login_second_factor(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    Json(input): Json<SecondFactor>,
) -> Result<Response, ApiError> {
    let (tenant, user_id) = state
        .challenges
        .open(&input.challenge, now())
        .ok_or(ApiError::Unauthorized)?;
    let attempt = begin_attempt(
        &state.second_factor_logins,
        &client,
        &format!("mfa:{tenant}/{user_id}"),
    )
    .await?;
    let agent = user_agent(&headers);
    let user = state
        .db
        .user_by_id(&tenant, &user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let who = mfa_user(&user.tenant, &user.id)?;
    let code = input.code.expose().trim();
    // Up to 8 digits is a TOTP code (6 to 8 digits, or a wrong one); recovery codes are
    // 16 or more characters.
    let (factor, verified) =
        if (1..=8).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
            ("totp", state.mfa.totp_verify(&who, code).await)
        } else {
            ("recovery_code", state.mfa.recovery_redeem(&who, code).await)
        };
    let verified = match verified {
        Ok(verified) => verified,
        Err(mfa::Error::Invalid) => {
            let event = Event::login_failed(
                audit_chain::TenantId::new(&user.tenant)?,
                format!("user:{}", user.id),
                client.ip,
                agent,
            )
            .detail("factor", factor);
            return reject(&state, attempt, Some(event)).await;
        }
        Err(other) => return Err(other.into()),
    };
    attempt.succeeded().await?;
    let used = SecondFactorUsed {
        factor,
        recovery_codes_left: verified.recovery_codes_left(),
    };
    sign_in(&state, &user, &client, agent, Some(used)).await
}

/// `GET /api/mfa`: the signed-in user's factors.
pub(crate) async fn factors(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<serde_json::Value>, ApiError> {
    let factors = state.mfa.factors(&session_user(&session)?).await?;
    Ok(Json(json!({
        "totp": factors.totp,
        "recovery_codes_left": factors.recovery_codes,
    })))
}

/// `POST /api/mfa/totp`: starts a TOTP enrollment and shows its secret, `otpauth://` URI
/// and QR code (SVG) once. It counts only after `POST /api/mfa/totp/confirm`.
pub(crate) async fn totp_enroll(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in_user(&state, &session).await?;
    let enrollment = state
        .mfa
        .totp_enroll(&session_user(&session)?, &user.email)
        .await?;
    Ok(Json(json!({
        "secret": enrollment.secret_base32(),
        "uri": enrollment.uri(),
        "qr_svg": enrollment.qr_svg(),
    })))
}

/// `POST /api/mfa/totp/confirm`.
#[derive(Debug, Deserialize)]
pub(crate) struct Confirm {
    code: SecretText,
    current_password: SecretText,
}

/// `POST /api/mfa/totp/confirm`: the account's current password (a session alone does
/// not change how the account signs in; [`reauthenticate`]) and the first code from the
/// app turn the enrollment on and sign out every other session of the user (made with
/// the password alone, perhaps by whoever prompted turning a second factor on); this
/// device goes on under a new session id, set as a new cookie. The answer carries a
/// fresh set of recovery codes, shown this once, and how many sessions were signed out.
pub(crate) async fn totp_confirm(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    session: Session,
    Json(input): Json<Confirm>,
) -> Result<Response, ApiError> {
    let user = signed_in_user(&state, &session).await?;
    reauthenticate(&state, &client, &headers, &user, &input.current_password).await?;
    let who = session_user(&session)?;
    match state
        .mfa
        .totp_confirm(&who, input.code.expose().trim())
        .await
    {
        Ok(_) => {}
        // 403, not 401: the session is fine, and a client must not sign out over it.
        Err(mfa::Error::Invalid) => return Err(ApiError::Forbidden("the code is wrong")),
        Err(other) => return Err(other.into()),
    }
    // The factor is on from here. Signing out the other devices and recording it are
    // each attempted whatever the other's outcome: a failing audit store must not keep
    // alive the sessions of whoever prompted the change, and a failure signing out (this
    // session ended meanwhile, the store went away) must not leave the factor on
    // unrecorded. Either failure fails the request; the user then signs in again, with
    // the factor, and the recovery codes are made on a success only.
    let signed_out = state.sessions.revoke_others(&session).await;
    let enrolled = Action::custom("account.mfa.enrolled")?;
    state
        .audit
        .record(
            Event::new(tenant_of(&session)?, actor_of(&session), enrolled).detail("factor", "totp"),
        )
        .await?;
    let (kept, signed_out) = signed_out?;
    let codes = state.mfa.recovery_generate(&who).await?;
    let body = json!({
        "totp": true,
        "recovery_codes": codes.iter().collect::<Vec<_>>(),
        "other_sessions_signed_out": signed_out,
    });
    with_session_cookie(&state, &kept, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserRow {
        UserRow {
            id: "0123abcd".into(),
            tenant: "acme".into(),
            email: "alice@acme.example".into(),
            password_hash: String::new(),
        }
    }

    /// A challenge opens until its five minutes are up, and not a second later.
    #[test]
    fn challenges_expire_after_five_minutes() {
        let challenges = Challenges::new(&Keyring::generate().unwrap()).unwrap();
        let issued = challenges.issue(&user(), 1_000).unwrap();
        let expected = Some(("acme".to_owned(), "0123abcd".to_owned()));
        assert_eq!(challenges.open(&issued, 1_000), expected);
        assert_eq!(
            challenges.open(&issued, 1_000 + CHALLENGE_TTL_SECS),
            expected
        );
        assert_eq!(challenges.open(&issued, 1_001 + CHALLENGE_TTL_SECS), None);
    }

    /// Only what `issue` seals opens: not a sealed text with another shape, and not a
    /// challenge sealed under another keyring.
    #[test]
    fn only_issued_challenges_open() {
        let keyring = Keyring::generate().unwrap();
        let challenges = Challenges::new(&keyring).unwrap();
        let sealer = keyring.sealer(CHALLENGE_PURPOSE).unwrap();
        for text in [
            "acme\n0123abcd\n2000\nextra",
            "acme\n0123abcd",
            "acme\n0123abcd\nsoon",
        ] {
            let forged = sealer
                .seal(text.as_bytes(), &Binding::new())
                .unwrap()
                .to_armor();
            assert_eq!(challenges.open(&forged, 1_000), None, "{text:?}");
        }
        let other = Challenges::new(&Keyring::generate().unwrap()).unwrap();
        let foreign = other.issue(&user(), 1_000).unwrap();
        assert_eq!(challenges.open(&foreign, 1_000), None);
    }
}
