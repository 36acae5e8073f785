//! Purposes and bindings: what an envelope is for and whom it belongs to.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// What a family of secrets is for (`mfa.totp-seed`, `oauth.refresh-token`).
///
/// Each purpose gets its own keys, derived from the master key with HKDF-SHA256, and the
/// purpose is also part of every envelope's associated data: an envelope sealed for one
/// purpose never opens under another.
///
/// A purpose is 1 to 128 bytes of ASCII letters, digits and `.` `_` `-` `:` `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purpose(String);

/// The longest purpose, in bytes.
const MAX_PURPOSE: usize = 128;

impl Purpose {
    /// Checks and wraps a purpose name.
    ///
    /// # Errors
    ///
    /// [`Error::Binding`] when the name is empty, longer than 128 bytes or has a character
    /// outside `A-Z a-z 0-9 . _ - : /`.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_PURPOSE {
            return Err(Error::Binding(format!(
                "a purpose is 1 to {MAX_PURPOSE} bytes, got {}",
                name.len()
            )));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/')))
        {
            return Err(Error::Binding(format!(
                "purpose {name:?} has the character {bad:?}; use A-Z a-z 0-9 . _ - : /"
            )));
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Purpose {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Purpose {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl AsRef<str> for Purpose {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whom an envelope belongs to: the tenant, the record (row) and any other name-value
/// pairs the caller wants the envelope tied to.
///
/// The binding is supplied on both seal and open and is not stored in the envelope: it is
/// encoded canonically (see `FORMAT.md`) into the associated data, so an envelope copied
/// to another row, tenant or context fails to open. Two bindings open each other's
/// envelopes exactly when they are equal: the free pairs are a map, so their order does
/// not matter, and a field that is absent differs from a field that is empty.
///
/// ```
/// use envelope_crypto::Binding;
///
/// let binding = Binding::new()
///     .tenant("acme")
///     .record("user:42")
///     .pair("column", "totp_seed");
/// assert_eq!(binding.tenant_id(), Some("acme"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    tenant: Option<String>,
    record: Option<String>,
    pairs: BTreeMap<String, String>,
}

impl Binding {
    /// A binding with no fields: the envelope is bound only to its purpose and key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds to a tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Binds to a record: the row or object that holds the envelope.
    #[must_use]
    pub fn record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }

    /// Binds to a free name-value pair; a second pair with the same name replaces the
    /// first.
    #[must_use]
    pub fn pair(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.pairs.insert(name.into(), value.into());
        self
    }

    /// The tenant, if bound.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The record, if bound.
    pub fn record_id(&self) -> Option<&str> {
        self.record.as_deref()
    }

    /// The free pairs, in canonical (byte-wise) order of their names.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Appends the canonical encoding of `purpose` and this binding to `out`:
    ///
    /// ```text
    /// purpose = u32be(len) || bytes
    /// tenant  = 0x00 | 0x01 || u32be(len) || bytes
    /// record  = 0x00 | 0x01 || u32be(len) || bytes
    /// pairs   = u32be(count) || (u32be(len) || name || u32be(len) || value)*, names ascending
    /// ```
    ///
    /// `tenant` is written in place of the binding's own tenant field (pass
    /// [`Binding::tenant_id`] for the binding as it is), so a tenant sealer can fill in
    /// its tenant without copying the binding.
    pub(crate) fn encode(
        &self,
        purpose: &Purpose,
        tenant: Option<&str>,
        out: &mut impl Sink,
    ) -> Result<()> {
        put_bytes(out, purpose.as_str().as_bytes())?;
        for field in [tenant, self.record.as_deref()] {
            match field {
                None => out.put(&[0]),
                Some(value) => {
                    out.put(&[1]);
                    put_bytes(out, value.as_bytes())?;
                }
            }
        }
        out.put(&length(self.pairs.len())?.to_be_bytes());
        for (name, value) in &self.pairs {
            put_bytes(out, name.as_bytes())?;
            put_bytes(out, value.as_bytes())?;
        }
        Ok(())
    }

    /// The number of bytes [`Binding::encode`] appends with `tenant`, for sizing buffers.
    pub(crate) fn encoded_len(&self, purpose: &Purpose, tenant: Option<&str>) -> usize {
        let field = |f: Option<&str>| f.map_or(1, |v| 5 + v.len());
        4 + purpose.as_str().len()
            + field(tenant)
            + field(self.record.as_deref())
            + 4
            + self
                .pairs
                .iter()
                .map(|(k, v)| 8 + k.len() + v.len())
                .sum::<usize>()
    }
}

fn length(len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| Error::Binding("a binding field is 4 GiB or longer".into()))
}

fn put_bytes(out: &mut impl Sink, bytes: &[u8]) -> Result<()> {
    out.put(&length(bytes.len())?.to_be_bytes());
    out.put(bytes);
    Ok(())
}

/// Where [`Binding::encode`] writes: a `Vec`, or the sealer's stack buffer.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(binding: &Binding) -> Vec<u8> {
        let purpose = Purpose::new("p").unwrap();
        let mut out = Vec::new();
        binding
            .encode(&purpose, binding.tenant_id(), &mut out)
            .unwrap();
        assert_eq!(
            out.len(),
            binding.encoded_len(&purpose, binding.tenant_id())
        );
        out
    }

    #[test]
    fn encoding_is_the_documented_layout() {
        let binding = Binding::new().tenant("t").pair("b", "2").pair("a", "1");
        let expected: &[u8] = &[
            0, 0, 0, 1, b'p', // purpose
            1, 0, 0, 0, 1, b't', // tenant
            0,    // no record
            0, 0, 0, 2, // two pairs, names ascending
            0, 0, 0, 1, b'a', 0, 0, 0, 1, b'1', //
            0, 0, 0, 1, b'b', 0, 0, 0, 1, b'2',
        ];
        assert_eq!(encode(&binding), expected);
    }

    #[test]
    fn encoding_is_unambiguous() {
        let distinct = [
            Binding::new(),
            Binding::new().tenant(""),
            Binding::new().record(""),
            Binding::new().tenant("ab"),
            Binding::new().tenant("a").record("b"),
            Binding::new().pair("tenant", "ab"),
            Binding::new().pair("a", "b"),
            Binding::new().pair("ab", ""),
            Binding::new().pair("a", "").pair("b", ""),
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(encode(a), encode(b), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(
            encode(&Binding::new().pair("x", "1").pair("y", "2")),
            encode(&Binding::new().pair("y", "2").pair("x", "1"))
        );
    }

    #[test]
    fn purposes_are_checked() {
        assert!(Purpose::new("mfa.totp-seed").is_ok());
        assert!(Purpose::new("a/b:c_d").is_ok());
        for bad in ["", "has space", "naïve", "nul\0", &"x".repeat(129)] {
            let err = Purpose::new(bad).unwrap_err();
            assert!(matches!(err, Error::Binding(_)), "{bad:?}: {err}");
        }
    }
}
