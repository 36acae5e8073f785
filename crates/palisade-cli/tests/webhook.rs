//! `palisade webhook sign` and `verify` end to end.

mod support;

use support::{palisade, stdout};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"test": 2432232314}"#;

#[test]
fn sign_prints_the_standard_webhooks_reference_headers() {
    let output = palisade(
        &[
            "webhook",
            "sign",
            "--scheme",
            "standard",
            "--secret",
            SECRET,
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "--timestamp",
            "1614265330",
        ],
        BODY,
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        stdout(&output),
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\n\
         webhook-timestamp: 1614265330\n\
         webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
    );
}

/// Signs with the CLI, then verifies the printed headers with the CLI.
fn sign_then_verify(
    scheme: &str,
    sign_secret: &str,
    verify_secret: &str,
    body: &[u8],
    url: Option<&str>,
) {
    let mut args = vec![
        "webhook",
        "sign",
        "--scheme",
        scheme,
        "--secret",
        sign_secret,
    ];
    if let Some(url) = url {
        args.extend(["--url", url]);
    }
    let signed = palisade(&args, body);
    assert_eq!(signed.status.code(), Some(0), "{scheme}: {signed:?}");
    let headers: Vec<String> = stdout(&signed).lines().map(str::to_owned).collect();
    assert!(!headers.is_empty());

    let mut args = vec![
        "webhook",
        "verify",
        "--scheme",
        scheme,
        "--secret",
        verify_secret,
    ];
    for header in &headers {
        args.extend(["--header", header.as_str()]);
    }
    if let Some(url) = url {
        args.extend(["--url", url]);
    }
    let verified = palisade(&args, body);
    assert_eq!(stdout(&verified), "valid\n", "{scheme}: {verified:?}");
    assert_eq!(verified.status.code(), Some(0));

    let mut flipped = body.to_vec();
    flipped[0] ^= 1;
    let rejected = palisade(&args, &flipped);
    assert_eq!(rejected.status.code(), Some(1), "{scheme}");
    assert!(
        stdout(&rejected).starts_with("invalid: "),
        "{scheme}: {rejected:?}"
    );
}

#[test]
fn every_scheme_signs_and_verifies_through_the_cli() {
    let body = b"{\"ok\":true,\"webhookTimestamp\":0}";
    for scheme in [
        "standard", "svix", "stripe", "github", "slack", "jira", "shopify", "zoom",
    ] {
        let secret = if matches!(scheme, "standard" | "svix" | "stripe") {
            SECRET
        } else {
            "plain secret of 25 bytes"
        };
        sign_then_verify(scheme, secret, secret, body, None);
    }
    // Ed25519: the private key signs, the public key verifies.
    let seed = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let public = webhook_verify::SigningSecret::parse(
        &webhook_verify::Scheme::StandardWebhooks,
        &format!("whsk_{seed}"),
    )
    .unwrap()
    .public_key(&webhook_verify::Scheme::StandardWebhooks)
    .unwrap();
    sign_then_verify("standard", &format!("whsk_{seed}"), &public, body, None);
    let discord_seed = "2a".repeat(32);
    let discord_public = webhook_verify::SigningSecret::ed25519_seed(&[0x2a; 32])
        .public_key(&webhook_verify::Scheme::Discord)
        .unwrap();
    sign_then_verify("discord", &discord_seed, &discord_public, body, None);
    sign_then_verify(
        "twilio",
        "12345",
        "12345",
        b"To=%2B15005550006&Body=hi",
        Some("https://example.com/sms?x=1"),
    );
}

#[test]
fn linear_takes_its_timestamp_from_the_body() {
    let body = br#"{"action":"create","webhookTimestamp":1700000000123}"#;
    let signed = palisade(
        &["webhook", "sign", "--scheme", "linear", "--secret", "s"],
        body,
    );
    let header = stdout(&signed).trim().to_owned();
    let verify = |now: &str| {
        palisade(
            &[
                "webhook", "verify", "--scheme", "linear", "--secret", "s", "--header", &header,
                "--now", now,
            ],
            body,
        )
    };
    assert_eq!(stdout(&verify("1700000030")), "valid\n");
    let stale = verify("1700000100");
    assert_eq!(stale.status.code(), Some(1));
    assert_eq!(stdout(&stale), "invalid: timestamp too old\n");
}

#[test]
fn verify_checks_the_window_as_of_now_and_tolerance() {
    let base = [
        "webhook",
        "verify",
        "--scheme",
        "standard",
        "--secret",
        SECRET,
        "--header",
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
        "--header",
        "webhook-timestamp: 1614265330",
        "--header",
        "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        palisade(&args, BODY)
    };
    assert_eq!(stdout(&run(&["--now", "1614265330"])), "valid\n");
    // Without --now the clock says 2020s+: far too old.
    let now = run(&[]);
    assert_eq!(
        (now.status.code(), stdout(&now)),
        (Some(1), "invalid: timestamp too old\n".into())
    );
    let early = run(&["--now", "1614265000"]);
    assert_eq!(stdout(&early), "invalid: timestamp too far in the future\n");
    assert_eq!(
        stdout(&run(&["--now", "1614265000", "--tolerance", "400"])),
        "valid\n"
    );
    let late = run(&["--now", "1614265700", "--tolerance", "60"]);
    assert_eq!(stdout(&late), "invalid: timestamp too old\n");
}

#[test]
fn rotation_accepts_any_given_secret() {
    let args = |secrets: &[&str]| {
        let mut args = vec![
            "webhook",
            "verify",
            "--scheme",
            "github",
            "--header",
            "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ];
        for secret in secrets {
            args.extend(["--secret", secret]);
        }
        palisade(&args, b"Hello, World!")
    };
    assert_eq!(
        stdout(&args(&["new secret", "It's a Secret to Everybody"])),
        "valid\n"
    );
    let wrong = args(&["new secret"]);
    assert_eq!(
        (wrong.status.code(), stdout(&wrong)),
        (Some(1), "invalid: signature mismatch\n".into())
    );
}

#[test]
fn bad_input_is_invalid_or_a_usage_error_never_a_panic() {
    let verify = |headers: &[&str], body: &[u8]| {
        let mut args = vec![
            "webhook",
            "verify",
            "--scheme",
            "standard",
            "--secret",
            SECRET,
            "--now",
            "1614265330",
        ];
        for header in headers {
            args.extend(["--header", header]);
        }
        palisade(&args, body)
    };
    let missing = verify(&["webhook-id: x", "webhook-timestamp: 1614265330"], BODY);
    assert_eq!(
        (missing.status.code(), stdout(&missing)),
        (
            Some(1),
            "invalid: missing header webhook-signature\n".into()
        )
    );
    let empty = verify(
        &[
            "webhook-id: x",
            "webhook-timestamp: 1614265330",
            "webhook-signature: v1,",
        ],
        BODY,
    );
    assert_eq!(stdout(&empty), "invalid: empty signature\n");
    let binary = verify(
        &[
            "webhook-id: x",
            "webhook-timestamp: 1614265330",
            "webhook-signature: v1,AAAA",
        ],
        b"\xff\xfe",
    );
    assert_eq!(stdout(&binary), "invalid: signature has the wrong length\n");

    for args in [
        vec![
            "webhook",
            "verify",
            "--scheme",
            "standard",
            "--secret",
            "whsec_!!!",
        ],
        vec![
            "webhook", "verify", "--scheme", "standard", "--secret", SECRET, "--header", "no colon",
        ],
        vec!["webhook", "verify", "--scheme", "nope", "--secret", "x"],
        vec!["webhook", "verify", "--scheme", "github"],
        vec![
            "webhook", "sign", "--scheme", "discord", "--secret", "not hex",
        ],
        vec!["webhook", "sign", "--scheme", "twilio", "--secret", "x"],
        vec![
            "webhook",
            "sign",
            "--scheme",
            "standard",
            "--secret",
            "whpk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
        ],
    ] {
        let output = palisade(&args, BODY);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[test]
fn sign_without_id_or_timestamp_makes_fresh_ones() {
    let first = stdout(&palisade(
        &["webhook", "sign", "--scheme", "svix", "--secret", SECRET],
        BODY,
    ));
    let second = stdout(&palisade(
        &["webhook", "sign", "--scheme", "svix", "--secret", SECRET],
        BODY,
    ));
    let id = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("svix-id: msg_"))
            .map(str::to_owned)
    };
    assert!(id(&first).is_some(), "{first}");
    assert_ne!(id(&first), id(&second));
    // And the fresh timestamp verifies against the current time.
    let mut args = vec!["webhook", "verify", "--scheme", "svix", "--secret", SECRET];
    for line in first.lines() {
        args.extend(["--header", line]);
    }
    assert_eq!(stdout(&palisade(&args, BODY)), "valid\n");
}

#[test]
fn a_short_secret_works_with_a_warning() {
    // Twilio's documented example token, "12345", is far below the library's minimum:
    // the tool still checks deliveries signed with it, and says what that means.
    let body = b"Digits=1234&To=%2B18005551212&From=%2B12349013030&Caller=%2B12349013030&CallSid=CA1234567890ABCDE";
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let verified = palisade(
        &[
            "webhook",
            "verify",
            "--scheme",
            "twilio",
            "--secret",
            "12345",
            "--url",
            url,
            "--header",
            "X-Twilio-Signature: 0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ],
        body,
    );
    assert_eq!(stdout(&verified), "valid\n", "{verified:?}");
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(
        stderr.contains("warning: the secret is shorter"),
        "{stderr}"
    );

    let signed = palisade(
        &[
            "webhook", "sign", "--scheme", "twilio", "--secret", "12345", "--url", url,
        ],
        body,
    );
    assert_eq!(
        stdout(&signed),
        "x-twilio-signature: 0/KCTR6DLpKmkAf8muzZqo1nDgQ=\n"
    );
    assert!(String::from_utf8_lossy(&signed.stderr).contains("warning"));

    // A secret of the minimum length or more: no warning.
    let quiet = palisade(
        &[
            "webhook",
            "sign",
            "--scheme",
            "github",
            "--secret",
            "It's a Secret to Everybody",
        ],
        b"Hello, World!",
    );
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stderr.is_empty(), "{quiet:?}");
}
