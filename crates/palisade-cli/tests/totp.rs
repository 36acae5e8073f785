//! `palisade totp new`, `code` and `verify` end to end.

mod support;

use std::process::Output;

use support::stdout;

fn palisade(args: &[&str]) -> Output {
    support::palisade(args, "")
}

const RFC_SHA1: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[test]
fn code_gives_the_rfc6238_answers() {
    for (time, expected) in [
        ("59", "94287082"),
        ("1111111109", "07081804"),
        ("20000000000", "65353130"),
    ] {
        let output = palisade(&[
            "totp", "code", "--secret", RFC_SHA1, "--digits", "8", "--time", time,
        ]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(stdout(&output), format!("{expected}\n"));
    }
    // SHA-512 with its 64-byte seed, lower case and padded: the flags and the parser agree.
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA=";
    let output = palisade(&[
        "totp",
        "code",
        "--secret",
        &seed.to_ascii_lowercase(),
        "--algorithm",
        "sha512",
        "--digits",
        "8",
        "--time",
        "1234567890",
    ]);
    assert_eq!(stdout(&output), "93441116\n", "{output:?}");
    // Defaults: 6 digits, 30 s (RFC 4226 counter 1 is T = 30..59).
    let output = palisade(&["totp", "code", "--secret", RFC_SHA1, "--time", "59"]);
    assert_eq!(stdout(&output), "287082\n");
    let output = palisade(&[
        "totp", "code", "--secret", RFC_SHA1, "--period", "60", "--time", "60",
    ]);
    assert_eq!(stdout(&output), "287082\n", "step 1 of 60 s");
}

#[test]
fn verify_accepts_one_step_either_side_by_default() {
    let check = |code: &str, time: &str, extra: &[&str]| {
        let mut args = vec![
            "totp", "verify", "--secret", RFC_SHA1, "--code", code, "--time", time,
        ];
        args.extend_from_slice(extra);
        palisade(&args)
    };
    // 287082 is step 1 (t = 30..59).
    for (time, extra, valid) in [
        ("45", &[][..], true),
        ("75", &[][..], true),  // step 2, one back
        ("15", &[][..], true),  // step 0, one ahead
        ("95", &[][..], false), // step 3, two back
        ("75", &["--skew", "0"][..], false),
        ("95", &["--skew", "2"][..], true),
    ] {
        let output = check("287082", time, extra);
        let (status, line) = if valid {
            (0, "valid\n")
        } else {
            (1, "invalid\n")
        };
        assert_eq!(
            output.status.code(),
            Some(status),
            "t={time} {extra:?} {output:?}"
        );
        assert_eq!(stdout(&output), line);
    }
    // Not digits, wrong length: invalid, not a crash.
    for bad in ["28708a", "28708", "2870822", "+87082", ""] {
        let output = check(bad, "45", &[]);
        assert_eq!(output.status.code(), Some(1), "{bad:?}");
        assert_eq!(stdout(&output), "invalid\n");
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["totp", "code", "--secret", "not base32!", "--time", "1"][..],
        &["totp", "code", "--secret", "JBSWY3DP", "--time", "1"][..], // 40 bits
        &["totp", "code", "--secret", RFC_SHA1, "--digits", "9"][..],
        &["totp", "code", "--secret", RFC_SHA1, "--period", "0"][..],
        &["totp", "code", "--secret", RFC_SHA1, "--algorithm", "md5"][..],
        &["totp", "verify", "--secret", RFC_SHA1][..],
        &["totp", "new", "--issuer", "A:B", "--account", "x"][..],
    ] {
        let output = palisade(args);
        assert_eq!(output.status.code(), Some(2), "{args:?} {output:?}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn new_prints_a_secret_and_uri_that_agree() {
    let dir = tempfile::tempdir().unwrap();
    let qr = dir.path().join("qr.svg");
    let output = palisade(&[
        "totp",
        "new",
        "--issuer",
        "ACME Co",
        "--account",
        "alice@example.com",
        "--qr",
        qr.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let (secret, uri) = (lines[0], lines[1]);
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/ACME%20Co:alice%40example.com?secret={secret}&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
        )
    );
    let svg = std::fs::read_to_string(&qr).unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&qr).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The printed secret drives code and verify.
    let code = stdout(&palisade(&[
        "totp", "code", "--secret", secret, "--time", "1000",
    ]));
    let output = palisade(&[
        "totp",
        "verify",
        "--secret",
        secret,
        "--code",
        code.trim(),
        "--time",
        "1000",
    ]);
    assert_eq!(stdout(&output), "valid\n");
    // Two runs give different secrets.
    let again = stdout(&palisade(&[
        "totp",
        "new",
        "--issuer",
        "A",
        "--account",
        "b",
    ]));
    assert_ne!(again.lines().next().unwrap(), secret);
}

/// The QR code holds the secret: an existing file is made private before it is written,
/// and a symbolic link is refused, not followed.
#[cfg(unix)]
#[test]
fn new_writes_the_qr_code_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let new = |qr: &std::path::Path| {
        palisade(&[
            "totp",
            "new",
            "--issuer",
            "ACME Co",
            "--account",
            "alice@example.com",
            "--qr",
            qr.to_str().unwrap(),
        ])
    };
    let existing = dir.path().join("existing.svg");
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = new(&existing);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let mode = std::fs::metadata(&existing).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&existing).unwrap().contains("<svg"));

    let target = dir.path().join("target.svg");
    std::fs::write(&target, "untouched").unwrap();
    let link = dir.path().join("link.svg");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let output = new(&link);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        output.stdout.is_empty(),
        "no secret printed when the QR code is refused"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
}
