//! Log entries and their canonical bytes, the leaves of the Merkle tree.

use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;
use crate::event::{Action, Event, Outcome, TenantId};
use crate::merkle::Hash;

/// Version of the canonical entry encoding, the `"v"` field.
pub const ENTRY_VERSION: u64 = 1;

/// Length of a recorded time in canonical form: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) const TIME_LEN: usize = 27;

/// A point in time with microsecond precision, from 1970-01-01 to 9999-12-31 UTC.
///
/// Its text form is RFC 3339 in UTC with exactly six fractional digits
/// (`2026-05-01T12:00:00.000000Z`): fixed width, so text order is time order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 1970-01-01T00:00:00.000000Z.
    pub const MIN: Self = Self(0);
    /// 9999-12-31T23:59:59.999999Z.
    pub const MAX: Self = Self(253_402_300_799_999_999);

    /// From microseconds since the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] outside [`Timestamp::MIN`]..=[`Timestamp::MAX`].
    pub fn from_unix_micros(micros: i64) -> Result<Self, Error> {
        if (Self::MIN.0..=Self::MAX.0).contains(&micros) {
            Ok(Self(micros))
        } else {
            Err(Error::input(format!(
                "time {micros} us: outside 1970-01-01..9999-12-31"
            )))
        }
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// Parses any RFC 3339 date-time (any offset, any precision; digits past the
    /// microsecond are dropped).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when it is not RFC 3339 or out of range.
    pub fn parse_rfc3339(text: &str) -> Result<Self, Error> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| Error::input(format!("time {text:?}: not RFC 3339 ({e})")))?;
        let micros = parsed.unix_timestamp_nanos().div_euclid(1000);
        Self::from_unix_micros(i64::try_from(micros).unwrap_or(i64::MIN))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .map_err(|_| fmt::Error)?;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_rfc3339(s)
    }
}

/// One entry of a tenant's log: the event, the index the log gave it and the time it
/// recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub(crate) index: u64,
    pub(crate) recorded_at: Timestamp,
    pub(crate) event: Event,
}

impl Entry {
    /// Position in the tenant's log, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// When the log recorded it; never earlier than the previous entry's time.
    pub fn recorded_at(&self) -> Timestamp {
        self.recorded_at
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The canonical bytes: the Merkle leaf, one line of an export.
    ///
    /// A JSON object on one line, UTF-8, no insignificant whitespace, with the members in
    /// this order: `v` (1), `index`, `time` (see [`Timestamp`]), `tenant`, `action`,
    /// `actor`, `outcome`, then `target`, `ip` and `user_agent` when present, then
    /// `details`. Strings escape only `"`, `\` and control characters (`\b \t \n \f \r`,
    /// others as `\u00XX`); `details` objects list their members in byte order of the
    /// keys, at every depth; numbers are written as `serde_json` writes them.
    pub fn to_leaf_bytes(&self) -> Vec<u8> {
        let e = &self.event;
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"v\":");
        out.extend_from_slice(ENTRY_VERSION.to_string().as_bytes());
        out.extend_from_slice(b",\"index\":");
        out.extend_from_slice(self.index.to_string().as_bytes());
        out.extend_from_slice(b",\"time\":\"");
        out.extend_from_slice(self.recorded_at.to_string().as_bytes());
        out.extend_from_slice(b"\",\"tenant\":");
        write_str(&mut out, e.tenant.as_str());
        out.extend_from_slice(b",\"action\":");
        write_str(&mut out, e.action.code());
        out.extend_from_slice(b",\"actor\":");
        write_str(&mut out, &e.actor);
        out.extend_from_slice(b",\"outcome\":");
        write_str(&mut out, e.outcome.code());
        if let Some(target) = &e.target {
            out.extend_from_slice(b",\"target\":");
            write_str(&mut out, target);
        }
        if let Some(ip) = &e.ip {
            out.extend_from_slice(b",\"ip\":");
            write_str(&mut out, &ip.to_string());
        }
        if let Some(user_agent) = &e.user_agent {
            out.extend_from_slice(b",\"user_agent\":");
            write_str(&mut out, user_agent);
        }
        out.extend_from_slice(b",\"details\":");
        write_object(&mut out, &e.details);
        out.push(b'}');
        out
    }

    /// The Merkle leaf hash of [`Entry::to_leaf_bytes`].
    pub fn leaf_hash(&self) -> Hash {
        Hash::leaf(&self.to_leaf_bytes())
    }

    /// Decodes canonical bytes, refusing anything [`Entry::to_leaf_bytes`] would not have
    /// written byte for byte.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for anything else.
    pub fn from_leaf_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let entry = decode(bytes).ok_or(Error::Invalid)?;
        if entry.to_leaf_bytes() == bytes {
            Ok(entry)
        } else {
            Err(Error::Invalid)
        }
    }
}

fn decode(bytes: &[u8]) -> Option<Entry> {
    let Value::Object(mut map) = serde_json::from_slice(bytes).ok()? else {
        return None;
    };
    let mut take_str = |name: &str| match map.remove(name) {
        Some(Value::String(s)) => Some(Some(s)),
        None => Some(None),
        Some(_) => None,
    };
    let tenant = TenantId::new(take_str("tenant")??).ok()?;
    let action = Action::from_code(&take_str("action")??).ok()?;
    let actor = take_str("actor")??;
    let outcome = Outcome::from_code(&take_str("outcome")??).ok()?;
    let time = take_str("time")??;
    let target = take_str("target")?;
    let user_agent = take_str("user_agent")?;
    let ip = match take_str("ip")? {
        Some(ip) => Some(ip.parse::<IpAddr>().ok()?),
        None => None,
    };
    if map.remove("v")?.as_u64()? != ENTRY_VERSION {
        return None;
    }
    let index = map.remove("index")?.as_u64()?;
    let Value::Object(details) = map.remove("details")? else {
        return None;
    };
    if !map.is_empty() {
        return None;
    }
    let event = Event {
        tenant,
        actor,
        action,
        target,
        ip,
        user_agent,
        outcome,
        details,
    };
    event.validate().ok()?;
    Some(Entry {
        index,
        recorded_at: Timestamp::parse_rfc3339(&time).ok()?,
        event,
    })
}

/// The fields a verifier checks on every leaf without decoding it: they sit at the start
/// of the canonical bytes in a fixed layout.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub(crate) index: u64,
    /// The recorded time, in its fixed-width text form (text order is time order).
    pub(crate) time: &'a [u8; TIME_LEN],
    pub(crate) tenant: &'a [u8],
}

/// Reads the [`Header`] of canonical entry bytes; `None` when the layout is not the
/// canonical one.
pub(crate) fn parse_header(bytes: &[u8]) -> Option<Header<'_>> {
    let rest = bytes.strip_prefix(b"{\"v\":1,\"index\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    // Verification reads every leaf's header: the digits are summed here rather than
    // through `str::parse`, with the same overflow check.
    let mut index: u64 = 0;
    for &digit in &rest[..digits] {
        index = index
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    let rest = rest[digits..].strip_prefix(b",\"time\":\"")?;
    let (time, rest) = rest.split_first_chunk::<TIME_LEN>()?;
    let rest = rest.strip_prefix(b"\",\"tenant\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let tenant = &rest[..end];
    rest[end..].strip_prefix(b"\",\"action\":\"")?;
    Some(Header {
        index,
        time,
        tenant,
    })
}

/// Writes a JSON string in canonical form.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes a JSON object in canonical form: members in byte order of their keys.
pub(crate) fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test sizes are small")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Entry {
        let tenant = TenantId::new("acme").unwrap();
        let event = Event::login_succeeded(
            tenant,
            "user:42",
            "2001:db8::1".parse().unwrap(),
            "Mozilla/5.0 \"quoted\"\n\u{1}é",
        )
        .detail("z", 1)
        .detail("a", serde_json::json!({"y": [true, null, 1.5], "b": "x"}));
        Entry {
            index: 7,
            recorded_at: Timestamp::from_unix_micros(1_700_000_000_123_456).unwrap(),
            event,
        }
    }

    #[test]
    fn canonical_bytes_are_exact() {
        let bytes = sample().to_leaf_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"v":1,"index":7,"time":"2023-11-14T22:13:20.123456Z","tenant":"acme","action":"auth.login.succeeded","actor":"user:42","outcome":"success","ip":"2001:db8::1","user_agent":"Mozilla/5.0 \"quoted\"\n\u0001é","details":{"a":{"b":"x","y":[true,null,1.5]},"z":1}}"#
        );
        assert!(!bytes.contains(&b'\n'));
        assert_eq!(Entry::from_leaf_bytes(&bytes).unwrap(), sample());
        let header = parse_header(&bytes).unwrap();
        assert_eq!(header.index, 7);
        assert_eq!(header.time, b"2023-11-14T22:13:20.123456Z");
        assert_eq!(header.tenant, b"acme");
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        let canonical = String::from_utf8(sample().to_leaf_bytes()).unwrap();
        for variant in [
            canonical.replacen("{\"v\":1,", "{ \"v\":1,", 1),
            canonical.replacen("\"index\":7", "\"index\":07", 1),
            canonical.replacen("\"z\":1}", "\"z\":1,\"z\":1}", 1),
            canonical.replacen(
                "\"a\":{\"b\":\"x\",\"y\"",
                "\"a\":{\"y\":[true,null,1.5],\"b\":\"x\",\"q\"",
                1,
            ),
            canonical.replacen(".123456Z", ".123456+00:00", 1),
            canonical.replacen("2001:db8::1", "2001:0db8::1", 1),
            canonical.replacen("\"v\":1", "\"v\":2", 1),
            canonical.replacen("\\u0001", "\\u0001\\/", 1),
            format!("{canonical}\n"),
        ] {
            assert_ne!(variant, canonical);
            assert!(
                Entry::from_leaf_bytes(variant.as_bytes()).is_err(),
                "{variant}"
            );
        }
    }

    #[test]
    fn timestamps_format_at_fixed_width() {
        assert_eq!(Timestamp::MIN.to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-02T03:04:05.1234567+01:00")
                .unwrap()
                .to_string(),
            "2026-01-02T02:04:05.123456Z"
        );
        assert!(Timestamp::from_unix_micros(-1).is_err());
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    proptest! {
        #[test]
        fn any_event_round_trips(actor in "\\PC{1,40}", ua in any::<Option<String>>(), key in "\\PC{0,8}", n in any::<i64>(), f in any::<f64>(), micros in 0i64..253_402_300_799_999_999, index: u64) {
            let mut event = Event::new(TenantId::new("t").unwrap(), actor, Action::PermissionChanged)
                .detail(key, n)
                .detail("f", serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
            if let Some(ua) = ua { event = event.user_agent(ua); }
            let entry = Entry { index, recorded_at: Timestamp::from_unix_micros(micros).unwrap(), event };
            let bytes = entry.to_leaf_bytes();
            prop_assert!(!bytes.contains(&b'\n'));
            prop_assert_eq!(Entry::from_leaf_bytes(&bytes).unwrap(), entry);
            prop_assert_eq!(parse_header(&bytes).unwrap().index, index);
        }
    }
}
