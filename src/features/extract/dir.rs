//! The cache directory `extract` writes into: reuse it when current, resume it when interrupted,
//! verify its shards (recomputing damaged ones), keep one of other inputs readable (its rows are
//! reused) until the new cache is complete, refuse or wipe (`--force`) an older-format one.

use super::ExtractReport;
use crate::cache::{self, CacheSpec, Manifest};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Checks an existing directory against the spec. Returns a report when the cache is already
/// complete and current (and `force` is off). A cache of other inputs stays in place, readable,
/// until the new one is complete: its unchanged rows are reused. An unreadable or older-format
/// cache is refused unless `force`, which removes it.
pub(super) fn prepare_dir(
    dir: &Path,
    spec: &CacheSpec,
    key: &str,
    force: bool,
    provider: &str,
) -> Result<Option<ExtractReport>> {
    let (mpath, ppath) = (dir.join(cache::MANIFEST), dir.join(cache::PLAN));
    let old: Option<Result<Manifest, cache::CacheError>> = mpath
        .exists()
        .then(|| cache::read_versioned::<Manifest>(&mpath));
    match old {
        Some(Err(e)) if !force => bail!(
            "{} holds an unreadable or older-format cache ({e}); rerun with --force to rebuild it, or choose another --out",
            dir.display()
        ),
        Some(Err(_)) => wipe(dir)?,
        Some(Ok(m)) if m.spec.key() == key && m.key == key => {
            if force {
                // Shard bytes are deterministic: the old manifest stays valid while each shard is
                // recomputed and atomically replaced.
                eprintln!(
                    "--force: recomputing every row of {} (the current cache stays readable meanwhile)",
                    dir.display()
                );
            } else if still_valid(dir)? {
                eprintln!("cache {} is up to date (key {key}); reusing it", dir.display());
                return Ok(Some(current(dir, key, provider)));
            } else {
                remove(&mpath)?;
            }
        }
        Some(Ok(_)) if kept_current(dir, spec, key)? && !force => {
            eprintln!(
                "cache {} already holds these features (key {key}, kept in {}/); making them current",
                dir.display(),
                cache::MANIFESTS
            );
            let m: Manifest = cache::read_versioned(&kept_path(dir, spec))?;
            crate::atomic::write_json(&mpath, &m)?;
            return Ok(Some(current(dir, key, provider)));
        }
        Some(Ok(m)) => eprintln!(
            "the cache in {} was made from other inputs ({}); {} its unchanged rows, it stays readable until this extract completes",
            dir.display(),
            crate::cache::check::first_difference(&m.spec, spec).unwrap_or_else(|| "schema".into()),
            if force { "--force: not reusing" } else { "reusing" }
        ),
        None => {}
    }
    let resuming = cache::read_versioned::<CacheSpec>(&ppath).is_ok_and(|p| p.key() == key);
    if resuming {
        eprintln!("resuming the interrupted extract in {}", dir.display());
    }
    crate::atomic::write_json(&ppath, spec)?;
    std::fs::create_dir_all(dir.join(cache::SHARDS))
        .with_context(|| format!("creating {}", dir.join(cache::SHARDS).display()))?;
    Ok(None)
}

/// `manifests/<backbone>.json`: the latest complete cache of this spec's backbone.
pub(super) fn kept_path(dir: &Path, spec: &CacheSpec) -> std::path::PathBuf {
    dir.join(cache::MANIFESTS).join(format!(
        "{}.json",
        &spec.backbone_hash[..spec.backbone_hash.len().min(16)]
    ))
}

/// Whether the kept manifest of this backbone is exactly this spec and its shards check out.
fn kept_current(dir: &Path, spec: &CacheSpec, key: &str) -> Result<bool> {
    let p = kept_path(dir, spec);
    let same = cache::read_versioned::<Manifest>(&p).is_ok_and(|m| m.key == key);
    Ok(same && still_valid_at(dir, &p)?)
}

/// The report of an extract that found its cache complete and current.
fn current(dir: &Path, key: &str, provider: &str) -> ExtractReport {
    ExtractReport {
        dir: dir.to_owned(),
        key: key.to_owned(),
        provider: provider.to_owned(),
        views: 0,
        reused_views: 0,
        views_per_sec: 0.0,
        reused: true,
        complete: true,
    }
}

fn remove(p: &Path) -> Result<()> {
    std::fs::remove_file(p).with_context(|| format!("removing {}", p.display()))
}

/// Whether a current cache's manifest and shards check out. Shards that are missing or whose
/// BLAKE3 differs from the manifest's are deleted (resuming recomputes exactly those chunks).
fn still_valid(dir: &Path) -> Result<bool> {
    still_valid_at(dir, &dir.join(cache::MANIFEST))
}

fn still_valid_at(dir: &Path, mpath: &Path) -> Result<bool> {
    let m: Manifest = cache::read_versioned(mpath)?;
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
    match cache::FeatureCache::open_manifest(dir, mpath) {
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
    for sub in [cache::SHARDS, cache::MANIFESTS] {
        let s = dir.join(sub);
        if s.exists() {
            std::fs::remove_dir_all(&s).with_context(|| format!("removing {}", s.display()))?;
        }
    }
    Ok(())
}
