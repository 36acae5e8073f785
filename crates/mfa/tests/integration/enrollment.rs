//! Enrollment: nothing counts until confirmed; the URI and the QR code carry the secret.

use std::sync::Arc;

use mfa::{Error, MemoryStore, Method, OtpAuthUri, TotpParams, TotpSecret, totp_code};

use crate::support::*;

/// Rasterizes the SVG `qrcode` writes (a background rect and one path of
/// `M{x} {y}h{w}v{h}H{x}V{y}` rectangles) into a grey bitmap, one pixel per unit.
fn rasterize(svg: &str) -> (usize, usize, Vec<u8>) {
    let attr = |name: &str| -> usize {
        let start = svg.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        let end = start + svg[start..].find('"').expect("qrcode svg layout");
        svg[start..end].parse().expect("qrcode svg layout")
    };
    let (w, h) = (attr("width"), attr("height"));
    let mut pixels = vec![255u8; w * h];
    let d_start = svg.find(" d=\"").expect("path") + 4;
    let d = &svg[d_start..d_start + svg[d_start..].find('"').expect("qrcode svg layout")];
    let mut rects = 0;
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        // "{x} {y}h{w}v{h}H{x}V{y}"
        let (xy, rest) = rect.split_once('h').expect("qrcode svg layout");
        let (x, y) = xy.split_once(' ').expect("qrcode svg layout");
        let (rw, rest) = rest.split_once('v').expect("qrcode svg layout");
        let (rh, _) = rest.split_once('H').expect("qrcode svg layout");
        let [x, y, rw, rh]: [usize; 4] =
            [x, y, rw, rh].map(|v| v.parse().expect("qrcode svg layout"));
        for yy in y..y + rh {
            for xx in x..x + rw {
                pixels[yy * w + xx] = 0;
            }
        }
        rects += 1;
    }
    assert!(rects > 50, "a QR code has many dark modules");
    (w, h, pixels)
}

fn decode_qr(svg: &str) -> String {
    let (w, h, pixels) = rasterize(svg);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}

#[tokio::test]
async fn enrollment_counts_only_after_confirmation() {
    let clock = TestClock::at(T0);
    let store = Arc::new(MemoryStore::new());
    let mfa = mfa_on(store, clock.clone());
    let alice = user("alice");

    let enrollment = mfa.totp_enroll(&alice, "alice@example.com").await.unwrap();
    let secret = TotpSecret::from_base32(enrollment.secret_base32()).unwrap();
    assert_eq!(enrollment.secret_base32().len(), 32, "160 bits of base32");
    let params = TotpParams::default();
    assert!(
        !mfa.factors(&alice).await.unwrap().totp,
        "not active before confirmation"
    );

    // Verification refuses an unconfirmed factor, even with a right code.
    let code = totp_code(&secret, &params, T0);
    assert!(matches!(
        mfa.totp_verify(&alice, &code).await,
        Err(Error::Invalid)
    ));
    // A wrong first code does not confirm.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert!(matches!(
        mfa.totp_confirm(&alice, wrong).await,
        Err(Error::Invalid)
    ));
    assert!(!mfa.factors(&alice).await.unwrap().totp);
    assert!(!mfa.has_mfa(&alice).await.unwrap());

    let verified = mfa.totp_confirm(&alice, &code).await.unwrap();
    assert_eq!(verified.method(), Method::Totp);
    assert!(
        mfa.factors(&alice).await.unwrap().totp,
        "active after confirmation"
    );
    assert!(mfa.has_mfa(&alice).await.unwrap());
    // The confirming code is spent: verification needs a newer step.
    assert!(mfa.totp_verify(&alice, &code).await.is_err());
    clock.advance(30);
    let next = totp_code(&secret, &params, T0 + 30);
    assert_eq!(
        mfa.totp_verify(&alice, &next).await.unwrap().method(),
        Method::Totp
    );
    // Confirming twice is refused, and so is a new enrollment over a confirmed one.
    assert!(mfa.totp_confirm(&alice, &next).await.is_err());
    assert!(matches!(
        mfa.totp_enroll(&alice, "alice@example.com").await,
        Err(Error::AlreadyEnrolled)
    ));
    // After removal the user can enroll again.
    assert!(mfa.totp_remove(&alice).await.unwrap());
    mfa.totp_enroll(&alice, "alice@example.com").await.unwrap();
}

#[tokio::test]
async fn a_new_enrollment_replaces_an_unconfirmed_one() {
    let clock = TestClock::at(T0);
    let mfa = mfa_on(Arc::new(MemoryStore::new()), clock.clone());
    let bob = user("bob");
    let first = mfa.totp_enroll(&bob, "bob").await.unwrap();
    let second = mfa.totp_enroll(&bob, "bob").await.unwrap();
    assert_ne!(first.secret_base32(), second.secret_base32());
    let params = TotpParams::default();
    let old = totp_code(
        &TotpSecret::from_base32(first.secret_base32()).unwrap(),
        &params,
        T0,
    );
    let new = totp_code(
        &TotpSecret::from_base32(second.secret_base32()).unwrap(),
        &params,
        T0,
    );
    if old != new {
        assert!(
            mfa.totp_confirm(&bob, &old).await.is_err(),
            "the old seed is gone"
        );
    }
    assert_eq!(
        mfa.totp_confirm(&bob, &new).await.unwrap().method(),
        Method::Totp
    );
}

#[tokio::test]
async fn uri_round_trips_through_two_parsers_and_the_qr_code_decodes_to_it() {
    let mfa = mfa_on(Arc::new(MemoryStore::new()), TestClock::at(T0));
    let enrollment = mfa
        .totp_enroll(&user("carol"), "carol@example.com")
        .await
        .unwrap();
    let uri = enrollment.uri();
    assert!(uri.starts_with("otpauth://totp/Palisade:carol%40example.com?secret="));

    // Our parser.
    let parsed = OtpAuthUri::parse(uri).unwrap();
    assert_eq!(parsed.issuer(), "Palisade");
    assert_eq!(parsed.account(), "carol@example.com");
    assert_eq!(*parsed.params(), TotpParams::default());
    assert_eq!(
        parsed.secret().to_base32().as_str(),
        enrollment.secret_base32()
    );
    assert_eq!(
        parsed.to_uri().as_str(),
        uri,
        "parse then print gives the same text"
    );

    // totp-rs's own parser agrees on every field and on the codes.
    let theirs = totp_rs::Totp::from_url(uri).unwrap();
    assert_eq!(theirs.issuer(), Some("Palisade"));
    assert_eq!(theirs.account_name(), "carol@example.com");
    assert_eq!(theirs.secret().to_base32(), enrollment.secret_base32());
    let (secret, params) = parsed.into_parts();
    assert_eq!(
        theirs.generate(T0).to_string(),
        totp_code(&secret, &params, T0)
    );

    // The QR code, decoded from the SVG pixels, is the URI.
    let svg = enrollment.qr_svg();
    assert!(svg.contains("<svg"));
    assert_eq!(decode_qr(svg), uri);
    assert!(!format!("{enrollment:?}").contains(enrollment.secret_base32()));
}
