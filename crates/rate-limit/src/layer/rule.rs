//! Which requests a rule covers and what it does when the store fails.

use http::Method;

use crate::Policy;
use crate::layer::Key;

/// The requests a rule applies to: a path (any, exact, or a prefix on segment
/// boundaries) and optionally a set of methods.
///
/// Paths are compared as the router sees them, byte for byte and undecoded, which is how
/// axum matches routes too: `/login` and `/login/` are different paths.
#[derive(Debug, Clone)]
pub struct Route {
    path: PathMatch,
    methods: Vec<Method>,
}

#[derive(Debug, Clone)]
enum PathMatch {
    Any,
    Exact(String),
    Prefix(String),
}

impl Route {
    /// Every request.
    pub fn any() -> Self {
        Self {
            path: PathMatch::Any,
            methods: Vec::new(),
        }
    }

    /// Requests for exactly `path`.
    pub fn exact(path: impl Into<String>) -> Self {
        Self {
            path: PathMatch::Exact(path.into()),
            methods: Vec::new(),
        }
    }

    /// Requests for `prefix` or anything below it: `/api` covers `/api` and `/api/x`, not
    /// `/apix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        while prefix.len() > 1 && prefix.ends_with('/') {
            prefix.pop();
        }
        Self {
            path: PathMatch::Prefix(prefix),
            methods: Vec::new(),
        }
    }

    /// Restricts the route to `method` (call again to allow several).
    ///
    /// `GET` covers `HEAD` too: routers answer `HEAD` with the `GET` handler (axum's
    /// `get` does), so the same work runs and the same limit must apply.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.methods.push(method);
        self
    }

    pub(crate) fn matches(&self, method: &Method, path: &str) -> bool {
        let covered = |listed: &Method| {
            listed == method || (*listed == Method::GET && method == Method::HEAD)
        };
        if !self.methods.is_empty() && !self.methods.iter().any(covered) {
            return false;
        }
        match &self.path {
            PathMatch::Any => true,
            PathMatch::Exact(exact) => path == exact,
            PathMatch::Prefix(prefix) if prefix == "/" => true,
            PathMatch::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

/// What a rule does when the store cannot decide (Redis down, a full store set to
/// refuse new keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnStoreError {
    /// Answer `503 Service Unavailable` with a problem+json body and `Retry-After`. The
    /// default: a limit that protects something (logins, costly work) must hold.
    #[default]
    FailClosed,
    /// Let the request through, and report the error to the event hook and the log.
    FailOpen,
}

/// What a rule does with a request that has no key (no user in the extensions, no
/// usable `Origin`, no peer address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingKey {
    /// Charge every such request to one shared key (`<kind>:none`). The default, so
    /// leaving a field out never escapes a limit.
    #[default]
    Share,
    /// The rule does not apply to the request.
    Skip,
}

/// One limit the layer enforces: a policy, the key requests are charged to, the routes it
/// covers, and what it does when the store fails.
///
/// # Example
///
/// ```
/// use http::Method;
/// use rate_limit::{Key, Policy, Route, Rule};
///
/// let login = Rule::new(Policy::login(), Key::client_ip())
///     .route(Route::exact("/login").method(Method::POST));
/// let origin = Rule::new(Policy::api_origin(), Key::origin())
///     .route(Route::prefix("/api"))
///     .skip_when_key_missing()
///     .fail_open();
/// # let _ = (login, origin);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Rule {
    pub(crate) policy: Policy,
    pub(crate) key: Key,
    pub(crate) route: Route,
    pub(crate) on_error: OnStoreError,
    pub(crate) missing: MissingKey,
    pub(crate) shadow: bool,
}

impl Rule {
    /// Charges every request to `key` under `policy`, failing closed, enforced.
    pub fn new(policy: Policy, key: Key) -> Self {
        Self {
            policy,
            key,
            route: Route::any(),
            on_error: OnStoreError::FailClosed,
            missing: MissingKey::Share,
            shadow: false,
        }
    }

    /// Applies the rule only to `route`.
    pub fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// Admits requests when the store cannot decide.
    pub fn fail_open(mut self) -> Self {
        self.on_error = OnStoreError::FailOpen;
        self
    }

    /// Answers 503 when the store cannot decide (the default).
    pub fn fail_closed(mut self) -> Self {
        self.on_error = OnStoreError::FailClosed;
        self
    }

    /// Does not apply the rule to requests without a key.
    pub fn skip_when_key_missing(mut self) -> Self {
        self.missing = MissingKey::Skip;
        self
    }

    /// Shadow mode: the rule is checked and charged, and what it would have limited goes
    /// to the event hook and the log, but every request is admitted. For trying a new
    /// limit on live traffic.
    pub fn shadow(mut self) -> Self {
        self.shadow = true;
        self
    }

    /// The rule's policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the rule does when the store cannot decide.
    pub fn on_store_error(&self) -> OnStoreError {
        self.on_error
    }

    /// Whether the rule is in shadow mode.
    pub fn is_shadow(&self) -> bool {
        self.shadow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        let api = Route::prefix("/api/");
        assert!(api.matches(&Method::GET, "/api"));
        assert!(api.matches(&Method::GET, "/api/x/y"));
        assert!(!api.matches(&Method::GET, "/apix"));
        assert!(!api.matches(&Method::GET, "/API/x"));
        assert!(Route::prefix("/").matches(&Method::GET, "/anything"));
    }

    #[test]
    fn exact_routes_and_methods() {
        let login = Route::exact("/login").method(Method::POST);
        assert!(login.matches(&Method::POST, "/login"));
        assert!(!login.matches(&Method::GET, "/login"));
        assert!(!login.matches(&Method::POST, "/login/"));
        assert!(Route::any().matches(&Method::DELETE, "/x"));
    }

    #[test]
    fn get_covers_head_and_nothing_else_does() {
        let page = Route::exact("/export").method(Method::GET);
        assert!(page.matches(&Method::HEAD, "/export"));
        assert!(!page.matches(&Method::OPTIONS, "/export"));
        let login = Route::exact("/login").method(Method::POST);
        assert!(!login.matches(&Method::HEAD, "/login"));
        let head = Route::exact("/ping").method(Method::HEAD);
        assert!(!head.matches(&Method::GET, "/ping"));
    }
}
