//! Planning an extract: the cache spec from the split tree and backbone, and what is left to do.

use crate::cache::shard::{self, FeatureDtype, ShardId};
use crate::cache::{self, CacheSpec, CachedImage, SplitPlan, CACHE_SCHEMA, TRAIN_EVAL};
use crate::dataset::SplitTree;
use rayon::prelude::*;
use std::path::Path;

/// Byte budget for one chunk's features over all its passes; bounds extract's memory.
const CHUNK_BYTES: usize = 64 << 20;

/// Images per chunk: as many as fit [`CHUNK_BYTES`] of f32 features over `passes`, within 16…1024.
pub fn chunk_size(feature_dim: usize, passes: u32) -> usize {
    (CHUNK_BYTES / (feature_dim.max(1) * 4 * passes.max(1) as usize)).clamp(16, 1024)
}

/// Inputs to the spec that do not come from the split tree.
pub struct SpecInputs<'a> {
    pub backbone_hash: &'a str,
    pub sidecar: serde_json::Value,
    pub preprocess: serde_json::Value,
    pub augment: serde_json::Value,
    pub seed: u64,
    pub passes: u32,
    /// Deterministic views of every image of every split (empty: the eval view of valid/test
    /// only, as caches of older builds).
    pub views: Vec<String>,
    pub dtype: FeatureDtype,
    pub feature_dim: usize,
    /// Overrides [`chunk_size`].
    pub chunk_size: Option<usize>,
}

/// The spec of the cache this extract produces: every split gets the deterministic `views`,
/// train also `passes` augmented views; without views, other splits get one eval view.
/// Without deterministic views, a side plan ([`TRAIN_EVAL`]) also keeps the eval view of every
/// train image, so a re-split finds every image's eval view cached.
pub fn build_spec(tree: &SplitTree, inp: SpecInputs<'_>) -> CacheSpec {
    let nv = inp.views.len() as u32;
    let splits: Vec<SplitPlan> = tree
        .splits
        .iter()
        .map(|(name, items)| {
            let augmented = name == "train";
            let root = tree.root.join(name);
            SplitPlan {
                name: name.clone(),
                passes: match (augmented, nv) {
                    (true, _) => nv + inp.passes,
                    (false, 0) => 1,
                    (false, _) => nv,
                },
                augmented,
                views: inp.views.clone(),
                images: items
                    .par_iter()
                    .map(|it| CachedImage {
                        rel_path: it.rel_path.clone(),
                        label: it.label as u32,
                        bytes: it.bytes,
                        blake3: crate::dataset::files::content_hash(&it.path(&root)),
                    })
                    .collect(),
            }
        })
        .collect();
    let store = match splits.iter().find(|s| s.name == "train") {
        Some(train) if nv == 0 => vec![SplitPlan {
            name: TRAIN_EVAL.into(),
            passes: 1,
            augmented: false,
            views: Vec::new(),
            images: train.images.clone(),
        }],
        _ => Vec::new(),
    };
    CacheSpec {
        schema_version: CACHE_SCHEMA,
        backbone_hash: inp.backbone_hash.to_owned(),
        sidecar: inp.sidecar,
        preprocess: inp.preprocess,
        augment: inp.augment,
        seed: inp.seed,
        passes: inp.passes,
        dtype: inp.dtype,
        feature_dim: inp.feature_dim,
        chunk_size: inp
            .chunk_size
            .unwrap_or_else(|| chunk_size(inp.feature_dim, nv + inp.passes)),
        classes: tree.classes.clone(),
        splits,
        store,
    }
}

/// A unit of work: one chunk of one split, all its passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkJob {
    /// Index into `spec.plans()`.
    pub split: usize,
    pub chunk: u32,
}

/// `--shard i/N`: this process handles the chunks whose global number is `i` modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSel {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for ShardSel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard takes i/N with 0 ≤ i < N (e.g. 0/4), got `{s}`");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(ShardSel { index, count })
    }
}

/// Whether every pass shard of a chunk exists, reads back whole, and has this cache key.
pub fn chunk_done(dir: &Path, key: &str, plan: &SplitPlan, chunk: u32) -> bool {
    (0..plan.passes).all(|pass| {
        let id = ShardId {
            split: &plan.name,
            pass,
            chunk,
        };
        shard::inspect(&cache::shard_path(dir, key, id), key).is_ok()
    })
}

/// All chunks of the spec in a global order (split by split), with their global number.
pub fn all_chunks(spec: &CacheSpec) -> Vec<(u32, ChunkJob)> {
    let mut out = Vec::new();
    let mut global = 0;
    for (si, plan) in spec.plans().enumerate() {
        for chunk in 0..plan.chunks(spec.chunk_size) {
            out.push((global, ChunkJob { split: si, chunk }));
            global += 1;
        }
    }
    out
}

/// Chunks still to compute for this process: selected by `--shard`, not yet complete on disk.
pub fn pending(dir: &Path, spec: &CacheSpec, key: &str, sel: Option<ShardSel>) -> Vec<ChunkJob> {
    all_chunks(spec)
        .into_iter()
        .filter(|(g, _)| sel.is_none_or(|s| g % s.count == s.index))
        .map(|(_, job)| job)
        .filter(|job| !chunk_done(dir, key, spec.plan_at(job.split), job.chunk))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_bounds_memory() {
        assert_eq!(chunk_size(512, 5), 1024);
        assert_eq!(chunk_size(4096, 5), 819);
        assert_eq!(chunk_size(25088, 5), 133);
        assert_eq!(chunk_size(1 << 22, 5), 16);
    }

    #[test]
    fn parses_shard_selection() {
        assert_eq!(
            "1/4".parse::<ShardSel>(),
            Ok(ShardSel { index: 1, count: 4 })
        );
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<ShardSel>().is_err(), "{bad}");
        }
    }
}
