//! The extract engine: a producer thread decodes and transforms images on a rayon pool and sends
//! batches of views through a bounded channel; the caller's thread runs the backbone on them and
//! writes one shard per (split, pass, chunk) as each chunk completes. Rows an earlier cache in the
//! directory holds (same image content, same view family) are copied instead of computed; an
//! image all of whose rows are reused is not even decoded. Memory is bounded by the channel depth
//! and one chunk of features, whatever the dataset size. The rows of the chunk in progress are
//! saved every few seconds ([`partial`]), and on Ctrl-C before the engine stops ([`Stopped`]).

use super::chunk_write::{assemble, write_chunk};
use super::dense_batch::{dense_batches, dense_rows, DenseBatch, DenseItem};
use super::partial;
use super::plan::ChunkJob;
use super::reuse::{ReuseIndex, RowRef};
use crate::backbone::dense::Maps;
use crate::cache::{CacheSpec, RowKind, SplitPlan};
use crate::features::views::{self, View};
use crate::preprocess::augment::{self, AugmentConfig};
use crate::preprocess::PreprocessConfig;
use anyhow::{bail, Result};
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
    /// Rows of earlier caches that need no recomputing.
    pub reuse: &'a ReuseIndex,
    /// `families[plan][pass]`, see [`super::reuse::families`].
    pub families: &'a [Vec<blake3::Hash>],
    /// Map cells a crop covers, when the plan has dense views (see [`Forward::maps`]).
    pub dense_window: Option<usize>,
}

/// One backbone call's worth of views: `views[k] = (image index, pass)`, `data` their tensors.
struct ViewBatch {
    views: Vec<(u32, u32)>,
    data: Vec<f32>,
}

/// The end of a chunk: images that could not be used, and rows to copy instead of computing.
struct ChunkEnd {
    job: ChunkJob,
    skipped: Vec<(u32, String)>,
    reused: Vec<(u32, u32, RowRef)>,
}

enum Msg {
    Batch(ViewBatch),
    Dense(DenseBatch),
    ChunkEnd(ChunkEnd),
    Fatal(String),
}

/// The backbone as the engine sees it.
pub trait Forward {
    /// `n` crops (`n·3·S·S` floats) → `n·D` features.
    fn features(&mut self, input: &[f32], n: usize) -> Result<Vec<f32>>;
    /// `n` whole images of `h × w` → their feature maps (`D` channels).
    fn maps(&mut self, input: &[f32], n: usize, h: usize, w: usize) -> Result<Maps>;
}

/// Totals of one engine run.
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineStats {
    /// Views computed by the backbone.
    pub views: u64,
    /// Views copied from earlier caches.
    pub reused: u64,
    /// Usable images of the chunks written.
    pub images: u64,
    pub skipped: u64,
}

/// One image of a chunk: its index, the `(pass, row)` an earlier cache holds, the passes to compute.
pub type Need = (u32, Vec<(u32, RowRef)>, Vec<u32>);

/// An image's decoded rows: crop passes with their tensors, dense rows with their input.
struct Prepared {
    crops: Vec<u32>,
    crop_data: Vec<f32>,
    dense: Option<(Vec<(u32, View)>, crate::features::dense::DenseInput)>,
}

impl Prepared {
    /// Appends crop row `pass` and returns its tensor (`len` floats) to fill.
    fn next_crop(&mut self, pass: u32, len: usize) -> &mut [f32] {
        self.crops.push(pass);
        let start = self.crop_data.len();
        self.crop_data.resize(start + len, 0.0);
        &mut self.crop_data[start..]
    }
}

/// An image's index and its prepared rows (or why it is unusable).
type Decoded = (u32, Result<Prepared, String>);

/// For each image of a chunk, the rows an earlier cache holds and the passes left to compute.
pub fn needs(cfg: &EngineCfg, spec: &CacheSpec, job: ChunkJob) -> Vec<Need> {
    let plan = spec.plan_at(job.split);
    let fam = &cfg.families[job.split];
    let start = job.chunk as usize * spec.chunk_size;
    let end = (start + spec.chunk_size).min(plan.images.len());
    (start as u32..end as u32)
        .map(|i| {
            let content = &plan.images[i as usize].blake3;
            let (mut have, mut want) = (Vec::new(), Vec::new());
            for p in 0..plan.passes {
                match cfg.reuse.lookup(&fam[p as usize], content) {
                    Some(r) => have.push((p, r)),
                    None => want.push(p),
                }
            }
            (i, have, want)
        })
        .collect()
}

/// Decodes one image and prepares the rows `passes`: crop tensors, and the dense input when
/// some rows are dense views.
fn views_of(
    cfg: &EngineCfg,
    plan: &SplitPlan,
    seed: u64,
    idx: u32,
    passes: &[u32],
) -> Result<Prepared, String> {
    let image = &plan.images[idx as usize];
    let path = cfg
        .data_root
        .join(split_folder(&plan.name))
        .join(&image.rel_path);
    let img = crate::image_io::load_rgb8(&path).map_err(|e| e.to_string())?;
    let len = cfg.pre.tensor_len();
    let mut p = Prepared {
        crops: Vec::new(),
        crop_data: Vec::new(),
        dense: None,
    };
    let mut dense_rows = Vec::new();
    for &pass in passes {
        let view = match plan.row(pass) {
            RowKind::View(name) => View::parse(&name).ok_or_else(|| format!("the cache plan names an unknown view `{name}`; rebuild it with `pipeline extract --force`"))?,
            RowKind::Augmented(a) => {
                let buf = p.next_crop(pass, len);
                let vs = augment::view_seed(seed, a, &image.blake3);
                augment::train_into(&img, cfg.pre, cfg.aug, vs, buf)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                continue;
            }
        };
        if view.is_dense() {
            dense_rows.push((pass, view));
        } else {
            let buf = p.next_crop(pass, len);
            views::view_into(&img, cfg.pre, view, buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if !dense_rows.is_empty() {
        let views: Vec<View> = dense_rows.iter().map(|r| r.1).collect();
        let mirrored = crate::features::dense::needs_mirror(&views);
        let input = crate::features::dense::dense_input(&img, cfg.pre, mirrored)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        p.dense = Some((dense_rows, input));
    }
    Ok(p)
}

/// The folder of the split tree a plan's images live in (a side plan reads its split's).
fn split_folder(plan: &str) -> &str {
    if plan == crate::cache::TRAIN_EVAL {
        "train"
    } else {
        plan
    }
}

/// A chunk to run with its [`needs`], computed once by the caller.
pub type Work = (ChunkJob, Vec<Need>);

fn produce(cfg: &EngineCfg, spec: &CacheSpec, work: &[Work], tx: Sender<Msg>) {
    for (job, need) in work {
        let job = *job;
        let plan = spec.plan_at(job.split);
        let (mut skipped, mut reused) = (Vec::new(), Vec::new());
        let mut todo: Vec<(u32, &[u32])> = Vec::new();
        for (i, have, want) in need {
            reused.extend(have.iter().map(|&(p, r)| (*i, p, r)));
            if !want.is_empty() {
                todo.push((*i, want));
            }
        }
        // Groups of images whose views fill about one backbone call (a dense image counts as
        // its two inputs).
        let cost = |want: &[u32]| {
            let wanted: Vec<View> = want
                .iter()
                .filter_map(|&p| match plan.row(p) {
                    RowKind::View(n) => View::parse(&n),
                    RowKind::Augmented(_) => None,
                })
                .collect();
            let dense = views::any_dense(&wanted);
            want.len().min(if dense { 2 } else { usize::MAX })
        };
        let mut groups: Vec<&[(u32, &[u32])]> = Vec::new();
        let (mut from, mut views) = (0, 0);
        for (k, (_, want)) in todo.iter().enumerate() {
            views += cost(want);
            if views >= cfg.batch || k + 1 == todo.len() {
                groups.push(&todo[from..=k]);
                (from, views) = (k + 1, 0);
            }
        }
        for g in groups {
            let done: Vec<Decoded> = cfg.pool.install(|| {
                g.par_iter()
                    .map(|&(i, want)| (i, views_of(cfg, plan, spec.seed, i, want)))
                    .collect()
            });
            let mut batch = ViewBatch {
                views: Vec::new(),
                data: Vec::new(),
            };
            let mut dense_items: Vec<DenseItem> = Vec::new();
            for (i, r) in done {
                match r {
                    Ok(p) => {
                        batch.views.extend(p.crops.iter().map(|&c| (i, c)));
                        batch.data.extend_from_slice(&p.crop_data);
                        if let Some((rows, input)) = p.dense {
                            dense_items.push((i, rows, input));
                        }
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
            for b in dense_batches(dense_items, cfg.batch) {
                if tx.send(Msg::Dense(b)).is_err() {
                    return;
                }
            }
        }
        // An image that cannot be decoded is skipped whole, as a from-scratch extract would.
        let bad: std::collections::HashSet<u32> = skipped.iter().map(|(i, _)| *i).collect();
        reused.retain(|(i, _, _)| !bad.contains(i));
        let end = ChunkEnd {
            job,
            skipped,
            reused,
        };
        if tx.send(Msg::ChunkEnd(end)).is_err() {
            return;
        }
    }
}

/// Runs `work`, calling the backbone for each batch and
/// `on_views(computed, reused)` as views are computed and as chunks are written.
pub fn run(
    cfg: &EngineCfg,
    spec: &CacheSpec,
    work: &[Work],
    fwd: &mut dyn Forward,
    on_views: &mut dyn FnMut(u64, u64),
) -> Result<EngineStats> {
    let (tx, rx) = bounded::<Msg>(QUEUE_DEPTH);
    std::thread::scope(|s| {
        s.spawn(|| produce(cfg, spec, work, tx));
        // `consume` owns the receiver: when it stops early (a write failed, the disk is full,
        // Ctrl-C) the receiver is dropped, the producer's next send fails and it exits; no hang.
        consume(cfg, spec, work, rx, fwd, on_views)
    })
}

/// The engine stopped on Ctrl-C after saving every row it computed (see [`partial`]).
#[derive(Debug, thiserror::Error)]
#[error("interrupted after computing {computed} views")]
pub struct Stopped {
    /// Views computed by this run, all kept: in written chunks or partial segments.
    pub computed: u64,
}

/// Milliseconds to wait before each backbone call (a testing aid that makes a run slow enough
/// to interrupt; unset in normal use).
pub const DELAY_ENV: &str = "PIPELINE_EXTRACT_DELAY_MS";

fn delay() -> Option<std::time::Duration> {
    let ms: u64 = std::env::var(DELAY_ENV).ok()?.trim().parse().ok()?;
    Some(std::time::Duration::from_millis(ms))
}

fn consume(
    cfg: &EngineCfg,
    spec: &CacheSpec,
    work: &[Work],
    rx: crossbeam_channel::Receiver<Msg>,
    fwd: &mut dyn Forward,
    on_views: &mut dyn FnMut(u64, u64),
) -> Result<EngineStats> {
    let dim = spec.feature_dim;
    let mut stats = EngineStats::default();
    // Computed rows of the chunk in progress: `(image, pass, features)`.
    let mut acc: Vec<(u32, u32, Vec<f32>)> = Vec::new();
    let mut saver = partial::Saver::new(cfg.cache_dir, cfg.key);
    let delay = delay();
    // Chunks end in `work`'s order: the one in progress is `work[ended]`.
    let mut ended = 0;
    for msg in rx.iter() {
        if let (Some(d), Msg::Batch(_) | Msg::Dense(_)) = (delay, &msg) {
            std::thread::sleep(d);
        }
        match msg {
            Msg::Fatal(reason) => bail!("{reason}"),
            Msg::Batch(b) => {
                let n = b.views.len();
                let feats = fwd.features(&b.data, n)?;
                if feats.len() != n * dim {
                    bail!("the backbone returned {} values for {n} images; the cache expects {dim} per image", feats.len());
                }
                for (k, &(img, pass)) in b.views.iter().enumerate() {
                    acc.push((img, pass, feats[k * dim..(k + 1) * dim].to_vec()));
                }
                on_views(n as u64, 0);
            }
            Msg::Dense(b) => {
                let rows = dense_rows(cfg, fwd, b, dim)?;
                on_views(rows.len() as u64, 0);
                acc.extend(rows);
            }
            Msg::ChunkEnd(end) => {
                let plan = spec.plan_at(end.job.split);
                let refs: Vec<RowRef> = end.reused.iter().map(|r| r.2).collect();
                let copied = cfg.reuse.fetch(&refs, dim)?;
                let mut rows = std::mem::take(&mut acc);
                rows.extend(
                    end.reused
                        .iter()
                        .zip(copied.chunks_exact(dim.max(1)))
                        .map(|(&(i, p, _), f)| (i, p, f.to_vec())),
                );
                let chunk = assemble(plan, rows, dim);
                let views = write_chunk(cfg, spec, plan, end.job, &chunk, &end.skipped)?;
                stats.views += views - refs.len() as u64;
                stats.reused += refs.len() as u64;
                // A side plan's images are its split's: count them once.
                if spec.split(&plan.name).is_some() {
                    stats.images += views / plan.passes.max(1) as u64;
                    stats.skipped += end.skipped.len() as u64;
                }
                on_views(0, refs.len() as u64);
                saver.chunk_written(plan, end.job.chunk);
                ended += 1;
            }
        }
        let stop = crate::interrupt::requested();
        if let Some((job, _)) = work.get(ended) {
            saver.save(spec, spec.plan_at(job.split), job.chunk, &acc, stop)?;
        }
        if stop {
            return Err(Stopped {
                computed: stats.views + saver.saved as u64,
            }
            .into());
        }
    }
    Ok(stats)
}
