//! Key extraction over arbitrary `X-Forwarded-For` and `Origin` values, from trusted and
//! untrusted peers: never a panic, never a key chosen by an untrusted peer.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use rate_limit::{ClientIp, Key};

const PEERS: [&str; 4] = ["10.0.0.1", "198.51.100.1", "fd00::1", "2001:db8::1"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let peer: IpAddr = PEERS[usize::from(selector % 4)].parse().expect("a listed address");
    let client_ip = ClientIp::new()
        .trust_proxies(["10.0.0.0/8".parse().expect("a CIDR"), "fd00::/8".parse().expect("a CIDR")])
        .ipv6_prefix(48 + (selector >> 2) % 81)
        .expect("a prefix from 48 to 128");
    let mut fields = rest.split(|b| *b == 0);
    let origin = fields.next().unwrap_or_default();
    let lines: Vec<&[u8]> = fields.collect();

    // The raw resolver, on bytes no HTTP stack would have checked.
    let resolved = client_ip.resolve(peer, lines.iter().copied());
    if !client_ip.is_trusted(peer) {
        assert_eq!(resolved, peer, "an untrusted peer chose its key");
    }
    let _ = client_ip.group(resolved);

    // The layer's extractors, on the values an HTTP stack lets through.
    let mut request = http::Request::new(());
    request.extensions_mut().insert(SocketAddr::new(peer, 443));
    for line in &lines {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            request.headers_mut().append("x-forwarded-for", value);
        }
    }
    if let Ok(value) = http::HeaderValue::from_bytes(origin) {
        request.headers_mut().insert(http::header::ORIGIN, value);
    }
    let ip_key = Key::client_ip().extract(&request, &client_ip).expect("a peer is known");
    assert!(ip_key.starts_with("ip:"));
    if let Some(origin_key) = Key::origin().extract(&request, &client_ip) {
        assert!(origin_key.starts_with("origin:"));
        assert!(origin_key.len() <= 7 + 512);
    }
});
