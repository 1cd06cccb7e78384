//! Writing a finished chunk: its computed and copied rows assembled per pass in image order, one
//! shard file per (split, pass, chunk), with the chunk's unusable images recorded in each.

use super::engine::EngineCfg;
use super::plan::ChunkJob;
use crate::cache::shard::{self, ShardData, ShardId};
use crate::cache::{self, CacheSpec, SplitPlan};
use anyhow::{Context, Result};

/// One shard's data per pass from `(image, pass, features)` rows, each in image order.
pub fn assemble(
    plan: &SplitPlan,
    mut rows: Vec<(u32, u32, Vec<f32>)>,
    dim: usize,
) -> Vec<ShardData> {
    rows.sort_by_key(|r| (r.1, r.0));
    let mut out: Vec<ShardData> = (0..plan.passes)
        .map(|_| ShardData {
            features: Vec::new(),
            labels: Vec::new(),
            index: Vec::new(),
        })
        .collect();
    for (img, pass, f) in rows {
        let slot = &mut out[pass as usize];
        slot.features.reserve(dim);
        slot.features.extend_from_slice(&f);
        slot.index.push(img);
        slot.labels.push(plan.images[img as usize].label);
    }
    out
}

pub fn write_chunk(
    cfg: &EngineCfg,
    spec: &CacheSpec,
    plan: &SplitPlan,
    job: ChunkJob,
    chunk: &[ShardData],
    skipped: &[(u32, String)],
) -> Result<u64> {
    let skipped_json = serde_json::to_string(
        &skipped
            .iter()
            .map(|(i, r)| (plan.images[*i as usize].rel_path.as_str(), r.as_str()))
            .collect::<Vec<_>>(),
    )?;
    let mut views = 0;
    for (pass, data) in chunk.iter().enumerate() {
        let id = ShardId {
            split: &plan.name,
            pass: pass as u32,
            chunk: job.chunk,
        };
        let path = cache::shard_path(cfg.cache_dir, cfg.key, id);
        shard::write(
            &path,
            cfg.key,
            id,
            spec.feature_dim,
            spec.dtype,
            data,
            &[("skipped", skipped_json.clone())],
        )
        .with_context(|| format!("writing chunk {} of split {}", job.chunk, plan.name))?;
        views += data.labels.len() as u64;
    }
    Ok(views)
}
