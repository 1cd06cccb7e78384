//! Image files named on a command line or found under folders, for `predict` and `quantize`:
//! walked in name order, hidden entries skipped, special files never opened, loops ended (the
//! link-loop test here is also the dataset scan's).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Every regular file under `paths`, sorted within each folder; hidden entries skipped, special
/// files (FIFOs, sockets, devices) skipped without being opened, each folder visited once (a
/// symbolic-link loop ends), names that are not UTF-8 reported and skipped.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut out, &mut seen)?,
            Ok(m) if m.is_file() => out.push(p.clone()),
            Ok(_) => bail!(
                "{} is not a regular file (a FIFO, socket or device); give image files or folders",
                p.display()
            ),
            Err(_) => bail!(
                "{} does not exist; give image files or folders",
                p.display()
            ),
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<()> {
    let real =
        std::fs::canonicalize(dir).with_context(|| format!("reading folder {}", dir.display()))?;
    if !seen.insert(real.clone()) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading folder {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.file_name().and_then(|n| n.to_str()).is_none() {
            eprintln!("skipped {}: the file name is not UTF-8", p.display());
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => match link_loop(&real, &p) {
                Some(target) => warn_loop(&p, &target),
                None => walk(&p, out, seen)?,
            },
            Ok(m) if m.is_file() => out.push(p),
            Err(_) if p.is_symlink() => out.push(p), // dangling: reported when it fails to load
            _ => {} // FIFOs, sockets, devices, dangling links: never opened
        }
    }
    Ok(())
}

/// BLAKE3 of a file's bytes, 32 hex digits; `unreadable` when it cannot be read (the image is
/// then skipped by the engine with the reason).
pub fn content_hash(path: &std::path::Path) -> String {
    match crate::file_check::hash(path, crate::file_check::MAX_IMAGE) {
        Ok(h) => h[..32].to_string(),
        Err(_) => "unreadable".into(),
    }
}

/// The folder `child` (an entry of the folder whose canonical path is `dir_real`) resolves to,
/// when that is `dir_real` itself or one of its parents: a symbolic-link loop, whose walk would
/// list the same images again under longer and longer names.
pub(crate) fn link_loop(dir_real: &Path, child: &Path) -> Option<PathBuf> {
    if !child.is_symlink() {
        return None;
    }
    let target = std::fs::canonicalize(child).ok()?;
    dir_real.starts_with(&target).then_some(target)
}

/// Names a link loop that a walk did not follow.
pub(crate) fn warn_loop(link: &Path, target: &Path) {
    eprintln!(
        "warning: {} is a symbolic-link loop (it leads back to {}, which contains it); not followed, each image is used once",
        link.display(),
        target.display()
    );
}
