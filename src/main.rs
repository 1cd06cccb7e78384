//! The `pipeline` binary: parse, dispatch, print the error chain once, exit code.

use clap::Parser;
use pipeline::cli::Cli;

/// A closed stdout (`pipeline … | head`) ends the process quietly, as it does other Unix tools,
/// instead of a `failed printing to stdout` panic.
fn quiet_on_closed_pipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    match pipeline::cli::dispatch(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::from(1)
        }
    }
}
