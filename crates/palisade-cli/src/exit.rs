//! Exit statuses: 0 success, 1 failed check, 2 usage or configuration error.

use std::fmt;
use std::process::ExitCode;

/// Status for usage and configuration errors.
pub(crate) const USAGE: u8 = 2;

/// How a command that ran to completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Success, or the check passed: exit 0.
    Success,
    /// The check failed or the input did not verify: exit 1. The command has already
    /// said why.
    Failed,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
        }
    }
}

/// A usage or configuration error (exit 2), with a message that says what to fix.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// clap's own status: 0 for `--help` / `--version`, [`USAGE`] for everything else.
pub(crate) fn clap_status(err: &clap::Error) -> u8 {
    if err.use_stderr() { USAGE } else { 0 }
}
