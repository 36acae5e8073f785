//! Base64url strictness (RFC 7515, section 2: unpadded base64url, RFC 4648 section 5).
//!
//! A decoder that accepted padding, the `+` and `/` of the other alphabet, or a last
//! symbol with stray low bits would read several texts as one token: a validly signed
//! token could be re-encoded without the key, and a "changed" token would still verify.
//! Each case below is signed with the key over its exact text, so only the encoding
//! can refuse it, and the canonical text with the same content verifies.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use session_tokens::{MemoryStore, Reason, SessionManager};

use crate::support::*;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A decoder that accepts everything the strict one must refuse, except the alphabet.
fn lenient() -> GeneralPurpose {
    GeneralPurpose::new(
        &URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// `segment` with its last symbol's lowest bit, which no byte uses, set.
fn non_canonical(segment: &str) -> String {
    assert_ne!(segment.len() % 4, 0, "the last symbol has unused bits");
    let (head, last) = segment.split_at(segment.len() - 1);
    let index = ALPHABET
        .iter()
        .position(|&c| c == last.as_bytes()[0])
        .expect("base64url");
    assert_eq!(index & 1, 0, "canonical: the unused bits are zero");
    let changed = format!("{head}{}", char::from(ALPHABET[index | 1]));
    assert_eq!(
        lenient().decode(&changed).expect("lenient decoding"),
        URL_SAFE_NO_PAD
            .decode(segment)
            .expect("canonical base64url"),
        "a lenient decoder reads both as the same bytes"
    );
    changed
}

/// `segment` with the `=` padding of padded base64.
fn padded(segment: &str) -> String {
    let pad = (4 - segment.len() % 4) % 4;
    assert_ne!(pad, 0, "a segment that padding would change");
    format!("{segment}{}", "=".repeat(pad))
}

/// `segment` with each of `-` and `_` it holds swapped for `+` and `/` (standard base64).
fn other_alphabet(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (url, standard) in [('-', "+"), ('_', "/")] {
        if segment.contains(url) {
            out.push(segment.replacen(url, standard, 1));
        }
    }
    assert!(!out.is_empty(), "{segment} holds a - or a _");
    out
}

/// The variants of one segment a strict decoder refuses.
fn variants(segment: &str) -> Vec<String> {
    let mut out = vec![non_canonical(segment), padded(segment)];
    out.extend(other_alphabet(segment));
    out
}

fn has_url_symbol(segment: &str) -> bool {
    segment.contains(['-', '_'])
}

/// JSON text with `n` spaces and an ignored member (`???` encodes to symbols past `9`)
/// after its opening brace: the same session, another encoding.
fn spaced(json: &str, n: usize) -> String {
    format!("{{{}\"x\":\"???\",{}", " ".repeat(n), &json[1..])
}

/// The smallest padding with spaces whose encoding has unused bits and a `-` or `_`.
fn segment_for(json: &str) -> String {
    (0..64)
        .map(|n| URL_SAFE_NO_PAD.encode(spaced(json, n)))
        .find(|s| s.len() % 4 != 0 && has_url_symbol(s))
        .expect("some padding works")
}

fn token(header: &str, payload: &str, signature: Option<&str>) -> String {
    let input = format!("{header}.{payload}");
    let signature = signature.map_or_else(|| hs_signature(&input), str::to_owned);
    format!("{input}.{signature}")
}

/// `None` when the token verifies; the reason when it is refused. Any other error (a
/// failing store) fails the test rather than passing for either.
async fn reason(manager: &SessionManager, token: &str) -> Option<Reason> {
    match manager.verify(token).await {
        Ok(_) => None,
        Err(err) => Some(err.rejection().expect("a refusal, not another error")),
    }
}

/// A manager and the header and claims JSON of a token it issued.
async fn setup() -> (SessionManager, String, String) {
    let clock = ManualClock::new();
    let manager = manager(MemoryStore::new(), &clock);
    let issued = manager
        .issue(request("acme", "alice"))
        .await
        .expect("issue");
    let (header, claims, _) = open(issued.token().expose());
    (manager, header.to_string(), claims.to_string())
}

#[tokio::test]
async fn header_and_payload_segments_must_be_canonical_unpadded_base64url() {
    let (manager, header, claims) = setup().await;
    for (which, json) in [(0, &header), (1, &claims)] {
        // Only this segment is re-encoded; each text is signed with the key.
        let mut segments = [
            URL_SAFE_NO_PAD.encode(&header),
            URL_SAFE_NO_PAD.encode(&claims),
        ];
        segments[which] = segment_for(json);
        let canonical = token(&segments[0], &segments[1], None);
        assert_eq!(reason(&manager, &canonical).await, None);
        for bad in variants(&segments[which]) {
            let mut forged = segments.clone();
            forged[which] = bad;
            let forged = token(&forged[0], &forged[1], None);
            assert_eq!(
                reason(&manager, &forged).await,
                Some(Reason::Malformed),
                "segment {which}: {forged}"
            );
        }
    }
}

#[tokio::test]
async fn signature_segment_must_be_canonical_unpadded_base64url() {
    let (manager, header, claims) = setup().await;
    let header = URL_SAFE_NO_PAD.encode(&header);
    // A payload whose signature's encoding holds a - or a _.
    let (payload, signature) = (0..64)
        .map(|n| {
            let payload = URL_SAFE_NO_PAD.encode(spaced(&claims, n));
            let signature = hs_signature(&format!("{header}.{payload}"));
            (payload, signature)
        })
        .find(|(_, signature)| has_url_symbol(signature))
        .expect("some padding works");
    let genuine = token(&header, &payload, Some(&signature));
    assert_eq!(reason(&manager, &genuine).await, None);
    for bad in variants(&signature) {
        let forged = token(&header, &payload, Some(&bad));
        assert_eq!(
            reason(&manager, &forged).await,
            Some(Reason::BadSignature),
            "{bad}"
        );
    }
}
