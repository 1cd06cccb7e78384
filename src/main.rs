//! The `pipeline` binary: parse, dispatch, print the error chain once, exit code.

/// A closed stdout never kills the process (`SIGPIPE` stays ignored, as Rust sets it): progress
/// lines ignore it ([`pipeline::say!`]) so long work finishes, and a command whose output is its
/// result stops on it and ends here quietly, with success, as `| head` expects.
fn main() -> std::process::ExitCode {
    let cli = pipeline::cli::parse();
    match pipeline::cli::dispatch(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if pipeline::output::is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if let Some(stop) = pipeline::interrupt::find(&err) {
                eprintln!("{stop}");
                return std::process::ExitCode::from(pipeline::interrupt::EXIT_CODE);
            }
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::from(1)
        }
    }
}
