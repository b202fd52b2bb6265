//! The `volley` command line: parses the arguments and dispatches to the commands
//! (`cli/`, one module each).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Output piped into `head` ends the process quietly, as for any Unix tool, instead of
    // a panic on the next print (Rust ignores SIGPIPE by default).
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // A file growing past `ulimit -f` is then a write error that volley reports and
    // recovers from, not a signal that kills it with a half-written file.
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let cli = cli::Cli::parse();
    #[cfg(feature = "gpu")]
    if matches!(cli.command, cli::Command::Run(_) | cli::Command::Check(_) | cli::Command::Plan(_)) {
        cli::ensure_runtime_dir();
    }
    let mut rank = 0;
    match cli::dispatch(cli.command, &mut rank) {
        Ok(code) => code,
        Err(e) => ExitCode::from(cli::report(e, rank).exit_code() as u8),
    }
}
