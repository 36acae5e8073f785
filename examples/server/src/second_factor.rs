//! Second factors: TOTP, with recovery codes as the way back in. A user with a
//! confirmed TOTP factor signs in in two steps: the right password answers with a
//! short-lived sealed challenge instead of a session, and `POST /api/login/mfa` with
//! that challenge and a TOTP or recovery code issues the session, at AAL2. A challenge
//! completes one sign-in (spent ones are recorded until they expire) and dies with the
//! password it was made for.

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
    SecondFactorUsed, SecretText, begin_attempt, now, random_id, reauthenticate_session, reject,
    sign_in, signed_in_user, user_agent,
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

    /// A challenge for `user`, valid for five minutes from `now`, once.
    fn issue(&self, user: &UserRow, now: i64) -> Result<String, ApiError> {
        let expires = now.saturating_add(CHALLENGE_TTL_SECS);
        let id = random_id()?;
        let password = password_fingerprint(&user.password_hash);
        let text = format!("{}\n{}\n{expires}\n{id}\n{password}", user.tenant, user.id);
        Ok(self
            .sealer
            .seal(text.as_bytes(), &Binding::new())?
            .to_armor())
    }

    /// An unexpired challenge; `None` for anything else.
    fn open(&self, challenge: &str, now: i64) -> Option<Challenge> {
        let envelope = Envelope::from_armor(challenge).ok()?;
        let opened = self.sealer.open(&envelope, &Binding::new()).ok()?;
        let text = std::str::from_utf8(opened.as_bytes()).ok()?;
        let mut fields = text.split('\n');
        let mut field = || fields.next().map(str::to_owned);
        let (tenant, user, expires, id, password) =
            (field()?, field()?, field()?, field()?, field()?);
        let expires = expires.parse::<i64>().ok()?;
        if field().is_some() || expires < now {
            return None;
        }
        Some(Challenge {
            tenant,
            user,
            expires,
            id,
            password,
        })
    }
}

/// What an issued challenge holds.
#[derive(Debug, PartialEq, Eq)]
struct Challenge {
    tenant: String,
    user: String,
    /// Unix seconds.
    expires: i64,
    /// Random: names the challenge once it is spent.
    id: String,
    /// The [`password_fingerprint`] of the password hash that the password step checked.
    password: String,
}

impl Challenge {
    /// Whether the password that was checked for this challenge is still the user's: a
    /// password change (or reset) voids the challenges made with the old one.
    fn password_is_current(&self, user: &UserRow) -> bool {
        self.password == password_fingerprint(&user.password_hash)
    }
}

/// A short digest of a stored password hash, to tell whether it changed. The hash is
/// not a secret of the client's (it never leaves the server, and this travels sealed).
fn password_fingerprint(password_hash: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(password_hash.as_bytes())[..16])
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
    let challenge = state
        .challenges
        .open(&input.challenge, now())
        .ok_or(ApiError::Unauthorized)?;
    let attempt = begin_attempt(
        &state.second_factor_logins,
        &client,
        &format!("mfa:{}/{}", challenge.tenant, challenge.user),
    )
    .await?;
    let agent = user_agent(&headers);
    let user = state
        .db
        .user_by_id(&challenge.tenant, &challenge.user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    // A challenge completes one sign-in, with the password it was made for; spent or
    // stale, it is refused before any code is looked at (and so before a recovery code
    // could be used up on it).
    if !challenge.password_is_current(&user) || state.db.challenge_spent(&challenge.id).await? {
        return reject(&state, attempt, None).await;
    }
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
    if !state
        .db
        .spend_challenge(&challenge.id, challenge.expires, now())
        .await?
    {
        // Another request with this challenge won the race.
        return reject(&state, attempt, None).await;
    }
    attempt.succeeded().await?;
    let used = SecondFactorUsed {
        factor,
        recovery_codes_left: verified.recovery_codes_left(),
    };
    sign_in(&state, &user, &client, &headers, Some(used)).await
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
/// not change how the account signs in; [`reauthenticate_session`]) and the first code from the
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
    reauthenticate_session(&state, &client, &headers, &session, &input.current_password).await?;
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
        let opened = challenges.open(&issued, 1_000).unwrap();
        assert_eq!(
            (opened.tenant.as_str(), opened.user.as_str()),
            ("acme", "0123abcd")
        );
        assert_eq!(opened.expires, 1_000 + CHALLENGE_TTL_SECS);
        assert!(opened.password_is_current(&user()));
        assert_eq!(
            challenges.open(&issued, 1_000 + CHALLENGE_TTL_SECS),
            Some(opened)
        );
        assert_eq!(challenges.open(&issued, 1_001 + CHALLENGE_TTL_SECS), None);
    }

    /// Each challenge has its own id, and one made before a password change is not
    /// current after it.
    #[test]
    fn challenges_are_distinct_and_tied_to_the_password() {
        let challenges = Challenges::new(&Keyring::generate().unwrap()).unwrap();
        let open = |issued: String| challenges.open(&issued, 1_000).unwrap();
        let first = open(challenges.issue(&user(), 1_000).unwrap());
        let second = open(challenges.issue(&user(), 1_000).unwrap());
        assert_ne!(first.id, second.id);
        let changed = UserRow {
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$another".into(),
            ..user()
        };
        assert!(!first.password_is_current(&changed));
    }

    /// Only what `issue` seals opens: not a sealed text with another shape, and not a
    /// challenge sealed under another keyring.
    #[test]
    fn only_issued_challenges_open() {
        let keyring = Keyring::generate().unwrap();
        let challenges = Challenges::new(&keyring).unwrap();
        let sealer = keyring.sealer(CHALLENGE_PURPOSE).unwrap();
        for text in [
            "acme\n0123abcd\n2000\nid\npassword\nextra",
            "acme\n0123abcd\n2000\nid",
            "acme\n0123abcd\nsoon\nid\npassword",
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
