//! Advisory locks on cache and run directories: `DIR/.lock` holds the writer's pid and command;
//! a second writer is refused at once with the holder named. The lock is the OS's (`flock`), so
//! it vanishes with the process, however it ends; the file's text is only for the message.

use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the lock inside a locked directory.
pub const LOCK_FILE: &str = ".lock";

/// Errors taking a directory lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is in use by another pipeline process ({holder}); wait for it to finish or choose another directory")]
    Busy { dir: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Takes the lock of `dir` (created if needed) without waiting: exclusive, or `shared` for the
/// `extract --shard i/N` workers of one array job, which write disjoint files side by side.
pub fn lock_dir(dir: &Path, shared: bool) -> Result<DirLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let taken = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match taken {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(LockError::Busy {
                dir: dir.to_owned(),
                holder: if holder.is_empty() {
                    "holder unknown".into()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let args: Vec<String> = std::env::args().skip(1).take(3).collect();
    let text = format!("pid {}: pipeline {}", std::process::id(), args.join(" "));
    let _ = file
        .set_len(0)
        .and_then(|()| file.write_all(text.as_bytes()));
    Ok(DirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_naming_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_dir(dir.path(), false).unwrap();
        let err = lock_dir(dir.path(), false).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(lock_dir(dir.path(), true).is_err());
        drop(held);
        let a = lock_dir(dir.path(), true).unwrap();
        let _b = lock_dir(dir.path(), true).unwrap();
        assert!(lock_dir(dir.path(), false).is_err());
        drop(a);
    }
}
