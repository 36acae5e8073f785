//! `palisade seal | open | rewrap | inspect`: envelopes from a shell, one line of text
//! armor each.

use std::io::Read;
use std::path::PathBuf;

use envelope_crypto::{Binding, Envelope, Error, Keyring, Sealer};
use zeroize::Zeroizing;

use crate::exit::{Outcome, UsageError};
use crate::keys::write_stdout;

/// Where the keys come from and what the envelope is bound to.
#[derive(Debug, clap::Args)]
pub(crate) struct KeyArgs {
    /// Keyring file; without it the keyring text is read from PALISADE_KEYRING.
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// What the secret is for; envelopes of one purpose never open under another.
    #[arg(long, value_name = "P", default_value = "default")]
    purpose: String,
    /// Bind the envelope to KEY=VALUE (repeatable). `tenant=` and `record=` set the
    /// binding's tenant and record; other keys are free pairs.
    #[arg(long = "bind", value_name = "KEY=VALUE")]
    bind: Vec<String>,
}

/// Seal stdin into an envelope: one line of text armor on stdout.
#[derive(Debug, clap::Args)]
pub(crate) struct Seal {
    #[command(flatten)]
    keys: KeyArgs,
}

/// Open an envelope from stdin: the exact plaintext bytes on stdout.
#[derive(Debug, clap::Args)]
pub(crate) struct Open {
    #[command(flatten)]
    keys: KeyArgs,
}

/// Rewrap an envelope from stdin under the primary key version.
#[derive(Debug, clap::Args)]
pub(crate) struct Rewrap {
    #[command(flatten)]
    keys: KeyArgs,
}

/// Show an envelope's format version, algorithm and key version; needs no key.
#[derive(Debug, clap::Args)]
pub(crate) struct Inspect {}

impl KeyArgs {
    fn sealer(&self) -> Result<(Sealer, Binding), UsageError> {
        let keyring = match &self.keyring {
            Some(path) => {
                crate::keys::warn_if_shared(path);
                Keyring::from_file(path)
            }
            None => Keyring::from_env(),
        }
        .map_err(|err| match err {
            Error::KeyringNotConfigured => UsageError(
                "no keyring: pass --keyring FILE or set PALISADE_KEYRING to the keyring text"
                    .into(),
            ),
            other => UsageError(other.to_string()),
        })?;
        let sealer = keyring
            .sealer(&self.purpose)
            .map_err(|e| UsageError(format!("--purpose: {e}")))?;
        Ok((sealer, self.binding()?))
    }

    fn binding(&self) -> Result<Binding, UsageError> {
        let mut binding = Binding::new();
        let mut seen = std::collections::BTreeSet::new();
        for pair in &self.bind {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| UsageError(format!("--bind {pair:?}: expected KEY=VALUE")))?;
            if !seen.insert(key) {
                return Err(UsageError(format!("--bind: {key:?} given twice")));
            }
            binding = match key {
                "tenant" => binding.tenant(value),
                "record" => binding.record(value),
                _ => binding.pair(key, value),
            };
        }
        Ok(binding)
    }
}

fn read_stdin() -> Result<Zeroizing<Vec<u8>>, UsageError> {
    read_all(std::io::stdin().lock()).map_err(|e| UsageError(format!("reading stdin: {e}")))
}

/// Reads to the end into a buffer that is zeroized on drop and each time it outgrows
/// itself: `read_to_end` frees every outgrown buffer with the plaintext still in it.
fn read_all(mut reader: impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut input = Zeroizing::new(Vec::with_capacity(CHUNK));
    let mut chunk = Zeroizing::new([0u8; CHUNK]);
    loop {
        let n = match reader.read(chunk.as_mut()) {
            Ok(0) => return Ok(input),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let needed = input.len() + n;
        if needed > input.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(2 * input.capacity())));
            grown.extend_from_slice(&input);
            // The outgrown buffer is zeroized as it drops.
            input = grown;
        }
        input.extend_from_slice(&chunk[..n]);
    }
}

/// Bytes read from stdin at a time: as large as std's buffer for stdin, so reads go
/// straight into `chunk` rather than through that buffer, which is never zeroized.
const CHUNK: usize = 8192;

/// The envelope on stdin, or `None` (already reported) when it is not one.
fn read_envelope() -> Result<Option<Envelope>, UsageError> {
    let input = read_stdin()?;
    let parsed = std::str::from_utf8(&input)
        .map_err(|_| Error::Invalid)
        .and_then(Envelope::from_armor);
    match parsed {
        Ok(envelope) => Ok(Some(envelope)),
        Err(err) => {
            eprintln!("palisade: {err}");
            Ok(None)
        }
    }
}

/// Exit 1 for an envelope that does not open (with the reason on stderr), exit 2 for
/// configuration errors.
fn failed(err: Error) -> Result<Outcome, UsageError> {
    match err {
        Error::Invalid | Error::RetiredKey(_) | Error::UnknownKeyVersion(_) => {
            eprintln!("palisade: {err}");
            Ok(Outcome::Failed)
        }
        other => Err(UsageError(other.to_string())),
    }
}

pub(crate) fn seal(args: Seal) -> Result<Outcome, UsageError> {
    let (sealer, binding) = args.keys.sealer()?;
    let plaintext = read_stdin()?;
    match sealer.seal(&plaintext, &binding) {
        Ok(envelope) => {
            write_stdout(format!("{}\n", envelope.to_armor()).as_bytes())?;
            Ok(Outcome::Success)
        }
        Err(err) => failed(err),
    }
}

pub(crate) fn open(args: Open) -> Result<Outcome, UsageError> {
    let (sealer, binding) = args.keys.sealer()?;
    let Some(envelope) = read_envelope()? else {
        return Ok(Outcome::Failed);
    };
    match sealer.open(&envelope, &binding) {
        Ok(plaintext) => {
            write_stdout(plaintext.as_bytes())?;
            Ok(Outcome::Success)
        }
        Err(err) => failed(err),
    }
}

pub(crate) fn rewrap(args: Rewrap) -> Result<Outcome, UsageError> {
    let (sealer, binding) = args.keys.sealer()?;
    let Some(envelope) = read_envelope()? else {
        return Ok(Outcome::Failed);
    };
    match sealer.rewrap(&envelope, &binding) {
        Ok(envelope) => {
            write_stdout(format!("{}\n", envelope.to_armor()).as_bytes())?;
            Ok(Outcome::Success)
        }
        Err(err) => failed(err),
    }
}

pub(crate) fn inspect(_: Inspect) -> Result<Outcome, UsageError> {
    let Some(envelope) = read_envelope()? else {
        return Ok(Outcome::Failed);
    };
    let header = envelope.header();
    write_stdout(
        format!(
            "format: {}\nalgorithm: {} (id {})\nkey version: {}\n",
            header.format_version(),
            header.algorithm(),
            header.algorithm().id(),
            header.key_version()
        )
        .as_bytes(),
    )?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input of every size around the chunk and growth boundaries comes back exactly.
    #[test]
    fn read_all_returns_every_byte() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5, 100_000] {
            let bytes: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let read = read_all(std::io::Cursor::new(&bytes)).unwrap();
            assert_eq!(read.as_slice(), bytes.as_slice(), "{len}");
        }
    }
}
