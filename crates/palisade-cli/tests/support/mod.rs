//! Runs the `palisade` binary for the end-to-end tests.
// Each test binary uses its own part of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `palisade` with `args` and `stdin` as its whole input.
pub fn palisade(args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    palisade_with(args, stdin, |_| {})
}

/// Runs `palisade` with `args` and `stdin`, after `setup` has adjusted the command (its
/// environment, say).
pub fn palisade_with(
    args: &[&str],
    stdin: impl AsRef<[u8]>,
    setup: impl FnOnce(&mut Command),
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    setup(&mut command);
    let mut child = command.spawn().expect("run palisade");
    // A command that fails before reading its input (a usage error, say) closes the pipe
    // early; any other failure to write is the test's.
    let written = child.stdin.take().expect("stdin").write_all(stdin.as_ref());
    if let Err(err) = written {
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe,
            "write stdin: {err}"
        );
    }
    child.wait_with_output().expect("wait for palisade")
}

/// Standard output, which for every text command must be UTF-8.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

/// Standard error, lossily: for messages in assertions.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
