//! The segment-file store, the embedded default.
//!
//! Layout under the root directory: one directory per tenant, holding
//!
//! - `segment-<first index, 20 digits>.log`: a 20-byte header (`PAUDSEG2`, the index of
//!   the segment's first entry as u64 little-endian, a CRC-32 of those 16 bytes), then
//!   one frame per entry;
//! - `checkpoints.log`: an 8-byte header (`PAUDCKP2`), then one frame per signed
//!   checkpoint note.
//!
//! A frame is a 12-byte header, then the payload (an entry's canonical bytes or a note).
//! The header holds the payload length (u32 little-endian), a CRC-32 (IEEE) of the
//! payload (u32 little-endian), and a CRC-32 of those first 8 header bytes (u32
//! little-endian). The header checksum is what tells an interrupted write from damage:
//! a length is trusted only when its header checks out. A new segment starts when the
//! current one would pass the segment size.
//!
//! Recovery on open for writing: a torn tail at the very end of the last segment or of
//! the checkpoint file is cut, with a warning. A torn tail is either fewer bytes than a
//! frame header, a frame whose header checks out but whose payload the file does not
//! hold in full, or a run of zero bytes up to the end of the file. It is cut only when
//! every stored checkpoint still covers entries that remain: a tail that would leave the
//! log shorter than a checkpoint is not an interrupted write and is reported as damage.
//! Anything else that does not read back (a header or payload checksum mismatch, even in
//! the last frame, a bad file header, a frame that runs past the end of a segment that
//! is not the last, a gap between segments) is an [`Error::Damaged`] naming the file and
//! byte offset; nothing is repaired. Opened read-only, a torn tail is reported as damage
//! too.
//!
//! Durability: appends are written at once and made durable by [`Store::sync`], which
//! flushes once (`fdatasync`) for every append that is waiting (group commit). A new
//! segment is created only after the previous one is flushed; new files are written
//! under a temporary name (`*.tmp`), flushed and renamed into place, and the directory
//! is flushed, so a crash never leaves a file without its header. A lock file (`LOCK`)
//! keeps a second writer process out.
//!
//! Tenant ids are directory names, so on a case-insensitive file system (macOS, Windows)
//! ids that differ only in case name one directory. The store refuses, with
//! [`Error::Config`], a tenant whose directory holds another tenant's entries or is the
//! directory of a tenant already open under another case: one tenant's entries never
//! land in another's log.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Page, Query, Record, Store};
use crate::checkpoint::checkpoint_in_note;
use crate::entry::Entry;
use crate::error::Error;
use crate::event::TenantId;

const SEGMENT_MAGIC: &[u8; 8] = b"PAUDSEG2";
const SEGMENT_HEADER_LEN: usize = 20;
const SEGMENT_HEADER: u64 = SEGMENT_HEADER_LEN as u64;
const CHECKPOINT_MAGIC: &[u8; 8] = b"PAUDCKP2";
const CHECKPOINT_HEADER_LEN: usize = 8;
const CHECKPOINT_HEADER: u64 = CHECKPOINT_HEADER_LEN as u64;
const CHECKPOINT_FILE: &str = "checkpoints.log";
const FRAME_HEADER_LEN: usize = 12;
const FRAME_HEADER: u64 = FRAME_HEADER_LEN as u64;
/// Suffix of a file being created, before it is renamed into place.
const TMP_SUFFIX: &str = ".tmp";
/// Largest frame payload accepted.
const MAX_PAYLOAD: u32 = 1 << 20;
/// Default segment size.
const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// One sparse index point per this many entries.
const SPARSE_EVERY: u64 = 64;

/// Stores each tenant's log as segment files under a root directory.
///
/// Cloning shares the open files. See the module documentation in the crate README for
/// the file format, recovery rules and durability.
#[derive(Debug, Clone)]
pub struct FileStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    root: PathBuf,
    writable: bool,
    segment_bytes: u64,
    tenants: Mutex<BTreeMap<TenantId, Arc<TenantFiles>>>,
    _lock: Option<File>,
}

#[derive(Debug)]
struct TenantFiles {
    state: Mutex<TenantState>,
    /// Serialises flushes; holds how many appends are known durable.
    synced: Mutex<u64>,
}

#[derive(Debug)]
struct Segment {
    first: u64,
    path: PathBuf,
    count: u64,
    bytes: u64,
    /// (index, byte offset of its frame), every `SPARSE_EVERY` entries.
    sparse: Vec<(u64, u64)>,
}

#[derive(Debug)]
struct TenantState {
    dir: PathBuf,
    segments: Vec<Segment>,
    size: u64,
    /// The last segment, open for appending (writable stores only).
    current: Option<Arc<File>>,
    checkpoints: Option<Arc<File>>,
    /// Appends written so far; compared with `TenantFiles::synced`.
    written: u64,
    failed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn damaged(file: &Path, offset: u64, what: impl Into<String>) -> Error {
    Error::Damaged {
        file: file.to_path_buf(),
        offset,
        what: what.into(),
    }
}

fn frame(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| (1..=MAX_PAYLOAD).contains(l))
        .ok_or_else(|| Error::input("record empty or larger than 1 MiB"))?;
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_crc = crc32fast::hash(&header[..8]);
    header[8..].copy_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(())
}

/// A frame header that checks out: the payload length and the payload's CRC-32.
#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    len: u32,
    payload_crc: u32,
}

impl FrameHeader {
    /// Checks a frame header; the error says what is wrong with it.
    fn parse(header: &[u8; FRAME_HEADER_LEN]) -> Result<Self, &'static str> {
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        if crc32fast::hash(&header[..8]) != word(8) {
            return Err("record header checksum mismatch");
        }
        let len = word(0);
        if len == 0 || len > MAX_PAYLOAD {
            return Err("record length out of range");
        }
        Ok(Self {
            len,
            payload_crc: word(4),
        })
    }

    fn check(self, payload: &[u8]) -> Result<(), &'static str> {
        if crc32fast::hash(payload) == self.payload_crc {
            Ok(())
        } else {
            Err("record checksum mismatch")
        }
    }
}

fn segment_header(first: u64) -> [u8; 20] {
    let mut header = [0u8; 20];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..16].copy_from_slice(&first.to_le_bytes());
    let crc = crc32fast::hash(&header[..16]);
    header[16..].copy_from_slice(&crc.to_le_bytes());
    header
}

fn segment_name(first: u64) -> String {
    format!("segment-{first:020}.log")
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Creates `dir` (and flushes its parent) when it does not exist yet.
fn ensure_dir(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Creates the file `name` in `dir` holding `header`, durably and all at once: written
/// under a temporary name, flushed, renamed into place, and the directory flushed. Opens
/// it for appending.
fn create_file(dir: &Path, name: &str, header: &[u8]) -> Result<File, Error> {
    ensure_dir(dir)?;
    let path = dir.join(name);
    if path.exists() {
        return Err(Error::Store(format!("{}: exists already", path.display())));
    }
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)?;
    file.write_all(header)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(OpenOptions::new().append(true).open(&path)?)
}

/// A file's torn tail found on open: where it starts and where the file ends.
struct TornTail {
    path: PathBuf,
    offset: u64,
    file_len: u64,
}

/// Reads every frame of `file` from `start`, handing each payload to `visit` with its
/// offset; returns the torn tail (an incomplete frame, or zero bytes up to the end) if
/// the file does not end exactly after a frame. Damage that is not a torn tail is an
/// error.
fn read_frames(
    path: &Path,
    file: &mut impl Read,
    start: u64,
    file_len: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), Error>,
) -> Result<Option<TornTail>, Error> {
    let torn = |offset| {
        Some(TornTail {
            path: path.to_path_buf(),
            offset,
            file_len,
        })
    };
    let mut offset = start;
    let mut payload = Vec::new();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    while offset < file_len {
        let remaining = file_len - offset;
        if remaining < FRAME_HEADER {
            // Not even a header: only a write that stopped part-way leaves this.
            return Ok(torn(offset));
        }
        let mut bytes = [0u8; FRAME_HEADER_LEN];
        reader.read_exact(&mut bytes)?;
        if bytes.iter().all(|b| *b == 0) {
            // Zeros where a frame should start: a preallocated or torn tail if only zeros
            // follow, damage otherwise.
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest)?;
            if rest.iter().all(|b| *b == 0) {
                return Ok(torn(offset));
            }
            return Err(damaged(
                path,
                offset,
                "zero bytes where a record should start",
            ));
        }
        let header = FrameHeader::parse(&bytes).map_err(|what| damaged(path, offset, what))?;
        if u64::from(header.len) > remaining - FRAME_HEADER {
            // The header is intact and promises more than the file holds: the write of
            // this frame was interrupted.
            return Ok(torn(offset));
        }
        payload.resize(header.len as usize, 0);
        reader.read_exact(&mut payload)?;
        header
            .check(&payload)
            .map_err(|what| damaged(path, offset, what))?;
        visit(offset, &payload)?;
        offset += FRAME_HEADER + u64::from(header.len);
    }
    Ok(None)
}

/// Reads a segment through, building its sparse index; returns its torn tail, if any.
fn scan_segment(
    path: PathBuf,
    first: u64,
    tenant: &TenantId,
) -> Result<(Segment, Option<TornTail>), Error> {
    let mut file = File::open(&path)?;
    let file_len = file.metadata()?.len();
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    if file_len < SEGMENT_HEADER || file.read_exact(&mut header).is_err() {
        return Err(damaged(&path, 0, "segment header is incomplete"));
    }
    if header != segment_header(first) {
        return Err(damaged(&path, 0, "segment header is damaged"));
    }
    let mut segment = Segment {
        first,
        path,
        count: 0,
        bytes: SEGMENT_HEADER,
        sparse: Vec::new(),
    };
    let path = segment.path.clone();
    let tail = read_frames(
        &path,
        &mut file,
        SEGMENT_HEADER,
        file_len,
        |offset, payload| {
            let index = first + segment.count;
            if segment.count == 0 {
                check_owner(&path, tenant, payload)?;
            }
            if segment.count.is_multiple_of(SPARSE_EVERY) {
                segment.sparse.push((index, offset));
            }
            segment.count += 1;
            segment.bytes = offset + FRAME_HEADER + payload.len() as u64;
            Ok(())
        },
    )?;
    Ok((segment, tail))
}

/// Refuses a segment whose first entry (canonical bytes in `payload`) names another
/// tenant: the directory is another tenant's, reached under an id that differs only in
/// case on a case-insensitive file system (macOS, Windows). An entry whose header does
/// not parse is left to verification, which reports it.
fn check_owner(path: &Path, tenant: &TenantId, payload: &[u8]) -> Result<(), Error> {
    match crate::entry::parse_header(payload) {
        Some(header) if header.tenant != tenant.as_str().as_bytes() => Err(Error::Config(format!(
            "{} holds the log of tenant {:?}, not {:?}: tenant ids that differ only in case share a directory on a case-insensitive file system",
            path.display(),
            String::from_utf8_lossy(header.tenant),
            tenant.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Whether two paths name one directory (one inode; on other systems, where the file
/// systems in use fold case, always).
fn same_directory(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
    }
}

/// Reads the checkpoint file's notes; returns its torn tail, if any.
fn read_checkpoints(path: &Path) -> Result<(Vec<String>, Option<TornTail>), Error> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(err) => return Err(err.into()),
    };
    let file_len = file.metadata()?.len();
    let mut magic = [0u8; CHECKPOINT_HEADER_LEN];
    if file_len < CHECKPOINT_HEADER
        || file.read_exact(&mut magic).is_err()
        || &magic != CHECKPOINT_MAGIC
    {
        return Err(damaged(path, 0, "checkpoint file header is damaged"));
    }
    let mut notes = Vec::new();
    let tail = read_frames(
        path,
        &mut file,
        CHECKPOINT_HEADER,
        file_len,
        |offset, payload| {
            let note = std::str::from_utf8(payload)
                .map_err(|_| damaged(path, offset, "checkpoint is not UTF-8"))?;
            notes.push(note.to_owned());
            Ok(())
        },
    )?;
    Ok((notes, tail))
}

impl FileStore {
    /// Opens (creating it if needed) a store under `root` for reading and appending.
    /// Only one process may hold a store open for writing.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when another process holds the store; I/O errors.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, Error> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("LOCK"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Config(format!(
                    "{}: another process has this audit log open for writing",
                    root.display()
                )));
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(err.into()),
        }
        Ok(Self::new(root, true, Some(lock)))
    }

    /// Opens an existing store for reading only: nothing is created, recovered or
    /// written, and a torn tail is reported as damage.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `root` is not a directory.
    pub fn open_read_only(root: impl AsRef<Path>) -> Result<Self, Error> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "{}: no audit log here",
                root.display()
            )));
        }
        Ok(Self::new(root, false, None))
    }

    fn new(root: PathBuf, writable: bool, lock: Option<File>) -> Self {
        Self {
            shared: Arc::new(Shared {
                root,
                writable,
                segment_bytes: DEFAULT_SEGMENT_BYTES,
                tenants: Mutex::new(BTreeMap::new()),
                _lock: lock,
            }),
        }
    }

    /// Sets the size at which a new segment starts (default 64 MiB); before first use.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] once the store has been used, or for a size under 4 KiB.
    pub fn with_segment_bytes(mut self, bytes: u64) -> Result<Self, Error> {
        if bytes < 4096 {
            return Err(Error::Config("segment size: at least 4096 bytes".into()));
        }
        let shared = Arc::get_mut(&mut self.shared)
            .ok_or_else(|| Error::Config("segment size: set it before sharing the store".into()))?;
        shared.segment_bytes = bytes;
        Ok(self)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    fn tenant(&self, tenant: &TenantId) -> Result<Arc<TenantFiles>, Error> {
        let mut tenants = lock(&self.shared.tenants);
        if let Some(files) = tenants.get(tenant) {
            return Ok(Arc::clone(files));
        }
        let dir = self.shared.root.join(tenant.as_str());
        // Two ids that differ only in case name one directory on a case-insensitive file
        // system: the second would write into the first one's log.
        let folded = tenants.keys().find(|open| {
            open.as_str() != tenant.as_str() && open.as_str().eq_ignore_ascii_case(tenant.as_str())
        });
        if let Some(open) = folded {
            self.check_apart(open, tenant, &dir)?;
        }
        let state = self.open_tenant(dir, tenant)?;
        let files = Arc::new(TenantFiles {
            synced: Mutex::new(state.written),
            state: Mutex::new(state),
        });
        tenants.insert(tenant.clone(), Arc::clone(&files));
        Ok(files)
    }

    /// Refuses `tenant` when its directory `dir` is that of `open`, a tenant whose id
    /// differs only in case. On a writable store both directories exist while they are
    /// compared (two missing ones would compare unequal, and then both tenants would
    /// create one directory); `dir`, when made only for the comparison and found to be
    /// a directory of its own, is removed again, so a read leaves no empty tenant behind.
    fn check_apart(&self, open: &TenantId, tenant: &TenantId, dir: &Path) -> Result<(), Error> {
        let open_dir = self.shared.root.join(open.as_str());
        let mut made = false;
        if self.shared.writable {
            ensure_dir(&open_dir)?;
            made = !dir.is_dir();
            ensure_dir(dir)?;
        }
        let same = same_directory(&open_dir, dir);
        if made && !same {
            // It is this tenant's and still empty. Should another process have written
            // there meanwhile, removal fails and the directory stays, which is harmless.
            let _ = std::fs::remove_dir(dir);
        }
        if same {
            return Err(Error::Config(format!(
                "tenants {:?} and {:?} share the directory {}: tenant ids that differ only in case cannot share a file store on a case-insensitive file system",
                open.as_str(),
                tenant.as_str(),
                dir.display()
            )));
        }
        Ok(())
    }

    fn open_tenant(&self, dir: PathBuf, tenant: &TenantId) -> Result<TenantState, Error> {
        let writable = self.shared.writable;
        let mut state = TenantState {
            dir,
            segments: Vec::new(),
            size: 0,
            current: None,
            checkpoints: None,
            written: 0,
            failed: false,
        };
        if !state.dir.is_dir() {
            return Ok(state);
        }
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        let mut leftovers = Vec::new();
        for item in std::fs::read_dir(&state.dir)? {
            let path = item?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(TMP_SUFFIX) {
                leftovers.push(path);
                continue;
            }
            if let Some(first) = name
                .strip_prefix("segment-")
                .and_then(|n| n.strip_suffix(".log"))
            {
                let first = first
                    .parse()
                    .ok()
                    .filter(|f| segment_name(*f) == name)
                    .ok_or_else(|| damaged(&path, 0, "not a segment name"))?;
                names.push((first, path));
            }
        }
        if writable {
            // A file whose creation a crash interrupted: it never held a record.
            for path in leftovers {
                tracing::warn!(file = %path.display(), "audit log: removing a file left half-created by an interrupted write");
                std::fs::remove_file(&path)?;
            }
        }
        // The checkpoints first: they say how many entries were durable for certain.
        let checkpoint_path = state.dir.join(CHECKPOINT_FILE);
        let (notes, checkpoint_tail) = read_checkpoints(&checkpoint_path)?;
        let durable = notes
            .iter()
            .filter_map(|note| checkpoint_in_note(note).ok())
            .map(|c| c.size())
            .max()
            .unwrap_or(0);
        names.sort();
        let last = names.len().saturating_sub(1);
        let mut segment_tail = None;
        for (i, (first, path)) in names.into_iter().enumerate() {
            if first != state.size {
                return Err(damaged(
                    &path,
                    0,
                    format!("segment starts at entry {first}, expected {}", state.size),
                ));
            }
            let (segment, tail) = scan_segment(path, first, tenant)?;
            state.size += segment.count;
            state.segments.push(segment);
            if let Some(tail) = tail {
                if i != last {
                    return Err(damaged(
                        &tail.path,
                        tail.offset,
                        "incomplete record inside the log",
                    ));
                }
                segment_tail = Some(tail);
            }
        }
        if let Some(tail) = segment_tail {
            if state.size < durable {
                return Err(damaged(
                    &tail.path,
                    tail.offset,
                    format!(
                        "incomplete record at entry {}, but a checkpoint covers {durable} entries: the log was cut short, not interrupted",
                        state.size
                    ),
                ));
            }
            self.cut_torn_tail(&tail)?;
        }
        if let Some(tail) = checkpoint_tail {
            self.cut_torn_tail(&tail)?;
        }
        if let (true, Some(segment)) = (writable, state.segments.last()) {
            let file = OpenOptions::new().append(true).open(&segment.path)?;
            state.current = Some(Arc::new(file));
        }
        Ok(state)
    }

    /// Cuts a torn tail (an interrupted write) off a file opened for writing; reports it
    /// as damage when read-only.
    fn cut_torn_tail(&self, tail: &TornTail) -> Result<(), Error> {
        let TornTail {
            path,
            offset,
            file_len,
        } = tail;
        if !self.shared.writable {
            return Err(damaged(
                path,
                *offset,
                "incomplete record at the end (an interrupted write): open the log for writing to recover it",
            ));
        }
        tracing::warn!(
            file = %path.display(),
            offset,
            bytes = file_len - offset,
            "audit log: cutting an incomplete record left by an interrupted write"
        );
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(*offset)?;
        file.sync_all()?;
        Ok(())
    }

    fn check_writable(&self) -> Result<(), Error> {
        if self.shared.writable {
            Ok(())
        } else {
            Err(Error::Config("this audit log is open read-only".into()))
        }
    }
}

impl TenantState {
    /// Writes framed records, starting a new segment first when the current one is full.
    fn write(
        &mut self,
        first_index: u64,
        count: u64,
        frames: &[u8],
        segment_bytes: u64,
    ) -> Result<(), Error> {
        let needs_segment = match self.segments.last() {
            None => true,
            Some(s) => s.count > 0 && s.bytes + frames.len() as u64 > segment_bytes,
        };
        if needs_segment {
            if let Some(current) = &self.current {
                current.sync_data()?;
            }
            let name = segment_name(first_index);
            let file = create_file(&self.dir, &name, &segment_header(first_index))?;
            let path = self.dir.join(name);
            self.current = Some(Arc::new(file));
            self.segments.push(Segment {
                first: first_index,
                path,
                count: 0,
                bytes: SEGMENT_HEADER,
                sparse: Vec::new(),
            });
        }
        let (Some(file), Some(segment)) = (&self.current, self.segments.last_mut()) else {
            return Err(Error::Closed);
        };
        (&**file).write_all(frames)?;
        let mut offset = segment.bytes;
        let mut rest = frames;
        for index in first_index..first_index + count {
            if (index - segment.first) % SPARSE_EVERY == 0 {
                segment.sparse.push((index, offset));
            }
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            offset += FRAME_HEADER + len as u64;
            rest = &rest[FRAME_HEADER_LEN + len..];
        }
        segment.bytes = offset;
        segment.count += count;
        self.size += count;
        Ok(())
    }

    /// Appends a framed checkpoint note and flushes it, creating the file first.
    fn write_checkpoint(&mut self, framed: &[u8]) -> Result<(), Error> {
        if self.checkpoints.is_none() {
            let path = self.dir.join(CHECKPOINT_FILE);
            let file = match OpenOptions::new().append(true).open(&path) {
                Ok(file) => file,
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    create_file(&self.dir, CHECKPOINT_FILE, CHECKPOINT_MAGIC)?
                }
                Err(err) => return Err(err.into()),
            };
            self.checkpoints = Some(Arc::new(file));
        }
        let Some(file) = &self.checkpoints else {
            return Err(Error::Closed);
        };
        (&**file).write_all(framed)?;
        file.sync_data()?;
        Ok(())
    }

    /// Reads up to `max` payloads from index `from`.
    fn read(&self, from: u64, max: usize) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        let end = self.size.min(from.saturating_add(max as u64));
        let mut next = from;
        while next < end {
            let Some(segment) = self.segments.iter().rev().find(|s| s.first <= next) else {
                break;
            };
            let point = segment.sparse.partition_point(|(i, _)| *i <= next);
            let Some(&(mut index, mut offset)) = segment.sparse.get(point.wrapping_sub(1)) else {
                break;
            };
            let mut file = File::open(&segment.path)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut reader = BufReader::with_capacity(128 * 1024, file);
            let segment_end = segment.first + segment.count;
            while index < segment_end && next < end {
                // The files were checked on open; this catches a change made since.
                let changed = |what: &str| {
                    damaged(
                        &segment.path,
                        offset,
                        format!("entry {index}: {what} (changed since the log was opened)"),
                    )
                };
                let mut bytes = [0u8; FRAME_HEADER_LEN];
                reader.read_exact(&mut bytes)?;
                let header = FrameHeader::parse(&bytes).map_err(changed)?;
                let len = header.len;
                let mut payload = vec![0u8; len as usize];
                reader.read_exact(&mut payload)?;
                header.check(&payload).map_err(changed)?;
                if index >= next {
                    out.push(payload);
                    next += 1;
                }
                index += 1;
                offset += FRAME_HEADER + u64::from(len);
            }
        }
        Ok(out)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Store(format!("file store task failed: {e}")))?
}

impl Store for FileStore {
    async fn append(&self, tenant: &TenantId, records: &[Record]) -> Result<(), Error> {
        self.check_writable()?;
        let Some(first) = records.first().map(|r| r.entry().index()) else {
            return Ok(());
        };
        let mut frames = Vec::with_capacity(records.iter().map(|r| r.leaf_bytes().len() + 8).sum());
        for (record, index) in records.iter().zip(first..) {
            if record.entry().index() != index || record.entry().event().tenant_id() != tenant {
                return Err(Error::Conflict);
            }
            frame(record.leaf_bytes(), &mut frames)?;
        }
        let count = records.len() as u64;
        let this = self.clone();
        let tenant = tenant.clone();
        blocking(move || {
            let files = this.tenant(&tenant)?;
            let mut state = lock(&files.state);
            if state.failed {
                return Err(Error::Closed);
            }
            if state.size != first {
                return Err(Error::Conflict);
            }
            let result = state.write(first, count, &frames, this.shared.segment_bytes);
            if result.is_err() {
                state.failed = true;
            } else {
                state.written += 1;
            }
            result
        })
        .await
    }

    async fn sync(&self, tenant: &TenantId) -> Result<(), Error> {
        if !self.shared.writable {
            return Ok(());
        }
        let this = self.clone();
        let tenant = tenant.clone();
        blocking(move || {
            let files = this.tenant(&tenant)?;
            let target = lock(&files.state).written;
            let mut synced = lock(&files.synced);
            if *synced >= target {
                return Ok(());
            }
            let (file, written) = {
                let state = lock(&files.state);
                if state.failed {
                    return Err(Error::Closed);
                }
                (state.current.clone(), state.written)
            };
            if let Some(Err(err)) = file.map(|f| f.sync_data()) {
                lock(&files.state).failed = true;
                return Err(err.into());
            }
            *synced = written;
            Ok(())
        })
        .await
    }

    async fn read(&self, tenant: &TenantId, from: u64, max: usize) -> Result<Vec<Vec<u8>>, Error> {
        let this = self.clone();
        let tenant = tenant.clone();
        blocking(move || {
            let files = this.tenant(&tenant)?;
            let state = lock(&files.state);
            state.read(from, max)
        })
        .await
    }

    async fn put_checkpoint(&self, tenant: &TenantId, _size: u64, note: &str) -> Result<(), Error> {
        self.check_writable()?;
        let mut framed = Vec::new();
        frame(note.as_bytes(), &mut framed)?;
        let this = self.clone();
        let tenant = tenant.clone();
        blocking(move || {
            let files = this.tenant(&tenant)?;
            let mut state = lock(&files.state);
            if state.failed {
                return Err(Error::Closed);
            }
            let result = state.write_checkpoint(&framed);
            if result.is_err() {
                // A part of the frame may be on disk: write nothing after it.
                state.failed = true;
            }
            result
        })
        .await
    }

    async fn checkpoints(&self, tenant: &TenantId) -> Result<Vec<String>, Error> {
        let this = self.clone();
        let tenant = tenant.clone();
        blocking(move || {
            let files = this.tenant(&tenant)?;
            let state = lock(&files.state);
            let path = state.dir.join(CHECKPOINT_FILE);
            match read_checkpoints(&path)? {
                (notes, None) => Ok(notes),
                (_, Some(tail)) => Err(damaged(
                    &path,
                    tail.offset,
                    "incomplete checkpoint at the end (an interrupted write)",
                )),
            }
        })
        .await
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, Error> {
        let root = self.shared.root.clone();
        blocking(move || {
            let mut tenants = Vec::new();
            for item in std::fs::read_dir(&root)? {
                let item = item?;
                if !item.file_type()?.is_dir() {
                    continue;
                }
                if let Some(tenant) = item
                    .file_name()
                    .to_str()
                    .and_then(|n| TenantId::new(n).ok())
                {
                    tenants.push(tenant);
                }
            }
            tenants.sort();
            Ok(tenants)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, Error> {
        let mut matching = Vec::new();
        let mut from = 0;
        loop {
            let batch = self.read(query.tenant(), from, 4096).await?;
            if batch.is_empty() {
                break;
            }
            from += batch.len() as u64;
            for leaf in batch {
                let entry = Entry::from_leaf_bytes(&leaf)?;
                if query.matches(&entry) {
                    matching.push(entry);
                }
            }
        }
        Ok(query.page_from_scan(matching))
    }
}
