//! Cross-site request forgery protection for cookie sessions: the [`CsrfGuard`] rules,
//! and (feature `tower`) a layer that applies them to any route.

use http::header::{HOST, HeaderMap, ORIGIN};
use http::{Method, Request, Uri};

use crate::Error;

#[cfg(feature = "tower")]
mod future;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "tower")]
mod service;

#[cfg(feature = "tower")]
pub use self::future::CsrfResponseFuture;
#[cfg(feature = "tower")]
pub use self::layer::CsrfLayer;
#[cfg(feature = "tower")]
pub use self::service::CsrfService;

const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Refuses state-changing requests that a browser sent on behalf of another site.
///
/// The rules, for every method except `GET`, `HEAD` and `OPTIONS` exactly (methods are
/// case-sensitive, RFC 9110 section 9.1, so `post` or `get` is an unknown method and is
/// checked like any unsafe one), which must not change state and always pass:
///
/// 1. `Sec-Fetch-Site` present: `same-origin` and `none` (the user typed the URL or used a
///    bookmark) pass; anything else (`same-site`, `cross-site`, an empty or unknown value)
///    is refused, unless the `Origin` is trusted. `same-site` is refused because a sibling
///    subdomain may be hostile.
/// 2. Otherwise `Origin` present: it passes when it is trusted, or when it is
///    `https://` followed by the request's `Host` (or the URI authority, for HTTP/2),
///    port included. Anything else is refused: another host or port, `Origin: null`, an
///    empty `Origin`, and an `http://` origin of the same host (a page on the plain-HTTP
///    site, which an attacker on the network can write) unless
///    [`CsrfGuard::allow_plain_http`] was called.
/// 3. Neither header: the request did not come from a browser that could be tricked into
///    sending it (every browser that supports `SameSite` cookies sends `Origin` on
///    cross-site unsafe requests, and `SameSite=Lax` already keeps the cookie off
///    cross-site subrequests), so it **passes** by default. Call
///    [`CsrfGuard::refuse_without_headers`] to refuse it instead, at the cost of refusing
///    non-browser clients that send the cookie.
///
/// This is the algorithm of Go's `net/http.CrossOriginProtection`, with three
/// differences, each of which refuses a request Go lets through: an empty
/// `Sec-Fetch-Site` is refused (Go reads it as absent and goes on to `Origin`); an empty
/// `Origin` is refused (Go reads it as absent and lets the request through); and the
/// `Origin`'s scheme must be `https` (Go compares the host only, leaving HTTP-to-HTTPS
/// requests from browsers without `Sec-Fetch-Site` to HSTS). No token is needed.
///
/// # Where it runs
///
/// The axum [`Session`](crate::Session) extractor applies the manager's guard, so every
/// handler that takes a `Session` is covered. Routes that change state *without* a
/// session need it too: sign-in (login CSRF signs the victim in to the attacker's
/// account), sign-up, password reset. Put them behind [`CsrfLayer`] (feature `tower`), or
/// call [`CsrfGuard::check`] in the handler. [`SessionManager::verify`] alone does not
/// check CSRF.
///
/// [`SessionManager::verify`]: crate::SessionManager::verify
/// [`CsrfLayer`]: crate::CsrfLayer
#[derive(Debug, Clone, Default)]
pub struct CsrfGuard {
    trusted: Vec<String>,
    refuse_without_headers: bool,
    allow_plain_http: bool,
}

impl CsrfGuard {
    /// A guard that trusts only the request's own origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accepts requests whose `Origin` is `origin`, exactly: `scheme://host[:port]`,
    /// for a front end served from another origin.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `origin` is not of that form.
    pub fn trust_origin(mut self, origin: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Config(format!(
                "a trusted origin is scheme://host[:port] with no path, got {origin:?}"
            ))
        };
        let uri: Uri = origin.parse().map_err(|_| bad())?;
        let well_formed = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
            && uri
                .path_and_query()
                .is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/")
            && !origin.ends_with('/');
        if !well_formed {
            return Err(bad());
        }
        self.trusted.push(origin.to_ascii_lowercase());
        Ok(self)
    }

    /// Refuses unsafe requests that carry neither `Sec-Fetch-Site` nor `Origin`.
    #[must_use]
    pub fn refuse_without_headers(mut self) -> Self {
        self.refuse_without_headers = true;
        self
    }

    /// Also accepts an `http://` `Origin` of the request's own host, for a development
    /// server on plain HTTP visited by a browser that does not send `Sec-Fetch-Site`.
    ///
    /// Off by default: the session cookie is a `__Host-` cookie, which browsers accept
    /// only from secure origins, so in production every genuine `Origin` is `https://`,
    /// and an `http://` one is a page an attacker on the network may have written.
    #[must_use]
    pub fn allow_plain_http(mut self) -> Self {
        self.allow_plain_http = true;
        self
    }

    /// Checks a request against the rules above.
    ///
    /// # Errors
    ///
    /// [`Error::CrossSite`] when the request is refused; answer 403.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), Error> {
        self.check_parts(request.method(), request.uri(), request.headers())
    }

    pub(crate) fn check_parts(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), Error> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let origin = match headers.get(ORIGIN) {
            Some(value) => Some(value.to_str().map_err(|_| Error::CrossSite)?),
            None => None,
        };
        let trusted =
            origin.is_some_and(|o| self.trusted.iter().any(|t| t.eq_ignore_ascii_case(o)));
        if let Some(site) = headers.get(SEC_FETCH_SITE) {
            return match site.as_bytes() {
                b"same-origin" | b"none" => Ok(()),
                _ if trusted => Ok(()),
                _ => Err(Error::CrossSite),
            };
        }
        let Some(origin) = origin else {
            return if self.refuse_without_headers {
                Err(Error::CrossSite)
            } else {
                Ok(())
            };
        };
        if trusted || self.same_origin(origin, uri, headers) {
            Ok(())
        } else {
            Err(Error::CrossSite)
        }
    }

    /// Whether `origin` is `https://` (or, if allowed, `http://`) followed by the
    /// request's `Host` (or URI authority).
    fn same_origin(&self, origin: &str, uri: &Uri, headers: &HeaderMap) -> bool {
        let origin_host = match origin.strip_prefix("https://") {
            Some(host) => host,
            None if self.allow_plain_http => match origin.strip_prefix("http://") {
                Some(host) => host,
                None => return false,
            },
            None => return false,
        };
        same_host(origin_host, uri, headers)
    }
}

/// Whether `origin_host` (`host[:port]`) is the request's `Host` (or URI authority).
fn same_host(origin_host: &str, uri: &Uri, headers: &HeaderMap) -> bool {
    let host = match headers.get(HOST) {
        Some(host) => host.to_str().ok(),
        None => uri.authority().map(http::uri::Authority::as_str),
    };
    host.is_some_and(|host| !host.is_empty() && host.eq_ignore_ascii_case(origin_host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_origins_must_be_bare_origins() {
        assert!(
            CsrfGuard::new()
                .trust_origin("https://app.example.com")
                .is_ok()
        );
        assert!(
            CsrfGuard::new()
                .trust_origin("http://localhost:3000")
                .is_ok()
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "ftp://app.example.com",
            "https://user@app.example.com",
            "null",
        ] {
            assert!(CsrfGuard::new().trust_origin(bad).is_err(), "{bad}");
        }
    }
}
