//! `example-server`: not built yet; see `examples/server/README.md`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("example-server is not built yet: see examples/server/README.md");
    ExitCode::from(2)
}
