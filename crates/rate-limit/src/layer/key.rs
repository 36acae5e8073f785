//! Who a request is charged to.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use http::header::{HeaderMap, ORIGIN};
use ipnet::IpNet;

use crate::Error;

/// The `X-Forwarded-For` request field.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

type ExtensionFn = dyn Fn(&http::Extensions) -> Option<String> + Send + Sync;
type PeerFn = dyn Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync;

/// What a rule charges a request to: the client's IP, a user id, the API origin, or one
/// counter for everyone.
///
/// Keys are namespaced by kind (`ip:`, `user:`, `origin:`), so a user id can never be
/// mistaken for an address.
#[derive(Clone)]
pub struct Key(KeyKind);

#[derive(Clone)]
enum KeyKind {
    ClientIp,
    Origin,
    CrossOrigin,
    Global,
    Extension(Arc<ExtensionFn>),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            KeyKind::ClientIp => "Key::client_ip",
            KeyKind::Origin => "Key::origin",
            KeyKind::CrossOrigin => "Key::cross_origin",
            KeyKind::Global => "Key::global",
            KeyKind::Extension(_) => "Key::user",
        })
    }
}

impl Key {
    /// The client's IP address as [`ClientIp`] resolves it (trusted proxies, IPv6 prefix),
    /// configured once on the layer.
    pub fn client_ip() -> Self {
        Self(KeyKind::ClientIp)
    }

    /// A user id that authentication middleware left in the request extensions as a `T`;
    /// `id` turns it into the key. Requests without a `T` have no key (see
    /// [`Rule::skip_when_key_missing`](crate::Rule::skip_when_key_missing)).
    pub fn user<T, F>(id: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> String + Send + Sync + 'static,
    {
        Self(KeyKind::Extension(Arc::new(
            move |ext: &http::Extensions| ext.get::<T>().map(&id),
        )))
    }

    /// The API origin: the request's single `Origin` field, when it is a well-formed
    /// serialized origin (`scheme://host[:port]` or `null`), lowercased. The field is set
    /// by browsers and by nothing else, so a non-browser client can send any origin or
    /// none: pair this key with a per-IP or per-user rule.
    pub fn origin() -> Self {
        Self(KeyKind::Origin)
    }

    /// The API origin, as [`Key::origin`] finds it, of cross-origin requests only. A
    /// request whose `Origin` names the request's own host and port (its `Host` field, or
    /// the authority of an absolute URI) has no key; one without either is charged.
    ///
    /// A site's own pages send its origin on every POST and on every `fetch` with CORS;
    /// under [`Key::origin`] they all share one counter, which anyone can drain by sending
    /// that origin from a script, so one client can refuse every browser user. With this
    /// key a client can still drain a third-party origin's counter (the field is
    /// unauthenticated), but not the site's own. Schemes are not compared (the origin's
    /// only decides which default port counts as none): behind a proxy that ends TLS the
    /// request does not know its own. Pair it, like
    /// [`Key::origin`], with a per-IP or per-user rule.
    ///
    /// The comparison trusts the `Host` the server receives. Behind a proxy, that must be
    /// the one the browser sent (nginx: `proxy_set_header Host $host`); a proxy that
    /// rewrites it makes every request cross-origin, as under [`Key::origin`].
    pub fn cross_origin() -> Self {
        Self(KeyKind::CrossOrigin)
    }

    /// One counter shared by every request the rule matches.
    pub fn global() -> Self {
        Self(KeyKind::Global)
    }

    /// The key `request` is charged to, as the layer computes it (`ip:203.0.113.7`,
    /// `user:42`, `origin:https://app.example`, `global`), or `None` when the request has
    /// none. Useful to key a [`LoginLimiter`](crate::LoginLimiter) the way the layer would.
    pub fn extract<B>(&self, request: &http::Request<B>, client_ip: &ClientIp) -> Option<String> {
        let (headers, extensions) = (request.headers(), request.extensions());
        match &self.0 {
            KeyKind::ClientIp => Some(format!(
                "ip:{}",
                client_ip.group(client_ip.resolve_request(headers, extensions)?)
            )),
            KeyKind::Origin => single_origin(headers).map(|o| format!("origin:{o}")),
            KeyKind::CrossOrigin => {
                let origin = single_origin(headers)?;
                let same =
                    request_authority(request).is_some_and(|own| same_authority(&origin, &own));
                (!same).then(|| format!("origin:{origin}"))
            }
            KeyKind::Global => Some("global".to_owned()),
            KeyKind::Extension(id) => id(extensions).map(|id| format!("user:{id}")),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self.0 {
            KeyKind::ClientIp => "ip",
            KeyKind::Origin | KeyKind::CrossOrigin => "origin",
            KeyKind::Global => "global",
            KeyKind::Extension(_) => "user",
        }
    }
}

/// Finds the client's IP address behind the proxies you trust, and groups IPv6 clients by
/// network prefix.
///
/// The peer address of the connection is the client, unless it is a trusted proxy: then
/// `X-Forwarded-For` is read from the right, skipping trusted proxies, and the first
/// address that is not trusted is the client. Entries left of it were written by the
/// client and are never believed, so a client cannot pick its own key by sending a forged
/// `X-Forwarded-For`; nor can it through an untrusted peer, whose field is ignored
/// altogether. If the walk meets an entry that is not an IP address, the last trusted hop
/// is taken as the client. IPv4-mapped IPv6 addresses count as IPv4.
///
/// An IPv6 client controls at least a /64, so IPv6 addresses are grouped by a prefix
/// (64 bits by default) and the whole prefix shares one key.
///
/// # Example
///
/// ```
/// use std::net::IpAddr;
/// use rate_limit::ClientIp;
///
/// let client_ip = ClientIp::new().trust_proxies(["10.0.0.0/8".parse().unwrap()]);
/// let peer: IpAddr = "10.0.0.2".parse().unwrap();
/// let xff: &[&[u8]] = &[b"6.6.6.6, 203.0.113.9, 10.0.0.1"];
/// assert_eq!(client_ip.resolve(peer, xff.iter().copied()), "203.0.113.9".parse::<IpAddr>().unwrap());
/// assert_eq!(client_ip.group("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
/// ```
#[derive(Clone)]
pub struct ClientIp {
    trusted: Vec<IpNet>,
    ipv6_prefix: u8,
    peer: Arc<PeerFn>,
}

impl fmt::Debug for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIp")
            .field("trusted", &self.trusted)
            .field("ipv6_prefix", &self.ipv6_prefix)
            .finish_non_exhaustive()
    }
}

impl Default for ClientIp {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientIp {
    /// No trusted proxy (the peer is the client), IPv6 grouped by /64, and the peer
    /// address read from a [`SocketAddr`] or [`IpAddr`] in the request extensions.
    pub fn new() -> Self {
        Self {
            trusted: Vec::new(),
            ipv6_prefix: 64,
            peer: Arc::new(|ext: &http::Extensions| {
                ext.get::<SocketAddr>()
                    .map(SocketAddr::ip)
                    .or_else(|| ext.get::<IpAddr>().copied())
            }),
        }
    }

    /// Trusts the proxies in these networks to append the address they received a
    /// request from to `X-Forwarded-For`. List only your own load balancers and proxies.
    /// IPv4-mapped IPv6 networks (`::ffff:10.0.0.0/104`) mean the IPv4 network they map,
    /// since addresses are compared in their canonical form.
    #[must_use]
    pub fn trust_proxies(mut self, networks: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted
            .extend(networks.into_iter().map(canonical_network));
        self
    }

    /// Groups IPv6 clients by their first `bits` bits (default 64).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] unless `bits` is from 32 to 128.
    pub fn ipv6_prefix(mut self, bits: u8) -> Result<Self, Error> {
        if !(32..=128).contains(&bits) {
            return Err(Error::Config(format!(
                "the IPv6 grouping prefix must be from 32 to 128 bits, got {bits}"
            )));
        }
        self.ipv6_prefix = bits;
        Ok(self)
    }

    /// Where the connection's peer address is found in the request extensions; for
    /// axum, `|ext| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())`.
    #[must_use]
    pub fn peer_from<F>(mut self, peer: F) -> Self
    where
        F: Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync + 'static,
    {
        self.peer = Arc::new(peer);
        self
    }

    /// Whether `ip` is in a trusted proxy network.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address, given the connection's `peer` and the `X-Forwarded-For`
    /// field lines in the order they arrived. Never fails: anything unreadable is
    /// attributed to the nearest trusted hop.
    pub fn resolve<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut nearest_trusted = peer;
        for line in forwarded_for.rev() {
            for entry in line.rsplit(|b| *b == b',') {
                let entry = entry.trim_ascii();
                if entry.is_empty() {
                    continue;
                }
                match parse_forwarded_ip(entry) {
                    Some(ip) if self.is_trusted(ip) => nearest_trusted = ip,
                    Some(ip) => return ip,
                    None => return nearest_trusted,
                }
            }
        }
        nearest_trusted
    }

    /// The key text of `ip`: the address itself for IPv4, the grouped network for IPv6
    /// (`2001:db8:1:2::/64`).
    pub fn group(&self, ip: IpAddr) -> String {
        match ip.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let bits = u32::from(self.ipv6_prefix);
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                let network = Ipv6Addr::from(u128::from(v6) & mask);
                format!("{network}/{bits}")
            }
        }
    }

    fn resolve_request(
        &self,
        headers: &HeaderMap,
        extensions: &http::Extensions,
    ) -> Option<IpAddr> {
        let peer = (self.peer)(extensions)?;
        let lines = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .map(|v| v.as_bytes());
        Some(self.resolve(peer, lines))
    }
}

/// `net` with its host bits cleared, and an IPv4-mapped IPv6 network as the IPv4 network
/// it maps: addresses are made canonical before they are compared, so `::ffff:10.0.0.1`
/// is looked up as `10.0.0.1` and would never match `::ffff:10.0.0.0/104` as written.
fn canonical_network(net: IpNet) -> IpNet {
    let net = net.trunc();
    if let IpNet::V6(v6) = net
        && let Some(prefix) = v6.prefix_len().checked_sub(96)
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(v4) = ipnet::Ipv4Net::new(v4, prefix)
    {
        return IpNet::V4(v4);
    }
    net
}

/// One `X-Forwarded-For` entry: an IP address, optionally bracketed (IPv6) and with a port.
fn parse_forwarded_ip(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok
            .then(|| inside.parse::<Ipv6Addr>().ok())
            .flatten()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    let (host, port) = text.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok()
}

/// The value of a field that appears exactly once; `None` when it is missing or repeated.
fn single_value(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&http::HeaderValue> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The request's single `Origin` field, normalized; `None` when there is none, several,
/// or one that is not a serialized origin.
fn single_origin(headers: &HeaderMap) -> Option<String> {
    normalize_origin(single_value(headers, ORIGIN)?.as_bytes())
}

/// Whether a normalized origin names the authority `own` (`host[:port]`, lowercased),
/// a port that is the origin scheme's default being the same as none. `null` names none.
fn same_authority(origin: &str, own: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    without_default_port(authority, scheme) == without_default_port(own, scheme)
}

/// The request's own `host[:port]`, lowercased: the URI's authority (HTTP/2 and
/// absolute-form requests), else the single `Host` field. `None` when neither names one.
fn request_authority<B>(request: &http::Request<B>) -> Option<String> {
    match request.uri().authority() {
        Some(authority) => Some(authority.as_str().to_ascii_lowercase()),
        None => {
            let host = single_value(request.headers(), http::header::HOST)?;
            Some(host.to_str().ok()?.trim().to_ascii_lowercase())
        }
    }
}

fn without_default_port<'a>(authority: &'a str, scheme: &str) -> &'a str {
    let default = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return authority,
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// A serialized origin, lowercased: `null`, or `scheme://host[:port]` with no path.
fn normalize_origin(raw: &[u8]) -> Option<String> {
    const MAX_ORIGIN: usize = 512;
    if raw.len() > MAX_ORIGIN {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?.to_ascii_lowercase();
    if text == "null" {
        return Some(text);
    }
    let (scheme, rest) = text.split_once("://")?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        });
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        (&rest[..inside.len() + 2], after.strip_prefix(':'))
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.')));
    let rest_after_host = &rest[host.len()..];
    let port_ok = match port {
        Some(p) => is_port(p) && rest_after_host == format!(":{p}"),
        None => rest_after_host.is_empty(),
    };
    (scheme_ok && host_ok && port_ok).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> ClientIp {
        ClientIp::new().trust_proxies(["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()])
    }

    fn resolve(c: &ClientIp, peer: &str, lines: &[&str]) -> IpAddr {
        c.resolve(ip(peer), lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let c = proxies();
        assert_eq!(
            resolve(&c, "198.51.100.1", &["1.2.3.4"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            resolve(&ClientIp::new(), "10.0.0.1", &["1.2.3.4"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let c = proxies();
        assert_eq!(
            resolve(&c, "10.0.0.1", &["6.6.6.6, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(&c, "10.0.0.1", &["6.6.6.6", "203.0.113.9, 10.1.1.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(&c, "10.0.0.1", &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(&c, "10.0.0.1", &["203.0.113.9:8080"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(&c, "::ffff:10.0.0.1", &["::ffff:203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn garbage_or_an_all_trusted_chain_falls_back_to_the_nearest_trusted_hop() {
        let c = proxies();
        assert_eq!(
            resolve(&c, "10.0.0.1", &["1.2.3.4, bogus, 10.0.0.7"]),
            ip("10.0.0.7")
        );
        assert_eq!(
            resolve(&c, "10.0.0.1", &["10.0.0.9, 10.0.0.7"]),
            ip("10.0.0.9")
        );
        assert_eq!(resolve(&c, "10.0.0.1", &[]), ip("10.0.0.1"));
        assert_eq!(resolve(&c, "10.0.0.1", &["1.2.3.4:99999"]), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_proxy_networks_trust_their_ipv4_peers() {
        let c = ClientIp::new().trust_proxies(["::ffff:10.0.0.0/104".parse().unwrap()]);
        assert!(c.is_trusted(ip("10.1.2.3")));
        assert!(c.is_trusted(ip("::ffff:10.1.2.3")));
        assert!(!c.is_trusted(ip("11.0.0.1")));
        assert_eq!(
            resolve(&c, "::ffff:10.0.0.1", &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Other IPv6 networks are left as they are.
        let v6 = ClientIp::new().trust_proxies(["fd00::/8".parse().unwrap()]);
        assert!(v6.is_trusted(ip("fd00::1")) && !v6.is_trusted(ip("10.0.0.1")));
    }

    #[test]
    fn ipv6_clients_are_grouped_by_prefix() {
        let c = ClientIp::new();
        assert_eq!(c.group(ip("2001:db8:1:2:ffff::1")), "2001:db8:1:2::/64");
        assert_eq!(c.group(ip("::ffff:192.0.2.1")), "192.0.2.1");
        let c56 = ClientIp::new().ipv6_prefix(56).unwrap();
        assert_eq!(c56.group(ip("2001:db8:1:2ff::1")), "2001:db8:1:200::/56");
        assert_eq!(
            ClientIp::new().ipv6_prefix(128).unwrap().group(ip("::1")),
            "::1/128"
        );
        assert!(ClientIp::new().ipv6_prefix(31).is_err());
    }

    #[test]
    fn cross_origin_keys_only_other_origins() {
        let key = Key::cross_origin();
        let ips = ClientIp::new();
        let charged = |uri: &str, fields: &[(&str, &str)]| {
            let mut request = http::Request::builder().uri(uri);
            for (name, value) in fields {
                request = request.header(*name, *value);
            }
            key.extract(&request.body(()).unwrap(), &ips)
        };
        let own = [("host", "App.Example"), ("origin", "https://app.example")];
        assert_eq!(charged("/x", &own), None);
        assert_eq!(charged("/x", &[("host", "app.example:443"), own[1]]), None);
        assert_eq!(charged("https://app.example/x", &own[1..]), None);
        for (host, origin) in [
            ("app.example:8443", "https://app.example:8443"),
            ("app.example:80", "https://app.example:80"),
            ("app.example:80", "http://app.example"),
            ("[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(
                charged("/x", &[("host", host), ("origin", origin)]),
                None,
                "{host} {origin}"
            );
        }
        for (host, origin) in [
            ("app.example:443", "http://app.example"),
            ("app.example", "https://evil.example"),
            ("app.example", "https://app.example:8443"),
            ("app.example", "https://sub.app.example"),
            ("app.example", "null"),
        ] {
            let key = charged("/x", &[("host", host), ("origin", origin)]);
            assert_eq!(key, Some(format!("origin:{origin}")), "{host} {origin}");
        }
        // No Host to compare with: charged, as under `Key::origin`.
        assert_eq!(
            charged("/x", &own[1..]),
            Some("origin:https://app.example".to_owned())
        );
        assert_eq!(charged("/x", &own[..1]), None, "no Origin, no key");
    }

    #[test]
    fn origins_are_validated_and_lowercased() {
        assert_eq!(
            normalize_origin(b"https://App.Example").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            normalize_origin(b"http://a.example:8080").as_deref(),
            Some("http://a.example:8080")
        );
        assert_eq!(
            normalize_origin(b"https://[::1]:443").as_deref(),
            Some("https://[::1]:443")
        );
        assert_eq!(normalize_origin(b"null").as_deref(), Some("null"));
        for bad in [
            &b"https://a.example/"[..],
            b"https://",
            b"a.example",
            b"https://a.example:",
            b"https://a b",
            b"https://[zz]",
            b"https://a.example:1:2",
            b"\xff",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad:?}");
        }
    }
}
