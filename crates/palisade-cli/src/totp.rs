//! `palisade totp`: make a TOTP secret, print a code, check a code.

use std::time::{SystemTime, UNIX_EPOCH};

use mfa::{
    Algorithm, OsRandom, OtpAuthUri, TotpCode, TotpParams, TotpSecret, qr_svg, totp_check,
    totp_code,
};

use crate::exit::{Outcome, UsageError};

/// TOTP (RFC 6238) secrets and codes, as authenticator apps use them.
#[derive(Debug, clap::Args)]
pub(crate) struct TotpArgs {
    #[command(subcommand)]
    command: TotpCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TotpCommand {
    /// Make a random 160-bit secret; print it in base32 and the otpauth:// URI.
    New(NewArgs),
    /// Print the code for a secret at a time (now by default).
    Code(CodeArgs),
    /// Check a code: "valid" (exit 0) or "invalid" (exit 1).
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// The issuer shown in the authenticator app.
    #[arg(long)]
    issuer: String,
    /// The account name shown in the authenticator app.
    #[arg(long)]
    account: String,
    /// Also write the URI as a QR code (SVG) to this file (mode 0600: it holds the secret).
    #[arg(long, value_name = "FILE.svg")]
    qr: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
struct Params {
    /// The secret in base32 (RFC 4648; padding optional, case-insensitive).
    #[arg(long, value_name = "BASE32")]
    secret: String,
    /// The HMAC algorithm.
    #[arg(long, default_value = "sha1",
          value_parser = clap::builder::PossibleValuesParser::new(["sha1", "sha256", "sha512"]))]
    algorithm: String,
    /// Digits per code.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(6..=8))]
    digits: u8,
    /// Seconds per time step.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    period: u64,
    /// The Unix time to use instead of now.
    #[arg(long, value_name = "UNIX")]
    time: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct CodeArgs {
    #[command(flatten)]
    params: Params,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    params: Params,
    /// The code to check.
    #[arg(long)]
    code: String,
    /// Steps accepted either side of the time step.
    #[arg(long, default_value_t = 1, value_name = "STEPS",
          value_parser = clap::value_parser!(u8).range(0..=10))]
    skew: u8,
}

pub(crate) fn run(args: TotpArgs) -> Result<Outcome, UsageError> {
    match args.command {
        TotpCommand::New(args) => new(args),
        TotpCommand::Code(args) => code(args),
        TotpCommand::Verify(args) => verify(args),
    }
}

fn usage(err: mfa::Error) -> UsageError {
    UsageError(err.to_string())
}

fn new(args: NewArgs) -> Result<Outcome, UsageError> {
    let secret = TotpSecret::generate(&OsRandom).map_err(usage)?;
    let base32 = secret.to_base32();
    let uri = OtpAuthUri::new(&args.issuer, &args.account, secret, TotpParams::default())
        .map_err(usage)?
        .to_uri();
    if let Some(path) = &args.qr {
        let svg = qr_svg(&uri).map_err(usage)?;
        write_private(path, svg.as_bytes())
            .map_err(|e| UsageError(format!("writing {}: {e}", path.display())))?;
    }
    println!("{}", base32.as_str());
    println!("{}", uri.as_str());
    Ok(Outcome::Success)
}

/// Writes the QR code (it holds the secret) readable by its owner only: a new file is
/// made with mode 0600, an existing one is set to 0600 before anything is written to
/// it, and a symbolic link is refused rather than followed to wherever it points.
#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other(
            "it is a symbolic link; name the file itself",
        ));
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

fn parse(params: &Params) -> Result<(TotpSecret, TotpParams, u64), UsageError> {
    let secret = TotpSecret::from_base32(&params.secret).map_err(usage)?;
    let algorithm: Algorithm = params.algorithm.parse().map_err(usage)?;
    let totp = TotpParams::new(algorithm, params.digits, params.period).map_err(usage)?;
    let time = match params.time {
        Some(time) => time,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| UsageError("the system clock is before 1970".into()))?
            .as_secs(),
    };
    Ok((secret, totp, time))
}

fn code(args: CodeArgs) -> Result<Outcome, UsageError> {
    let (secret, params, time) = parse(&args.params)?;
    println!("{}", totp_code(&secret, &params, time));
    Ok(Outcome::Success)
}

fn verify(args: VerifyArgs) -> Result<Outcome, UsageError> {
    let (secret, params, time) = parse(&args.params)?;
    // A code that is not digits, or has the wrong length, simply does not verify.
    let valid = TotpCode::parse(&args.code, params.digits())
        .ok()
        .and_then(|code| totp_check(&secret, &params, &code, time, args.skew))
        .is_some();
    if valid {
        println!("valid");
        Ok(Outcome::Success)
    } else {
        println!("invalid");
        Ok(Outcome::Failed)
    }
}
