//! Text written for people: stdout that tolerates a closed pipe, and number formatting.
//!
//! The process ignores `SIGPIPE` (Rust's default), so a write to a closed stdout returns an
//! error instead of killing the process. Progress and summary lines written while work goes on
//! use [`say!`](crate::say), which never fails: `pipeline train-head … | true` trains to the end.
//! A command whose output *is* its result (`predict`, `info`) may stop early on a closed pipe:
//! `main` ends quietly, with success, on a [`std::io::ErrorKind::BrokenPipe`] error.

use std::io::Write;

/// Writes `text` to stdout; a closed pipe (e.g. `| head`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut lock = std::io::stdout().lock();
    match lock.write_all(text.as_bytes()).and_then(|_| lock.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes one line of progress to stdout, ignoring every error (a closed pipe, a full disk
/// behind a redirection): nobody reading the progress must not stop the work. See [`say!`](crate::say).
pub fn say_line(args: std::fmt::Arguments<'_>) {
    let mut lock = std::io::stdout().lock();
    let _ = lock
        .write_fmt(args)
        .and_then(|_| lock.write_all(b"\n"))
        .and_then(|_| lock.flush());
}

/// `println!` for progress and summaries, which never fails or panics (see [`say_line`]).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::say_line(format_args!($($arg)*))
    };
}

/// Whether `err` (or one of its causes) is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(135_335_076), "135,335,076");
    }
}
