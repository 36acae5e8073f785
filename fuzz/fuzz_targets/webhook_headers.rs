//! Every scheme's header parser (and the body readers of Linear and Twilio) on arbitrary
//! bytes: lines become values of the schemes' headers, the rest is the body. Nothing may
//! panic, and whatever a signer signs, its verifier accepts.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use webhook_verify::http::{HeaderMap, HeaderName, HeaderValue};
use webhook_verify::{
    Encoding, GenericHmac, ManualClock, Message, Scheme, Secret, SigningSecret, SignRequest,
    Signer, Verifier,
};

const NAMES: [&str; 21] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "stripe-signature",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "linear-signature",
    "x-shopify-hmac-sha256",
    "x-zm-signature",
    "x-zm-request-timestamp",
    "x-signature-ed25519",
    "x-signature-timestamp",
    "x-twilio-signature",
    "x-acme-signature",
    "x-acme-timestamp",
    "x-acme-id",
];

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://example.com/hook?x=1";

fn schemes() -> Vec<(Scheme, String, String)> {
    let seed = [42u8; 32];
    let standard_ed = format!("whsk_{}", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=");
    let generic = GenericHmac::builder("x-acme-signature")
        .prefix("v1=")
        .encoding(Encoding::Base64)
        .timestamp_header("x-acme-timestamp")
        .id_header("x-acme-id")
        .template("{id}.{timestamp}.{body}")
        .build()
        .expect("generic scheme");
    let discord_public = SigningSecret::ed25519_seed(&seed)
        .public_key(&Scheme::Discord)
        .expect("public key");
    let standard_public = SigningSecret::parse(&Scheme::StandardWebhooks, &standard_ed)
        .expect("whsk")
        .public_key(&Scheme::StandardWebhooks)
        .expect("public key");
    let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
    let plain = "fuzz webhook secret 01".to_owned();
    vec![
        (Scheme::StandardWebhooks, whsec.clone(), whsec.clone()),
        (Scheme::StandardWebhooks, standard_ed, standard_public),
        (Scheme::Svix, whsec.clone(), whsec.clone()),
        (Scheme::Stripe, whsec.clone(), whsec),
        (Scheme::GitHub, plain.clone(), plain.clone()),
        (Scheme::Slack, plain.clone(), plain.clone()),
        (Scheme::Linear, plain.clone(), plain.clone()),
        (Scheme::Jira, plain.clone(), plain.clone()),
        (Scheme::Shopify, plain.clone(), plain.clone()),
        (Scheme::Zoom, plain.clone(), plain.clone()),
        (Scheme::Discord, hex::encode(seed), discord_public),
        (Scheme::Twilio, plain.clone(), plain.clone()),
        (Scheme::Generic(generic), plain.clone(), plain),
    ]
}

struct Setup {
    verifiers: Vec<Verifier>,
    signers: Vec<Signer>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut verifiers = Vec::new();
        let mut signers = Vec::new();
        for (scheme, signing, verifying) in schemes() {
            verifiers.push(
                Verifier::builder(scheme.clone())
                    .secret(Secret::parse(&scheme, &verifying).expect("secret"))
                    .clock(ManualClock::new(NOW))
                    .tolerance(std::time::Duration::from_secs(u64::MAX / 4))
                    .build()
                    .expect("verifier"),
            );
            let secret = SigningSecret::parse(&scheme, &signing).expect("signing secret");
            signers.push(Signer::new(scheme, secret).expect("signer"));
        }
        Setup { verifiers, signers }
    })
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    // "name index byte, value bytes, newline" records; whatever follows a 0xff byte is
    // the body.
    let (head, body) = match data.iter().position(|&b| b == 0xff) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (data, &b""[..]),
    };
    let mut headers = HeaderMap::new();
    for record in head.split(|&b| b == b'\n').take(32) {
        let Some((&index, value)) = record.split_first() else {
            continue;
        };
        let name = HeaderName::from_static(NAMES[usize::from(index) % NAMES.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    for verifier in &setup.verifiers {
        // The seeds are real deliveries, so some inputs do verify: only panics count.
        let _ = verifier.verify_sync(&Message::new(&headers, body).with_url(URL));
    }
    for (signer, verifier) in setup.signers.iter().zip(&setup.verifiers) {
        let request = SignRequest::new(body).id("msg_fuzz").timestamp(NOW).url(URL);
        if let Ok(signed) = signer.sign(&request) {
            // What we sign, we verify.
            let verified = verifier.verify_sync(&Message::new(&signed, body).with_url(URL));
            if !matches!(signer.scheme(), Scheme::Linear) {
                assert!(verified.is_ok(), "{}: {verified:?}", signer.scheme());
            }
        }
    }
});
