//! `palisade password`: hash, verify and check passwords read on stdin.
//!
//! The password is all of stdin with one trailing newline removed, nothing else: no
//! trimming, no other newline handling. Stdin is read up to a bound (the longest input
//! any command can accept); more is refused as too long, without reading the rest.

use std::io::{ErrorKind, Read, Write};

use passwords::{BcryptCost, Error, Hasher, MAX_PASSWORD_LEN, Policy, Violation};
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
        /// The bcrypt cost, 10 to 16 (default 12); only with --algorithm bcrypt.
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
    let Some(password) = read_password(std::io::stdin())? else {
        // Longer than any command accepts: the answer each would give, without the work.
        return match command {
            PasswordCommand::Check => {
                let reason = Violation::TooLong {
                    max: Policy::new().max_chars(),
                };
                print_lines(&[reason.to_string().as_str()]);
                Ok(Outcome::Failed)
            }
            PasswordCommand::Hash { .. } | PasswordCommand::Verify { .. } => {
                Err(usage(Error::PasswordTooLong {
                    max: MAX_PASSWORD_LEN,
                }))
            }
        };
    };
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
                Some(n) if n > MAX_BCRYPT_COST => {
                    return Err(UsageError(format!(
                        "--bcrypt-cost {n}: at most {MAX_BCRYPT_COST}, the highest cost \
                         `palisade password verify` checks"
                    )));
                }
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

/// The highest bcrypt cost `hash` makes: the default verify limit of the `passwords`
/// crate, so that `verify` checks every hash `hash` prints.
const MAX_BCRYPT_COST: u32 = 16;

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

/// The most bytes of stdin read: the longest password the hasher considers before
/// normalizing it (four times [`MAX_PASSWORD_LEN`]), plus one trailing newline.
const STDIN_LIMIT: usize = 4 * MAX_PASSWORD_LEN + 1;

/// Every read offers at least this much room. Reads at least as large as std's stdin
/// buffer (8 KiB) bypass it, so the password lands only in the zeroized buffer.
const READ_CHUNK: usize = 8 * 1024;

/// All of `input`, less one trailing `\n`; `None` when it holds more than [`STDIN_LIMIT`]
/// bytes (the rest is left unread).
///
/// The buffer is allocated once, at its full size, and zeroized on drop. It never grows:
/// a growing `Vec` (`read_to_end`) moves its contents and frees the old blocks without
/// zeroizing them, leaving copies of the password on the heap.
fn read_password(mut input: impl Read) -> Result<Option<Zeroizing<Vec<u8>>>, UsageError> {
    let mut buf = Zeroizing::new(vec![0u8; STDIN_LIMIT + READ_CHUNK]);
    let mut len = 0;
    while len <= STDIN_LIMIT {
        let Some(room) = buf.get_mut(len..) else {
            break;
        };
        match input.read(room) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(UsageError(format!("reading the password from stdin: {e}")));
            }
        }
    }
    if len > STDIN_LIMIT {
        return Ok(None);
    }
    // Shortening keeps the allocation (and its zeroizing) as it is.
    buf.truncate(len);
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(Some(buf))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(7);
            let (now, later) = self.0.split_at(n);
            buf[..n].copy_from_slice(now);
            self.0 = later;
            Ok(n)
        }
    }

    #[test]
    fn one_trailing_newline_is_removed() {
        let read = |bytes: &[u8]| read_password(bytes).unwrap().unwrap().to_vec();
        assert_eq!(read(b"pw\n"), b"pw");
        assert_eq!(read(b"pw\n\n"), b"pw\n");
        assert_eq!(read(b"pw\r\n"), b"pw\r");
        assert_eq!(read(b""), b"");
    }

    #[test]
    fn the_buffer_never_grows_so_no_unzeroized_copy_is_left() {
        let long = vec![b'x'; STDIN_LIMIT - 1];
        let password = read_password(Trickle(&long)).unwrap().unwrap();
        assert_eq!(*password, long);
        // Still the one allocation made up front: nothing was moved and freed.
        assert_eq!(password.capacity(), STDIN_LIMIT + READ_CHUNK);
    }

    #[test]
    fn stdin_is_bounded() {
        let just_fits = vec![b'x'; STDIN_LIMIT];
        assert!(read_password(just_fits.as_slice()).unwrap().is_some());
        let over = vec![b'x'; STDIN_LIMIT + 1];
        assert!(read_password(over.as_slice()).unwrap().is_none());
        // An endless stdin ends in "too long", not in memory exhaustion.
        assert!(read_password(std::io::repeat(b'x')).unwrap().is_none());
    }
}
