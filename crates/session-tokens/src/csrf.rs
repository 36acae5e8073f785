//! Cross-site request forgery protection for cookie sessions.

use http::header::{HOST, HeaderMap, ORIGIN};
use http::{Method, Request, Uri};

use crate::Error;

const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Refuses state-changing requests that a browser sent on behalf of another site.
///
/// The rules, for every method except `GET`, `HEAD` and `OPTIONS` (which must not change
/// state and always pass):
///
/// 1. `Sec-Fetch-Site` present: `same-origin` and `none` (the user typed the URL or used a
///    bookmark) pass; `same-site` and `cross-site` are refused, unless the `Origin` is
///    trusted. `same-site` is refused because a sibling subdomain may be hostile.
/// 2. Otherwise `Origin` present: it passes when it is trusted or when its host (and port)
///    is the request's `Host` (or the URI authority, for HTTP/2); anything else, including
///    `Origin: null`, is refused.
/// 3. Neither header: the request did not come from a browser that could be tricked into
///    sending it (every browser that supports `SameSite` cookies sends `Origin` on
///    cross-site unsafe requests, and `SameSite=Lax` already keeps the cookie off
///    cross-site subrequests), so it **passes** by default. Call
///    [`CsrfGuard::refuse_without_headers`] to refuse it instead, at the cost of refusing
///    non-browser clients that send the cookie.
///
/// This is the algorithm of Go's `net/http.CrossOriginProtection`. No token is needed.
#[derive(Debug, Clone, Default)]
pub struct CsrfGuard {
    trusted: Vec<String>,
    refuse_without_headers: bool,
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

    /// Checks a request.
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
        if trusted || same_host(origin, uri, headers) {
            Ok(())
        } else {
            Err(Error::CrossSite)
        }
    }
}

/// Whether the `Origin`'s `host[:port]` is the request's `Host` (or URI authority).
fn same_host(origin: &str, uri: &Uri, headers: &HeaderMap) -> bool {
    let Some(origin_host) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
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
