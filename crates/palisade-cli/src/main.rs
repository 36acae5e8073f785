//! `palisade`: operator commands for Palisade's crates.
//!
//! Every command reads its input on stdin and writes its result on stdout. The exit
//! status is part of the interface that scripts rely on:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success, or the check passed (`valid`, `ok`) |
//! | 1 | the check failed (`invalid`), or the input did not verify |
//! | 2 | usage or configuration error (unknown command, bad flag, missing key) |
#![forbid(unsafe_code)]

mod audit;
mod envelope;
mod exit;
mod keys;
mod password;
mod totp;
mod webhook;

use clap::Parser;
use std::process::ExitCode;

use crate::exit::{Outcome, UsageError};

const EXIT_CODES: &str = "\
Exit status:
  0  success, or the check passed (\"valid\", \"ok\")
  1  the check failed (\"invalid\"), or the input did not verify
  2  usage or configuration error";

/// Operator commands for Palisade: keys, envelopes, passwords, TOTP, webhooks, audit logs.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, after_help = EXIT_CODES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The command groups, one per crate.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Envelope keyrings: new, rotate, retire, list.
    Keys(keys::Keys),
    /// Seal stdin into an envelope (one line of text armor) under the primary key.
    Seal(envelope::Seal),
    /// Open an envelope from stdin; the exact plaintext on stdout, exit 1 if it does not open.
    Open(envelope::Open),
    /// Rewrap an envelope from stdin under the primary key; the plaintext is never shown.
    Rewrap(envelope::Rewrap),
    /// Show an envelope's format, algorithm and key version; needs no key.
    Inspect(envelope::Inspect),
    /// Hash, verify and check passwords (argon2id; legacy bcrypt verification).
    Password {
        #[command(subcommand)]
        command: password::PasswordCommand,
    },
    /// TOTP secrets and codes: new, code, verify.
    Totp(totp::TotpArgs),
    /// Tamper-evident audit logs: append, checkpoint, verify, export, query, prove.
    Audit(audit::AuditArgs),
    /// Sign a test webhook, or verify a delivery offline.
    Webhook(webhook::WebhookArgs),
}

fn run(cli: Cli) -> Result<Outcome, UsageError> {
    match cli.command {
        Command::Keys(args) => keys::run(args),
        Command::Seal(args) => envelope::seal(args),
        Command::Open(args) => envelope::open(args),
        Command::Rewrap(args) => envelope::rewrap(args),
        Command::Inspect(args) => envelope::inspect(args),
        Command::Password { command } => password::run(command),
        Command::Totp(args) => totp::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Webhook(args) => webhook::run(args),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version on stdout with status 0, usage errors on
            // stderr with status 2.
            let _ = err.print();
            return ExitCode::from(exit::clap_status(&err));
        }
    };
    match run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            eprintln!("palisade: {err}");
            ExitCode::from(exit::USAGE)
        }
    }
}
