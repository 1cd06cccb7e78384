//! Reading a (split, pass) of a complete cache into memory, as f32 or in its storage type.

use super::{
    shard, CacheError, FeatureCache, Rows, ShardEntry, SplitFeatures, SplitRows, MANIFEST,
};
use ndarray::Array2;
use shard::FeatureDtype;

impl FeatureCache {
    /// The plan of `split`, or which splits the cache has.
    pub fn plan(&self, split: &str) -> Result<&super::SplitPlan, CacheError> {
        let spec = &self.manifest.spec;
        spec.split(split).ok_or_else(|| CacheError::NoSplit {
            dir: self.dir.clone(),
            split: split.to_owned(),
            have: spec
                .splits
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Loads all rows of (split, pass), widened to `f32`.
    pub fn load(&self, split: &str, pass: u32) -> Result<SplitFeatures, CacheError> {
        let (features, labels, paths) = self.load_with(split, pass, false)?;
        Ok(SplitFeatures {
            features: features.into_f32(),
            labels,
            paths,
        })
    }

    /// Loads all rows of (split, pass) in the cache's storage type: an `f16` cache stays `f16`
    /// (half the memory; widened where the rows are read, see `cache::rows`).
    pub fn load_rows(&self, split: &str, pass: u32) -> Result<SplitRows, CacheError> {
        let (features, labels, paths) = self.load_with(split, pass, true)?;
        Ok(SplitRows {
            features,
            labels,
            paths,
        })
    }

    /// The rows of (split, pass): kept `f16` when `keep_half` and the cache stores `f16` (its
    /// shards are hash-checked against the manifest, so they hold what the spec says), otherwise
    /// widened shard by shard as they are read.
    fn load_with(
        &self,
        split: &str,
        pass: u32,
        keep_half: bool,
    ) -> Result<(Rows, Vec<u32>, Vec<String>), CacheError> {
        let spec = &self.manifest.spec;
        let plan = self.plan(split)?;
        if pass >= plan.passes {
            return Err(CacheError::NoPass {
                dir: self.dir.clone(),
                split: split.to_owned(),
                pass,
                passes: plan.passes,
            });
        }
        let mut entries: Vec<&ShardEntry> = self
            .manifest
            .shards
            .iter()
            .filter(|s| s.split == split && s.pass == pass)
            .collect();
        entries.sort_by_key(|s| s.chunk);
        let dim = spec.feature_dim;
        let rows: usize = entries.iter().map(|s| s.rows).sum();
        let cap = rows
            .checked_mul(dim)
            .ok_or_else(|| CacheError::BadManifest {
                path: self.dir.join(MANIFEST),
                reason: format!("{rows} rows of width {dim} overflow"),
            })?;
        let as_f16 = keep_half && spec.dtype == FeatureDtype::F16;
        let (mut feats, mut feats16, mut labels, mut paths) = (
            Vec::with_capacity(if as_f16 { 0 } else { cap }),
            Vec::with_capacity(if as_f16 { cap } else { 0 }),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for e in entries {
            let data = self.read_entry_rows(plan, e)?;
            match data.features {
                shard::Values::F16(v) if as_f16 => feats16.extend_from_slice(&v),
                shard::Values::F16(v) => feats.extend(v.iter().map(|x| x.to_f32())),
                shard::Values::F32(v) if as_f16 => {
                    feats16.extend(v.iter().map(|&x| half::f16::from_f32(x)))
                }
                shard::Values::F32(v) => feats.extend_from_slice(&v),
            }
            labels.extend_from_slice(&data.labels);
            paths.extend(
                data.index
                    .iter()
                    .map(|&i| plan.images[i as usize].rel_path.clone()),
            );
        }
        let n = labels.len();
        let bad = |e: ndarray::ShapeError| CacheError::BadManifest {
            path: self.dir.join(MANIFEST),
            reason: e.to_string(),
        };
        let features = if as_f16 {
            Rows::F16(Array2::from_shape_vec((n, dim), feats16).map_err(bad)?)
        } else {
            Rows::F32(Array2::from_shape_vec((n, dim), feats).map_err(bad)?)
        };
        Ok((features, labels, paths))
    }
}
