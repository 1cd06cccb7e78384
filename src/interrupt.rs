//! Ctrl-C as a request to stop cleanly: while a [`Catch`] lives, the first SIGINT only sets a
//! flag that long loops poll ([`requested`]); they save what they computed and return
//! [`Interrupted`], which `main` prints as one line and turns into exit code 130. The handler
//! resets itself on delivery, so a second Ctrl-C ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code of a process stopped by SIGINT (128 + 2), as shells report it.
pub const EXIT_CODE: u8 = 130;

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// SIGINT is caught while this lives; dropping it restores the previous disposition.
pub struct Catch {
    previous: libc::sigaction,
}

/// Starts catching SIGINT (see the module doc).
pub fn catch() -> Catch {
    REQUESTED.store(false, Ordering::SeqCst);
    // SAFETY: plain sigaction calls with zero-initialised structs; the handler only stores an
    // atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, &action, &mut previous);
        Catch { previous }
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        // SAFETY: restores the disposition saved by `catch`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

/// Whether Ctrl-C was pressed since [`catch`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// A command stopped by Ctrl-C after saving its work; the message says what was kept and how to
/// resume.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// The [`Interrupted`] in `err`'s chain, if any.
pub fn find(err: &anyhow::Error) -> Option<&(dyn std::error::Error + 'static)> {
    err.chain().find(|e| e.is::<Interrupted>())
}

/// The command line of this process, quoted for a POSIX shell: rerunning it resumes.
pub fn this_command() -> String {
    std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a` as one shell word: unchanged when it holds only safe characters, else single-quoted.
fn shell_quote(a: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !a.is_empty() && a.chars().all(safe) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("work/photo-1.jpg"), "work/photo-1.jpg");
        assert_eq!(shell_quote("my photos"), "'my photos'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
