//! `palisade audit`: keep a tamper-evident audit log on disk, sign checkpoints, verify a
//! log or an export offline, query it and prove entries.

use std::io::{BufRead, BufReader, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use audit_chain::{
    ActionFilter, AuditLog, Checkpoint, Error, Event, FileStore, Query, SigningKey, Store,
    TenantId, Timestamp, Verified, Verifier, VerifyingKey,
};

use crate::exit::{Outcome, UsageError};

/// The signed-note key name `keygen` gives new keys.
const KEY_NAME: &str = "palisade-audit";
/// Events appended per write and flush.
const APPEND_BATCH: usize = 1000;

/// Tamper-evident audit logs: RFC 6962 Merkle trees with signed checkpoints.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Generate an Ed25519 checkpoint signing key (mode 0600); the public key goes to FILE.pub.
    Keygen {
        /// Where to write the signing key; must not exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Append events read from stdin (JSON Lines, one event per line); print "index N" per event.
    #[command(
        long_about = "Append events read from stdin, one JSON object per line: \
        tenant, actor and action are required; target, ip, user_agent, outcome \
        (success, failure, denied) and details (an object) are optional. Prints \"index N\" \
        for each appended event, once it is on disk. A bad line is reported with its line \
        number on stderr and skipped; every good line is appended; the exit status is then 1."
    )]
    Append {
        /// The log directory (created if missing).
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
    },
    /// Sign a checkpoint of the current tree, store it in the log, print it.
    Checkpoint {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// The signing key written by `keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[command(flatten)]
        tenant: TenantArg,
    },
    // The help text is an attribute, not a doc comment: it shows the output's
    // placeholders in angle brackets.
    #[command(
        about = "Verify the whole log; print \"ok <size> <root base64>\" (exit 0) or \"invalid: <reason>\" (exit 1)"
    )]
    Verify {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// The public key (FILE.pub from `keygen`): checkpoint signatures are checked too.
        #[arg(long, value_name = "FILE.pub")]
        public_key: Option<PathBuf>,
        /// A checkpoint accepted before: a log that is not consistent with it is invalid.
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        trusted: Option<PathBuf>,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Write the log as JSON Lines: each line is exactly one entry's leaf bytes, in log order.
    Export {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// Where to write the export; stdout when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Verify an export offline against a signed checkpoint; output and exit status as verify.
    VerifyExport {
        /// The export written by `export`.
        #[arg(long, value_name = "FILE")]
        export: PathBuf,
        /// The signed checkpoint covering exactly the export's entries.
        #[arg(long, value_name = "FILE")]
        checkpoint: PathBuf,
        /// The log's public key.
        #[arg(long, value_name = "FILE.pub")]
        public_key: PathBuf,
        /// A checkpoint accepted before: an export that is not consistent with it is invalid.
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        trusted: Option<PathBuf>,
    },
    /// Print matching entries as JSON Lines, newest first.
    Query {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// Only this tenant (default: every tenant in the directory, one after another).
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Only this actor.
        #[arg(long, value_name = "A")]
        actor: Option<String>,
        /// Only this action code or the codes below it (auth.login matches auth.login.failed).
        #[arg(long, value_name = "CODE_OR_PREFIX")]
        action: Option<String>,
        /// Only entries recorded at or after this time.
        #[arg(long, value_name = "RFC3339")]
        since: Option<String>,
        /// Only entries recorded before this time.
        #[arg(long, value_name = "RFC3339")]
        until: Option<String>,
        /// At most this many entries per tenant.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u32,
    },
    /// Print an inclusion proof as JSON: {"leafIdx","treeSize","root","leafHash","proof"}.
    Prove {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// The entry's index.
        #[arg(long, value_name = "N")]
        index: u64,
        /// The tree size to prove against (default: the current size).
        #[arg(long, value_name = "M")]
        size: Option<u64>,
        #[command(flatten)]
        tenant: TenantArg,
    },
}

/// Which tenant's log, when the directory holds several.
#[derive(Debug, clap::Args)]
struct TenantArg {
    /// The tenant whose log to use; needed only when the directory holds several.
    #[arg(long = "tenant", value_name = "T")]
    name: Option<String>,
}

pub(crate) fn run(args: AuditArgs) -> Result<Outcome, UsageError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        match args.command {
            AuditCommand::Keygen { out } => keygen(&out),
            AuditCommand::Append { log } => append(&log).await,
            AuditCommand::Checkpoint { log, key, tenant } => checkpoint(&log, &key, tenant).await,
            AuditCommand::Verify {
                log,
                public_key,
                trusted,
                tenant,
            } => verify(&log, public_key.as_deref(), trusted.as_deref(), tenant).await,
            AuditCommand::Export { log, out, tenant } => export(&log, out.as_deref(), tenant).await,
            AuditCommand::VerifyExport {
                export,
                checkpoint,
                public_key,
                trusted,
            } => verify_export(&export, &checkpoint, &public_key, trusted.as_deref()),
            AuditCommand::Query {
                log,
                tenant,
                actor,
                action,
                since,
                until,
                limit,
            } => {
                let filters = Filters {
                    tenant,
                    actor,
                    action,
                    since,
                    until,
                    limit,
                };
                query(&log, filters).await
            }
            AuditCommand::Prove {
                log,
                index,
                size,
                tenant,
            } => prove(&log, index, size, tenant).await,
        }
    })
}

fn read_text(path: &Path, what: &str) -> Result<String, UsageError> {
    std::fs::read_to_string(path).map_err(|e| UsageError(format!("{what} {}: {e}", path.display())))
}

fn usage(err: Error) -> UsageError {
    UsageError(err.to_string())
}

fn keygen(out: &Path) -> Result<Outcome, UsageError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let key = SigningKey::generate(KEY_NAME).map_err(usage)?;
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| UsageError(format!("key file {}: {e}", out.display())))?;
    file.write_all(format!("{}\n", key.to_text().as_str()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| UsageError(format!("key file {}: {e}", out.display())))?;
    let public = key.verifying_key().to_text();
    std::fs::write(&pub_path, format!("{public}\n"))
        .map_err(|e| UsageError(format!("public key file {}: {e}", pub_path.display())))?;
    println!("{public}");
    Ok(Outcome::Success)
}

fn open_writer(dir: &Path) -> Result<AuditLog<FileStore>, UsageError> {
    let store = FileStore::open(dir).map_err(usage)?;
    AuditLog::builder(store).build().map_err(usage)
}

fn open_reader(dir: &Path) -> Result<FileStore, UsageError> {
    if !dir.is_dir() {
        return Err(UsageError(format!("no audit log at {}", dir.display())));
    }
    FileStore::open_read_only(dir).map_err(usage)
}

/// The tenant named by `--tenant`, or the only tenant in the store.
async fn pick_tenant<S: Store>(
    store: &S,
    dir: &Path,
    arg: TenantArg,
) -> Result<TenantId, UsageError> {
    if let Some(name) = arg.name {
        return TenantId::new(name).map_err(usage);
    }
    let tenants = store.tenants().await.map_err(usage)?;
    match tenants.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(UsageError(format!("no audit log at {}", dir.display()))),
        several => Err(UsageError(format!(
            "{} holds the logs of several tenants ({}): choose one with --tenant",
            dir.display(),
            several
                .iter()
                .map(TenantId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

async fn append(dir: &Path) -> Result<Outcome, UsageError> {
    let log = open_writer(dir)?;
    // Our own buffer over stdin, so we can tell when no more input is waiting.
    let mut input = BufReader::new(std::io::stdin());
    let mut stdout = std::io::stdout().lock();
    let mut pending: Vec<Event> = Vec::new();
    let mut rejected = 0usize;
    let mut line = Vec::new();
    for number in 1usize.. {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) => {
                flush(&log, &mut pending, &mut stdout).await?;
                return Err(UsageError(format!("reading stdin at line {number}: {err}")));
            }
        }
        match Event::from_json(&line) {
            Ok(event) => {
                let same_tenant = pending
                    .first()
                    .is_none_or(|p| p.tenant_id() == event.tenant_id());
                if !same_tenant || pending.len() >= APPEND_BATCH {
                    flush(&log, &mut pending, &mut stdout).await?;
                }
                pending.push(event);
            }
            Err(err) => {
                eprintln!("line {number}: rejected: {err}");
                rejected += 1;
            }
        }
        // Input that trickles in is written as it arrives, not held for a full batch.
        if input.buffer().is_empty() {
            flush(&log, &mut pending, &mut stdout).await?;
        }
    }
    flush(&log, &mut pending, &mut stdout).await?;
    if rejected > 0 {
        eprintln!("{rejected} line(s) rejected; every other line was appended");
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

async fn flush(
    log: &AuditLog<FileStore>,
    pending: &mut Vec<Event>,
    stdout: &mut impl Write,
) -> Result<(), UsageError> {
    if pending.is_empty() {
        return Ok(());
    }
    let receipts = log
        .append_batch(std::mem::take(pending))
        .await
        .map_err(|e| UsageError(format!("append failed: {e}")))?;
    for receipt in receipts {
        writeln!(stdout, "index {}", receipt.index)
            .map_err(|e| UsageError(format!("stdout: {e}")))?;
    }
    stdout
        .flush()
        .map_err(|e| UsageError(format!("stdout: {e}")))
}

async fn checkpoint(dir: &Path, key: &Path, tenant: TenantArg) -> Result<Outcome, UsageError> {
    let key = SigningKey::from_text(&read_text(key, "key file")?).map_err(usage)?;
    let store = FileStore::open(dir).map_err(usage)?;
    let tenant = pick_tenant(&store, dir, tenant).await?;
    let log = AuditLog::builder(store)
        .signer(key)
        .build()
        .map_err(usage)?;
    match log.checkpoint(&tenant).await {
        Ok(signed) => {
            print!("{signed}");
            Ok(Outcome::Success)
        }
        Err(err @ (Error::Verification(_) | Error::Damaged { .. })) => {
            println!("invalid: {err}");
            Ok(Outcome::Failed)
        }
        Err(err) => Err(usage(err)),
    }
}

fn trusted_checkpoint(
    path: Option<&Path>,
    key: Option<&VerifyingKey>,
) -> Result<Option<Checkpoint>, UsageError> {
    let Some(path) = path else { return Ok(None) };
    let note = read_text(path, "trusted checkpoint")?;
    let checkpoint = match key {
        Some(key) => {
            audit_chain::SignedCheckpoint::verify(&note, key).map(|s| s.checkpoint().clone())
        }
        None => Checkpoint::from_note_unverified(&note),
    };
    checkpoint.map(Some).map_err(|_| {
        UsageError(format!(
            "trusted checkpoint {}: not a valid signed checkpoint",
            path.display()
        ))
    })
}

fn report(result: Result<Verified, Error>) -> Result<Outcome, UsageError> {
    match result {
        Ok(verified) => {
            println!("ok {} {}", verified.size, verified.root);
            Ok(Outcome::Success)
        }
        Err(err @ (Error::Config(_) | Error::Input(_))) => Err(usage(err)),
        Err(err) => {
            println!("invalid: {err}");
            Ok(Outcome::Failed)
        }
    }
}

async fn verify(
    dir: &Path,
    public_key: Option<&Path>,
    trusted: Option<&Path>,
    tenant: TenantArg,
) -> Result<Outcome, UsageError> {
    let key = match public_key {
        Some(path) => {
            Some(VerifyingKey::from_text(&read_text(path, "public key")?).map_err(usage)?)
        }
        None => None,
    };
    let trusted = trusted_checkpoint(trusted, key.as_ref())?;
    // A pinned checkpoint names its log: with one, a log that is gone is a rollback to
    // nothing (exit 1), not a usage error, and its origin names the tenant.
    if let Some(pinned) = &trusted
        && pinned.size() > 0
        && !dir.is_dir()
    {
        println!(
            "invalid: rolled back: no log at {}, and the trusted checkpoint covers {} entries",
            dir.display(),
            pinned.size()
        );
        return Ok(Outcome::Failed);
    }
    let store = open_reader(dir)?;
    let pinned_tenant = trusted.as_ref().and_then(|pinned| {
        pinned
            .origin()
            .strip_prefix(audit_chain::DEFAULT_ORIGIN_PREFIX)
            .and_then(|rest| rest.strip_prefix('/'))
    });
    let tenant = match (&tenant.name, pinned_tenant) {
        (None, Some(name)) => TenantId::new(name).map_err(usage)?,
        _ => pick_tenant(&store, dir, tenant).await?,
    };
    let signed = key.is_some();
    let mut verifier = key.map_or_else(Verifier::new, Verifier::with_key);
    if let Some(trusted) = trusted {
        verifier = verifier.pin(trusted);
    }
    let result = verifier.verify_log(&store, &tenant).await;
    if let Ok(verified) = &result {
        note_unsigned_entries(verified, signed);
    }
    report(result)
}

/// With a public key, says on stderr how much of the log no signed checkpoint covers:
/// those entries are checked for consistency only, and whoever can write the directory
/// could have written them (the answer is still `ok`: a log is never signed up to its
/// last entry between checkpoints).
fn note_unsigned_entries(verified: &Verified, signed: bool) {
    let covered = verified
        .checkpoint
        .as_ref()
        .map_or(0, |newest| newest.checkpoint().size());
    if signed && covered < verified.size {
        eprintln!(
            "note: a signed checkpoint covers {covered} of the {} entries; the last {} are not signed yet",
            verified.size,
            verified.size - covered
        );
    }
}

async fn export(dir: &Path, out: Option<&Path>, tenant: TenantArg) -> Result<Outcome, UsageError> {
    let store = open_reader(dir)?;
    let tenant = pick_tenant(&store, dir, tenant).await?;
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| UsageError(format!("export file {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let write_err = |e: std::io::Error| UsageError(format!("writing the export: {e}"));
    let mut from = 0;
    loop {
        let leaves = match store.read(&tenant, from, 4096).await {
            Ok(leaves) => leaves,
            Err(err @ (Error::Verification(_) | Error::Damaged { .. })) => {
                println!("invalid: {err}");
                return Ok(Outcome::Failed);
            }
            Err(err) => return Err(usage(err)),
        };
        if leaves.is_empty() {
            break;
        }
        from += leaves.len() as u64;
        for leaf in leaves {
            sink.write_all(&leaf).map_err(write_err)?;
            sink.write_all(b"\n").map_err(write_err)?;
        }
    }
    sink.flush().map_err(write_err)?;
    Ok(Outcome::Success)
}

fn verify_export(
    export: &Path,
    checkpoint: &Path,
    public_key: &Path,
    trusted: Option<&Path>,
) -> Result<Outcome, UsageError> {
    let key = VerifyingKey::from_text(&read_text(public_key, "public key")?).map_err(usage)?;
    let note = read_text(checkpoint, "checkpoint")?;
    let trusted = trusted_checkpoint(trusted, Some(&key))?;
    let file = std::fs::File::open(export)
        .map_err(|e| UsageError(format!("export {}: {e}", export.display())))?;
    let mut verifier = Verifier::with_key(key);
    if let Some(trusted) = trusted {
        verifier = verifier.pin(trusted);
    }
    report(verifier.verify_export(BufReader::with_capacity(1 << 20, file), &note))
}

struct Filters {
    tenant: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: u32,
}

async fn query(dir: &Path, filters: Filters) -> Result<Outcome, UsageError> {
    let store = open_reader(dir)?;
    let tenants = match filters.tenant {
        Some(name) => vec![TenantId::new(name).map_err(usage)?],
        None => store.tenants().await.map_err(usage)?,
    };
    let limit = NonZeroU32::new(filters.limit)
        .ok_or_else(|| UsageError("--limit: must be at least 1".into()))?;
    let since = filters
        .since
        .as_deref()
        .map(Timestamp::parse_rfc3339)
        .transpose()
        .map_err(usage)?;
    let until = filters
        .until
        .as_deref()
        .map(Timestamp::parse_rfc3339)
        .transpose()
        .map_err(usage)?;
    let mut stdout = std::io::stdout().lock();
    for tenant in tenants {
        let mut query = Query::new(tenant);
        if let Some(actor) = &filters.actor {
            query = query.actor(actor.clone());
        }
        if let Some(action) = &filters.action {
            query = query.action(ActionFilter::Prefix(action.clone()));
        }
        if let Some(since) = since {
            query = query.since(since);
        }
        if let Some(until) = until {
            query = query.until(until);
        }
        let mut remaining = filters.limit;
        query = query.limit(limit);
        while remaining > 0 {
            let page = match store.query(&query).await {
                Ok(page) => page,
                Err(err @ (Error::Damaged { .. } | Error::Invalid | Error::Verification(_))) => {
                    println!("invalid: {err}");
                    return Ok(Outcome::Failed);
                }
                Err(err) => return Err(usage(err)),
            };
            for entry in page.entries.iter().take(remaining as usize) {
                stdout
                    .write_all(&entry.to_leaf_bytes())
                    .and_then(|()| stdout.write_all(b"\n"))
                    .map_err(|e| UsageError(format!("stdout: {e}")))?;
                remaining -= 1;
            }
            match page.next {
                Some(cursor) => query = query.after(cursor),
                None => break,
            }
        }
    }
    Ok(Outcome::Success)
}

async fn prove(
    dir: &Path,
    index: u64,
    size: Option<u64>,
    tenant: TenantArg,
) -> Result<Outcome, UsageError> {
    let store = open_reader(dir)?;
    let tenant = pick_tenant(&store, dir, tenant).await?;
    let log = AuditLog::builder(store).build().map_err(usage)?;
    let evidence = match log.prove(&tenant, index, size).await {
        Ok(evidence) => evidence,
        Err(err @ (Error::Verification(_) | Error::Damaged { .. })) => {
            println!("invalid: {err}");
            return Ok(Outcome::Failed);
        }
        Err(err) => return Err(usage(err)),
    };
    let json = serde_json::json!({
        "leafIdx": evidence.proof.leaf_index,
        "treeSize": evidence.proof.tree_size,
        "root": evidence.root.to_base64(),
        "leafHash": evidence.leaf_hash.to_base64(),
        "proof": evidence.proof.hashes.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
    });
    println!("{json}");
    Ok(Outcome::Success)
}
