//! The `pipeline` binary: parse, dispatch, print the error chain once, exit code.

use clap::Parser;
use pipeline::cli::Cli;

fn main() -> std::process::ExitCode {
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
