//! `palisade keys`: create, rotate, retire and list the versions of an envelope keyring.

use std::io::Write;
use std::path::PathBuf;

use envelope_crypto::{KeyVersion, Keyring};

use crate::exit::{Outcome, UsageError};

/// Manage envelope keyrings: numbered keys, one primary.
#[derive(Debug, clap::Args)]
pub(crate) struct Keys {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Create a keyring with version 1 as primary: to FILE (mode 0600), or to stdout.
    New {
        /// Write the keyring to this new file instead of stdout; never overwrites.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Add version N+1 as primary; the previous primary becomes decrypt-only.
    Rotate {
        /// The keyring file, rewritten in place.
        #[arg(long, value_name = "FILE")]
        keyring: PathBuf,
    },
    /// Retire version N: envelopes sealed under it no longer open.
    #[command(disable_version_flag = true)]
    Retire {
        /// The keyring file, rewritten in place.
        #[arg(long, value_name = "FILE")]
        keyring: PathBuf,
        /// The version to retire (not the primary).
        #[arg(long, value_name = "N")]
        version: u32,
    },
    /// One line per version: number, state, created. Never key bytes.
    List {
        /// The keyring file.
        #[arg(long, value_name = "FILE")]
        keyring: PathBuf,
    },
}

pub(crate) fn run(keys: Keys) -> Result<Outcome, UsageError> {
    match keys.command {
        KeysCommand::New { out } => {
            let keyring = Keyring::generate().map_err(usage)?;
            match out {
                Some(path) => {
                    keyring.write_new_file(&path).map_err(usage)?;
                    eprintln!("palisade: wrote keyring to {} (mode 0600)", path.display());
                }
                None => write_stdout(keyring.to_text().as_bytes())?,
            }
        }
        KeysCommand::Rotate { keyring: path } => {
            warn_if_shared(&path);
            let version = Keyring::update_file(&path, Keyring::rotate).map_err(usage)?;
            write_stdout(format!("version {version} is now primary\n").as_bytes())?;
        }
        KeysCommand::Retire {
            keyring: path,
            version,
        } => {
            let version = KeyVersion::new(version)
                .ok_or_else(|| UsageError("--version: key versions start at 1".into()))?;
            warn_if_shared(&path);
            Keyring::update_file(&path, |keyring| keyring.retire(version)).map_err(usage)?;
            write_stdout(format!("version {version} is retired\n").as_bytes())?;
        }
        KeysCommand::List { keyring: path } => {
            warn_if_shared(&path);
            let keyring = Keyring::from_file(&path).map_err(usage)?;
            let mut out = String::new();
            for key in keyring.versions() {
                out.push_str(&format!(
                    "{} {} {}\n",
                    key.version,
                    key.state,
                    key.created_rfc3339()
                ));
            }
            write_stdout(out.as_bytes())?;
        }
    }
    Ok(Outcome::Success)
}

/// Warns on stderr when a keyring file is open to group or others (the library logs
/// this through `tracing`, which the CLI does not print).
pub(crate) fn warn_if_shared(path: &std::path::Path) {
    if let Some(mode) = Keyring::shared_file_mode(path) {
        eprintln!(
            "palisade: warning: keyring file {} is open to group or others (mode {mode:o}); \
             chmod 600 it",
            path.display()
        );
    }
}

fn usage(err: envelope_crypto::Error) -> UsageError {
    UsageError(err.to_string())
}

pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), UsageError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| UsageError(format!("writing stdout: {e}")))
}
