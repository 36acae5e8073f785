//! A TOTP code as typed by a user: parsing never panics, accepts only the configured
//! number of ASCII digits, and a parsed code runs through the window check safely.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::{Algorithm, TotpCode, TotpParams, TotpSecret, totp_check};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let digits = 6 + first % 3;
    let algorithm = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][usize::from(first / 3 % 3)];
    if let Ok(code) = TotpCode::parse(text, digits) {
        assert_eq!(code.as_str().len(), usize::from(digits));
        assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
        let secret = TotpSecret::from_bytes(b"12345678901234567890").expect("secret");
        let params = TotpParams::new(algorithm, digits, 30).expect("params");
        let time = u64::from_le_bytes(rest.iter().copied().chain([0; 8]).take(8).collect::<Vec<_>>().try_into().expect("8 bytes"));
        let _ = totp_check(&secret, &params, &code, time, 2);
    }
});
