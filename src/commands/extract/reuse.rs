//! Reusing rows of earlier caches in the same directory. Every complete manifest there
//! (`manifest.json` and `manifests/*.json`, one per backbone) is indexed by what each row is —
//! its [`row_family`] and the image's content hash — so a changed tree recomputes only rows that
//! no earlier cache holds. Rows are copied only from shards that verify against their manifest.

use crate::cache::{self, row_family, CacheSpec, FeatureCache, Manifest};
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Where a reusable row lies: shard `entry` of cache `cache`, row `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef {
    cache: u32,
    entry: u32,
    row: u32,
}

/// The reusable rows of a cache directory.
#[derive(Default)]
pub struct ReuseIndex {
    caches: Vec<FeatureCache>,
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
                        cache: ci,
                        entry: ei as u32,
                        row: row as u32,
                    });
            }
        }
    }

    /// The row of `family` for the image with content hash `content`, if an earlier cache has it.
    pub fn lookup(&self, family: &blake3::Hash, content: &str) -> Option<RowRef> {
        self.rows.get(&(*family, content.to_owned())).copied()
    }

    /// Images of the spec's splits that no earlier cache has seen: new or changed files.
    pub fn new_images(&self, spec: &CacheSpec) -> u64 {
        spec.splits
            .iter()
            .flat_map(|p| &p.images)
            .filter(|i| !self.seen.contains(&i.blake3))
            .count() as u64
    }

    /// The features of `refs`, row-major `[refs.len(), dim]`; each source shard is read (and
    /// verified) once.
    pub fn fetch(&self, refs: &[RowRef], dim: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; refs.len() * dim];
        let mut order: Vec<usize> = (0..refs.len()).collect();
        order.sort_by_key(|&k| (refs[k].cache, refs[k].entry));
        let mut loaded: Option<((u32, u32), crate::cache::shard::ShardData)> = None;
        for k in order {
            let r = refs[k];
            if loaded
                .as_ref()
                .is_none_or(|(id, _)| *id != (r.cache, r.entry))
            {
                let c = &self.caches[r.cache as usize];
                let e = &c.manifest.shards[r.entry as usize];
                let data = c.read_shard(e).with_context(|| {
                    format!("reusing rows of {}; rerun `pipeline extract --force` to recompute everything", e.file)
                })?;
                loaded = Some(((r.cache, r.entry), data));
            }
            let data = &loaded.as_ref().expect("loaded above").1;
            let src = &data.features[r.row as usize * dim..(r.row as usize + 1) * dim];
            out[k * dim..(k + 1) * dim].copy_from_slice(src);
        }
        Ok(out)
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
