//! Typed audit events: who did what, to what, from where, with what outcome.

use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::Error;

/// Longest tenant id, in bytes.
pub const MAX_TENANT_LEN: usize = 64;
/// Longest actor or target, in bytes.
pub const MAX_NAME_LEN: usize = 512;
/// Longest user agent, in bytes.
pub const MAX_USER_AGENT_LEN: usize = 1024;
/// Longest action code, in bytes.
pub const MAX_ACTION_LEN: usize = 128;
/// Largest `details` object, in bytes of canonical JSON.
pub const MAX_DETAILS_LEN: usize = 16 * 1024;
/// Deepest nesting of arrays and objects inside `details`.
pub const MAX_DETAILS_DEPTH: usize = 16;

/// A tenant: the owner of one log.
///
/// 1 to 64 bytes of ASCII letters, digits, `-`, `_` and `.`, not starting with `.`: safe
/// as a directory name, inside a checkpoint origin and in JSON without escaping.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Checks and wraps a tenant id.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when it is empty, too long, starts with `.` or holds another
    /// character.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if id.is_empty()
            || id.len() > MAX_TENANT_LEN
            || id.starts_with('.')
            || !id.chars().all(ok_char)
        {
            return Err(Error::input(format!(
                "tenant {id:?}: use 1 to {MAX_TENANT_LEN} ASCII letters, digits, '-', '_' or '.', not starting with '.'"
            )));
        }
        Ok(Self(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

/// Namespaces reserved for the built-in actions; a custom action may not use them.
const RESERVED: [&str; 5] = ["auth", "approval", "outbound", "permission", "integration"];

/// What happened, with a stable action code.
///
/// Codes are lowercase dot-separated segments; the built-in ones never change meaning.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `auth.login.succeeded`
    LoginSucceeded,
    /// `auth.login.failed`
    LoginFailed,
    /// `auth.session.revoked`
    SessionRevoked,
    /// `auth.mfa.enrolled`
    MfaEnrolled,
    /// `auth.mfa.removed`
    MfaRemoved,
    /// `approval.granted`
    ApprovalGranted,
    /// `approval.denied`
    ApprovalDenied,
    /// `outbound.action`: the system acted outside on someone's behalf (sent, posted, paid).
    OutboundAction,
    /// `permission.changed`
    PermissionChanged,
    /// `integration.connected`
    IntegrationConnected,
    /// `integration.disconnected`
    IntegrationDisconnected,
    /// `integration.credential_rotated`
    IntegrationCredentialRotated,
    /// An application-defined action; see [`Action::custom`].
    Custom(String),
}

const BUILT_IN: [(Action, &str); 12] = [
    (Action::LoginSucceeded, "auth.login.succeeded"),
    (Action::LoginFailed, "auth.login.failed"),
    (Action::SessionRevoked, "auth.session.revoked"),
    (Action::MfaEnrolled, "auth.mfa.enrolled"),
    (Action::MfaRemoved, "auth.mfa.removed"),
    (Action::ApprovalGranted, "approval.granted"),
    (Action::ApprovalDenied, "approval.denied"),
    (Action::OutboundAction, "outbound.action"),
    (Action::PermissionChanged, "permission.changed"),
    (Action::IntegrationConnected, "integration.connected"),
    (Action::IntegrationDisconnected, "integration.disconnected"),
    (
        Action::IntegrationCredentialRotated,
        "integration.credential_rotated",
    ),
];

impl Action {
    /// An application-defined action such as `billing.invoice.sent`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] unless the code is 1 to 128 bytes of dot-separated, non-empty
    /// segments of `a-z`, `0-9` and `_`, whose first segment is not one of the reserved
    /// namespaces `auth`, `approval`, `outbound`, `permission`, `integration`.
    pub fn custom(code: impl Into<String>) -> Result<Self, Error> {
        let code = code.into();
        check_code_syntax(&code)?;
        let first = code.split('.').next().unwrap_or_default();
        if RESERVED.contains(&first) {
            return Err(Error::input(format!(
                "action {code:?}: the namespace {first:?} is reserved for built-in actions"
            )));
        }
        Ok(Self::Custom(code))
    }

    /// The action for a code: a built-in one when the code is built in, else a custom one.
    ///
    /// # Errors
    ///
    /// As [`Action::custom`] for codes that are not built in.
    pub fn from_code(code: &str) -> Result<Self, Error> {
        match BUILT_IN.iter().find(|(_, c)| *c == code) {
            Some((action, _)) => Ok(action.clone()),
            None => Self::custom(code),
        }
    }

    /// The stable code, e.g. `auth.login.succeeded`.
    pub fn code(&self) -> &str {
        match self {
            Self::Custom(code) => code,
            built_in => BUILT_IN
                .iter()
                .find(|(a, _)| a == built_in)
                .map_or("", |(_, c)| c),
        }
    }

    /// The outcome an event of this kind has unless told otherwise.
    pub fn default_outcome(&self) -> Outcome {
        match self {
            Self::LoginFailed => Outcome::Failure,
            Self::ApprovalDenied => Outcome::Denied,
            _ => Outcome::Success,
        }
    }
}

fn check_code_syntax(code: &str) -> Result<(), Error> {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if code.is_empty() || code.len() > MAX_ACTION_LEN || !code.split('.').all(segment_ok) {
        return Err(Error::input(format!(
            "action {code:?}: use 1 to {MAX_ACTION_LEN} bytes of dot-separated segments of a-z, 0-9 and _"
        )));
    }
    Ok(())
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({})", self.code())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// `success`
    Success,
    /// `failure`: attempted and failed (a wrong password, an error).
    Failure,
    /// `denied`: refused by policy or by a person.
    Denied,
}

impl Outcome {
    /// The stable code: `success`, `failure` or `denied`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }

    /// The outcome for a code.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for any other string.
    pub fn from_code(code: &str) -> Result<Self, Error> {
        match code {
            "success" => Ok(Self::Success),
            "failure" => Ok(Self::Failure),
            "denied" => Ok(Self::Denied),
            other => Err(Error::input(format!(
                "outcome {other:?}: use \"success\", \"failure\" or \"denied\""
            ))),
        }
    }
}

/// One thing worth recording: a tenant, an actor, an action, optionally a target, the
/// client's IP and user agent, an outcome and JSON details.
///
/// Build one with a typed constructor ([`Event::login_succeeded`], ...) or
/// [`Event::new`], then add optional fields. The log assigns the index and the time;
/// [`crate::AuditLog::append`] checks the limits (`MAX_*`) and refuses what exceeds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub(crate) tenant: TenantId,
    pub(crate) actor: String,
    pub(crate) action: Action,
    pub(crate) target: Option<String>,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<String>,
    pub(crate) outcome: Outcome,
    pub(crate) details: Map<String, Value>,
}

impl Event {
    /// An event with the action's default outcome and no optional fields.
    #[must_use]
    pub fn new(tenant: TenantId, actor: impl Into<String>, action: Action) -> Self {
        let outcome = action.default_outcome();
        Self {
            tenant,
            actor: actor.into(),
            action,
            target: None,
            ip: None,
            user_agent: None,
            outcome,
            details: Map::new(),
        }
    }

    /// `auth.login.succeeded`: `actor` signed in from `ip` with `user_agent`.
    #[must_use]
    pub fn login_succeeded(
        tenant: TenantId,
        actor: impl Into<String>,
        ip: IpAddr,
        user_agent: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::LoginSucceeded)
            .ip(ip)
            .user_agent(user_agent)
    }

    /// `auth.login.failed`: a sign-in as `actor` from `ip` failed.
    #[must_use]
    pub fn login_failed(
        tenant: TenantId,
        actor: impl Into<String>,
        ip: IpAddr,
        user_agent: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::LoginFailed)
            .ip(ip)
            .user_agent(user_agent)
    }

    /// `approval.granted`: `approver` approved `what`.
    #[must_use]
    pub fn approval_granted(
        tenant: TenantId,
        approver: impl Into<String>,
        what: impl Into<String>,
    ) -> Self {
        Self::new(tenant, approver, Action::ApprovalGranted).target(what)
    }

    /// `approval.denied`: `approver` refused `what`.
    #[must_use]
    pub fn approval_denied(
        tenant: TenantId,
        approver: impl Into<String>,
        what: impl Into<String>,
    ) -> Self {
        Self::new(tenant, approver, Action::ApprovalDenied).target(what)
    }

    /// `outbound.action`: the system acted on `target` outside on `actor`'s behalf.
    #[must_use]
    pub fn outbound_action(
        tenant: TenantId,
        actor: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::OutboundAction).target(target)
    }

    /// `permission.changed`: `actor` changed the permissions of `subject`.
    #[must_use]
    pub fn permission_changed(
        tenant: TenantId,
        actor: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::PermissionChanged).target(subject)
    }

    /// `integration.connected`, `integration.disconnected` or
    /// `integration.credential_rotated` for `integration`, by `actor`.
    #[must_use]
    pub fn integration(
        tenant: TenantId,
        actor: impl Into<String>,
        change: IntegrationChange,
        integration: impl Into<String>,
    ) -> Self {
        let action = match change {
            IntegrationChange::Connected => Action::IntegrationConnected,
            IntegrationChange::Disconnected => Action::IntegrationDisconnected,
            IntegrationChange::CredentialRotated => Action::IntegrationCredentialRotated,
        };
        Self::new(tenant, actor, action).target(integration)
    }

    /// `auth.session.revoked`: `actor` revoked `session`.
    #[must_use]
    pub fn session_revoked(
        tenant: TenantId,
        actor: impl Into<String>,
        session: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::SessionRevoked).target(session)
    }

    /// `auth.mfa.enrolled`: `actor` enrolled `factor` (e.g. `totp`, `webauthn`).
    #[must_use]
    pub fn mfa_enrolled(
        tenant: TenantId,
        actor: impl Into<String>,
        factor: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::MfaEnrolled).target(factor)
    }

    /// `auth.mfa.removed`: `actor` removed `factor`.
    #[must_use]
    pub fn mfa_removed(
        tenant: TenantId,
        actor: impl Into<String>,
        factor: impl Into<String>,
    ) -> Self {
        Self::new(tenant, actor, Action::MfaRemoved).target(factor)
    }

    /// Sets what the action was done to.
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the client's IP address.
    #[must_use]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Sets the client's user agent.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Overrides the action's default outcome.
    #[must_use]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Adds one detail; a later value for the same key replaces the earlier one.
    #[must_use]
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Replaces the details object.
    #[must_use]
    pub fn details(mut self, details: Map<String, Value>) -> Self {
        self.details = details;
        self
    }

    /// The tenant whose log records the event.
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant
    }

    /// Who acted.
    pub fn actor_name(&self) -> &str {
        &self.actor
    }

    /// What happened.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// What it was done to.
    pub fn target_name(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The client's IP address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The client's user agent.
    pub fn client_user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// How it ended.
    pub fn result(&self) -> Outcome {
        self.outcome
    }

    /// The details object.
    pub fn details_map(&self) -> &Map<String, Value> {
        &self.details
    }

    /// Parses one event from JSON: `tenant`, `actor` and `action` are required; `target`,
    /// `ip`, `user_agent`, `outcome` (`success`, `failure`, `denied`) and `details` (an
    /// object) are optional; any other field is refused.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] naming the field and what is wrong with it.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Input {
            tenant: String,
            actor: String,
            action: String,
            target: Option<String>,
            ip: Option<String>,
            user_agent: Option<String>,
            outcome: Option<String>,
            details: Option<Map<String, Value>>,
        }
        let input: Input = serde_json::from_slice(json).map_err(|e| Error::input(e.to_string()))?;
        let mut event = Self::new(
            TenantId::new(input.tenant)?,
            input.actor,
            Action::from_code(&input.action)?,
        );
        event.target = input.target;
        event.user_agent = input.user_agent;
        if let Some(ip) = input.ip {
            event.ip = Some(
                ip.parse()
                    .map_err(|_| Error::input(format!("ip {ip:?}: not an IP address")))?,
            );
        }
        if let Some(outcome) = input.outcome {
            event.outcome = Outcome::from_code(&outcome)?;
        }
        event.details = input.details.unwrap_or_default();
        event.validate()?;
        Ok(event)
    }

    /// Checks the limits; called by the log before it assigns an index.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let text = |name: &str, value: &str, max: usize, required: bool| {
            if required && value.is_empty() {
                return Err(Error::input(format!("{name}: must not be empty")));
            }
            if value.len() > max {
                return Err(Error::input(format!(
                    "{name}: {} bytes, at most {max} allowed",
                    value.len()
                )));
            }
            Ok(())
        };
        text("actor", &self.actor, MAX_NAME_LEN, true)?;
        if let Some(target) = &self.target {
            text("target", target, MAX_NAME_LEN, false)?;
        }
        if let Some(user_agent) = &self.user_agent {
            text("user_agent", user_agent, MAX_USER_AGENT_LEN, false)?;
        }
        if let Action::Custom(code) = &self.action {
            Action::custom(code.clone())?;
        }
        let depth = self.details.values().map(depth).max().unwrap_or(0) + 1;
        if depth > MAX_DETAILS_DEPTH {
            return Err(Error::input(format!(
                "details: nested {depth} deep, at most {MAX_DETAILS_DEPTH} allowed"
            )));
        }
        let mut encoded = Vec::new();
        crate::entry::write_object(&mut encoded, &self.details);
        if encoded.len() > MAX_DETAILS_LEN {
            return Err(Error::input(format!(
                "details: {} bytes, at most {MAX_DETAILS_LEN} allowed",
                encoded.len()
            )));
        }
        Ok(())
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The three integration events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrationChange {
    /// `integration.connected`
    Connected,
    /// `integration.disconnected`
    Disconnected,
    /// `integration.credential_rotated`
    CredentialRotated,
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test sizes are small")]
mod tests {
    use super::*;

    #[test]
    fn built_in_codes_round_trip_and_are_reserved() {
        for (action, code) in BUILT_IN {
            assert_eq!(action.code(), code);
            assert_eq!(Action::from_code(code).unwrap(), action);
            assert!(Action::custom(code).is_err(), "{code}");
        }
        assert_eq!(
            Action::from_code("billing.invoice.sent").unwrap(),
            Action::Custom("billing.invoice.sent".into())
        );
        for bad in ["", "Billing", "a..b", ".a", "a.", "a b", "auth.custom", "é"] {
            assert!(Action::from_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tenant_ids_are_restricted() {
        assert!(TenantId::new("acme-1.eu_west").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "..", &"x".repeat(65)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_input_is_strict() {
        let ok = br#"{"tenant":"acme","actor":"u1","action":"auth.login.failed","ip":"::1","details":{"k":1}}"#;
        let event = Event::from_json(ok).unwrap();
        assert_eq!(event.result(), Outcome::Failure);
        assert_eq!(event.client_ip(), Some("::1".parse().unwrap()));
        for bad in [
            &br#"{"tenant":"acme","actor":"u1"}"#[..],
            br#"{"tenant":"acme","actor":"u1","action":"x","extra":1}"#,
            br#"{"tenant":"acme","actor":"u1","action":"x","ip":"nope"}"#,
            br#"{"tenant":"acme","actor":"u1","action":"x","outcome":"maybe"}"#,
            br#"{"tenant":"acme","actor":"u1","action":"x","details":[1]}"#,
            br#"{"tenant":"acme","actor":"","action":"x"}"#,
            br#"not json"#,
        ] {
            assert!(
                matches!(Event::from_json(bad), Err(Error::Input(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let tenant = TenantId::new("t").unwrap();
        let long = Event::new(
            tenant.clone(),
            "x".repeat(MAX_NAME_LEN + 1),
            Action::MfaEnrolled,
        );
        assert!(long.validate().is_err());
        let mut deep = Value::Null;
        for _ in 0..MAX_DETAILS_DEPTH {
            deep = Value::Array(vec![deep]);
        }
        let event = Event::new(tenant.clone(), "a", Action::MfaEnrolled).detail("d", deep);
        assert!(event.validate().is_err());
        let big =
            Event::new(tenant, "a", Action::MfaEnrolled).detail("d", "x".repeat(MAX_DETAILS_LEN));
        assert!(big.validate().is_err());
    }
}
