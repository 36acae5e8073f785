//! What the manager hands out: sessions, listings, issued tokens, and what it takes in.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::env::from_unix_secs;
use crate::store::SessionRecord;
use crate::{Aal, Error, SessionHandle, SessionToken, TenantId, UserId};

/// Most authentication methods a session records.
const MAX_AMR: usize = 8;
/// Longest authentication method name.
const MAX_AMR_LEN: usize = 32;
/// Longest device label, in bytes.
const MAX_LABEL_LEN: usize = 128;
/// Longest stored user agent, in bytes; longer ones are cut.
const MAX_USER_AGENT_LEN: usize = 512;

/// The accessors [`Session`] and [`SessionInfo`] share, over their `record` field. Times
/// past the year 9999 (which only a faulty store can hold) read as 9999-12-31T23:59:59Z.
macro_rules! record_accessors {
    () => {
        /// The authenticator assurance level reached.
        pub fn aal(&self) -> Aal {
            self.record.aal
        }

        /// The authentication methods used (RFC 8176 values).
        pub fn amr(&self) -> &[String] {
            &self.record.amr
        }

        /// When the user last authenticated for this session.
        pub fn authenticated_at(&self) -> SystemTime {
            from_unix_secs(self.record.authenticated_at)
        }

        /// When the session was issued.
        pub fn created_at(&self) -> SystemTime {
            from_unix_secs(self.record.created_at)
        }

        /// The end of the absolute lifetime.
        pub fn expires_at(&self) -> SystemTime {
            from_unix_secs(self.record.expires_at)
        }

        /// The last recorded activity.
        pub fn last_seen_at(&self) -> SystemTime {
            from_unix_secs(self.record.last_seen_at)
        }

        /// The client's IP address at sign-in.
        pub fn ip(&self) -> Option<IpAddr> {
            self.record.ip
        }

        /// The client's user agent at sign-in.
        pub fn user_agent(&self) -> Option<&str> {
            self.record.user_agent.as_deref()
        }

        /// The device label.
        pub fn label(&self) -> Option<&str> {
            self.record.label.as_deref()
        }
    };
}

/// A verified session: what [`SessionManager::verify`](crate::SessionManager::verify) and
/// the axum extractor return.
///
/// It has no public constructor: holding one means a token was verified against the store
/// (or the session was just issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub(crate) record: SessionRecord,
}

impl Session {
    /// The session's public handle (what listings show and revocation takes).
    pub fn handle(&self) -> &SessionHandle {
        &self.record.handle
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.record.tenant
    }

    /// The user.
    pub fn user(&self) -> &UserId {
        &self.record.user
    }

    record_accessors!();
}

/// One entry of a user's session list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub(crate) record: SessionRecord,
    pub(crate) current: bool,
}

impl SessionInfo {
    /// The handle to pass to [`SessionManager::revoke`](crate::SessionManager::revoke).
    pub fn handle(&self) -> &SessionHandle {
        &self.record.handle
    }

    /// Whether this is the session the list was asked for from.
    pub fn is_current(&self) -> bool {
        self.current
    }

    record_accessors!();
}

/// A freshly issued session and its token.
#[derive(Debug)]
pub struct Issued {
    pub(crate) token: SessionToken,
    pub(crate) session: Session,
}

impl Issued {
    /// The token, for the cookie ([`SessionManager::cookie`](crate::SessionManager::cookie)).
    pub fn token(&self) -> &SessionToken {
        &self.token
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Both parts.
    pub fn into_parts(self) -> (SessionToken, Session) {
        (self.token, self.session)
    }
}

/// What to issue a session for: who, how they authenticated, and from which device.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionRequest {
    pub(crate) tenant: TenantId,
    pub(crate) user: UserId,
    pub(crate) aal: Aal,
    pub(crate) amr: Vec<String>,
    pub(crate) client: Client,
}

/// The device a session was issued to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Client {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<String>,
    pub(crate) label: Option<String>,
}

impl SessionRequest {
    /// A session for `user` of `tenant` at [`Aal::Aal1`] with no authentication methods
    /// recorded.
    pub fn new(tenant: TenantId, user: UserId) -> Self {
        Self {
            tenant,
            user,
            aal: Aal::Aal1,
            amr: Vec::new(),
            client: Client::default(),
        }
    }

    /// The assurance level the sign-in reached.
    pub fn aal(mut self, aal: Aal) -> Self {
        self.aal = aal;
        self
    }

    /// The authentication methods used (RFC 8176: `pwd`, `otp`, `hwk`, `swk`, `mfa`, ...):
    /// at most 8, each 1 to 32 of `[A-Za-z0-9_-]`.
    pub fn amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr = methods.into_iter().map(Into::into).collect();
        self
    }

    /// The client's IP address.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.client.ip = Some(ip);
        self
    }

    /// The client's `User-Agent`. Control characters are dropped and it is cut to 512
    /// bytes: it is a description for the session list, not an identifier.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.client.user_agent = Some(user_agent.into());
        self
    }

    /// A device label the user chose ("work laptop"): at most 128 bytes, no control
    /// characters.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.client.label = Some(label.into());
        self
    }

    /// Checks the request and normalises the user agent.
    pub(crate) fn validated(mut self) -> Result<Self, Error> {
        check_amr(&self.amr)?;
        if let Some(label) = &self.client.label
            && (label.len() > MAX_LABEL_LEN || label.chars().any(char::is_control))
        {
            return Err(Error::Input(format!(
                "a device label is at most {MAX_LABEL_LEN} bytes without control characters"
            )));
        }
        self.client.user_agent = self.client.user_agent.map(|ua| clean_user_agent(&ua));
        Ok(self)
    }
}

pub(crate) fn check_amr(amr: &[String]) -> Result<(), Error> {
    if amr.len() > MAX_AMR {
        return Err(Error::Input(format!(
            "at most {MAX_AMR} authentication methods, got {}",
            amr.len()
        )));
    }
    for method in amr {
        let valid = !method.is_empty()
            && method.len() <= MAX_AMR_LEN
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(Error::Input(format!(
                "authentication method {method:?} must be 1 to {MAX_AMR_LEN} of [A-Za-z0-9_-]"
            )));
        }
    }
    Ok(())
}

fn clean_user_agent(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_USER_AGENT_LEN));
    for c in raw.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_USER_AGENT_LEN {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SessionRequest {
        SessionRequest::new(TenantId::new("t").unwrap(), UserId::new("u").unwrap())
    }

    #[test]
    fn amr_is_bounded_and_tokenish() {
        assert!(request().amr(["pwd", "otp"]).validated().is_ok());
        assert!(request().amr(["has space"]).validated().is_err());
        assert!(request().amr([""]).validated().is_err());
        assert!(request().amr(["x".repeat(33)]).validated().is_err());
        assert!(request().amr(vec!["pwd"; 9]).validated().is_err());
    }

    #[test]
    fn labels_are_bounded() {
        assert!(request().label("work laptop").validated().is_ok());
        assert!(request().label("x".repeat(129)).validated().is_err());
        assert!(request().label("a\u{7}b").validated().is_err());
    }

    #[test]
    fn user_agents_are_cleaned_and_cut_on_a_char_boundary() {
        let ua = format!("Mozilla\t/5.0 {}", "é".repeat(400));
        let cleaned = request().user_agent(ua).validated().unwrap();
        let cleaned = cleaned.client.user_agent.unwrap();
        assert!(cleaned.len() <= MAX_USER_AGENT_LEN);
        assert!(cleaned.starts_with("Mozilla/5.0 é"));
    }
}
