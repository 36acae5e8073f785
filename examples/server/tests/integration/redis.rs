//! Two instances on one PostgreSQL and one Redis (`REDIS_URL`): the login limit and the
//! webhook replay guard hold across instances. Each test writes under its own Redis key
//! prefix (`PALISADE_REDIS_PREFIX`), deleted when it ends.

use axum::http::StatusCode;
use example_server::{App, build};
use palisade_test_support::{PgSchema, RedisPrefix};

use crate::support::{PASSWORD, login, post_credentials, signup};
use crate::webhooks::{SECRET, deliver, integration, signed};

/// Two instances of the app sharing one database and one Redis prefix.
struct Pair {
    one: App,
    two: App,
    _db: PgSchema,
    _redis: RedisPrefix,
    _dir: tempfile::TempDir,
}

async fn pair(test: &str) -> Option<Pair> {
    let (mut config, db, dir) = crate::postgres::config(test).await?;
    let redis = palisade_test_support::redis(test)?;
    config.redis_url = Some(redis.url().to_owned());
    config.redis_prefix = redis.prefix().to_owned();
    let one = build(&config).await.expect("first instance");
    let two = build(&config).await.expect("second instance");
    assert!(
        one.backends.iter().any(|b| b.contains("Redis")),
        "{:?}",
        one.backends
    );
    Some(Pair {
        one,
        two,
        _db: db,
        _redis: redis,
        _dir: dir,
    })
}

#[tokio::test]
async fn the_login_limit_counts_failures_on_every_instance() {
    let Some(pair) = pair("example_server_redis_login").await else {
        return;
    };
    signup(&pair.one.router, "acme", "alice@acme.example").await;
    // Ten wrong guesses, alternating between the instances: one shared budget.
    for attempt in 1..=10u32 {
        let router = if attempt % 2 == 0 {
            &pair.one.router
        } else {
            &pair.two.router
        };
        let answer =
            post_credentials(router, "/api/login", "acme", "alice@acme.example", "guess").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // The eleventh is refused on both, even with the right password.
    for router in [&pair.one.router, &pair.two.router] {
        let answer =
            post_credentials(router, "/api/login", "acme", "alice@acme.example", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(answer.header("set-cookie").is_none());
    }
}

#[tokio::test]
async fn a_delivery_handled_by_one_instance_is_a_replay_on_the_other() {
    let Some(pair) = pair("example_server_redis_replay").await else {
        return;
    };
    signup(&pair.one.router, "acme", "alice@acme.example").await;
    let cookie = login(&pair.one.router, "acme", "alice@acme.example").await;
    let id = integration(&pair.one.router, &cookie, SECRET).await;
    let path = format!("/webhooks/{id}");
    let body = br#"{"type":"contact.created","id":42}"#;
    let good = signed(SECRET, "msg_1", body);

    assert_eq!(
        deliver(&pair.one.router, &path, &good, body).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        deliver(&pair.two.router, &path, &good, body).await,
        StatusCode::UNAUTHORIZED,
        "the second instance must see the first one's delivery"
    );
    // A new message id is still accepted there.
    let next = signed(SECRET, "msg_2", body);
    assert_eq!(
        deliver(&pair.two.router, &path, &next, body).await,
        StatusCode::NO_CONTENT
    );
}
