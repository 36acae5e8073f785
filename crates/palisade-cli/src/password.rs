//! `palisade password`: hash, verify and check passwords read on stdin.
//!
//! The password is all of stdin with one trailing newline removed, nothing else: no
//! trimming, no other newline handling.

use std::io::{Read, Write};

use passwords::{BcryptCost, Error, Hasher, Policy};
use zeroize::Zeroizing;

use crate::exit::{Outcome, UsageError};

/// Hash, verify and check passwords (the password is read on stdin).
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PasswordCommand {
    /// Hash the password and print the hash string.
    Hash {
        /// The hashing function: argon2id (m=19456 KiB, t=2, p=1) or bcrypt ($2b$).
        #[arg(long, value_enum, default_value_t = Algorithm::Argon2id)]
        algorithm: Algorithm,
        /// The bcrypt cost, 10 to 31 (default 12); only with --algorithm bcrypt.
        #[arg(long, value_name = "N")]
        bcrypt_cost: Option<u32>,
    },
    /// Verify the password against a stored hash: print "valid" (and "needs-rehash" when
    /// the hash is weaker than argon2id at m=19456, t=2), or "invalid" and exit 1.
    Verify {
        /// The stored hash string: argon2 PHC or bcrypt $2a$/$2b$/$2y$.
        #[arg(long, value_name = "HASH")]
        hash: String,
    },
    /// Check the password against the policy (8 to 128 characters, not a common
    /// password): print "ok", or one reason per line and exit 1.
    Check,
}

/// The `--algorithm` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Algorithm {
    /// Argon2id at the OWASP minimum.
    Argon2id,
    /// bcrypt, for systems that can only read bcrypt.
    Bcrypt,
}

/// Runs one `palisade password` command.
pub(crate) fn run(command: PasswordCommand) -> Result<Outcome, UsageError> {
    let password = read_password()?;
    match command {
        PasswordCommand::Hash {
            algorithm,
            bcrypt_cost,
        } => hash(&password, algorithm, bcrypt_cost),
        PasswordCommand::Verify { hash } => verify(&password, &hash),
        PasswordCommand::Check => Ok(check(&password)),
    }
}

fn hash(
    password: &[u8],
    algorithm: Algorithm,
    bcrypt_cost: Option<u32>,
) -> Result<Outcome, UsageError> {
    let builder = match (algorithm, bcrypt_cost) {
        (Algorithm::Argon2id, Some(_)) => {
            return Err(UsageError(
                "--bcrypt-cost only applies to --algorithm bcrypt".to_owned(),
            ));
        }
        (Algorithm::Argon2id, None) => Hasher::builder(),
        (Algorithm::Bcrypt, cost) => {
            let cost = match cost {
                Some(n) => BcryptCost::new(n).map_err(usage)?,
                None => BcryptCost::DEFAULT,
            };
            Hasher::builder().bcrypt(cost)
        }
    };
    let hasher = builder.build().map_err(usage)?;
    let hash = hasher.hash(password).map_err(usage)?;
    print_lines(&[hash.as_str()]);
    Ok(Outcome::Success)
}

fn verify(password: &[u8], stored: &str) -> Result<Outcome, UsageError> {
    let hasher = Hasher::new().map_err(usage)?;
    match hasher.verify(password, stored) {
        Ok(verified) if verified.needs_rehash() => {
            print_lines(&["valid", "needs-rehash"]);
            Ok(Outcome::Success)
        }
        Ok(_) => {
            print_lines(&["valid"]);
            Ok(Outcome::Success)
        }
        Err(Error::Invalid) => {
            print_lines(&["invalid"]);
            Ok(Outcome::Failed)
        }
        Err(err) => Err(usage(err)),
    }
}

fn check(password: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(password) else {
        print_lines(&["not valid UTF-8: a password must be text"]);
        return Outcome::Failed;
    };
    match Policy::new().check(text) {
        Ok(()) => {
            print_lines(&["ok"]);
            Outcome::Success
        }
        Err(reasons) => {
            let lines: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            print_lines(&lines);
            Outcome::Failed
        }
    }
}

/// All of stdin, less one trailing `\n`.
fn read_password() -> Result<Zeroizing<Vec<u8>>, UsageError> {
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| UsageError(format!("reading the password from stdin: {e}")))?;
    if input.last() == Some(&b'\n') {
        input.pop();
    }
    Ok(input)
}

fn print_lines(lines: &[&str]) {
    let mut out = std::io::stdout().lock();
    for line in lines {
        // A closed stdout (`| head -0`) is not worth a panic; the status still tells.
        let _ = writeln!(out, "{line}");
    }
}

fn usage(err: Error) -> UsageError {
    UsageError(err.to_string())
}
