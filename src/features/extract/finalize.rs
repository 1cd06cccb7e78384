//! Completing a cache: when every chunk is on disk, write `manifests/<backbone>.json` and then
//! `manifest.json` (the file readers trust, written last), and remove shard files no kept
//! manifest references (rows of replaced caches, interrupted extracts of other inputs).

use super::engine::EngineStats;
use super::{plan, reuse};
use crate::cache::shard::{self, ShardId};
use crate::cache::{self, CacheSpec, ExtractStats, Manifest, ShardEntry, Skipped, CACHE_SCHEMA};
use anyhow::{Context, Result};
use std::path::Path;

/// How this extract ran, for the manifest's `stats`.
pub struct Made<'a> {
    pub provider: &'a str,
    pub precision: &'a str,
    pub model: &'a Path,
    /// The split tree read (`--data`).
    pub data: &'a Path,
    pub stats: &'a EngineStats,
    /// Images no earlier cache had seen.
    pub new_images: u64,
    pub secs: f64,
}

/// Writes the manifest when every chunk of every plan is on disk; returns whether it did.
pub fn finalize(dir: &Path, spec: &CacheSpec, key: &str, made: &Made) -> Result<bool> {
    let chunks = plan::all_chunks(spec);
    let missing = chunks
        .iter()
        .filter(|(_, j)| !plan::chunk_done(dir, key, spec.plan_at(j.split), j.chunk))
        .count();
    if missing > 0 {
        eprintln!(
            "{missing} of {} chunks are still missing (other --shard workers?); when all are in {}, rerun `pipeline extract` without --shard to finalise the cache",
            chunks.len(),
            dir.display()
        );
        return Ok(false);
    }
    let (mut shards, mut skipped) = (Vec::new(), Vec::new());
    for (_, j) in chunks {
        let p = spec.plan_at(j.split);
        for pass in 0..p.passes {
            let id = ShardId {
                split: &p.name,
                pass,
                chunk: j.chunk,
            };
            let info = shard::inspect(&cache::shard_path(dir, key, id), key)?;
            // The side plan's images are train's: their skips are already listed.
            if pass == 0 && spec.split(&p.name).is_some() {
                let list: Vec<(String, String)> = info
                    .meta
                    .get("skipped")
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                skipped.extend(list.into_iter().map(|(rel_path, reason)| Skipped {
                    split: p.name.clone(),
                    rel_path,
                    reason,
                }));
            }
            shards.push(ShardEntry {
                file: id.file_name(key),
                split: p.name.clone(),
                pass,
                chunk: j.chunk,
                rows: info.rows,
                blake3: info.blake3,
            });
        }
    }
    let s = made.stats;
    let manifest = Manifest {
        schema_version: CACHE_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        key: key.to_owned(),
        spec: spec.clone(),
        skipped,
        shards,
        stats: ExtractStats {
            provider: made.provider.to_owned(),
            precision: made.precision.to_owned(),
            model_path: made.model.display().to_string(),
            images_root: std::fs::canonicalize(made.data)
                .unwrap_or_else(|_| made.data.to_path_buf())
                .display()
                .to_string(),
            views: s.views,
            reused_views: s.reused,
            new_images: made.new_images,
            seconds: made.secs,
            views_per_sec: s.views as f64 / made.secs.max(1e-9),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        },
    };
    let per_backbone = super::dir::kept_path(dir, spec);
    std::fs::create_dir_all(dir.join(cache::MANIFESTS))
        .with_context(|| format!("creating {}", dir.join(cache::MANIFESTS).display()))?;
    crate::atomic::write_json(&per_backbone, &manifest)?;
    crate::atomic::write_json(&dir.join(cache::MANIFEST), &manifest)?;
    collect_garbage(dir);
    super::partial::remove_all(dir);
    Ok(true)
}

/// Removes shard files that no kept manifest references. Only a sole writer calls this.
fn collect_garbage(dir: &Path) {
    let keep = reuse::referenced_files(dir);
    let Ok(rd) = std::fs::read_dir(dir.join(cache::SHARDS)) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") && !keep.contains(&name) {
            if let Err(err) = std::fs::remove_file(e.path()) {
                eprintln!(
                    "could not remove the unused shard {}: {err}",
                    e.path().display()
                );
            }
        }
    }
}
