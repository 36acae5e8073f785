//! An `otpauth://` URI from outside (a pasted or scanned key URI): parsing never panics,
//! and whatever parses prints to a URI that parses to the same issuer, account, secret
//! and parameters, and prints again to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::OtpAuthUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(uri) = OtpAuthUri::parse(text) {
        let printed = uri.to_uri();
        let again = OtpAuthUri::parse(&printed).expect("a printed URI parses");
        assert_eq!(again.issuer(), uri.issuer());
        assert_eq!(again.account(), uri.account());
        assert_eq!(again.params(), uri.params());
        assert_eq!(*again.secret().to_base32(), *uri.secret().to_base32());
        assert_eq!(*again.to_uri(), *printed);
    }
});
