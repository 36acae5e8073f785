//! Secrets: short keys are refused unless the explicit `dangerous` door is used; each
//! scheme's format is required as the provider gives it.

use webhook_verify::{
    Error, MIN_HMAC_KEY_LEN, MIN_WHSEC_LEN, Scheme, Secret, SigningSecret, dangerous,
};

fn refused(result: Result<Secret, Error>) -> String {
    match result {
        Err(Error::Secret(message)) => message,
        other => panic!("expected a secret error, got {other:?}"),
    }
}

#[test]
fn short_hmac_secrets_are_refused() {
    let fifteen = "a".repeat(MIN_HMAC_KEY_LEN - 1);
    let sixteen = "a".repeat(MIN_HMAC_KEY_LEN);
    for scheme in [
        Scheme::Stripe,
        Scheme::GitHub,
        Scheme::Slack,
        Scheme::Linear,
        Scheme::Jira,
        Scheme::Shopify,
        Scheme::Zoom,
        Scheme::Twilio,
    ] {
        let message = refused(Secret::parse(&scheme, &fifteen));
        assert!(message.contains("dangerous"), "{scheme}: {message}");
        assert!(SigningSecret::parse(&scheme, &fifteen).is_err(), "{scheme}");
        Secret::parse(&scheme, &sixteen).unwrap_or_else(|err| panic!("{scheme}: {err}"));
        // Through the door, a short one works (an empty one never does).
        dangerous::short_secret(&scheme, "12345").unwrap();
        dangerous::short_signing_secret(&scheme, "12345").unwrap();
        assert!(dangerous::short_secret(&scheme, "").is_err(), "{scheme}");
    }
    assert!(Secret::hmac(vec![7; MIN_HMAC_KEY_LEN - 1]).is_err());
    assert!(SigningSecret::hmac(vec![7; MIN_HMAC_KEY_LEN - 1]).is_err());
    Secret::hmac(vec![7; MIN_HMAC_KEY_LEN]).unwrap();
    // GitHub's published example secret is 26 bytes: accepted as it is.
    Secret::parse(&Scheme::GitHub, "It's a Secret to Everybody").unwrap();
}

#[test]
fn whsec_secrets_need_their_prefix_and_24_bytes() {
    use base64::Engine as _;
    let encode = |len: usize| {
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(vec![9u8; len])
        )
    };
    for scheme in [Scheme::StandardWebhooks, Scheme::Svix] {
        // whsec_AA== is one byte: far too short for the spec's 24.
        let message = refused(Secret::parse(&scheme, "whsec_AA=="));
        assert!(message.contains("24"), "{message}");
        assert!(Secret::parse(&scheme, &encode(MIN_WHSEC_LEN - 1)).is_err());
        Secret::parse(&scheme, &encode(MIN_WHSEC_LEN)).unwrap();
        dangerous::short_secret(&scheme, "whsec_AA==").unwrap();
        // Without the prefix, the text is not silently base64-decoded into a key.
        let bare = encode(32).trim_start_matches("whsec_").to_owned();
        let message = refused(Secret::parse(&scheme, &bare));
        assert!(message.contains("whsec_"), "{message}");
        assert!(dangerous::short_secret(&scheme, &bare).is_err());
        assert!(SigningSecret::parse(&scheme, &bare).is_err());
    }
    // Stripe uses the whole whsec_ string as its key, prefix included.
    Secret::parse(&Scheme::Stripe, "whsec_test_0123456789abcdef").unwrap();
}

#[test]
fn secrets_never_show_in_debug_output() {
    let text = "It's a Secret to Everybody";
    let secret = Secret::parse(&Scheme::GitHub, text).unwrap();
    let signing = SigningSecret::parse(&Scheme::GitHub, text).unwrap();
    for debug in [format!("{secret:?}"), format!("{signing:?}")] {
        assert!(!debug.contains("Secret to"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }
}
