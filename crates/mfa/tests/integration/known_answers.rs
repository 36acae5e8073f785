//! RFC 6238 and RFC 4226 known answers, and codes made by oathtool and pyotp.

use mfa::{Algorithm, TotpCode, TotpParams, TotpSecret, totp_check, totp_code};

/// Reads the RFC 6238 table and RFC 4226 list from `shared/vectors/rfc6238-totp.md`.
fn shared_table() -> (Vec<(u64, [String; 3])>, Vec<String>) {
    let path = palisade_test_support::shared_vectors().join("rfc6238-totp.md");
    let text = std::fs::read_to_string(&path).expect("rfc6238-totp.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() == 6
            && let Ok(time) = cells[1].parse::<u64>()
        {
            let codes = [cells[2], cells[3], cells[4]].map(str::to_owned);
            rows.push((time, codes));
        }
    }
    let hotp_line = text
        .lines()
        .skip_while(|l| !l.starts_with("RFC 4226 HOTP"))
        .nth(1)
        .expect("RFC 4226 list");
    let hotp = hotp_line.split_whitespace().map(str::to_owned).collect();
    (rows, hotp)
}

fn seed(algorithm: Algorithm) -> Vec<u8> {
    let base = b"1234567890";
    let len = match algorithm {
        Algorithm::Sha1 => 20,
        Algorithm::Sha256 => 32,
        Algorithm::Sha512 => 64,
    };
    base.iter().copied().cycle().take(len).collect()
}

#[test]
fn all_eighteen_rfc6238_answers() {
    let (rows, _) = shared_table();
    assert_eq!(rows.len(), 6, "six times in the table");
    let mut checked = 0;
    for (time, codes) in &rows {
        for (algorithm, expected) in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .iter()
            .zip(codes)
        {
            let params = TotpParams::new(*algorithm, 8, 30).unwrap();
            let secret = TotpSecret::from_bytes(&seed(*algorithm)).unwrap();
            assert_eq!(
                &totp_code(&secret, &params, *time),
                expected,
                "{algorithm} at {time}"
            );
            // The check finds the code at its own step, and a tampered code fails.
            let code = TotpCode::parse(expected, 8).unwrap();
            assert_eq!(
                totp_check(&secret, &params, &code, *time, 0),
                Some(time / 30)
            );
            let mut tampered = expected.clone().into_bytes();
            tampered[7] = if tampered[7] == b'9' {
                b'0'
            } else {
                tampered[7] + 1
            };
            let tampered = TotpCode::parse(std::str::from_utf8(&tampered).unwrap(), 8).unwrap();
            assert_eq!(totp_check(&secret, &params, &tampered, *time, 1), None);
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}

#[test]
fn the_sha256_pitfall_from_the_vectors_file() {
    // The 20-byte seed with SHA256 gives 32247374 at T=59, not 46119246.
    let secret = TotpSecret::from_bytes(&seed(Algorithm::Sha1)).unwrap();
    let params = TotpParams::new(Algorithm::Sha256, 8, 30).unwrap();
    assert_eq!(totp_code(&secret, &params, 59), "32247374");
}

#[test]
fn rfc4226_hotp_answers() {
    // HOTP(K, C) is TOTP with a one-second period at time C.
    let (_, hotp) = shared_table();
    assert_eq!(hotp.len(), 10);
    let secret = TotpSecret::from_bytes(&seed(Algorithm::Sha1)).unwrap();
    let params = TotpParams::new(Algorithm::Sha1, 6, 1).unwrap();
    for (counter, expected) in (0u64..).zip(&hotp) {
        assert_eq!(
            &totp_code(&secret, &params, counter),
            expected,
            "counter {counter}"
        );
    }
}

#[test]
fn codes_agree_with_oathtool_and_pyotp() {
    let text = include_str!("../data/totp-fixtures.txt");
    let (mut oathtool, mut pyotp) = (0, 0);
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.splitn(8, '|').collect();
        let [tool, secret, algorithm, digits, period, time, code, command] = f[..] else {
            panic!("bad fixture line {line}");
        };
        assert!(
            command.contains(secret),
            "the command names the secret: {line}"
        );
        let secret = TotpSecret::from_base32(secret).unwrap();
        let params = TotpParams::new(
            algorithm.parse().unwrap(),
            digits.parse().unwrap(),
            period.parse().unwrap(),
        )
        .unwrap();
        let time: u64 = time.parse().unwrap();
        assert_eq!(totp_code(&secret, &params, time), code, "{line}");
        match tool {
            "oathtool" => oathtool += 1,
            "pyotp" => pyotp += 1,
            other => panic!("unknown tool {other}"),
        }
    }
    assert!(
        oathtool >= 150 && pyotp >= 120,
        "{oathtool} oathtool, {pyotp} pyotp lines"
    );
}

#[test]
fn window_is_plus_minus_skew() {
    let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
    let params = TotpParams::default();
    let now: u64 = 1_700_000_000;
    for (offset, skew, accepted) in [
        (-60i64, 1u8, false),
        (-30, 1, true),
        (0, 1, true),
        (30, 1, true),
        (60, 1, false),
        (-30, 0, false),
        (60, 2, true),
    ] {
        let at = now.checked_add_signed(offset).unwrap();
        let code = TotpCode::parse(&totp_code(&secret, &params, at), 6).unwrap();
        assert_eq!(
            totp_check(&secret, &params, &code, now, skew).is_some(),
            accepted,
            "offset {offset} skew {skew}"
        );
    }
}
