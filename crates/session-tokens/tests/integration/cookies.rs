//! The session cookie, read back the way a browser reads `Set-Cookie`.

use std::collections::BTreeMap;
use std::time::Duration;

use http::header::{COOKIE, HeaderMap, HeaderValue};
use session_tokens::{Error, KeySet, MemoryStore, Reason};

use crate::support::*;

/// A parsed `Set-Cookie`: name, value, and attributes by lower-cased name.
struct SetCookie {
    name: String,
    value: String,
    attributes: BTreeMap<String, Option<String>>,
}

fn parse(header: &HeaderValue) -> SetCookie {
    let text = header.to_str().expect("ASCII");
    let mut parts = text.split(';').map(str::trim);
    let (name, value) = parts
        .next()
        .expect("a first part")
        .split_once('=')
        .expect("name=value");
    let mut attributes = BTreeMap::new();
    for attribute in parts {
        let (key, value) = match attribute.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (attribute, None),
        };
        let previous = attributes.insert(key.to_ascii_lowercase(), value);
        assert!(previous.is_none(), "attribute {key} repeated");
    }
    SetCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        attributes,
    }
}

fn assert_host_cookie_attributes(cookie: &SetCookie) {
    assert!(cookie.name.starts_with("__Host-"), "{}", cookie.name);
    assert_eq!(cookie.attributes.get("path"), Some(&Some("/".to_owned())));
    assert_eq!(cookie.attributes.get("secure"), Some(&None));
    assert_eq!(cookie.attributes.get("httponly"), Some(&None));
    assert_eq!(
        cookie.attributes.get("samesite"),
        Some(&Some("Lax".to_owned()))
    );
    assert!(
        !cookie.attributes.contains_key("domain"),
        "__Host- forbids Domain"
    );
}

#[tokio::test]
async fn session_cookie_has_host_prefix_and_safe_attributes() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager
        .issue(request("acme", "alice").amr(["pwd", "otp"]))
        .await
        .unwrap();
    let header = manager.cookie(&issued).unwrap();
    assert!(header.len() <= 4096);
    let cookie = parse(&header);
    assert_eq!(cookie.name, "__Host-session");
    assert_eq!(cookie.value, issued.token().expose());
    assert_host_cookie_attributes(&cookie);
    assert_eq!(
        cookie.attributes.get("max-age"),
        Some(&Some((30 * 24 * 3600).to_string())),
        "Max-Age is the whole lifetime at issue"
    );
    assert_eq!(cookie.attributes.len(), 5, "{:?}", cookie.attributes);
}

#[tokio::test]
async fn max_age_is_the_remaining_lifetime() {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs_key()), MemoryStore::new(), &clock)
        .lifetime(Duration::from_secs(7 * 24 * 3600))
        .build()
        .unwrap();
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    clock.advance(Duration::from_secs(24 * 3600 + 5));
    let cookie = parse(&manager.cookie(&issued).unwrap());
    assert_eq!(
        cookie.attributes.get("max-age"),
        Some(&Some((6 * 24 * 3600 - 5).to_string()))
    );
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    let cookie = parse(&manager.cookie(&issued).unwrap());
    assert_eq!(
        cookie.attributes.get("max-age"),
        Some(&Some("0".to_owned()))
    );
}

#[tokio::test]
async fn clearing_cookie_deletes_it() {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(hs_key()), MemoryStore::new(), &clock)
        .cookie_name("__Host-app")
        .build()
        .unwrap();
    let cookie = parse(&manager.clear_cookie());
    assert_eq!(cookie.name, "__Host-app");
    assert_eq!(cookie.value, "");
    assert_eq!(
        cookie.attributes.get("max-age"),
        Some(&Some("0".to_owned()))
    );
    assert_host_cookie_attributes(&cookie);
}

#[tokio::test]
async fn the_largest_allowed_session_still_fits_a_cookie() {
    let clock = ManualClock::new();
    let manager = builder(KeySet::new(ed_key()), MemoryStore::new(), &clock)
        .build()
        .unwrap();
    let long = "x".repeat(255);
    let methods: Vec<String> = (0..8).map(|i| format!("{i}{}", "m".repeat(31))).collect();
    let issued = manager
        .issue(request(&long, &long).amr(methods).label("l".repeat(128)))
        .await
        .unwrap();
    let header = manager.cookie(&issued).unwrap();
    assert!(header.len() <= 4096, "{}", header.len());
    assert_eq!(parse(&header).value, issued.token().expose());
}

#[tokio::test]
async fn a_session_whose_cookie_would_exceed_4096_bytes_is_not_issued() {
    let clock = ManualClock::new();
    let store = std::sync::Arc::new(MemoryStore::new());
    let manager = session_tokens::SessionManager::builder(KeySet::new(hs_key()), store.clone())
        .issuer(format!("https://{}.example.com", "a".repeat(3000)))
        .audience(AUDIENCE)
        .dangerous()
        .clock(clock.clone())
        .done()
        .build()
        .unwrap();
    let err = manager.issue(request("acme", "alice")).await.unwrap_err();
    assert!(
        matches!(err, Error::CookieTooLarge { len } if len > 4096),
        "{err:?}"
    );
    assert!(
        manager
            .list_user(&tenant("acme"), &user("alice"))
            .await
            .unwrap()
            .is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn cookie_names_without_the_host_prefix_are_refused() {
    let clock = ManualClock::new();
    for name in [
        "session",
        "__Secure-session",
        "__host-session",
        "__Host-a=b",
    ] {
        let err = builder(KeySet::new(hs_key()), MemoryStore::new(), &clock)
            .cookie_name(name)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{name}: {err:?}");
    }
}

#[tokio::test]
async fn token_is_read_back_from_the_cookie_header() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    let mut headers = HeaderMap::new();
    let value = format!(
        "theme=dark; __Host-session={}; lang=en",
        issued.token().expose()
    );
    headers.insert(COOKIE, HeaderValue::from_str(&value).unwrap());
    let token = manager.token_from_headers(&headers).unwrap();
    assert!(manager.verify(token).await.is_ok());

    let missing = manager.token_from_headers(&HeaderMap::new()).unwrap_err();
    assert_eq!(missing.rejection(), Some(Reason::Missing));
    headers.append(COOKIE, HeaderValue::from_static("__Host-session=planted"));
    let (doubled, logged) = capture_warnings(|| manager.token_from_headers(&headers).err());
    assert_eq!(doubled.unwrap().rejection(), Some(Reason::Malformed));
    assert_eq!(
        logged,
        ["session cookie sent more than once: request refused"]
    );
}

#[tokio::test]
async fn a_planted_cookie_that_is_not_ascii_does_not_hide_the_session() {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager.issue(request("acme", "alice")).await.unwrap();
    let token = issued.token().expose();
    // Latin-1 bytes in another cookie: browsers send them as they were set.
    let mut same_header = HeaderMap::new();
    let value = format!("planted=caf\u{e9}; __Host-session={token}; x=1");
    let bytes: Vec<u8> = value.chars().map(|c| u8::try_from(c).unwrap()).collect();
    same_header.insert(COOKIE, HeaderValue::from_bytes(&bytes).unwrap());
    assert_eq!(manager.token_from_headers(&same_header).unwrap(), token);
    let mut own_header = HeaderMap::new();
    own_header.append(COOKIE, HeaderValue::from_bytes(b"planted=\xff").unwrap());
    own_header.append(
        COOKIE,
        HeaderValue::from_str(&format!("__Host-session={token}")).unwrap(),
    );
    let found = manager.token_from_headers(&own_header).unwrap();
    assert!(manager.verify(found).await.is_ok());
}

/// Runs `f` and returns what it returned with the messages of the `warn` events it logged.
fn capture_warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};

    #[derive(Clone, Default)]
    struct Warnings(Arc<Mutex<Vec<String>>>);

    struct Message<'a>(&'a mut Option<String>);

    impl Visit for Message<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                *self.0 = Some(format!("{value:?}"));
            }
        }
    }

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                let mut message = None;
                event.record(&mut Message(&mut message));
                self.0.lock().expect("lock").extend(message);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    let warnings = Warnings::default();
    let result = tracing::subscriber::with_default(warnings.clone(), f);
    let logged = warnings.0.lock().expect("lock").clone();
    (result, logged)
}
