//! Files that are either complete or absent: bytes go to a hidden temporary sibling
//! (`.NAME.HOST-PID-N.tmp`), are flushed to disk, and are renamed over `NAME`; on any error the
//! temporary is removed, so no `*.tmp` is left behind and `NAME` keeps its old content. The host
//! name and a per-process counter keep writers apart on a shared filesystem, where containers of
//! different machines often have the same PID.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary sibling `write_file` uses for `path`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_owned());
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tmp.push(format!(".{}-{}-{n}.tmp", host(), std::process::id()));
    path.with_file_name(tmp)
}

/// This machine's name (file-name safe), `host` when unknown.
fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let safe: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    if safe.is_empty() {
        "host".into()
    } else {
        safe
    }
}

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename).
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A file [`write_file`] or [`write_json`] could not write, with the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}", path = path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes `value` as pretty JSON to `path` atomically (as [`write_file`]), creating its folder:
/// the one JSON writer of the crate.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_vec_pretty(value).map_err(|e| err(std::io::Error::other(e)))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    write_file(path, &text).map_err(err)
}

/// Removes temporary siblings (`.*.tmp`) left in `dir` by a killed process.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let bad = dir.path().join("missing/b.json");
        assert!(write_file(&bad, b"x").is_err());
        std::fs::write(dir.path().join(".x.1.tmp"), b"partial").unwrap();
        remove_stale_temps(dir.path());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn writes_json_into_a_new_folder_and_names_the_path_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.json");
        write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back["a"], 1);
        let blocked = p.join("b.json");
        let err = write_json(&blocked, &1).unwrap_err().to_string();
        assert!(err.contains("a.json/b.json"), "{err}");
    }
}
