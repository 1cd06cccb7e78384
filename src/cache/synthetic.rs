//! A complete cache written from in-memory features, for tests and tools.

use super::shard::{self, FeatureDtype, ShardId};
use super::*;
use ndarray::Array2;
use serde_json::Value;
use std::path::Path;

/// Writes a complete cache from in-memory features (tests and tools). Each split is
/// `(name, passes, features [passes·N, D] pass-major, labels [N])`; train's rows are augmented
/// passes, the other splits' the eval view.
pub fn write_synthetic(
    dir: &Path,
    classes: &[String],
    splits: &[(&str, u32, Array2<f32>, Vec<u32>)],
) -> Result<FeatureCache, CacheError> {
    write_synthetic_views(dir, classes, splits, &[])
}

/// [`write_synthetic`] whose first `views.len()` rows of every image in every split are the named
/// deterministic views (as `extract --views` caches them), so `pipeline cv` can re-split them.
pub fn write_synthetic_views(
    dir: &Path,
    classes: &[String],
    splits: &[(&str, u32, Array2<f32>, Vec<u32>)],
    views: &[String],
) -> Result<FeatureCache, CacheError> {
    write_synthetic_as(dir, classes, splits, views, FeatureDtype::F32)
}

/// [`write_synthetic_views`] storing the features as `dtype` (`f16` rounds them, as
/// `extract --dtype f16` does).
pub fn write_synthetic_as(
    dir: &Path,
    classes: &[String],
    splits: &[(&str, u32, Array2<f32>, Vec<u32>)],
    views: &[String],
    dtype: FeatureDtype,
) -> Result<FeatureCache, CacheError> {
    let dim = splits.first().map_or(0, |s| s.2.ncols());
    let plans = splits
        .iter()
        .map(|(name, passes, _, labels)| SplitPlan {
            name: name.to_string(),
            passes: *passes,
            augmented: *name == "train" && *passes as usize > views.len(),
            views: views.to_vec(),
            images: labels
                .iter()
                .enumerate()
                .map(|(i, &label)| CachedImage {
                    rel_path: format!(
                        "{}/{i:05}.png",
                        classes.get(label as usize).map_or("?", |c| c)
                    ),
                    label,
                    bytes: 0,
                    blake3: format!("{label:08x}{i:024x}"),
                })
                .collect(),
        })
        .collect();
    let spec = CacheSpec {
        schema_version: CACHE_SCHEMA,
        backbone_hash: "synthetic".into(),
        sidecar: Value::Null,
        preprocess: Value::Null,
        augment: Value::Null,
        seed: 0,
        passes: splits.iter().map(|s| s.1).max().unwrap_or(1),
        dtype,
        feature_dim: dim,
        chunk_size: usize::MAX,
        classes: classes.to_vec(),
        splits: plans,
        store: Vec::new(),
    };
    let key = spec.key();
    let werr = |source| CacheError::Write {
        path: dir.join(SHARDS),
        source,
    };
    std::fs::create_dir_all(dir.join(SHARDS)).map_err(werr)?;
    let mut shards = Vec::new();
    for (name, passes, feats, labels) in splits {
        let n = labels.len();
        for pass in 0..*passes {
            let id = ShardId {
                split: name,
                pass,
                chunk: 0,
            };
            let rows = feats.slice(ndarray::s![pass as usize * n..(pass as usize + 1) * n, ..]);
            let data = shard::ShardData {
                features: rows.iter().copied().collect(),
                labels: labels.clone(),
                index: (0..n as u32).collect(),
            };
            let blake3 =
                shard::write(&shard_path(dir, &key, id), &key, id, dim, dtype, &data, &[])?;
            shards.push(ShardEntry {
                file: id.file_name(&key),
                split: name.to_string(),
                pass,
                chunk: 0,
                rows: n,
                blake3,
            });
        }
    }
    let manifest = Manifest {
        schema_version: CACHE_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        key,
        spec,
        skipped: vec![],
        shards,
        stats: ExtractStats::default(),
    };
    crate::atomic::write_json(&dir.join(MANIFEST), &manifest)?;
    FeatureCache::open(dir)
}
