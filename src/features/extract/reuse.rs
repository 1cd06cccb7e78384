//! Reusing rows of earlier caches in the same directory. Every complete manifest there
//! (`manifest.json` and `manifests/*.json`, one per backbone) is indexed by what each row is —
//! its [`row_family`] and the image's content hash — so a changed tree recomputes only rows that
//! no earlier cache holds. Rows are copied only from shards that verify against their manifest.

use super::partial;
use crate::cache::shard;
use crate::cache::{self, row_family, CacheSpec, FeatureCache, Manifest};
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Where a reusable row lies: row `row` of a shard file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef {
    src: Source,
    row: u32,
}

/// A shard file rows are reused from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// Shard `entry` of the manifest of earlier cache `cache`.
    Cache { cache: u32, entry: u32 },
    /// Segment `n` of [`ReuseIndex::with_partial`]'s list.
    Partial(u32),
}

/// A verified partial segment: its path and what its index says of it.
struct PartialSeg {
    path: PathBuf,
    key: String,
    blake3: String,
    rows: usize,
}

/// The reusable rows of a cache directory.
#[derive(Default)]
pub struct ReuseIndex {
    caches: Vec<FeatureCache>,
    partial: Vec<PartialSeg>,
    /// Rows of the interrupted extract of this very cache, from its partial segments.
    pub partial_rows: u64,
    rows: HashMap<(blake3::Hash, String), RowRef>,
    /// Content hashes an earlier cache has seen (with rows, or skipped as unusable).
    seen: HashSet<String>,
}

/// The complete manifests of `dir`, `manifest.json` first, each key once.
pub fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.join(cache::MANIFEST)];
    if let Ok(rd) = std::fs::read_dir(dir.join(cache::MANIFESTS)) {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        more.sort();
        out.extend(more);
    }
    out.retain(|p| p.is_file());
    out
}

/// Row families of every row number of every plan of `spec`: `families[plan][pass]`.
pub fn families(spec: &CacheSpec) -> Vec<Vec<blake3::Hash>> {
    spec.plans()
        .map(|p| (0..p.passes).map(|r| row_family(spec, &p.row(r))).collect())
        .collect()
}

impl ReuseIndex {
    /// Indexes the rows of every complete cache in `dir` other than `key`'s. A cache or shard
    /// that does not verify is left out with a warning (its rows are recomputed).
    pub fn build(dir: &Path, key: &str) -> ReuseIndex {
        let mut idx = ReuseIndex::default();
        let mut seen = Vec::new();
        for mpath in manifests(dir) {
            let c = match FeatureCache::open_manifest(dir, &mpath) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("not reusing rows of {}: {e}", mpath.display());
                    continue;
                }
            };
            if c.manifest.key == key || seen.contains(&c.manifest.key) {
                continue;
            }
            seen.push(c.manifest.key.clone());
            let ci = idx.caches.len() as u32;
            idx.add(ci, &c);
            idx.caches.push(c);
        }
        idx
    }

    fn add(&mut self, ci: u32, c: &FeatureCache) {
        let spec = &c.manifest.spec;
        for s in &c.manifest.skipped {
            if let Some(img) = spec
                .split(&s.split)
                .and_then(|p| p.images.iter().find(|i| i.rel_path == s.rel_path))
            {
                self.seen.insert(img.blake3.clone());
            }
        }
        for (ei, e) in c.manifest.shards.iter().enumerate() {
            let Some(plan) = spec.plan(&e.split) else {
                continue;
            };
            let data = match c.read_shard(e) {
                Ok(d) => d,
                Err(err) => {
                    eprintln!("not reusing rows of {}: {err}", e.file);
                    continue;
                }
            };
            let family = row_family(spec, &plan.row(e.pass));
            for (row, &i) in data.index.iter().enumerate() {
                let content = &plan.images[i as usize].blake3;
                if content == "unreadable" {
                    continue;
                }
                self.seen.insert(content.clone());
                self.rows
                    .entry((family, content.clone()))
                    .or_insert(RowRef {
                        src: Source::Cache {
                            cache: ci,
                            entry: ei as u32,
                        },
                        row: row as u32,
                    });
            }
        }
    }

    /// Adds the rows an interrupted extract of cache `key` saved in `dir` (see [`partial`]); a
    /// segment that does not verify is left out with a warning (its rows are recomputed).
    pub fn with_partial(mut self, dir: &Path, spec: &CacheSpec, key: &str) -> ReuseIndex {
        for idx in partial::indexes(dir, key) {
            let Some(plan) = spec.plan(&idx.split) else {
                continue;
            };
            for seg in idx.segments {
                let Some(rows) = partial_segment(dir, spec, key, plan, &seg) else {
                    continue;
                };
                let family = row_family(spec, &plan.row(seg.pass));
                let n = self.partial.len() as u32;
                for (row, &i) in rows.iter().enumerate() {
                    let content = plan.images[i as usize].blake3.clone();
                    let r = RowRef {
                        src: Source::Partial(n),
                        row: row as u32,
                    };
                    if let std::collections::hash_map::Entry::Vacant(v) =
                        self.rows.entry((family, content))
                    {
                        v.insert(r);
                        self.partial_rows += 1;
                    }
                }
                self.partial.push(PartialSeg {
                    path: partial::segment_path(dir, &seg.file),
                    key: key.to_owned(),
                    blake3: seg.blake3,
                    rows: seg.rows,
                });
            }
        }
        self
    }

    /// The row of `family` for the image with content hash `content`, if an earlier cache has it.
    pub fn lookup(&self, family: &blake3::Hash, content: &str) -> Option<RowRef> {
        self.rows.get(&(*family, content.to_owned())).copied()
    }

    /// Images of the chunks `jobs` (this process's share; the side plan's chunks, which repeat
    /// train's images, left out) that no earlier cache has seen: new or changed files.
    pub fn new_images(&self, spec: &CacheSpec, jobs: &[super::plan::ChunkJob]) -> u64 {
        let size = spec.chunk_size.max(1);
        jobs.iter()
            .map(|j| spec.plan_at(j.split))
            .zip(jobs)
            .filter(|(p, _)| spec.split(&p.name).is_some())
            .flat_map(|(p, j)| {
                let start = (j.chunk as usize).saturating_mul(size).min(p.images.len());
                &p.images[start..(start + size).min(p.images.len())]
            })
            .filter(|i| !self.seen.contains(&i.blake3))
            .count() as u64
    }

    /// The features of `refs`, row-major `[refs.len(), dim]`; each source shard is read (and
    /// verified) once.
    pub fn fetch(&self, refs: &[RowRef], dim: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; refs.len() * dim];
        let mut order: Vec<usize> = (0..refs.len()).collect();
        order.sort_by_key(|&k| refs[k].src);
        let mut loaded: Option<(Source, shard::ShardData)> = None;
        for k in order {
            let r = refs[k];
            if loaded.as_ref().is_none_or(|(id, _)| *id != r.src) {
                loaded = Some((r.src, self.read_source(r.src, dim)?));
            }
            let data = &loaded.as_ref().expect("loaded above").1;
            let src = &data.features[r.row as usize * dim..(r.row as usize + 1) * dim];
            out[k * dim..(k + 1) * dim].copy_from_slice(src);
        }
        Ok(out)
    }
}

impl ReuseIndex {
    /// The rows of shard file `src`, verified again (it may have changed since it was indexed).
    fn read_source(&self, src: Source, dim: usize) -> Result<shard::ShardData> {
        let redo = "rerun `pipeline extract --force` to recompute everything";
        match src {
            Source::Cache { cache, entry } => {
                let c = &self.caches[cache as usize];
                let e = &c.manifest.shards[entry as usize];
                c.read_shard(e)
                    .with_context(|| format!("reusing rows of {}; {redo}", e.file))
            }
            Source::Partial(n) => {
                let seg = &self.partial[n as usize];
                let want = shard::Expected {
                    blake3: &seg.blake3,
                    rows: seg.rows,
                    classes: usize::MAX,
                };
                shard::read_verified(&seg.path, &seg.key, dim, want)
                    .with_context(|| format!("reusing rows of {}; {redo}", seg.path.display()))
            }
        }
    }
}

/// The image positions of a partial segment that verifies and fits `plan`.
fn partial_segment(
    dir: &Path,
    spec: &CacheSpec,
    key: &str,
    plan: &crate::cache::SplitPlan,
    seg: &partial::Segment,
) -> Option<Vec<u32>> {
    if seg.file.contains(['/', '\\']) || seg.file.starts_with('.') || seg.pass >= plan.passes {
        return None;
    }
    let path = partial::segment_path(dir, &seg.file);
    let want = shard::Expected {
        blake3: &seg.blake3,
        rows: seg.rows,
        classes: spec.classes.len(),
    };
    match shard::read_verified(&path, key, spec.feature_dim, want) {
        Ok(d) if d.index.iter().all(|&i| (i as usize) < plan.images.len()) => Some(d.index),
        Ok(_) => None,
        Err(e) => {
            eprintln!("not reusing the partial rows of {}: {e}", path.display());
            None
        }
    }
}

/// The manifests in `dir` that are kept: for each backbone the latest (`manifests/`), plus
/// `manifest.json`. Returns the set of shard files they reference.
pub fn referenced_files(dir: &Path) -> std::collections::HashSet<String> {
    let mut files = std::collections::HashSet::new();
    for mpath in manifests(dir) {
        if let Ok(m) = cache::read_versioned::<Manifest>(&mpath) {
            files.extend(m.shards.into_iter().map(|s| s.file));
        }
    }
    files
}
