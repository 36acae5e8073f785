//! The service-test rule: reachable services give each test its own schema or prefix;
//! unreachable ones skip loudly, or fail under `PALISADE_REQUIRE_SERVICES=1`.

use std::process::Command;

use palisade_test_support::{
    DEFAULT_POSTGRES, DEFAULT_REDIS, POSTGRES_ENV, REDIS_ENV, REQUIRE_ENV, Services,
};
use sqlx::{Connection, PgConnection, Row};

const CLOSED_POSTGRES: &str = "postgres://postgres@127.0.0.1:1/test";
const CLOSED_REDIS: &str = "redis://127.0.0.1:1";

#[tokio::test]
async fn unreachable_services_skip_when_not_required() {
    let services = Services::new(CLOSED_POSTGRES, CLOSED_REDIS, false);
    assert!(services.postgres("skip").await.is_none());
    assert!(services.redis("skip").is_none());
}

#[tokio::test]
#[should_panic(expected = "postgres unreachable at postgres://postgres@127.0.0.1:1/test")]
async fn unreachable_postgres_fails_when_required() {
    let _ = Services::new(CLOSED_POSTGRES, DEFAULT_REDIS, true)
        .postgres("required")
        .await;
}

#[test]
#[should_panic(expected = "redis unreachable at redis://127.0.0.1:1")]
fn unreachable_redis_fails_when_required() {
    let _ = Services::new(DEFAULT_POSTGRES, CLOSED_REDIS, true).redis("required");
}

/// Runs `probe_services_from_env` in a child process of this test binary with the given
/// environment; returns (success, stdout + stderr).
fn run_probe(require: Option<&str>) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().expect("test binary path"));
    command
        .args([
            "--exact",
            "probe_services_from_env",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(POSTGRES_ENV, CLOSED_POSTGRES)
        .env(REDIS_ENV, CLOSED_REDIS)
        .env_remove(REQUIRE_ENV);
    if let Some(value) = require {
        command.env(REQUIRE_ENV, value);
    }
    let output = command.output().expect("run the probe");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn environment_decides_between_skip_and_failure() {
    let (ok, text) = run_probe(None);
    assert!(
        ok,
        "without {REQUIRE_ENV} the probe skips and passes:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "SKIPPED: postgres unreachable at {CLOSED_POSTGRES}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("SKIPPED: redis unreachable at {CLOSED_REDIS}")),
        "{text}"
    );

    let (ok, text) = run_probe(Some("1"));
    assert!(!ok, "with {REQUIRE_ENV}=1 the probe fails:\n{text}");
    assert!(
        text.contains(&format!("postgres unreachable at {CLOSED_POSTGRES}")),
        "{text}"
    );
    assert!(!text.contains("SKIPPED"), "{text}");

    let (ok, _) = run_probe(Some("0"));
    assert!(ok, "only the value 1 requires the services");
}

/// The probe that the test above runs in a child process. Run in the normal suite it
/// uses the real services: a schema of its own, a prefix of its own.
#[tokio::test]
async fn probe_services_from_env() {
    if let Some(db) = palisade_test_support::postgres("probe").await {
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        let row = sqlx::query("SELECT current_schema()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), db.schema());
    }
    if let Some(redis) = palisade_test_support::redis("probe") {
        assert!(redis.prefix().starts_with("t_probe_"));
    }
}

#[tokio::test]
async fn each_test_gets_its_own_schema_and_it_is_dropped() {
    let Some(first) = palisade_test_support::postgres("isolation").await else {
        return;
    };
    let Some(second) = palisade_test_support::postgres("isolation").await else {
        return;
    };
    assert_ne!(first.schema(), second.schema());

    let mut a = PgConnection::connect(first.url()).await.unwrap();
    let mut b = PgConnection::connect(second.url()).await.unwrap();
    sqlx::query("CREATE TABLE items (id INT)")
        .execute(&mut a)
        .await
        .unwrap();
    sqlx::query("INSERT INTO items VALUES (1)")
        .execute(&mut a)
        .await
        .unwrap();
    // Same table name in the other schema: no clash, no rows.
    sqlx::query("CREATE TABLE items (id INT)")
        .execute(&mut b)
        .await
        .unwrap();
    let count: i64 = sqlx::query("SELECT count(*) FROM items")
        .fetch_one(&mut b)
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
    a.close().await.unwrap();
    b.close().await.unwrap();

    let dropped = first.schema().to_owned();
    drop(first);
    let exists: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(&dropped)
        .fetch_one(&mut PgConnection::connect(second.url()).await.unwrap())
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "schema {dropped} should be gone");
}

#[test]
fn each_test_gets_its_own_redis_prefix_and_its_keys_are_deleted() {
    let Some(first) = palisade_test_support::redis("isolation") else {
        return;
    };
    let Some(second) = palisade_test_support::redis("isolation") else {
        return;
    };
    assert_ne!(first.prefix(), second.prefix());

    let key = format!("{}k", first.prefix());
    assert_eq!(resp(first.url(), &["SET", &key, "v"]), "+OK");
    assert_eq!(resp(first.url(), &["EXISTS", &key]), ":1");
    drop(first);
    assert_eq!(resp(second.url(), &["EXISTS", &key]), ":0");
}

/// A one-line RESP round trip, enough to look at keys.
fn resp(url: &str, args: &[&str]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let addr = url.trim_start_matches("redis://");
    let stream = std::net::TcpStream::connect(addr).expect("connect to redis");
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    (&stream).write_all(request.as_bytes()).expect("send");
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("reply");
    line.trim_end().to_owned()
}
