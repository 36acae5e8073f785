//! The session cookie: writing `Set-Cookie` and finding the token in `Cookie`.

use http::header::{COOKIE, HeaderMap, HeaderValue};

use crate::{Error, Reason};

/// The default cookie name.
pub(crate) const DEFAULT_NAME: &str = "__Host-session";

/// The most a `Set-Cookie` value may hold: RFC 6265, section 6.1 asks browsers to keep at
/// least 4096 bytes per cookie, and no more can be relied on.
pub(crate) const MAX_LEN: usize = 4096;

/// The attributes every session cookie carries. `__Host-` requires `Secure`, `Path=/` and
/// no `Domain` (RFC 6265bis, section 4.1.3.2), so a sibling subdomain cannot plant or
/// shadow the cookie.
const ATTRIBUTES: &str = "Path=/; Secure; HttpOnly; SameSite=Lax";

/// RFC 9110 `tchar`: what a cookie name may hold.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    if !name.starts_with("__Host-") {
        return Err(Error::Config(format!(
            "the session cookie name must start with \"__Host-\", got {name:?}"
        )));
    }
    if name.len() <= "__Host-".len() || !name.bytes().all(is_tchar) {
        return Err(Error::Config(format!(
            "the session cookie name {name:?} must be \"__Host-\" followed by letters, digits or -_.!#$%&'*+^`|~"
        )));
    }
    Ok(())
}

/// Refuses a `Set-Cookie` value for a token of `token_len` bytes that would exceed
/// [`MAX_LEN`], without writing the token anywhere.
pub(crate) fn check_size(name: &str, token_len: usize, max_age: u64) -> Result<(), Error> {
    let digits = max_age.checked_ilog10().map_or(1, |log| log as usize + 1);
    let len = name.len()
        + "=".len()
        + token_len
        + "; Max-Age=".len()
        + digits
        + "; ".len()
        + ATTRIBUTES.len();
    if len > MAX_LEN {
        return Err(Error::CookieTooLarge { len });
    }
    Ok(())
}

/// `Set-Cookie` for `token`, living `max_age` seconds.
pub(crate) fn set(name: &str, token: &str, max_age: u64) -> Result<HeaderValue, Error> {
    check_size(name, token.len(), max_age)?;
    let value = format!("{name}={token}; Max-Age={max_age}; {ATTRIBUTES}");
    debug_assert!(value.len() <= MAX_LEN);
    HeaderValue::try_from(value)
        .map_err(|_| Error::Input("the session cookie is not a valid header value".into()))
}

/// `Set-Cookie` that makes the browser drop the session cookie.
pub(crate) fn clear(name: &str) -> Result<HeaderValue, Error> {
    HeaderValue::try_from(format!("{name}=; Max-Age=0; {ATTRIBUTES}"))
        .map_err(|_| Error::Config(format!("{name:?} is not a valid cookie name")))
}

/// The value of the cookie `name` in the request's `Cookie` headers.
///
/// The headers are split as bytes, so another cookie holding bytes that are not visible
/// ASCII (which browsers pass through) cannot hide the session cookie; only the session
/// cookie's own value must be visible ASCII ([`Reason::Malformed`] otherwise).
///
/// A cookie that appears twice is refused ([`Reason::Malformed`]) and logged: a `__Host-`
/// cookie can be set only once per host, so a second copy means something is wrong.
pub(crate) fn find<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Reason> {
    let mut found: Option<&'h [u8]> = None;
    let mut copies = 0usize;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = pair.split_at(eq);
            if key.trim_ascii() == name.as_bytes() {
                copies += 1;
                found.get_or_insert(value[1..].trim_ascii());
            }
        }
    }
    if copies > 1 {
        tracing::warn!(
            cookie = name,
            copies,
            "session cookie sent more than once: request refused"
        );
        return Err(Reason::Malformed);
    }
    match found {
        None | Some(b"") => Err(Reason::Missing),
        Some(value) if value.iter().all(u8::is_ascii_graphic) => {
            std::str::from_utf8(value).map_err(|_| Reason::Malformed)
        }
        Some(_) => Err(Reason::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn names_must_be_host_prefixed_tokens() {
        assert!(check_name("__Host-session").is_ok());
        assert!(check_name("session").is_err());
        assert!(check_name("__Secure-session").is_err());
        assert!(check_name("__Host-").is_err());
        assert!(check_name("__Host-a b").is_err());
        assert!(check_name("__Host-a;b").is_err());
    }

    #[test]
    fn finds_the_cookie_among_others_and_across_headers() {
        let h = headers(&["a=1; __Host-session=tok.en.x ; b=2"]);
        assert_eq!(find(&h, "__Host-session"), Ok("tok.en.x"));
        let h = headers(&["a=1", "__Host-session=t"]);
        assert_eq!(find(&h, "__Host-session"), Ok("t"));
    }

    #[test]
    fn missing_empty_and_duplicated_cookies_are_refused() {
        assert_eq!(
            find(&headers(&["a=1"]), "__Host-session"),
            Err(Reason::Missing)
        );
        assert_eq!(
            find(&HeaderMap::new(), "__Host-session"),
            Err(Reason::Missing)
        );
        assert_eq!(
            find(&headers(&["__Host-session="]), "__Host-session"),
            Err(Reason::Missing)
        );
        assert_eq!(
            find(
                &headers(&["__Host-session=a", "__Host-session=b"]),
                "__Host-session"
            ),
            Err(Reason::Malformed)
        );
        // A prefix of the name is a different cookie.
        assert_eq!(
            find(&headers(&["__Host-sessionx=a"]), "__Host-session"),
            Err(Reason::Missing)
        );
    }

    #[test]
    fn size_check_counts_exactly_what_set_writes() {
        for max_age in [0, 9, 10, 99, 2_592_000, u64::MAX] {
            for token_len in [0, 1, 300, 4000] {
                let token = "t".repeat(token_len);
                let written = format!("{DEFAULT_NAME}={token}; Max-Age={max_age}; {ATTRIBUTES}");
                match check_size(DEFAULT_NAME, token_len, max_age) {
                    Ok(()) => assert!(written.len() <= MAX_LEN),
                    Err(Error::CookieTooLarge { len }) => {
                        assert_eq!(len, written.len());
                        assert!(len > MAX_LEN);
                    }
                    Err(other) => panic!("{other:?}"),
                }
            }
        }
        let fits = MAX_LEN - format!("{DEFAULT_NAME}=; Max-Age=60; {ATTRIBUTES}").len();
        assert!(check_size(DEFAULT_NAME, fits, 60).is_ok());
        assert!(check_size(DEFAULT_NAME, fits + 1, 60).is_err());
    }

    #[test]
    fn other_cookies_with_any_bytes_do_not_hide_the_session_cookie() {
        let planted = HeaderValue::from_bytes(b"junk=\xff\xfe; __Host-session=tok").unwrap();
        let mut h = HeaderMap::new();
        h.append(COOKIE, planted);
        assert_eq!(find(&h, "__Host-session"), Ok("tok"));
        // In a header of its own, before the session cookie's header.
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_bytes(b"x=\xe9t\xe9").unwrap());
        h.append(COOKIE, HeaderValue::from_static("__Host-session=tok"));
        assert_eq!(find(&h, "__Host-session"), Ok("tok"));
        // The session cookie's own value must be visible ASCII.
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"__Host-session=t\xffk").unwrap(),
        );
        assert_eq!(find(&h, "__Host-session"), Err(Reason::Malformed));
        let h = headers(&["__Host-session=a b"]);
        assert_eq!(find(&h, "__Host-session"), Err(Reason::Malformed));
    }

    #[test]
    fn oversized_cookies_are_refused() {
        let token = "a".repeat(MAX_LEN);
        assert!(matches!(
            set(DEFAULT_NAME, &token, 60),
            Err(Error::CookieTooLarge { len }) if len > MAX_LEN
        ));
    }
}
