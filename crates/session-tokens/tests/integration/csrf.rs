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

#[test]
fn methods_are_case_sensitive_so_lowercase_ones_are_checked() {
    // RFC 9110: `post` is not POST but an unknown method, and `get` is not GET: neither is
    // safe, so both are checked (and refused when cross-site), never waved through.
    let guard = CsrfGuard::new();
    for name in ["post", "get", "PROPFIND"] {
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        assert!(
            !passes(&guard, method.clone(), &[("sec-fetch-site", "cross-site")]),
            "{name}"
        );
        assert!(
            !passes(
                &guard,
                method.clone(),
                &[HOST, ("origin", "https://evil.example")]
            ),
            "{name}"
        );
        assert!(
            passes(&guard, method, &[("sec-fetch-site", "same-origin")]),
            "{name}"
        );
    }
}

#[test]
fn an_http_origin_of_the_same_host_is_refused_unless_plain_http_is_allowed() {
    // An HTTPS site: a page on http://app.example.com is one an attacker on the network
    // can write, and old browsers send no Sec-Fetch-Site.
    let http_origin = [HOST, ("origin", "http://app.example.com")];
    assert!(!passes(&CsrfGuard::new(), Method::POST, &http_origin));
    // A development server on plain HTTP opts in.
    let dev = CsrfGuard::new().allow_plain_http();
    assert!(passes(&dev, Method::POST, &http_origin));
    assert!(passes(
        &dev,
        Method::POST,
        &[HOST, ("origin", "https://app.example.com")]
    ));
    assert!(!passes(
        &dev,
        Method::POST,
        &[HOST, ("origin", "http://evil.example")]
    ));
    assert!(!passes(
        &dev,
        Method::POST,
        &[HOST, ("origin", "ftp://app.example.com")]
    ));
    // The same over HTTP/2, where the host is the URI's authority.
    let h2 = Request::builder()
        .method(Method::POST)
        .uri("https://app.example.com/settings")
        .header("origin", "http://app.example.com")
        .body(())
        .unwrap();
    assert!(matches!(CsrfGuard::new().check(&h2), Err(Error::CrossSite)));
    assert!(dev.check(&h2).is_ok());
}

#[test]
fn empty_sec_fetch_site_and_empty_origin_are_refused() {
    // Go reads both as absent; this guard refuses (fail closed), even beside a
    // same-host Origin.
    let guard = CsrfGuard::new();
    let cases: [&[(&str, &str)]; 3] = [
        &[HOST, ("sec-fetch-site", "")],
        &[
            HOST,
            ("sec-fetch-site", ""),
            ("origin", "https://app.example.com"),
        ],
        &[HOST, ("origin", "")],
    ];
    for headers in cases {
        assert!(!passes(&guard, Method::POST, headers), "{headers:?}");
    }
}

#[test]
fn sec_fetch_site_same_origin_passes_without_a_host() {
    // Sec-Fetch-Site decides before Origin and Host are looked at.
    let guard = CsrfGuard::new();
    let headers = [
        ("sec-fetch-site", "same-origin"),
        ("origin", "https://app.example.com"),
    ];
    assert!(passes(&guard, Method::POST, &headers));
    assert!(!passes(
        &guard,
        Method::POST,
        &[("origin", "https://app.example.com")]
    ));
}

#[cfg(feature = "tower")]
mod layer {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{Method, Request, Response, StatusCode};
    use session_tokens::{CsrfGuard, CsrfLayer};
    use tower::{Layer, ServiceExt, service_fn};

    /// Sends one request through the layer over a service that counts its calls.
    async fn send(method: Method, headers: &[(&str, &str)]) -> (StatusCode, String, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let inner = service_fn({
            let calls = Arc::clone(&calls);
            move |_: Request<()>| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new("handled".to_owned())) }
            }
        });
        let service = CsrfLayer::new(CsrfGuard::new()).layer(inner);
        let mut request = Request::builder().method(method).uri("/sign-in");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = service
            .oneshot(request.body(()).expect("a valid request"))
            .await
            .expect("infallible");
        let status = response.status();
        (status, response.into_body(), calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn the_layer_refuses_cross_site_requests_before_the_service_runs() {
        assert_eq!(
            send(Method::POST, &[("sec-fetch-site", "cross-site")]).await,
            (StatusCode::FORBIDDEN, String::new(), 0)
        );
        let foreign = [
            ("host", "app.example.com"),
            ("origin", "https://evil.example"),
        ];
        assert_eq!(
            send(Method::POST, &foreign).await,
            (StatusCode::FORBIDDEN, String::new(), 0)
        );
        assert_eq!(
            send(Method::POST, &[("sec-fetch-site", "same-origin")]).await,
            (StatusCode::OK, "handled".to_owned(), 1)
        );
        assert_eq!(
            send(Method::GET, &[("sec-fetch-site", "cross-site")]).await,
            (StatusCode::OK, "handled".to_owned(), 1),
            "a cross-site GET is a navigation"
        );
    }
}
