//! `palisade password` end to end: hash, verify and check through the binary, including
//! malformed hash strings (a message and exit 2, never a panic).

mod support;

use std::process::Output;

use support::{palisade, stderr, stdout};

fn hash(args: &[&str], password: &[u8]) -> String {
    let output = palisade(&[&["password", "hash"], args].concat(), password);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    text.trim_end().to_owned()
}

/// `password hash --algorithm bcrypt --bcrypt-cost <cost>`.
fn hash_bcrypt(cost: &str, password: &[u8]) -> Output {
    palisade(
        &[
            "password",
            "hash",
            "--algorithm",
            "bcrypt",
            "--bcrypt-cost",
            cost,
        ],
        password,
    )
}

fn verify(hash: &str, password: &[u8]) -> Output {
    palisade(&["password", "verify", "--hash", hash], password)
}

/// Exit 2 with a `palisade:` message on stderr, nothing on stdout, no panic.
fn assert_usage_error(output: &Output, mentions: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(
        output.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(mentions), "{mentions:?} not in {err}");
}

/// The one `password<TAB>hash` line of the passwords crate's
/// `tests/data/htpasswd-readme.txt`, made by `htpasswd -nbB user hunter2`.
fn htpasswd_fixture() -> (&'static str, &'static str) {
    include_str!("../../passwords/tests/data/htpasswd-readme.txt")
        .lines()
        .find(|line| !line.starts_with('#') && !line.is_empty())
        .and_then(|line| line.split_once('\t'))
        .expect("a password<TAB>hash line")
}

#[test]
fn hash_then_verify_with_argon2id() {
    let stored = hash(&[], b"correct horse battery staple\n");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let valid = verify(&stored, b"correct horse battery staple\n");
    assert_eq!(valid.status.code(), Some(0));
    assert_eq!(stdout(&valid), "valid\n");
    let invalid = verify(&stored, b"correct horse battery stapler\n");
    assert_eq!(invalid.status.code(), Some(1));
    assert_eq!(stdout(&invalid), "invalid\n");
}

#[test]
fn bcrypt_hashes_verify_and_need_a_rehash() {
    let stored = hash(
        &["--algorithm", "bcrypt", "--bcrypt-cost", "10"],
        b"hunter2\n",
    );
    assert!(stored.starts_with("$2b$10$"), "{stored}");
    let output = verify(&stored, b"hunter2\n");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "valid\nneeds-rehash\n");
    // The `htpasswd -nbB user hunter2` hash of the passwords crate's tests/data.
    let (password, htpasswd) = htpasswd_fixture();
    assert_eq!(password, "hunter2");
    assert_eq!(
        stdout(&verify(htpasswd, password.as_bytes())),
        "valid\nneeds-rehash\n"
    );
    assert_eq!(verify(htpasswd, b"hunter3").status.code(), Some(1));
}

#[test]
fn exactly_one_trailing_newline_is_removed() {
    let stored = hash(&[], b"pw\n");
    assert_eq!(verify(&stored, b"pw").status.code(), Some(0));
    assert_eq!(verify(&stored, b"pw\n").status.code(), Some(0));
    assert_eq!(verify(&stored, b"pw\n\n").status.code(), Some(1));
    assert_eq!(verify(&stored, b"pw \n").status.code(), Some(1));
    assert_eq!(verify(&stored, b"pw\r\n").status.code(), Some(1));
}

#[test]
fn malformed_hash_strings_are_usage_errors_not_panics() {
    let cases = [
        ("", "malformed password hash"),
        ("not-a-hash", "malformed password hash"),
        ("$argon2id$", "malformed password hash"),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "malformed password hash",
        ),
        (
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA",
            "malformed password hash",
        ),
        (
            "$2x$05$o8XwtrS2BvdN9epvaRZYb.q5uBp8O2TXX9ftDkFosPoYWkx3GtIQO",
            "malformed password hash",
        ),
        (
            "$2y$05$o8XwtrS2BvdN9epvaRZYb.q5uBp8O2TXX9ftDkFosPoYWkx3GtIQ",
            "malformed password hash",
        ),
        (
            "$2y$05$o8XwtrS2BvdN9epvaRZYb.q5uBp8O2TXX9ftDkFosPoYWkx3Gté",
            "malformed password hash",
        ),
        (
            "$2y$99$o8XwtrS2BvdN9epvaRZYb.q5uBp8O2TXX9ftDkFosPoYWkx3GtIQO",
            "malformed password hash",
        ),
        (
            "$2y$31$o8XwtrS2BvdN9epvaRZYb.q5uBp8O2TXX9ftDkFosPoYWkx3GtIQO",
            "verify limits",
        ),
        (
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA",
            "verify limits",
        ),
        (
            "$argon2id$v=19$m=8,t=1,p=1,keyid=AAAAAQ$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA",
            "pepper",
        ),
    ];
    for (stored, mentions) in cases {
        assert_usage_error(&verify(stored, b"hunter2"), mentions);
    }
    let huge = "$argon2id$".repeat(1000);
    assert_usage_error(&verify(&huge, b"hunter2"), "malformed password hash");
}

#[test]
fn no_silent_truncation_on_the_command_line() {
    let prefix = "x".repeat(72);
    let stored = hash(
        &["--algorithm", "bcrypt", "--bcrypt-cost", "10"],
        prefix.as_bytes(),
    );
    let longer = format!("{prefix}y");
    assert_usage_error(&hash_bcrypt("10", longer.as_bytes()), "too long");
    let output = verify(&stored, longer.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "invalid\n");
}

#[test]
fn stdin_beyond_any_password_is_too_long() {
    // 16 MiB: far more than any command accepts. Each answers as it would for a password
    // just over its limit (the unit tests show the rest is never read).
    let flood = vec![b'a'; 16 << 20];
    assert_usage_error(&palisade(&["password", "hash"], &flood), "too long");
    let stored = hash(&[], b"pw");
    assert_usage_error(&verify(&stored, &flood), "too long");
    let check = palisade(&["password", "check"], &flood);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert_eq!(stdout(&check), "too long: use at most 128 characters\n");
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_usage_error(
        &palisade(&["password", "hash", "--bcrypt-cost", "12"], b"pw"),
        "--bcrypt-cost only applies to --algorithm bcrypt",
    );
    assert_usage_error(&hash_bcrypt("4", b"pw"), "bcrypt cost 4");
    // A cost `verify` would refuse to check is refused when hashing.
    assert_usage_error(&hash_bcrypt("17", b"pw"), "at most 16");
    assert_usage_error(
        &palisade(&["password", "hash", "--algorithm", "md5"], b"pw"),
        "md5",
    );
    assert_usage_error(&palisade(&["password", "verify"], b"pw"), "--hash");
}

#[test]
fn check_prints_ok_or_one_reason_per_line() {
    let ok = palisade(&["password", "check"], b"correct horse battery staple\n");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(stdout(&ok), "ok\n");

    let common = palisade(&["password", "check"], b"password\n");
    assert_eq!(common.status.code(), Some(1));
    assert_eq!(
        stdout(&common),
        "too common: it is on a list of frequently used passwords\n"
    );

    let short_and_common = palisade(&["password", "check"], b"123456\n");
    assert_eq!(short_and_common.status.code(), Some(1));
    assert_eq!(
        stdout(&short_and_common),
        "too short: use at least 8 characters\n\
         too common: it is on a list of frequently used passwords\n"
    );

    let long = "z".repeat(129);
    let too_long = palisade(&["password", "check"], long.as_bytes());
    assert_eq!(too_long.status.code(), Some(1));
    assert_eq!(stdout(&too_long), "too long: use at most 128 characters\n");

    let binary = palisade(
        &["password", "check"],
        [0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8],
    );
    assert_eq!(binary.status.code(), Some(1));
    assert!(
        stdout(&binary).contains("not valid UTF-8"),
        "{}",
        stdout(&binary)
    );
}
