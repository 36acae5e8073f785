//! The `palisade` binary end to end: help, version and exit statuses.

mod support;

use std::process::Output;

use support::stdout;

fn palisade(args: &[&str]) -> Output {
    support::palisade(args, "")
}

#[test]
fn help_documents_the_exit_statuses() {
    let output = palisade(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("Usage: palisade"), "{text}");
    assert!(text.contains("0  success"), "{text}");
    assert!(text.contains("1  the check failed"), "{text}");
    assert!(text.contains("2  usage or configuration error"), "{text}");
}

#[test]
fn version_prints_the_package_version() {
    let output = palisade(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output).trim(),
        format!("palisade {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let output = palisade(&["no-such-command"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-command"));
}

#[test]
fn no_subcommand_is_a_usage_error() {
    assert_eq!(palisade(&[]).status.code(), Some(2));
}
