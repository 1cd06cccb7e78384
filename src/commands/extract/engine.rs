//! The extract engine: a producer thread decodes and transforms images on a rayon pool and sends
//! batches of views through a bounded channel; the caller's thread runs the backbone on them and
//! writes one shard per (split, pass, chunk) as each chunk completes. Memory is bounded by the
//! channel depth and one chunk of features, whatever the dataset size.

use super::plan::ChunkJob;
use crate::cache::shard::{self, ShardData, ShardId};
use crate::cache::{self, CacheSpec, RowKind, SplitPlan};
use crate::preprocess::augment::{self, AugmentConfig};
use crate::preprocess::views::{self, View};
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, Sender};
use rayon::prelude::*;
use std::path::Path;

/// Batches in flight between the decoders and the backbone.
const QUEUE_DEPTH: usize = 3;

/// What the engine needs besides the spec.
pub struct EngineCfg<'a> {
    /// The split tree's root (`ROOT/<split>/<rel_path>`).
    pub data_root: &'a Path,
    pub cache_dir: &'a Path,
    pub key: &'a str,
    pub pre: &'a PreprocessConfig,
    pub aug: &'a AugmentConfig,
    /// Views per backbone call.
    pub batch: usize,
    pub strict: bool,
    pub pool: &'a rayon::ThreadPool,
}

/// One backbone call's worth of views: `views[k] = (image index, pass)`, `data` their tensors.
struct ViewBatch {
    job: ChunkJob,
    views: Vec<(u32, u32)>,
    data: Vec<f32>,
}

enum Msg {
    Batch(ViewBatch),
    ChunkEnd(ChunkJob, Vec<(u32, String)>),
    Fatal(String),
}

/// The backbone as the engine sees it: `(input, n) -> n·D features`.
pub type Infer<'a> = dyn FnMut(&[f32], usize) -> Result<Vec<f32>> + 'a;

/// Totals of one engine run.
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineStats {
    pub views: u64,
    pub images: u64,
    pub skipped: u64,
}

/// Decodes one image and writes its `passes` views into `out` (len passes·tensor_len).
fn views_of(
    cfg: &EngineCfg,
    plan: &SplitPlan,
    seed: u64,
    idx: u32,
    out: &mut [f32],
) -> Result<(), String> {
    let rel = &plan.images[idx as usize].rel_path;
    let path = cfg.data_root.join(&plan.name).join(rel);
    let img = crate::image_io::load_rgb8(&path).map_err(|e| e.to_string())?;
    let len = cfg.pre.tensor_len();
    for (pass, buf) in out.chunks_exact_mut(len).enumerate() {
        let r = match plan.row(pass as u32) {
            RowKind::Augmented(p) => {
                let vs = augment::view_seed(seed, p, rel);
                augment::train_into(&img, cfg.pre, cfg.aug, vs, buf)
            }
            RowKind::View(name) => match View::parse(&name) {
                Some(view) => views::view_into(&img, cfg.pre, view, buf),
                None => return Err(format!("the cache plan names an unknown view `{name}`; rebuild it with `pipeline extract --force`")),
            },
        };
        r.map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn produce(cfg: &EngineCfg, spec: &CacheSpec, jobs: &[ChunkJob], tx: Sender<Msg>) {
    let len = cfg.pre.tensor_len();
    for &job in jobs {
        let plan = &spec.splits[job.split];
        let passes = plan.passes as usize;
        let start = job.chunk as usize * spec.chunk_size;
        let end = (start + spec.chunk_size).min(plan.images.len());
        let group = (cfg.batch / passes).max(1);
        let mut skipped = Vec::new();
        let idxs: Vec<u32> = (start as u32..end as u32).collect();
        for g in idxs.chunks(group) {
            let done: Vec<(u32, Result<Vec<f32>, String>)> = cfg.pool.install(|| {
                g.par_iter()
                    .map(|&i| {
                        let mut buf = vec![0f32; passes * len];
                        (i, views_of(cfg, plan, spec.seed, i, &mut buf).map(|()| buf))
                    })
                    .collect()
            });
            let mut batch = ViewBatch {
                job,
                views: Vec::with_capacity(g.len() * passes),
                data: Vec::with_capacity(g.len() * passes * len),
            };
            for (i, r) in done {
                match r {
                    Ok(buf) => {
                        batch.views.extend((0..passes as u32).map(|p| (i, p)));
                        batch.data.extend_from_slice(&buf);
                    }
                    Err(reason) if cfg.strict => {
                        let _ = tx.send(Msg::Fatal(format!(
                            "{} (--strict stops at the first unusable image; drop --strict to skip and list them)",
                            reason
                        )));
                        return;
                    }
                    Err(reason) => skipped.push((i, reason)),
                }
            }
            if !batch.views.is_empty() && tx.send(Msg::Batch(batch)).is_err() {
                return;
            }
        }
        if tx.send(Msg::ChunkEnd(job, skipped)).is_err() {
            return;
        }
    }
}

/// Per-pass accumulators of the chunk in progress.
fn empty_chunk(passes: u32) -> Vec<ShardData> {
    (0..passes)
        .map(|_| ShardData {
            features: Vec::new(),
            labels: Vec::new(),
            index: Vec::new(),
        })
        .collect()
}

/// Runs `jobs`, calling `infer(input, n) -> n·D features` for each batch and `on_chunk(views)`
/// after each chunk's shards are written.
pub fn run(
    cfg: &EngineCfg,
    spec: &CacheSpec,
    jobs: &[ChunkJob],
    infer: &mut Infer<'_>,
    on_chunk: &mut dyn FnMut(u64),
) -> Result<EngineStats> {
    let (tx, rx) = bounded::<Msg>(QUEUE_DEPTH);
    std::thread::scope(|s| {
        s.spawn(|| produce(cfg, spec, jobs, tx));
        // `consume` owns the receiver: when it stops early (a write failed, the disk is full)
        // the receiver is dropped, the producer's next send fails and it exits; no hang.
        consume(cfg, spec, rx, infer, on_chunk)
    })
}

fn consume(
    cfg: &EngineCfg,
    spec: &CacheSpec,
    rx: crossbeam_channel::Receiver<Msg>,
    infer: &mut Infer<'_>,
    on_chunk: &mut dyn FnMut(u64),
) -> Result<EngineStats> {
    let dim = spec.feature_dim;
    let mut stats = EngineStats::default();
    let mut acc: Option<Vec<ShardData>> = None;
    for msg in rx.iter() {
        match msg {
            Msg::Fatal(reason) => bail!("{reason}"),
            Msg::Batch(b) => {
                let n = b.views.len();
                let feats = infer(&b.data, n)?;
                if feats.len() != n * dim {
                    bail!("the backbone returned {} values for {n} images; the cache expects {dim} per image", feats.len());
                }
                let passes = spec.splits[b.job.split].passes;
                let acc = acc.get_or_insert_with(|| empty_chunk(passes));
                for (k, &(img, pass)) in b.views.iter().enumerate() {
                    let slot = &mut acc[pass as usize];
                    slot.features
                        .extend_from_slice(&feats[k * dim..(k + 1) * dim]);
                    slot.index.push(img);
                }
            }
            Msg::ChunkEnd(job, skipped) => {
                let plan = &spec.splits[job.split];
                let mut chunk = acc.take().unwrap_or_else(|| empty_chunk(plan.passes));
                let views = write_chunk(cfg, spec, plan, job, &mut chunk, &skipped)?;
                stats.views += views;
                stats.images += views / plan.passes.max(1) as u64;
                stats.skipped += skipped.len() as u64;
                on_chunk(views + skipped.len() as u64 * plan.passes as u64);
            }
        }
    }
    Ok(stats)
}

fn write_chunk(
    cfg: &EngineCfg,
    spec: &CacheSpec,
    plan: &SplitPlan,
    job: ChunkJob,
    chunk: &mut [ShardData],
    skipped: &[(u32, String)],
) -> Result<u64> {
    let skipped_json = serde_json::to_string(
        &skipped
            .iter()
            .map(|(i, r)| (plan.images[*i as usize].rel_path.as_str(), r.as_str()))
            .collect::<Vec<_>>(),
    )?;
    let mut views = 0;
    for (pass, data) in chunk.iter_mut().enumerate() {
        data.labels = data
            .index
            .iter()
            .map(|&i| plan.images[i as usize].label)
            .collect();
        let id = ShardId {
            split: &plan.name,
            pass: pass as u32,
            chunk: job.chunk,
        };
        let path = cache::shard_path(cfg.cache_dir, id);
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
