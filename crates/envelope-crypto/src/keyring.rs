//! Keyrings: numbered master keys with states, a versioned text format, purpose keys.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_encoding::BASE64;
use hkdf::Hkdf;
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::binding::Purpose;
use crate::blind::BlindIndex;
use crate::error::{Error, Result};
use crate::rand::{Clock, OsRandom, Random, SystemClock, ThreadRandom};
use crate::sealer::Sealer;

/// The environment variable [`Keyring::from_env`] reads.
pub const KEYRING_ENV: &str = "PALISADE_KEYRING";
/// The first line of every keyring text, naming the format version.
pub const KEYRING_MAGIC: &str = "palisade-keyring v1";
/// The fewest bytes of key material a master key may have.
pub const MIN_KEY_LEN: usize = 32;
/// The most bytes of key material a master key may have.
pub const MAX_KEY_LEN: usize = 64;
/// Salt of every HKDF-SHA256 derivation from a master key.
const HKDF_SALT: &[u8] = b"palisade/envelope-crypto/v1";

/// A key version number: 1, 2, 3, ... It is written into every envelope's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(NonZeroU32);

impl KeyVersion {
    /// Version 1.
    pub const MIN: Self = Self(NonZeroU32::MIN);

    /// A version number; `None` for 0.
    pub fn new(version: u32) -> Option<Self> {
        NonZeroU32::new(version).map(Self)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a key version may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Seals new envelopes and opens old ones. A keyring has exactly one primary.
    Primary,
    /// Opens envelopes it sealed, seals nothing new. A former primary after a rotation.
    DecryptOnly,
    /// Opens nothing: its envelopes fail with [`Error::RetiredKey`].
    Retired,
}

impl KeyState {
    /// The state's name in the keyring text: `primary`, `decrypt-only`, `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::DecryptOnly => "decrypt-only",
            Self::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "primary" => Some(Self::Primary),
            "decrypt-only" => Some(Self::DecryptOnly),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key version's public facts: number, state and creation time. Never the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The version number.
    pub version: KeyVersion,
    /// What it may do.
    pub state: KeyState,
    /// When it was created, to the second.
    pub created: SystemTime,
}

impl KeyInfo {
    /// The creation time as RFC 3339 UTC (`2025-06-01T12:00:00Z`).
    pub fn created_rfc3339(&self) -> String {
        format_time(self.created)
    }
}

/// Master key bytes; zeroized on drop.
struct MasterKey(Zeroizing<Vec<u8>>);

struct Entry {
    state: KeyState,
    created: SystemTime,
    /// `None` only for a retired version whose key was destroyed (`-` in the text).
    key: Option<MasterKey>,
}

/// Numbered master keys, exactly one of them primary.
///
/// A keyring is loaded from text (see [`Keyring::parse`] for the format), from the
/// `PALISADE_KEYRING` environment variable or from a file. It never encrypts anything
/// itself: [`Keyring::sealer`] derives a [`Sealer`] for one purpose, and
/// [`Keyring::blind_index`] a [`BlindIndex`], each from purpose keys derived with
/// HKDF-SHA256, so one master key never encrypts two kinds of data.
///
/// Not `Clone`; key bytes are zeroized on drop; `Debug` shows versions and states only.
pub struct Keyring {
    entries: BTreeMap<KeyVersion, Entry>,
    primary: KeyVersion,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (version, entry) in &self.entries {
            map.entry(&version.get(), &entry.state.as_str());
        }
        map.finish()
    }
}

impl Keyring {
    /// A new keyring holding one fresh 32-byte key, version 1, primary.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the operating system's generator fails.
    pub fn generate() -> Result<Self> {
        Self::generate_with(&OsRandom, &SystemClock)
    }

    /// [`Keyring::generate`] with a given random source and clock.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate_with(random: &dyn Random, clock: &dyn Clock) -> Result<Self> {
        let entry = new_entry(random, clock)?;
        Ok(Self {
            entries: BTreeMap::from([(KeyVersion::MIN, entry)]),
            primary: KeyVersion::MIN,
        })
    }

    /// A one-version keyring around a 32-byte key (a data key, a customer's key).
    pub(crate) fn single(key: &crate::SecretKey) -> Self {
        let entry = Entry {
            state: KeyState::Primary,
            created: UNIX_EPOCH,
            key: Some(MasterKey(Zeroizing::new(key.expose().to_vec()))),
        };
        Self {
            entries: BTreeMap::from([(KeyVersion::MIN, entry)]),
            primary: KeyVersion::MIN,
        }
    }

    /// Loads the keyring text from the `PALISADE_KEYRING` environment variable.
    ///
    /// # Errors
    ///
    /// [`Error::KeyringNotConfigured`] when the variable is unset or empty;
    /// [`Error::Keyring`] when its text is not a valid keyring.
    pub fn from_env() -> Result<Self> {
        match std::env::var(KEYRING_ENV) {
            Ok(text) if !text.trim().is_empty() => Self::parse(&Zeroizing::new(text)),
            Ok(_) | Err(std::env::VarError::NotPresent) => Err(Error::KeyringNotConfigured),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::Keyring(format!("{KEYRING_ENV} is not valid UTF-8")))
            }
        }
    }

    /// Loads the keyring text from a file.
    ///
    /// # Errors
    ///
    /// [`Error::KeyringFile`] when the file cannot be read; [`Error::Keyring`] when its
    /// text is not a valid keyring.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|source| Error::KeyringFile {
                path: path.to_owned(),
                source,
            })?;
        warn_if_readable_by_others(path);
        Self::parse(&text)
    }

    /// Parses keyring text, format v1:
    ///
    /// ```text
    /// palisade-keyring v1
    /// # version state created key
    /// 1 decrypt-only 2025-01-10T09:00:00Z <base64 of 32 to 64 bytes>
    /// 2 primary 2025-06-01T12:00:00Z <base64 of 32 to 64 bytes>
    /// ```
    ///
    /// Records are separated by newlines or `;` (so the whole keyring fits on one line
    /// of an environment file); blank records and records starting with `#` are
    /// ignored. The first record is exactly `palisade-keyring v1`. Each key record has
    /// four fields separated by spaces: the version (a decimal number from 1, no leading
    /// zeros, each version once), the state (`primary`, `decrypt-only` or `retired`),
    /// the creation time (RFC 3339, UTC, whole seconds) and the key in padded standard
    /// base64. A retired version may have `-` instead of a key, meaning its key was
    /// destroyed. Exactly one version is primary.
    ///
    /// # Errors
    ///
    /// [`Error::Keyring`] naming the record and what is wrong with it; the message
    /// never contains key bytes.
    pub fn parse(text: &str) -> Result<Self> {
        let mut records = text
            .split(['\n', ';'])
            .enumerate()
            .map(|(i, record)| (i + 1, record.trim()))
            .filter(|(_, record)| !record.is_empty() && !record.starts_with('#'));
        match records.next() {
            Some((_, KEYRING_MAGIC)) => {}
            Some((n, _)) => {
                return Err(Error::Keyring(format!(
                    "record {n}: the keyring must start with `{KEYRING_MAGIC}`"
                )));
            }
            None => return Err(Error::Keyring("the keyring text is empty".into())),
        }
        let mut entries = BTreeMap::new();
        let mut primary = None;
        for (n, record) in records {
            let (version, entry) =
                parse_record(record).map_err(|why| Error::Keyring(format!("record {n}: {why}")))?;
            if entry.state == KeyState::Primary {
                if let Some(first) = primary {
                    return Err(Error::Keyring(format!(
                        "versions {first} and {version} are both primary; exactly one must be"
                    )));
                }
                primary = Some(version);
            }
            if entries.insert(version, entry).is_some() {
                return Err(Error::Keyring(format!(
                    "record {n}: version {version} appears twice"
                )));
            }
        }
        if entries.is_empty() {
            return Err(Error::Keyring("the keyring holds no keys".into()));
        }
        let primary = primary
            .ok_or_else(|| Error::Keyring("no version is primary; exactly one must be".into()))?;
        Ok(Self { entries, primary })
    }

    /// The keyring in its text format (see [`Keyring::parse`]). The text holds the
    /// keys: it is zeroized on drop, and belongs in a file of mode 0600 or a secret
    /// store.
    pub fn to_text(&self) -> Zeroizing<String> {
        // Room for every line up front: a `String` that grows frees its old buffer, keys
        // and all, without zeroizing it.
        let mut out = Zeroizing::new(String::with_capacity(self.text_capacity()));
        out.push_str(KEYRING_MAGIC);
        out.push('\n');
        for (version, entry) in &self.entries {
            out.push_str(&format!(
                "{version} {} {} ",
                entry.state,
                format_time(entry.created)
            ));
            match &entry.key {
                Some(key) => BASE64.encode_append(&key.0, &mut out),
                None => out.push('-'),
            }
            out.push('\n');
        }
        out
    }

    /// The primary version: the one that seals.
    pub fn primary(&self) -> KeyVersion {
        self.primary
    }

    /// Every version, ascending: number, state and creation time.
    pub fn versions(&self) -> impl Iterator<Item = KeyInfo> + '_ {
        self.entries.iter().map(|(&version, entry)| KeyInfo {
            version,
            state: entry.state,
            created: entry.created,
        })
    }

    /// Adds a fresh 32-byte key as the new primary, one above the highest version; the
    /// previous primary becomes decrypt-only. Returns the new version.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the generator fails; [`Error::Keyring`] when the versions
    /// are exhausted.
    pub fn rotate(&mut self) -> Result<KeyVersion> {
        self.rotate_with(&OsRandom, &SystemClock)
    }

    /// [`Keyring::rotate`] with a given random source and clock.
    ///
    /// # Errors
    ///
    /// As for [`Keyring::rotate`].
    pub fn rotate_with(&mut self, random: &dyn Random, clock: &dyn Clock) -> Result<KeyVersion> {
        let highest = self.entries.keys().next_back().map_or(0, |v| v.get());
        let version = highest
            .checked_add(1)
            .and_then(KeyVersion::new)
            .ok_or_else(|| Error::Keyring("no key version numbers left".into()))?;
        let entry = new_entry(random, clock)?;
        if let Some(old) = self.entries.get_mut(&self.primary) {
            old.state = KeyState::DecryptOnly;
        }
        self.entries.insert(version, entry);
        self.primary = version;
        Ok(version)
    }

    /// Retires a version: envelopes it sealed no longer open and fail with
    /// [`Error::RetiredKey`]. The key bytes stay in the keyring text, so an operator can
    /// undo a mistaken retirement by editing the state back; write `-` for the key to
    /// destroy it for good. Retiring a retired version does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Keyring`] when the version is not in the keyring or is the primary
    /// (rotate first).
    pub fn retire(&mut self, version: KeyVersion) -> Result<()> {
        if version == self.primary {
            return Err(Error::Keyring(format!(
                "version {version} is the primary; rotate to a new primary before retiring it"
            )));
        }
        let entry = self
            .entries
            .get_mut(&version)
            .ok_or_else(|| Error::Keyring(format!("version {version} is not in the keyring")))?;
        entry.state = KeyState::Retired;
        Ok(())
    }

    /// Writes the keyring text to a new file of mode 0600.
    ///
    /// # Errors
    ///
    /// [`Error::KeyringFile`] when the file exists or cannot be written.
    pub fn write_new_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        write_private(path, &self.to_text(), true).map_err(|source| Error::KeyringFile {
            path: path.to_owned(),
            source,
        })
    }

    /// The most bytes [`Keyring::to_text`] writes: the header line, and per version its
    /// number (at most 10 digits), state (at most 12 characters), time (20), the key in
    /// padded base64 (or `-`), three spaces and a newline.
    fn text_capacity(&self) -> usize {
        let lines: usize = self
            .entries
            .values()
            .map(|entry| {
                let key = entry
                    .key
                    .as_ref()
                    .map_or(1, |key| 4 * key.0.len().div_ceil(3));
                10 + 12 + 20 + key + 4
            })
            .sum();
        KEYRING_MAGIC.len() + 1 + lines
    }

    /// The permission bits of a keyring file (`0o644`, say) when group or others have
    /// any access to it; it should be mode 0600. `None` for a private file, one whose
    /// metadata cannot be read, and on platforms without Unix permissions.
    /// [`Keyring::from_file`] logs a warning for such a file; a program without a
    /// `tracing` subscriber (a CLI) can tell its user itself.
    pub fn shared_file_mode(path: impl AsRef<Path>) -> Option<u32> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then_some(mode)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }

    /// Reads a keyring file, changes the keyring with `change`, and replaces the file
    /// ([`Keyring::replace_file`]), holding an exclusive lock on `<file>.lock` beside it
    /// from the read to the rename: two updates at once (two `palisade keys rotate`) take
    /// turns instead of one silently dropping the other's new key. The lock file stays
    /// (removing it would let a third update lock a file no one else sees). Nothing is
    /// written when `change` fails.
    ///
    /// # Errors
    ///
    /// [`Error::KeyringFile`] when the lock, the read or the write fails; what
    /// [`Keyring::from_file`] and `change` return.
    pub fn update_file<T>(
        path: impl AsRef<Path>,
        change: impl FnOnce(&mut Keyring) -> Result<T>,
    ) -> Result<T> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map_or_else(|| "keyring".into(), |n| n.to_string_lossy().into_owned());
        let lock_path = path.with_file_name(format!("{name}.lock"));
        let lock_error = |source| Error::KeyringFile {
            path: lock_path.clone(),
            source,
        };
        let lock = open_private(&lock_path).map_err(lock_error)?;
        lock.lock().map_err(lock_error)?;
        let mut keyring = Keyring::from_file(path)?;
        let changed = change(&mut keyring)?;
        keyring.replace_file(path)?;
        Ok(changed)
    }

    /// Replaces a keyring file atomically (a new file of mode 0600 renamed over it), then
    /// syncs the directory so the new keyring outlives a crash. The rename is the change:
    /// if only the sync fails, the new keyring is in place and a warning is logged.
    ///
    /// # Errors
    ///
    /// [`Error::KeyringFile`] when the file cannot be written or renamed.
    pub fn replace_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            file_name.unwrap_or_else(|| "keyring".into()),
            std::process::id()
        ));
        let result =
            write_private(&tmp, &self.to_text(), true).and_then(|()| std::fs::rename(&tmp, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else if let Err(error) = sync_directory_of(path) {
            tracing::warn!(
                path = %path.display(),
                %error,
                "keyring file replaced, but its directory could not be synced"
            );
        }
        result.map_err(|source| Error::KeyringFile {
            path: path.to_owned(),
            source,
        })
    }

    /// A sealer for one purpose: seals under the primary, opens under every version
    /// that is not retired.
    ///
    /// # Errors
    ///
    /// [`Error::Binding`] when the purpose name is not valid (see [`Purpose::new`]).
    pub fn sealer(&self, purpose: impl AsRef<str>) -> Result<Sealer> {
        let purpose = Purpose::new(purpose.as_ref())?;
        let mut versions = BTreeMap::new();
        for (&version, entry) in &self.entries {
            let keys = match (&entry.state, &entry.key) {
                (KeyState::Retired, _) | (_, None) => None,
                (_, Some(key)) => {
                    let mut okm = Zeroizing::new([0u8; crate::sealer::PURPOSE_KEY_LEN]);
                    derive(&key.0, b"envelope", &purpose, okm.as_mut_slice());
                    Some(okm)
                }
            };
            versions.insert(version, keys);
        }
        Ok(Sealer::from_derived(
            purpose,
            self.primary,
            versions,
            std::sync::Arc::new(ThreadRandom),
        ))
    }

    /// A blind index for one purpose: HMAC-SHA256 under a key derived for the purpose,
    /// one key per version that is not retired.
    ///
    /// # Errors
    ///
    /// [`Error::Binding`] when the purpose name is not valid.
    pub fn blind_index(&self, purpose: impl AsRef<str>) -> Result<BlindIndex> {
        let purpose = Purpose::new(purpose.as_ref())?;
        let mut keys = BTreeMap::new();
        for (&version, entry) in &self.entries {
            if let (KeyState::Primary | KeyState::DecryptOnly, Some(key)) =
                (entry.state, &entry.key)
            {
                let mut okm = Zeroizing::new([0u8; 32]);
                derive(&key.0, b"blind-index", &purpose, okm.as_mut_slice());
                keys.insert(version, okm);
            }
        }
        Ok(BlindIndex::from_derived(purpose, self.primary, keys))
    }
}

/// HKDF-SHA256(salt = `palisade/envelope-crypto/v1`, ikm = master key,
/// info = label || 0x00 || purpose).
fn derive(master: &[u8], label: &[u8], purpose: &Purpose, out: &mut [u8]) {
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), master);
    let info = [label, &[0], purpose.as_str().as_bytes()];
    // 96 bytes at most, far below HKDF-SHA256's limit of 8160.
    if hkdf.expand_multi_info(&info, out).is_err() {
        unreachable!("HKDF output length is fixed and small");
    }
}

fn new_entry(random: &dyn Random, clock: &dyn Clock) -> Result<Entry> {
    let mut key = Zeroizing::new(vec![0u8; 32]);
    random.fill(&mut key)?;
    Ok(Entry {
        state: KeyState::Primary,
        created: whole_seconds(clock.now()),
        key: Some(MasterKey(key)),
    })
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn format_time(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Decodes a key written in padded standard base64, into a buffer that is zeroized on
/// every path (a key with a typo in its last character is still nearly all key).
/// Canonical text only: `data_encoding` also accepts padded groups one after another
/// (`AA==AA==` for two bytes), which re-encode to something shorter, and that is refused
/// here along with non-zero trailing bits.
fn decode_key(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let input = text.as_bytes();
    let mut bytes = Zeroizing::new(vec![0u8; BASE64.decode_len(input.len()).ok()?]);
    let len = BASE64.decode_mut(input, &mut bytes).ok()?;
    bytes.truncate(len);
    (BASE64.encode_len(len) == input.len()).then_some(bytes)
}

fn parse_record(record: &str) -> std::result::Result<(KeyVersion, Entry), String> {
    let fields: Vec<&str> = record.split_ascii_whitespace().collect();
    let [version, state, created, key] = fields[..] else {
        return Err(format!(
            "a key record is `<version> <state> <created> <key>`, got {} fields",
            fields.len()
        ));
    };
    let version = (!version.starts_with('0') && version.bytes().all(|b| b.is_ascii_digit()))
        .then(|| version.parse::<u32>().ok())
        .flatten()
        .and_then(KeyVersion::new)
        // No field's text is echoed in an error: a line with its fields out of order puts
        // the key where another field should be, and errors reach logs and terminals.
        .ok_or_else(|| "the version is not a number from 1 to 4294967295".to_owned())?;
    let state = KeyState::parse(state).ok_or_else(|| {
        format!("version {version}: the state is not primary, decrypt-only or retired")
    })?;
    let created = OffsetDateTime::parse(created, &Rfc3339)
        .ok()
        .filter(|t| t.offset().is_utc() && t.nanosecond() == 0 && created.ends_with('Z'))
        .map(SystemTime::from)
        .ok_or_else(|| {
            format!(
                "version {version}: the created time is not RFC 3339 UTC \
                 like 2025-06-01T12:00:00Z"
            )
        })?;
    let key = if key == "-" {
        if state != KeyState::Retired {
            return Err(format!(
                "version {version} is {state} but has no key (`-` is only for retired versions)"
            ));
        }
        None
    } else {
        let bytes = decode_key(key)
            .ok_or_else(|| format!("version {version}: the key is not padded standard base64"))?;
        if bytes.len() < MIN_KEY_LEN {
            return Err(format!(
                "version {version}: the key has {} bytes; at least {MIN_KEY_LEN} are required",
                bytes.len()
            ));
        }
        if bytes.len() > MAX_KEY_LEN {
            return Err(format!(
                "version {version}: the key has {} bytes; at most {MAX_KEY_LEN} are allowed",
                bytes.len()
            ));
        }
        Some(MasterKey(bytes))
    };
    Ok((
        version,
        Entry {
            state,
            created,
            key,
        },
    ))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str, create_new: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(create_new)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Opens (creating it if need be, mode 0600) a file for writing, without truncating it.
#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Syncs the directory holding `path`, so a rename into it is durable.
#[cfg(unix)]
fn sync_directory_of(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; the rename is as durable as the
/// platform makes it.
#[cfg(not(unix))]
fn sync_directory_of(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str, create_new: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(create_new)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    if let Some(mode) = Keyring::shared_file_mode(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "keyring file is open to group or others; chmod 600 it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `to_text` never grows its buffer (a grown `String` frees the old one, keys and all,
    /// unzeroized): the capacity reserved up front is the capacity it ends with, for long
    /// keys, many versions, retired ones and the widest state.
    #[test]
    fn keyring_text_is_written_without_reallocating() {
        let key = BASE64.encode(&[7u8; 64]);
        let text = format!(
            "{KEYRING_MAGIC}\n\
             4294967290 retired 2025-01-01T00:00:00Z -\n\
             4294967291 retired 2025-01-01T00:00:00Z {key}\n\
             4294967292 decrypt-only 2025-01-01T00:00:00Z {key}\n\
             4294967293 decrypt-only 2025-01-01T00:00:00Z {key}\n\
             4294967294 primary 2025-01-01T00:00:00Z {key}\n"
        );
        let keyring = Keyring::parse(&text).unwrap();
        let written = keyring.to_text();
        assert_eq!(written.as_str(), text);
        assert!(written.len() <= keyring.text_capacity());
        // Still the buffer reserved up front: it never grew.
        assert_eq!(written.capacity(), keyring.text_capacity());
    }

    #[test]
    fn versions_must_be_canonical_numbers() {
        let key = BASE64.encode(&[7u8; 32]);
        for bad in ["0", "01", "+1", "-1", "4294967296", "x"] {
            let text = format!("{KEYRING_MAGIC}\n{bad} primary 2025-01-01T00:00:00Z {key}");
            let err = Keyring::parse(&text).unwrap_err().to_string();
            assert!(err.contains("is not a number"), "{bad}: {err}");
        }
    }

    /// A key's text is canonical padded base64 or an error: not padded groups one after
    /// another (which `data_encoding` decodes, to fewer bytes), not non-zero trailing
    /// bits, not the URL alphabet, not unpadded.
    #[test]
    fn keys_must_be_canonical_base64() {
        let canonical = BASE64.encode(&[7u8; 32]);
        let line = |key: &str| format!("{KEYRING_MAGIC}\n1 primary 2025-01-01T00:00:00Z {key}");
        assert!(Keyring::parse(&line(&canonical)).is_ok());
        let mut trailing_bits = canonical.clone().into_bytes();
        trailing_bits[42] = b'd'; // 'c' (011100) becomes 'd' (011101): a bit past the key.
        for bad in [
            "AA==".repeat(32),
            String::from_utf8(trailing_bits).unwrap(),
            BASE64
                .encode(&[0xfbu8; 33])
                .replace('+', "-")
                .replace('/', "_"),
            canonical.trim_end_matches('=').to_owned(),
        ] {
            let err = Keyring::parse(&line(&bad)).unwrap_err().to_string();
            assert!(err.contains("not padded standard base64"), "{bad}: {err}");
        }
    }

    #[test]
    fn created_times_must_be_utc_whole_seconds() {
        let key = BASE64.encode(&[7u8; 32]);
        for bad in [
            "2025-01-01T00:00:00+01:00",
            "2025-01-01T00:00:00.5Z",
            "2025-01-01",
            "yesterday",
        ] {
            let text = format!("{KEYRING_MAGIC}\n1 primary {bad} {key}");
            let err = Keyring::parse(&text).unwrap_err().to_string();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }
}
