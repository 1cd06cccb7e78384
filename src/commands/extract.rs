//! Stage `extract`: run the frozen backbone over a split tree into the feature cache — K augmented
//! passes of train, one eval pass of valid/test — resumable, shardable, and incremental: rows an
//! earlier cache in the directory holds (same image content, same view) are reused, not recomputed.

use crate::cache::shard::FeatureDtype;
use crate::cache::{self, CacheSpec, Manifest};
use crate::commands::backbone_args::BackboneArgs;
use crate::features::extract::engine::EngineStats;
pub use crate::features::extract::ExtractReport;
use crate::features::extract::{plan::ShardSel, ExtractOptions, Extracted};
use crate::features::views::ViewSet;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Arguments of `pipeline extract`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub backbone: BackboneArgs,
    /// Split tree to read: DATA/{train,valid,test}/<class>/<image> (made by `pipeline split`).
    #[arg(long)]
    pub data: PathBuf,
    /// Cache directory to create, resume or reuse.
    #[arg(long)]
    pub out: PathBuf,
    /// Augmented passes over train (0 allowed with --views).
    #[arg(long, default_value_t = 5)]
    pub passes: u32,
    /// Deterministic views cached for every image of every split, averaged per image at
    /// eval/predict time [default: none: valid/test get the eval view only, train only its
    /// passes].
    #[arg(long, value_enum)]
    pub views: Option<ViewSet>,
    /// Images per backbone call.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Seed of the augmentations (each view is seeded by seed, pass and image path).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Storage type of the cached features.
    #[arg(long, value_enum, default_value_t = FeatureDtype::F32)]
    pub dtype: FeatureDtype,
    /// Process only chunk numbers ≡ i (mod N), for array jobs; rerun without it to finalise
    /// [default: every chunk].
    #[arg(long, value_name = "i/N")]
    pub shard: Option<ShardSel>,
    /// Images per shard file [default: as many as keep one chunk's features under 64 MB, at most
    /// 1024].
    #[arg(long, value_name = "N")]
    pub chunk_size: Option<usize>,
    /// Decode/augment threads [default: all cores].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Recompute every row instead of reusing rows of earlier caches in --out (the old cache
    /// stays readable until the new one is complete); also replaces an older-format cache.
    #[arg(long)]
    pub force: bool,
    /// Stop at the first unusable image instead of skipping and listing it.
    #[arg(long)]
    pub strict: bool,
}

impl From<&ExtractArgs> for ExtractOptions {
    fn from(a: &ExtractArgs) -> ExtractOptions {
        ExtractOptions {
            backbone: (&a.backbone).into(),
            data: a.data.clone(),
            out: a.out.clone(),
            passes: a.passes,
            views: a.views,
            batch: a.batch,
            seed: a.seed,
            dtype: a.dtype,
            shard: a.shard,
            chunk_size: a.chunk_size,
            workers: a.workers,
            force: a.force,
            strict: a.strict,
        }
    }
}

/// Runs `pipeline extract`.
pub fn run(args: ExtractArgs) -> Result<()> {
    run_extract(&args).map(|_| ())
}

/// Extracts (or reuses) the cache, prints what was done and returns it.
pub fn run_extract(args: &ExtractArgs) -> Result<ExtractReport> {
    let (report, done) = crate::features::extract::extract(&args.into())?;
    if let Some(Extracted {
        stats,
        new_images,
        spec,
    }) = done
    {
        print_summary(&report, &stats, new_images, &spec, args)?;
    }
    Ok(report)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join(cache::SHARDS))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn print_summary(
    r: &ExtractReport,
    stats: &EngineStats,
    new_images: u64,
    spec: &CacheSpec,
    args: &ExtractArgs,
) -> Result<()> {
    crate::say!(
        "extracted {} images ({} skipped): computed {} views at {} on {}, reused {} ({} new or changed images); feature width {}, {} train passes",
        crate::output::thousands(stats.images),
        stats.skipped,
        crate::output::thousands(stats.views),
        crate::progress::rate(r.views_per_sec, "views"),
        r.provider,
        crate::output::thousands(stats.reused),
        crate::output::thousands(new_images),
        spec.feature_dim,
        spec.passes
    );
    if r.complete {
        let m: Manifest = cache::read_versioned(&r.dir.join(cache::MANIFEST))?;
        for s in m.skipped.iter().take(20) {
            crate::say!("  skipped {}/{}: {}", s.split, s.rel_path, s.reason);
        }
        if m.skipped.len() > 20 {
            crate::say!(
                "  … and {} more (see {}/manifest.json)",
                m.skipped.len() - 20,
                r.dir.display()
            );
        }
    }
    crate::say!(
        "cache {} (key {}, {:.1} MB, {})",
        args.out.display(),
        r.key,
        dir_size(&r.dir) as f64 / 1e6,
        if r.complete { "complete" } else { "partial" }
    );
    Ok(())
}
