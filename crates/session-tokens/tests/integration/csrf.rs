//! The CSRF guard's cases.

use http::{Method, Request};
use session_tokens::{CsrfGuard, Error};

fn request(method: Method, headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder()
        .method(method)
        // As an HTTP/1.1 server sees it: the host is in the Host header only.
        .uri("/settings");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a valid request")
}

fn passes(guard: &CsrfGuard, method: Method, headers: &[(&str, &str)]) -> bool {
    match guard.check(&request(method, headers)) {
        Ok(()) => true,
        Err(Error::CrossSite) => false,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

const HOST: (&str, &str) = ("host", "app.example.com");

#[test]
fn safe_methods_always_pass() {
    let guard = CsrfGuard::new();
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        assert!(passes(
            &guard,
            method.clone(),
            &[("sec-fetch-site", "cross-site")]
        ));
        assert!(passes(
            &guard,
            method,
            &[HOST, ("origin", "https://evil.example")]
        ));
    }
}

#[test]
fn sec_fetch_site_decides_when_present() {
    let guard = CsrfGuard::new();
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        assert!(passes(
            &guard,
            method.clone(),
            &[("sec-fetch-site", "same-origin")]
        ));
        assert!(passes(
            &guard,
            method.clone(),
            &[("sec-fetch-site", "none")]
        ));
        assert!(!passes(
            &guard,
            method.clone(),
            &[("sec-fetch-site", "cross-site")]
        ));
        assert!(!passes(
            &guard,
            method.clone(),
            &[("sec-fetch-site", "same-site")]
        ));
        assert!(!passes(&guard, method, &[("sec-fetch-site", "bogus")]));
    }
    // Sec-Fetch-Site wins over a same-host Origin.
    let cross = [
        HOST,
        ("origin", "https://app.example.com"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert!(!passes(&guard, Method::POST, &cross));
}

#[test]
fn origin_decides_without_sec_fetch_site() {
    let guard = CsrfGuard::new();
    assert!(passes(
        &guard,
        Method::POST,
        &[HOST, ("origin", "https://app.example.com")]
    ));
    assert!(passes(
        &guard,
        Method::POST,
        &[HOST, ("origin", "https://APP.example.com")]
    ));
    assert!(!passes(
        &guard,
        Method::POST,
        &[HOST, ("origin", "https://evil.example")]
    ));
    assert!(!passes(
        &guard,
        Method::POST,
        &[HOST, ("origin", "https://app.example.com.evil")]
    ));
    assert!(!passes(
        &guard,
        Method::POST,
        &[HOST, ("origin", "https://app.example.com:8443")]
    ));
    assert!(!passes(&guard, Method::POST, &[HOST, ("origin", "null")]));
    assert!(
        !passes(
            &guard,
            Method::DELETE,
            &[("origin", "https://app.example.com")]
        ),
        "no Host"
    );
}

#[test]
fn http2_requests_compare_origin_with_the_authority() {
    // HTTP/2 carries :authority in the URI and no Host header.
    let h2 = |origin: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("https://app.example.com/settings")
            .header("origin", origin)
            .body(())
            .unwrap()
    };
    let guard = CsrfGuard::new();
    assert!(guard.check(&h2("https://app.example.com")).is_ok());
    assert!(matches!(
        guard.check(&h2("https://evil.example")),
        Err(Error::CrossSite)
    ));
}

#[test]
fn trusted_origins_pass_both_checks() {
    let guard = CsrfGuard::new()
        .trust_origin("https://admin.example.com")
        .unwrap();
    let trusted = ("origin", "https://admin.example.com");
    assert!(passes(&guard, Method::POST, &[HOST, trusted]));
    assert!(passes(
        &guard,
        Method::POST,
        &[trusted, ("sec-fetch-site", "same-site")]
    ));
    assert!(passes(
        &guard,
        Method::POST,
        &[trusted, ("sec-fetch-site", "cross-site")]
    ));
    let untrusted = ("origin", "https://evil.example.com");
    assert!(!passes(
        &guard,
        Method::POST,
        &[untrusted, ("sec-fetch-site", "same-site")]
    ));
}

#[test]
fn requests_without_either_header_pass_unless_configured_otherwise() {
    // Documented default: not a browser that could have been tricked into the request.
    assert!(passes(&CsrfGuard::new(), Method::POST, &[HOST]));
    assert!(passes(&CsrfGuard::new(), Method::POST, &[]));
    let strict = CsrfGuard::new().refuse_without_headers();
    assert!(!passes(&strict, Method::POST, &[HOST]));
    assert!(
        passes(&strict, Method::GET, &[HOST]),
        "safe methods still pass"
    );
    assert!(passes(
        &strict,
        Method::POST,
        &[("sec-fetch-site", "same-origin")]
    ));
}
