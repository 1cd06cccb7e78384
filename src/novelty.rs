//! "None of these": how unlike the photos a head was trained on an image is, computed from the
//! features the head sees (each image's mean over the run's views, before any normalisation).
//!
//! Score (higher = less familiar): rows are scaled to unit length, and the novelty of a row `z`
//! is `1 − mean of its k largest cosines to the reference rows`, in `[0, 2]`. The reference
//! rows are the train and valid images' features, unit length. The threshold is calibrated out
//! of sample: every reference image is scored against the others (leave-one-out), and the
//! threshold is the order statistic that flags at most [`TARGET_RATE`] of them; a photo is
//! `unknown` when its novelty is above it.
//!
//! Shapes: `N` query rows, `R` reference rows, `D` features.

mod file;
#[cfg(test)]
mod tests;

pub use file::{read, verify_hash, write, NoveltyFileError, NOVELTY_FILE, SCORE};

/// The novelty score of a trained run, hash- and shape-checked; `None` for a run without one.
pub fn load_for(run: &crate::checkpoint::TrainedRun) -> Result<Option<Novelty>, NoveltyFileError> {
    verify_hash(&run.dir)?;
    read(&run.dir, run.feature_dim, &run.cache_key)
}

use crate::head::input::l2_normalize_rows;
use ndarray::{s, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Share of known photos the calibrated threshold may flag (on the left-out reference images).
pub const TARGET_RATE: f64 = 0.05;
/// Neighbours averaged by the score.
pub const DEFAULT_K: usize = 1;
/// Most reference values kept (`R × D`, 64 MiB of f32): larger sets keep every `step`-th image.
pub const MAX_REFERENCE_VALUES: usize = 16 << 20;
/// Query rows scored per matrix product (bounds the `[block, R]` cosine matrix).
const BLOCK: usize = 256;

/// A calibrated novelty score, as stored with a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Novelty {
    /// `[R, D]`, unit rows.
    pub reference: Array2<f32>,
    /// Neighbours averaged, `1 ≤ k < R`.
    pub k: usize,
    /// A photo is unknown when its novelty is above this.
    pub threshold: f32,
    pub calibration: Calibration,
}

/// How the threshold was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Images scored against the others (the reference rows).
    pub images: usize,
    /// Images the run had before any subsampling (see [`MAX_REFERENCE_VALUES`]).
    pub available: usize,
    /// The share of them the threshold may flag.
    pub target_rate: f64,
    /// How many of them score above the threshold.
    pub flagged: usize,
}

/// Why a novelty score cannot be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("the novelty score needs more than k = {k} train+valid images to calibrate, got {rows}; add photos")]
    TooFew { rows: usize, k: usize },
}

impl Novelty {
    /// Fits on `x` `[R, D]` (train+valid images' mean features, unnormalised) with `k` neighbours.
    pub fn fit(x: ArrayView2<f32>, k: usize) -> Result<Novelty, FitError> {
        let available = x.nrows();
        let step = (available * x.ncols())
            .div_ceil(MAX_REFERENCE_VALUES)
            .max(1);
        let mut reference = x.slice(s![..;step, ..]).to_owned();
        let rows = reference.nrows();
        if k == 0 || rows <= k {
            return Err(FitError::TooFew { rows, k });
        }
        l2_normalize_rows(&mut reference);
        let loo = knn_scores(reference.view(), reference.view(), k, true);
        let threshold = quantile_threshold(&loo, TARGET_RATE);
        let flagged = loo.iter().filter(|&&s| s > threshold).count();
        Ok(Novelty {
            reference,
            k,
            threshold,
            calibration: Calibration {
                images: rows,
                available,
                target_rate: TARGET_RATE,
                flagged,
            },
        })
    }

    /// Novelty of each row of `x` `[N, D]` (mean features, unnormalised).
    pub fn scores(&self, x: ArrayView2<f32>) -> Vec<f32> {
        let mut q = x.to_owned();
        l2_normalize_rows(&mut q);
        knn_scores(q.view(), self.reference.view(), self.k, false)
    }

    /// Whether a photo of novelty `score` is unlike the training photos.
    pub fn is_unknown(&self, score: f32) -> bool {
        score > self.threshold
    }

    /// Feature width `D`.
    pub fn feature_dim(&self) -> usize {
        self.reference.ncols()
    }
}

/// `1 − mean of the k largest cosines` of each unit row of `q` to the unit rows of `r`; with
/// `leave_one_out` (`q` is `r`), row `i` is not its own neighbour.
pub fn knn_scores(
    q: ArrayView2<f32>,
    r: ArrayView2<f32>,
    k: usize,
    leave_one_out: bool,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(q.nrows());
    for (b, block) in q.axis_chunks_iter(Axis(0), BLOCK).enumerate() {
        let sims = block.dot(&r.t()); // [block, R]
        for (i, row) in sims.rows().into_iter().enumerate() {
            let own = leave_one_out.then_some(b * BLOCK + i);
            // Rounding can push a cosine a hair above 1: the score stays in [0, 2].
            out.push((1.0 - top_k_mean(row.iter().copied(), own, k)).max(0.0));
        }
    }
    out
}

/// Mean of the `k` largest values, skipping position `skip`.
fn top_k_mean(values: impl Iterator<Item = f32>, skip: Option<usize>, k: usize) -> f32 {
    let mut best: Vec<f32> = Vec::with_capacity(k + 1); // descending
    for (j, v) in values.enumerate() {
        if Some(j) == skip || (best.len() == k && v <= best[k - 1]) {
            continue;
        }
        let at = best.partition_point(|&b| b >= v);
        best.insert(at, v);
        best.truncate(k);
    }
    best.iter().sum::<f32>() / best.len().max(1) as f32
}

/// The smallest order statistic of `scores` that leaves at most `rate` of them above it.
pub fn quantile_threshold(scores: &[f32], rate: f64) -> f32 {
    let mut s: Vec<f32> = scores.to_vec();
    s.sort_by(f32::total_cmp);
    let n = s.len();
    if n == 0 {
        return f32::INFINITY;
    }
    let keep = ((1.0 - rate) * n as f64 - 1e-9).ceil().max(1.0) as usize;
    s[keep.min(n) - 1]
}
