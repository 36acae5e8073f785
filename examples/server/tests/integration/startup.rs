//! Configuration: the development keyring, and production's refusal to start without one.

use std::process::Command;

use axum::http::StatusCode;
use example_server::{Config, ConfigError, KeyringOrigin, KeyringSource, build};

use crate::support::{Call, login, signup};

fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn production_without_a_keyring_is_a_configuration_error() {
    let error = Config::from_lookup(lookup(&[("PALISADE_ENV", "production")])).unwrap_err();
    assert!(matches!(error, ConfigError::KeyringRequired), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("PALISADE_KEYRING") && message.contains("PALISADE_KEYRING_FILE"));

    // An empty variable is no keyring either.
    let error = Config::from_lookup(lookup(&[
        ("PALISADE_ENV", "production"),
        ("PALISADE_KEYRING", "  "),
    ]))
    .unwrap_err();
    assert!(matches!(error, ConfigError::KeyringRequired));

    let config = Config::from_lookup(lookup(&[
        ("PALISADE_ENV", "production"),
        ("PALISADE_KEYRING_FILE", "/etc/palisade/keyring"),
    ]))
    .expect("a keyring file is enough");
    assert_eq!(
        config.keyring,
        KeyringSource::File("/etc/palisade/keyring".into())
    );
}

/// The database and Redis URLs may carry passwords: `Debug` of the configuration does
/// not show them.
#[test]
fn config_debug_shows_no_service_password() {
    let config = Config::from_lookup(lookup(&[
        (
            "DATABASE_URL",
            "postgres://app:db-secret-pw@db.internal/app",
        ),
        ("REDIS_URL", "redis://:redis-secret-pw@cache.internal:6379"),
    ]))
    .expect("a configuration");
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret-pw"), "{debug}");
    assert!(
        debug.contains("database_url: Some(\"<redacted>\")"),
        "{debug}"
    );
}

#[test]
fn defaults_and_bad_values() {
    let config = Config::from_lookup(lookup(&[])).expect("development needs nothing");
    assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(config.data_dir, std::path::PathBuf::from("./data"));
    assert_eq!(
        config.keyring,
        KeyringSource::DevelopmentFile("./data/keyring".into())
    );
    assert!(config.database_url.is_none() && config.redis_url.is_none());
    assert_eq!(config.redis_prefix, "palisade:");
    let shared = Config::from_lookup(lookup(&[("PALISADE_REDIS_PREFIX", " staging: ")]))
        .expect("a prefix is any text");
    assert_eq!(shared.redis_prefix, "staging:");

    for vars in [
        &[("PALISADE_ENV", "staging")][..],
        &[("PALISADE_ADDR", "localhost")][..],
        &[("DATABASE_URL", "mysql://db")][..],
        &[("REDIS_URL", "http://cache")][..],
        &[("PALISADE_KEYRING", "x"), ("PALISADE_KEYRING_FILE", "y")][..],
        &[("PALISADE_TRUSTED_PROXIES", "10.0.0.0/8, load-balancer")][..],
        &[("PALISADE_TRUSTED_PROXIES", "10.0.0.0/33")][..],
    ] {
        assert!(Config::from_lookup(lookup(vars)).is_err(), "{vars:?}");
    }
    // A network wider than any proxies' would let any client pick its own address.
    for wide in [
        "10.0.0.0/8, 0.0.0.0/0",
        "0.0.0.0/1, 128.0.0.0/1",
        "::/0",
        "2000::/3",
        "::ffff:0:0/96",
        "::ffff:0.0.0.0/100",
    ] {
        let err =
            Config::from_lookup(lookup(&[("PALISADE_TRUSTED_PROXIES", wide)])).expect_err(wide);
        assert!(err.to_string().contains("is wider"), "{wide}: {err}");
    }
    let narrow = Config::from_lookup(lookup(&[(
        "PALISADE_TRUSTED_PROXIES",
        "::ffff:10.0.0.0/104",
    )]))
    .expect("a mapped IPv4 network");
    assert_eq!(narrow.trusted_proxies.len(), 1);
    assert!(
        config.trusted_proxies.is_empty(),
        "no proxy is trusted by default"
    );
    let proxied = Config::from_lookup(lookup(&[(
        "PALISADE_TRUSTED_PROXIES",
        " 10.0.0.0/8, 2001:db8::1 ,",
    )]))
    .expect("networks and bare addresses");
    let proxies: Vec<String> = proxied
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "2001:db8::1/128"]);
}

/// Behind a trusted proxy, the client is the address the proxy reports: it is what the
/// audit log records (and what the per-client limits count). Anyone else's
/// `X-Forwarded-For` is ignored.
#[tokio::test]
async fn a_trusted_proxy_reports_the_client_address() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::development(dir.path());
    // `Call` sends from 203.0.113.7: the proxy.
    config.trusted_proxies = vec!["203.0.113.0/24".parse().expect("a network")];
    let app = build(&config).await.expect("the app builds");
    let router = app.router.clone();
    signup(&router, "acme", "alice@acme.example").await;
    let signed_in = Call::post("/api/login")
        .header("x-forwarded-for", "192.0.2.1, 198.51.100.5")
        .json(crate::support::credentials(
            "acme",
            "alice@acme.example",
            crate::support::PASSWORD,
        ))
        .send(&router)
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.json());
    let cookie = signed_in.session_cookie();
    let spoofed = Call::post("/api/login")
        .peer("192.0.2.50:5000")
        .header("x-forwarded-for", "198.51.100.77")
        .json(crate::support::credentials(
            "acme",
            "alice@acme.example",
            crate::support::PASSWORD,
        ))
        .send(&router)
        .await;
    assert_eq!(spoofed.status, StatusCode::OK);
    let entries = crate::support::audit_entries(&router, &cookie, "auth.login.succeeded").await;
    let ips: Vec<&str> = entries.iter().filter_map(|e| e["ip"].as_str()).collect();
    // Newest first: the untrusted peer as it is, then the client behind the proxy.
    assert_eq!(ips, ["192.0.2.50", "198.51.100.5"]);
}

#[test]
fn the_binary_refuses_to_start_in_production_without_a_keyring() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_example-server"))
        .env("PALISADE_ENV", "production")
        .env_remove("PALISADE_KEYRING")
        .env_remove("PALISADE_KEYRING_FILE")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("PALISADE_DATA_DIR", dir.path())
        .env("PALISADE_ADDR", "127.0.0.1:0")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success(), "it must not start");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert!(stderr.contains("PALISADE_KEYRING"), "{stderr}");
    assert!(
        !dir.path().join("keyring").exists(),
        "no keyring is made up"
    );
}

#[test]
fn the_binary_refuses_a_keyring_that_does_not_parse() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_example-server"))
        .env("PALISADE_ENV", "production")
        .env(
            "PALISADE_KEYRING",
            "palisade-keyring v1\n1 primary 2025-01-01T00:00:00Z c2hvcnQ=",
        )
        .env_remove("PALISADE_KEYRING_FILE")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("PALISADE_DATA_DIR", dir.path())
        .env("PALISADE_ADDR", "127.0.0.1:0")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("keyring"), "{stderr}");
    assert!(
        !stderr.contains("c2hvcnQ="),
        "no key material in messages: {stderr}"
    );
}

#[tokio::test]
async fn development_creates_a_keyring_once_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = Config::development(dir.path());
    let first = build(&config).await.expect("first start");
    assert_eq!(
        first.keyring,
        KeyringOrigin::Created(dir.path().join("keyring"))
    );
    let router = first.router.clone();
    signup(&router, "acme", "alice@acme.example").await;
    let cookie = login(&router, "acme", "alice@acme.example").await;
    drop(router);
    drop(first);

    // Same directory: the keyring is loaded, and the session key sealed under it is
    // the same, so the cookie still verifies.
    let second = build(&config).await.expect("second start");
    assert_eq!(
        second.keyring,
        KeyringOrigin::File(dir.path().join("keyring"))
    );
    let me = Call::get("/api/me")
        .cookie(&cookie)
        .send(&second.router)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // Another keyring cannot open the server keys sealed under the first: no start.
    let other = tempfile::tempdir().expect("a temporary directory");
    let other_keyring = other.path().join("keyring");
    envelope_crypto::Keyring::generate()
        .expect("a keyring")
        .write_new_file(&other_keyring)
        .expect("written");
    let mut wrong = config.clone();
    wrong.keyring = KeyringSource::File(other_keyring);
    let error = build(&wrong)
        .await
        .expect_err("the server keys do not open");
    assert!(error.to_string().contains("server key"), "{error}");
}
