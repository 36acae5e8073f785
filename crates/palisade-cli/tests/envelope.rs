//! `palisade keys` and `palisade seal | open | rewrap | inspect` end to end.

mod support;

use std::path::Path;
use std::process::Output;

/// Runs `palisade` with `args`, `stdin` as input and `PALISADE_KEYRING` set to `env_keyring`
/// (or removed).
fn palisade(args: &[&str], stdin: &[u8], env_keyring: Option<&str>) -> Output {
    support::palisade_with(args, stdin, |command| {
        match env_keyring {
            Some(text) => command.env("PALISADE_KEYRING", text),
            None => command.env_remove("PALISADE_KEYRING"),
        };
    })
}

fn ok(output: &Output) -> &Output {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn new_keyring(dir: &Path) -> String {
    let path = dir.join("keyring");
    ok(&palisade(
        &["keys", "new", "--out", path.to_str().expect("UTF-8 path")],
        b"",
        None,
    ));
    path.to_str().expect("UTF-8 path").to_owned()
}

#[test]
fn keys_new_writes_a_private_file_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_keyring(dir.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let body = std::fs::read_to_string(&path).unwrap();
    assert!(
        body.starts_with("palisade-keyring v1\n1 primary "),
        "{body}"
    );
    // Never overwrites an existing keyring.
    let again = palisade(&["keys", "new", "--out", &path], b"", None);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), body);

    let stdout = palisade(&["keys", "new"], b"", None);
    let printed = text(&ok(&stdout).stdout);
    assert!(
        printed.starts_with("palisade-keyring v1\n1 primary "),
        "{printed}"
    );
    assert_ne!(printed, body, "a fresh key each time");
}

/// A keyring file others can read still works, with a warning on stderr (nothing on
/// stdout but the answer); a private one draws no warning.
#[cfg(unix)]
#[test]
fn a_keyring_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keyring = new_keyring(dir.path());
    let quiet = palisade(&["keys", "list", "--keyring", &keyring], b"", None);
    assert!(!text(&ok(&quiet).stderr).contains("warning"));
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [
        &["keys", "list", "--keyring", &keyring][..],
        &["seal", "--keyring", &keyring][..],
    ] {
        let warned = palisade(args, b"secret", None);
        let stderr = text(&ok(&warned).stderr);
        assert!(
            stderr.contains("open to group or others (mode 644); chmod 600 it"),
            "{args:?}: {stderr}"
        );
        assert!(!text(&warned.stdout).contains("warning"));
    }
}

#[test]
fn seal_open_rotate_rewrap_retire_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = new_keyring(dir.path());
    let bind = [
        "--keyring",
        keyring.as_str(),
        "--purpose",
        "oauth.token",
        "--bind",
        "tenant=acme",
        "--bind",
        "record=42",
        "--bind",
        "column=token",
    ];
    let secret = b"ya29.secret\n\x00\xff bytes";
    let sealed = palisade(&[&["seal"], &bind[..]].concat(), secret, None);
    let armor = text(&ok(&sealed).stdout);
    assert!(
        armor.starts_with("pal1.") && armor.ends_with('\n'),
        "{armor}"
    );
    assert_eq!(armor.lines().count(), 1);

    let opened = palisade(&[&["open"], &bind[..]].concat(), armor.as_bytes(), None);
    assert_eq!(ok(&opened).stdout, secret, "exact bytes");

    let inspected = palisade(&["inspect"], armor.as_bytes(), None);
    let report = text(&ok(&inspected).stdout);
    assert!(report.contains("format: 1"), "{report}");
    assert!(report.contains("XAES-256-GCM"), "{report}");
    assert!(report.contains("key version: 1"), "{report}");

    let rotated = palisade(&["keys", "rotate", "--keyring", &keyring], b"", None);
    assert!(text(&ok(&rotated).stdout).contains("version 2 is now primary"));
    // The old envelope still opens; rewrap moves it to version 2.
    ok(&palisade(
        &[&["open"], &bind[..]].concat(),
        armor.as_bytes(),
        None,
    ));
    let rewrapped = palisade(&[&["rewrap"], &bind[..]].concat(), armor.as_bytes(), None);
    let new_armor = text(&ok(&rewrapped).stdout);
    assert!(
        !new_armor.contains("ya29"),
        "rewrap never shows the plaintext"
    );
    let report = text(&palisade(&["inspect"], new_armor.as_bytes(), None).stdout);
    assert!(report.contains("key version: 2"), "{report}");

    let retired = palisade(
        &["keys", "retire", "--keyring", &keyring, "--version", "1"],
        b"",
        None,
    );
    ok(&retired);
    let old = palisade(&[&["open"], &bind[..]].concat(), armor.as_bytes(), None);
    assert_eq!(old.status.code(), Some(1));
    assert!(old.stdout.is_empty());
    assert!(
        text(&old.stderr).contains("key version 1 is retired"),
        "{}",
        text(&old.stderr)
    );
    let new = palisade(&[&["open"], &bind[..]].concat(), new_armor.as_bytes(), None);
    assert_eq!(ok(&new).stdout, secret);

    let listed = palisade(&["keys", "list", "--keyring", &keyring], b"", None);
    let lines = text(&ok(&listed).stdout);
    let states: Vec<_> = lines
        .lines()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(states, ["1 retired", "2 primary"], "{lines}");
    let key_text = std::fs::read_to_string(&keyring).unwrap();
    for record in key_text.lines().skip(1) {
        let key = record.rsplit(' ').next().unwrap();
        assert!(!lines.contains(key), "list shows no key bytes");
    }
    // Retiring the primary is a usage error.
    let refused = palisade(
        &["keys", "retire", "--keyring", &keyring, "--version", "2"],
        b"",
        None,
    );
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn keyring_from_the_environment_and_none_at_all() {
    let keyring = text(&ok(&palisade(&["keys", "new"], b"", None)).stdout);
    let sealed = palisade(&["seal", "--bind", "record=7"], b"from env", Some(&keyring));
    let armor = text(&ok(&sealed).stdout);
    let opened = palisade(
        &["open", "--bind", "record=7"],
        armor.as_bytes(),
        Some(&keyring),
    );
    assert_eq!(ok(&opened).stdout, b"from env");

    for command in ["seal", "open", "rewrap"] {
        let none = palisade(&[command], armor.as_bytes(), None);
        assert_eq!(none.status.code(), Some(2), "{command}");
        assert!(none.stdout.is_empty());
        let message = text(&none.stderr);
        assert!(
            message.contains("PALISADE_KEYRING") && message.contains("--keyring"),
            "{message}"
        );
    }
    // A short key fails closed at load time.
    let short = "palisade-keyring v1\n1 primary 2025-01-01T00:00:00Z AAAAAAAAAAAAAAAAAAAAAA==\n";
    let refused = palisade(&["seal"], b"x", Some(short));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("at least 32"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn tampered_or_misbound_envelopes_exit_1_with_nothing_on_stdout() {
    let keyring = text(&ok(&palisade(&["keys", "new"], b"", None)).stdout);
    let sealed = palisade(
        &["seal", "--bind", "tenant=acme"],
        b"secret",
        Some(&keyring),
    );
    let armor = text(&ok(&sealed).stdout).trim_end().to_owned();

    let mut tampered = armor.clone().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["open", "--bind", "tenant=acme"], tampered),
        (vec!["open", "--bind", "tenant=other"], armor.clone()),
        (vec!["open"], armor.clone()),
        (
            vec!["open", "--bind", "tenant=acme", "--purpose", "other"],
            armor.clone(),
        ),
        (
            vec!["open", "--bind", "tenant=acme"],
            armor[..armor.len() - 4].to_owned(),
        ),
        (
            vec!["open", "--bind", "tenant=acme"],
            "not an envelope".into(),
        ),
        (vec!["rewrap", "--bind", "tenant=other"], armor.clone()),
    ];
    for (args, input) in cases {
        let output = palisade(&args, input.as_bytes(), Some(&keyring));
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(
            text(&output.stderr).contains("invalid envelope"),
            "{args:?}"
        );
    }
    let garbage = palisade(&["inspect"], b"pal1.AAAA", None);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(garbage.stdout.is_empty());
}

#[test]
fn bad_flags_are_usage_errors() {
    let keyring = text(&ok(&palisade(&["keys", "new"], b"", None)).stdout);
    for args in [
        vec!["seal", "--bind", "no-equals-sign"],
        vec!["seal", "--bind", "a=1", "--bind", "a=2"],
        vec!["seal", "--purpose", "has space"],
        vec![
            "keys",
            "retire",
            "--keyring",
            "/nonexistent",
            "--version",
            "0",
        ],
        vec!["keys", "list", "--keyring", "/nonexistent/keyring"],
    ] {
        let output = palisade(&args, b"x", Some(&keyring));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
