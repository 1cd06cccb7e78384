//! The cache directory `extract` writes into: reuse it when current, resume it when interrupted,
//! verify its shards (recomputing damaged ones), refuse or wipe (`--force`) one made from other inputs.

use super::ExtractReport;
use crate::cache::{self, CacheSpec, Manifest};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Checks an existing directory against the spec. Returns a report when the cache is already
/// complete and current; errors when it belongs to other inputs (unless `force`, which wipes it).
pub(super) fn prepare_dir(
    dir: &Path,
    spec: &CacheSpec,
    key: &str,
    force: bool,
    provider: &str,
) -> Result<Option<ExtractReport>> {
    let (mpath, ppath) = (dir.join(cache::MANIFEST), dir.join(cache::PLAN));
    let existing: Option<CacheSpec> = if mpath.exists() {
        cache::read_versioned::<Manifest>(&mpath)
            .map(|m| m.spec)
            .ok()
    } else if ppath.exists() {
        cache::read_versioned::<CacheSpec>(&ppath).ok()
    } else {
        None
    };
    // `shards/` alone is not a cache: a concurrent --shard worker may have just created it.
    let occupied = mpath.exists() || ppath.exists();
    let current = existing.as_ref().is_some_and(|old| old.key() == key);
    if current && mpath.exists() && !still_valid(dir)? {
        std::fs::remove_file(&mpath).with_context(|| format!("removing {}", mpath.display()))?;
    }
    match existing {
        Some(_) if current && mpath.exists() => {
            eprintln!("cache {} is up to date (key {key}); reusing it", dir.display());
            return Ok(Some(ExtractReport {
                dir: dir.to_owned(),
                key: key.to_owned(),
                provider: provider.to_owned(),
                views: 0,
                views_per_sec: 0.0,
                reused: true,
                complete: true,
            }));
        }
        Some(_) if current => eprintln!("resuming the interrupted extract in {}", dir.display()),
        _ if !occupied => {}
        _ if force => wipe(dir)?,
        Some(old) => bail!(
            "the cache in {} was made with different inputs: {}; rerun with --force to rebuild it, or choose another --out",
            dir.display(),
            crate::cache::check::first_difference(&old, spec).unwrap_or_else(|| "schema".into())
        ),
        None => bail!(
            "{} holds an unreadable or older-format cache; rerun with --force to rebuild it, or choose another --out",
            dir.display()
        ),
    }
    cache::write_json_atomic(&ppath, spec)?;
    std::fs::create_dir_all(dir.join(cache::SHARDS))
        .with_context(|| format!("creating {}", dir.join(cache::SHARDS).display()))?;
    Ok(None)
}

/// Whether a current cache's manifest and shards check out. Shards that are missing or whose
/// BLAKE3 differs from the manifest's are deleted (resuming recomputes exactly those chunks).
fn still_valid(dir: &Path) -> Result<bool> {
    let m: Manifest = cache::read_versioned(&dir.join(cache::MANIFEST))?;
    let mut bad = 0;
    for e in &m.shards {
        let p = dir.join(cache::SHARDS).join(&e.file);
        if e.file.contains(['/', '\\']) || e.file.starts_with('.') {
            continue;
        }
        let ok = std::fs::read(&p).is_ok_and(|b| blake3::hash(&b).to_hex().as_str() == e.blake3);
        if !ok {
            eprintln!(
                "shard {} is missing or damaged; recomputing it",
                p.display()
            );
            let _ = std::fs::remove_file(&p);
            bad += 1;
        }
    }
    if bad > 0 {
        return Ok(false);
    }
    match cache::FeatureCache::open(dir) {
        Ok(_) => Ok(true),
        Err(e) => {
            eprintln!("{e}; rebuilding the manifest from the shards");
            Ok(false)
        }
    }
}

/// Removes a cache's own files (manifest, plan, shards), nothing else.
fn wipe(dir: &Path) -> Result<()> {
    eprintln!("--force: removing the old cache in {}", dir.display());
    for f in [cache::MANIFEST, cache::PLAN] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let s = dir.join(cache::SHARDS);
    if s.exists() {
        std::fs::remove_dir_all(&s).with_context(|| format!("removing {}", s.display()))?;
    }
    Ok(())
}
