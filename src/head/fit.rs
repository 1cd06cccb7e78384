//! The training loop: seeded mini-batches over cached views, dropout, Adam, validation after
//! every epoch, and early stopping on validation loss that always ends on the best epoch's weights.

use super::adam::{Adam, AdamConfig};
pub use super::class_weights::{balanced_weights, ClassWeights};
use super::dropout_mask::MaskRng;
use super::history::EpochRecord;
use super::loss::{nll_sums, BatchLoss};
use super::mlp::Mlp;
pub use super::sampler::PassMode;
use super::sampler::{epoch_order, Sample};
use super::Float;
use crate::cache::Rows;
use crate::seed;
use ndarray::{s, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use std::time::Instant;

/// Everything that shapes a training trajectory (besides the data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitConfig {
    pub hidden: usize,
    /// Dropout probability after the hidden ReLU, `[0,1)`.
    pub dropout: f64,
    /// Inverted dropout on the input features in train mode, `[0,1)`.
    pub feature_dropout: f64,
    pub batch: usize,
    pub max_epochs: u32,
    /// Stop after this many epochs without a lower validation loss; `0` never stops early.
    pub patience: u32,
    pub pass_mode: PassMode,
    pub adam: AdamConfig,
    pub seed: u64,
}

/// Training views: `passes[p]` is `[N,D]` (row `i` = image `i` in every pass), `more` optional
/// further images read in place (image `N + j` of pass `p` is row `j` of `more[p mod len]`; the
/// refit on train+valid appends valid this way without copying train), and `labels` (`N + M`,
/// each `< K`). `class_weights` (`K` entries) weight the loss, `None` for all ones.
pub struct TrainData<'a, F> {
    pub passes: &'a [Rows],
    pub more: &'a [Rows],
    pub labels: &'a [u32],
    pub class_weights: Option<Vec<F>>,
}

/// Validation figures of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochEval {
    pub loss: f64,
    pub acc: f64,
}

/// Scores the model after each epoch; tests inject scripted curves through it.
pub trait Validator<F> {
    fn validate(&mut self, mlp: &Mlp<F>) -> EpochEval;
}

/// Validation on held-out features `x` `[N,D]` in eval mode, with the training criterion.
pub struct HeldOut<'a, F> {
    pub x: ArrayView2<'a, f32>,
    pub labels: &'a [u32],
    pub class_weights: Option<Vec<F>>,
}

/// Rows per chunk when scoring held-out features (bounds memory to `chunk·(D+H+K)` floats).
const EVAL_CHUNK: usize = 1024;

impl<F: Float> Validator<F> for HeldOut<'_, F> {
    fn validate(&mut self, mlp: &Mlp<F>) -> EpochEval {
        let mut sum = BatchLoss {
            weighted_nll: F::zero(),
            weight: F::zero(),
            correct: 0,
        };
        for start in (0..self.x.nrows()).step_by(EVAL_CHUNK) {
            let end = (start + EVAL_CHUNK).min(self.x.nrows());
            let x = self.x.slice(s![start..end, ..]).mapv(F::of_f32);
            let logp = mlp.log_proba(x.view());
            let b = nll_sums(
                logp.view(),
                &self.labels[start..end],
                self.class_weights.as_deref(),
            );
            sum.weighted_nll += b.weighted_nll;
            sum.weight += b.weight;
            sum.correct += b.correct;
        }
        EpochEval {
            loss: sum.mean().as_f64(),
            acc: sum.correct as f64 / self.labels.len().max(1) as f64,
        }
    }
}

/// The best epoch so far and its weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Best<F> {
    /// 1-based.
    pub epoch: u32,
    pub loss: f64,
    pub acc: f64,
    pub mlp: Mlp<F>,
}

/// A trajectory in progress: everything needed to continue it exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct FitState<F> {
    /// Weights after the last completed epoch.
    pub mlp: Mlp<F>,
    pub adam: Adam<F>,
    pub epochs_done: u32,
    pub best: Option<Best<F>>,
    /// Epochs since the last improvement of the validation loss.
    pub bad_epochs: u32,
    pub history: Vec<EpochRecord>,
}

/// Why training could not go on.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("training diverged: the train loss of epoch {epoch} is {loss}; lower --lr (now {lr:e}; the default is 1e-3: leave --lr out) and train again")]
    Diverged { epoch: u32, loss: f64, lr: f64 },
    #[error("no training images: the cache's train split is empty; re-run extract on a split with train images")]
    NoData,
}

impl<F: Float> FitState<F> {
    /// A fresh start: PyTorch-style initialisation from the seed, zero Adam moments.
    pub fn new(cfg: &FitConfig, d: usize, k: usize) -> Self {
        let mlp = Mlp::init(d, cfg.hidden, k, &mut seed::rng(cfg.seed, &[b"init"]));
        let shapes: Vec<Vec<usize>> = mlp.params().iter().map(|p| p.shape().to_vec()).collect();
        let shapes: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
        FitState {
            adam: Adam::new(cfg.adam, &shapes),
            mlp,
            epochs_done: 0,
            best: None,
            bad_epochs: 0,
            history: Vec::new(),
        }
    }

    /// True once the epoch cap is reached or patience is exhausted.
    pub fn finished(&self, cfg: &FitConfig) -> bool {
        self.epochs_done >= cfg.max_epochs || (cfg.patience > 0 && self.bad_epochs >= cfg.patience)
    }

    /// The weights the run ends with: the best epoch's, or the last ones if no epoch had a finite
    /// validation loss; and that epoch (1-based, 0 before any epoch).
    pub fn final_model(&self) -> (&Mlp<F>, u32) {
        match &self.best {
            Some(b) => (&b.mlp, b.epoch),
            None => (&self.mlp, self.epochs_done),
        }
    }

    /// Trains one epoch, validates, updates the best weights and the patience counter, and
    /// appends the epoch to the history.
    pub fn run_epoch(
        &mut self,
        data: &TrainData<F>,
        cfg: &FitConfig,
        validator: &mut dyn Validator<F>,
    ) -> Result<EpochRecord, FitError> {
        let start = Instant::now();
        let epoch = self.epochs_done + 1;
        let (train_loss, train_acc) = self.train_epoch(data, cfg)?;
        if !train_loss.is_finite() {
            return Err(FitError::Diverged {
                epoch,
                loss: train_loss,
                lr: cfg.adam.lr,
            });
        }
        let eval = validator.validate(&self.mlp);
        let improved = eval.loss < self.best.as_ref().map_or(f64::INFINITY, |b| b.loss);
        if improved {
            let mlp = self.mlp.clone();
            self.best = Some(Best {
                epoch,
                loss: eval.loss,
                acc: eval.acc,
                mlp,
            });
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        self.epochs_done = epoch;
        let rec = EpochRecord {
            epoch,
            train_loss,
            train_acc,
            valid_loss: eval.loss,
            valid_acc: eval.acc,
            seconds: start.elapsed().as_secs_f64(),
            improved,
        };
        self.history.push(rec.clone());
        Ok(rec)
    }

    /// The training half of [`FitState::run_epoch`]: one pass over the epoch's samples; returns the sample-weighted mean train loss (as the
    /// notebook averages `loss·batch_size`) and the train accuracy.
    pub fn train_epoch(
        &mut self,
        data: &TrainData<F>,
        cfg: &FitConfig,
    ) -> Result<(f64, f64), FitError> {
        let n = data.labels.len();
        let passes = data.passes.len() as u32;
        if n == 0 || passes == 0 {
            return Err(FitError::NoData);
        }
        let e = self.epochs_done;
        let order = epoch_order(cfg.seed, e, n, passes, cfg.pass_mode);
        let mut rng = MaskRng::new(seed::derive(cfg.seed, &[b"dropout", &e.to_le_bytes()]));
        let d = data.passes[0].ncols();
        let mut grads = self.mlp.zeros_like();
        let mut xb = Array2::<F>::zeros((cfg.batch.min(order.len()), d));
        let mut labels = Vec::with_capacity(cfg.batch.min(order.len()));
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for chunk in order.chunks(cfg.batch) {
            let mut x = xb.slice_mut(s![..chunk.len(), ..]);
            gather(data, chunk, &mut x, &mut labels);
            if cfg.feature_dropout > 0.0 {
                rng.drop_out(x.view_mut(), cfg.feature_dropout);
            }
            let scale = (cfg.dropout > 0.0).then(|| {
                let mut s = Array2::<F>::ones((chunk.len(), cfg.hidden));
                rng.drop_out(s.view_mut(), cfg.dropout);
                s
            });
            let x = xb.slice(s![..chunk.len(), ..]);
            let b = train_step(
                &mut self.mlp,
                &mut self.adam,
                &mut grads,
                x,
                &labels,
                data.class_weights.as_deref(),
                scale.as_ref().map(|s| s.view()),
            );
            loss_sum += b.mean().as_f64() * chunk.len() as f64;
            correct += b.correct;
        }
        Ok((
            loss_sum / order.len() as f64,
            correct as f64 / order.len() as f64,
        ))
    }
}

/// Copies the samples' feature rows into `x` (`[chunk,D]`) and their labels into `labels`.
fn gather<F: Float>(
    data: &TrainData<F>,
    chunk: &[Sample],
    x: &mut ndarray::ArrayViewMut2<F>,
    labels: &mut Vec<u32>,
) {
    labels.clear();
    labels.extend(chunk.iter().map(|s| data.labels[s.image as usize]));
    let n = data.passes[0].nrows();
    let copy = |mut rows: ndarray::ArrayViewMut2<F>, samples: &[Sample]| {
        for (mut row, s) in rows.rows_mut().into_iter().zip(samples) {
            let (p, i) = (s.pass as usize, s.image as usize);
            let (rows, at) = if i < n {
                (&data.passes[p], i)
            } else {
                (&data.more[p % data.more.len()], i - n)
            };
            // An f16 cache is widened here, a batch's rows at a time.
            let out = row.as_slice_mut().expect("the batch buffer is row-major");
            rows.row_into(at, out, F::of_f32);
        }
    };
    // Rows scattered over a large cache are copied at memory latency: one block per thread.
    let per = chunk
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(GATHER_MIN_ROWS);
    x.axis_chunks_iter_mut(Axis(0), per)
        .into_par_iter()
        .zip(chunk.par_chunks(per))
        .for_each(|(rows, samples)| copy(rows, samples));
}

/// Fewest rows a thread gathers (smaller batches are not worth waking the pool for).
const GATHER_MIN_ROWS: usize = 32;

/// One optimisation step on a batch `x` `[N,D]`: forward, fused loss backward, Adam update
/// (`0.weight`'s gradient applied block by block, see [`super::fused_step`]). `grads` is scratch
/// space shaped like `mlp`; `hidden_scale` `[N,H]` is the dropout multiplier.
pub use super::fused_step::train_step;

/// Runs epochs until [`FitState::finished`], calling `on_epoch` after each (for printing and
/// checkpoints). The caller takes [`FitState::final_model`] afterwards: always the best epoch.
pub fn fit<F: Float, E: From<FitError>>(
    state: &mut FitState<F>,
    data: &TrainData<F>,
    cfg: &FitConfig,
    validator: &mut dyn Validator<F>,
    mut on_epoch: impl FnMut(&FitState<F>, &EpochRecord) -> Result<(), E>,
) -> Result<(), E> {
    while !state.finished(cfg) {
        let rec = state.run_epoch(data, cfg, validator)?;
        on_epoch(state, &rec)?;
    }
    Ok(())
}
