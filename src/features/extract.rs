//! The extract engine: run the frozen backbone over a split tree into the feature cache — K
//! augmented passes of train, one eval pass of valid/test — resumable, shardable, and
//! incremental: rows an earlier cache in the directory holds (same image content, same view) are
//! reused, not recomputed. The cache directory's lifecycle (prepare, partial saves, finalise,
//! garbage) lives here too.

mod chunk_write;
mod dense_batch;
mod dir;
pub mod engine;
mod finalize;
pub mod partial;
pub mod plan;
mod reuse;

use crate::backbone::{Backbone, BackboneOptions};
use crate::cache::shard::FeatureDtype;
use crate::cache::{self, CacheSpec};
use crate::features::views::{self, ViewSet};
use crate::preprocess::augment::AugmentConfig;
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Context, Result};
use dir::prepare_dir;
use plan::{ShardSel, SpecInputs};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to extract, as `pipeline extract` and `pipeline run` give it.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub backbone: BackboneOptions,
    /// Split tree to read: DATA/{train,valid,test}/<class>/<image>.
    pub data: PathBuf,
    /// Cache directory to create, resume or reuse.
    pub out: PathBuf,
    /// Augmented passes over train.
    pub passes: u32,
    /// Deterministic views cached for every image of every split.
    pub views: Option<ViewSet>,
    /// Images per backbone call.
    pub batch: usize,
    pub seed: u64,
    pub dtype: FeatureDtype,
    /// Process only chunk numbers ≡ i (mod N).
    pub shard: Option<ShardSel>,
    pub chunk_size: Option<usize>,
    pub workers: Option<usize>,
    pub force: bool,
    pub strict: bool,
}

/// What `run_extract` did, for the summary of `pipeline run`.
#[derive(Debug, Clone)]
pub struct ExtractReport {
    pub dir: PathBuf,
    pub key: String,
    pub provider: String,
    /// Views computed by the backbone in this call.
    pub views: u64,
    /// Views copied from earlier caches in this call.
    pub reused_views: u64,
    pub views_per_sec: f64,
    /// The cache was already complete and current: nothing was done.
    pub reused: bool,
    pub complete: bool,
}

/// What the engine did in a call that computed or reused rows, for the command's summary.
#[derive(Debug)]
pub struct Extracted {
    pub stats: engine::EngineStats,
    /// Images new or changed since the earlier caches of the directory.
    pub new_images: u64,
    pub spec: CacheSpec,
}

/// The engine's view of the backbone.
struct BackboneForward<'a>(&'a mut Backbone);

impl engine::Forward for BackboneForward<'_> {
    fn features(&mut self, input: &[f32], n: usize) -> Result<Vec<f32>> {
        Ok(self.0.run(input, n)?)
    }
    fn maps(
        &mut self,
        input: &[f32],
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<crate::backbone::dense::Maps> {
        Ok(self.0.run_maps(input, n, h, w)?)
    }
}

/// Whether the requested views include dense ones (they need the backbone's map session).
fn spec_has_dense(opts: &ExtractOptions) -> bool {
    opts.views.is_some_and(|v| views::any_dense(&v.views()))
}

fn validate(args: &ExtractOptions) -> Result<()> {
    if args.passes > 1000 {
        bail!("--passes must be between 0 and 1000, got {}", args.passes);
    }
    if args.passes == 0 && args.views.is_none() {
        bail!("--passes 0 leaves train without features: give --views (e.g. --views ten-crop) or at least one pass");
    }
    if !(1..=4096).contains(&args.batch) {
        bail!("--batch must be between 1 and 4096, got {}", args.batch);
    }
    if args.workers == Some(0) || args.chunk_size == Some(0) {
        bail!("--workers and --chunk-size must be at least 1");
    }
    Ok(())
}

/// Extracts (or reuses) the cache and returns what happened, with the engine's figures when it
/// ran (`None`: the cache was already complete and current).
pub fn extract(args: &ExtractOptions) -> Result<(ExtractReport, Option<Extracted>)> {
    validate(args)?;
    if crate::dataset::is_inside(&args.out, &args.data) {
        bail!(
            "--out {} is inside --data {}: the cache would be read back as images; choose an --out outside the data tree",
            args.out.display(),
            args.data.display()
        );
    }
    if !crate::dataset::is_split_tree(&args.data) {
        bail!(
            "{} is not a split tree (expected {0}/train/<class>/...); run `pipeline split RAW --out {0}` first",
            args.data.display()
        );
    }
    let tree = crate::dataset::scan_split_tree(&args.data)?;
    let mut bb = Backbone::open(args.backbone.clone())?;
    let pre = PreprocessConfig::from_sidecar(&bb.sidecar);
    let aug = AugmentConfig::default();
    let spec = plan::build_spec(
        &tree,
        SpecInputs {
            backbone_hash: &bb.model_hash,
            sidecar: serde_json::to_value(&bb.sidecar)?,
            preprocess: serde_json::to_value(&pre)?,
            augment: serde_json::to_value(&aug)?,
            seed: args.seed,
            passes: args.passes,
            views: args.views.map_or_else(Vec::new, ViewSet::names),
            dtype: args.dtype,
            feature_dim: bb.feature_dim(),
            chunk_size: args.chunk_size,
        },
    );
    let key = spec.key();
    let _lock = crate::lock::lock_dir(&args.out, args.shard.is_some())?;
    if args.shard.is_none() {
        // Only a sole writer may remove temporaries; --shard workers may be writing theirs.
        crate::atomic::remove_stale_temps(&args.out.join(cache::SHARDS));
        crate::atomic::remove_stale_temps(&args.out.join(partial::PARTIAL));
    }
    if let Some(report) = prepare_dir(&args.out, &spec, &key, args.force, &bb.provider)? {
        return Ok((report, None));
    }
    let jobs = if args.force {
        plan::all_chunks(&spec)
            .into_iter()
            .filter(|(g, _)| args.shard.is_none_or(|s| g % s.count == s.index))
            .map(|(_, j)| j)
            .collect()
    } else {
        plan::pending(&args.out, &spec, &key, args.shard)
    };
    let reuse = if args.force || jobs.is_empty() {
        reuse::ReuseIndex::default()
    } else {
        reuse::ReuseIndex::build(&args.out, &key).with_partial(&args.out, &spec, &key)
    };
    if reuse.partial_rows > 0 {
        eprintln!(
            "reusing {} views the interrupted extract kept in {}",
            crate::output::thousands(reuse.partial_rows),
            args.out.join(partial::PARTIAL).display()
        );
    }
    let families = reuse::families(&spec);
    let dense_window = if spec_has_dense(args) && !jobs.is_empty() {
        Some(bb.enable_dense()?)
    } else {
        None
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.workers.unwrap_or(0))
        .build()
        .context("starting the decode threads")?;
    let cfg = engine::EngineCfg {
        data_root: &args.data,
        cache_dir: &args.out,
        key: &key,
        pre: &pre,
        aug: &aug,
        batch: args.batch,
        strict: args.strict,
        pool: &pool,
        reuse: &reuse,
        families: &families,
        dense_window,
    };
    // What each chunk reuses and computes, looked up once: for the bar's totals and the engine.
    let work: Vec<engine::Work> = jobs
        .iter()
        .map(|&j| (j, engine::needs(&cfg, &spec, j)))
        .collect();
    let (mut to_compute, mut to_reuse) = (0u64, 0u64);
    for (_, have, want) in work.iter().flat_map(|(_, n)| n) {
        to_compute += want.len() as u64;
        to_reuse += have.len() as u64;
    }
    let pb = crate::progress::bar(to_compute, "extract", "views");
    let mut reused_so_far = 0;
    let t0 = Instant::now();
    let sigint = crate::interrupt::catch();
    let stats = engine::run(
        &cfg,
        &spec,
        &work,
        &mut BackboneForward(&mut bb),
        &mut |computed, reused| {
            pb.inc(computed);
            if reused > 0 {
                reused_so_far += reused;
                pb.set_message(format!(
                    "(+ {} of {} reused)",
                    crate::output::thousands(reused_so_far),
                    crate::output::thousands(to_reuse)
                ));
            }
        },
    );
    drop(sigint);
    pb.finish_and_clear();
    let stats = stats.map_err(|e| match e.downcast::<engine::Stopped>() {
        Ok(s) => interrupted(&spec, &args.out, to_compute, s.computed).into(),
        Err(e) => e,
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let rate = stats.views as f64 / secs.max(1e-9);
    let made = finalize::Made {
        provider: &bb.provider,
        precision: &bb.precision,
        model: &args.backbone.model,
        data: &args.data,
        stats: &stats,
        new_images: reuse.new_images(&spec, &jobs),
        secs,
    };
    let complete = finalize::finalize(&args.out, &spec, &key, &made)?;
    let report = ExtractReport {
        dir: args.out.clone(),
        key: key.clone(),
        provider: bb.provider.clone(),
        views: stats.views,
        reused_views: stats.reused,
        views_per_sec: rate,
        reused: false,
        complete,
    };
    let new_images = made.new_images;
    Ok((
        report,
        Some(Extracted {
            stats,
            new_images,
            spec,
        }),
    ))
}

/// What an extract stopped by Ctrl-C kept, and the command that resumes it: `left` of the
/// `to_compute` views this call had to compute remain.
fn interrupted(
    spec: &CacheSpec,
    dir: &Path,
    to_compute: u64,
    computed: u64,
) -> crate::interrupt::Interrupted {
    let total: u64 = spec
        .plans()
        .map(|p| p.images.len() as u64 * p.passes as u64)
        .sum();
    let left = to_compute.saturating_sub(computed);
    let t = crate::output::thousands;
    crate::interrupt::Interrupted(format!(
        "interrupted: {} of {} views are kept in {} ({} computed by this extract); to resume, run the same command again: {} (it computes at most the other {})",
        t(total.saturating_sub(left)),
        t(total),
        dir.display(),
        t(computed),
        crate::interrupt::this_command(),
        t(left)
    ))
}
