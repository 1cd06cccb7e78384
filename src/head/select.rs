//! Model selection on the validation split, then a refit on train+valid: the logistic head's C
//! grid (L2-normalised features, warm-started fits), the MLP (its epoch count chosen by early
//! stopping), and `auto`, which fits both, picks by validation top-1 (ties: validation NLL) and
//! refits the winner. Only the train and valid data of a [`HeadData`] are ever read, so a test
//! split cannot leak into any choice.

pub mod kfold;
mod mlp;
mod refit;

pub use mlp::mlp;
use mlp::{fit_members, mlp_input, mlp_model, mlp_trial};

use super::data::HeadData;
use super::fit::FitConfig;
use super::input::{l2_normalize_rows, HeadInput};
use super::logistic::{fit_logistic, LinearHead, LogisticConfig, LogisticError, LogisticFit};
use super::loss::nll_sums;
use super::preset::ONE_VIEW_MIN_IMAGES;
use crate::cache::rows::mean_of_rows;
use crate::cache::Rows;
use crate::checkpoint::{HeadKind, HeadModel};
use ndarray::{Array2, ArrayView2};
use serde::Serialize;
use std::borrow::Cow;

/// The C values tried by default: `10^-1 … 10^3` in half-decades (C = 1/alpha).
pub const DEFAULT_C_GRID: [f64; 9] = [0.1, 0.316, 1.0, 3.16, 10.0, 31.6, 100.0, 316.0, 1000.0];

/// What selection may try and how.
#[derive(Debug, Clone)]
pub struct SelectOptions {
    /// C values for the logistic head, tried in increasing order.
    pub c_grid: Vec<f64>,
    /// Iteration cap and gradient tolerance of every logistic fit (its alpha is set from C).
    pub logistic: LogisticConfig,
    /// The MLP candidate.
    pub mlp: FitConfig,
    pub class_weights: Option<Vec<f32>>,
    /// Refit the chosen model on train+valid.
    pub refit: bool,
    /// MLP seed-ensemble size: `--head mlp` trains this many members (1: a single MLP); `auto`
    /// adds the ensemble as a candidate beside the single MLP (its member 0) when it is ≥ 2.
    pub ensemble: usize,
    /// `Some(K ≥ 2)`: score candidates by `K`-fold over train+valid and fit the winner on all
    /// of it ([`kfold`]); `Some(0)`: score them on the valid split; `None`: [`kfold::resolve`]'s
    /// default for the data.
    pub folds: Option<usize>,
}

/// One tried setting and how it scored on valid.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub head: &'static str,
    /// `C` for the logistic head, the best epoch for the MLP.
    pub setting: f64,
    pub valid_top1: f64,
    pub valid_nll: f64,
    /// Logistic: the fit stopped below the gradient tolerance (false: it hit the cap).
    pub converged: bool,
    /// Logistic: L-BFGS iterations of the fit; MLP: epochs trained.
    pub iterations: u64,
    /// Wall time of the fit.
    pub seconds: f64,
    /// MLP ensemble: each member's best epoch (empty for the other heads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub member_epochs: Vec<u32>,
}

/// The chosen model, refitted if asked, with what led to it.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub model: HeadModel,
    pub input: HeadInput,
    pub trials: Vec<Trial>,
    /// Index into `trials` of the winner.
    pub winner: usize,
    pub refitted: bool,
    /// Whether the refit converged (logistic) — `true` for the MLP and when not refitted.
    pub refit_converged: bool,
    /// Folds the scores were pooled over (`0`: the valid split).
    pub folds: usize,
}

impl Trial {
    /// What was tried, in a few words: `logistic C=10`, `mlp 12 epochs`,
    /// `mlp ensemble of 5 (epochs [12, 9, 14, 11, 10])`.
    pub fn label(&self) -> String {
        match self.head {
            "logistic" => format!("logistic C={}", self.setting),
            "mlp-ensemble" => format!(
                "mlp ensemble of {} (epochs {:?})",
                self.member_epochs.len(),
                self.member_epochs
            ),
            _ => format!("mlp {} epochs", self.setting),
        }
    }
}

impl Chosen {
    pub fn best(&self) -> &Trial {
        &self.trials[self.winner]
    }

    /// What the trials were scored on: `valid` or `5-fold train+valid`.
    pub fn scored_on(&self) -> String {
        match self.folds {
            0 => "valid".to_owned(),
            k => format!("{k}-fold train+valid"),
        }
    }

    /// One line saying what was chosen and why.
    pub fn explain(&self) -> String {
        let b = self.best();
        let what = b.label();
        format!(
            "chose {what}: {} top-1 {:.1}%, NLL {:.3} (best of {} tried by top-1, ties by NLL){}",
            self.scored_on(),
            100.0 * b.valid_top1,
            b.valid_nll,
            self.trials.len(),
            if self.refitted {
                "; refitted on train+valid"
            } else {
                ""
            }
        )
    }
}

/// `(top-1, mean NLL)` of log-probabilities against labels.
pub fn top1_nll(logp: ArrayView2<f32>, labels: &[u32]) -> (f64, f64) {
    let b = nll_sums(logp, labels, None);
    (
        b.correct as f64 / labels.len().max(1) as f64,
        b.mean() as f64,
    )
}

/// Whether `(top1, nll)` beats `than`: higher top-1, then lower NLL.
fn better(a: &Trial, than: &Trial) -> bool {
    a.valid_top1 > than.valid_top1
        || (a.valid_top1 == than.valid_top1 && a.valid_nll < than.valid_nll)
}

fn argbest(trials: &[Trial]) -> usize {
    (1..trials.len()).fold(0, |b, i| if better(&trials[i], &trials[b]) { i } else { b })
}

/// Every train row set with one label per row: in place, or widened to `f32` when the cache
/// stores `f16` (the logistic solver's products read whole blocks).
fn train_rows(data: &HeadData) -> (Vec<Cow<'_, Array2<f32>>>, Vec<u32>) {
    let blocks: Vec<Cow<Array2<f32>>> = data.passes.iter().map(Rows::to_f32).collect();
    let y = data.labels.repeat(blocks.len());
    (blocks, y)
}

/// Whether the logistic head fits on each image's mean over its row sets instead of on every
/// row: from [`ONE_VIEW_MIN_IMAGES`] training images on (where the MLP's default also visits
/// one view per image per epoch) and with more than one row set. Eval and predict score that
/// mean, so train and test rows are then alike; each fit costs `1/P` of the all-rows fit.
pub fn logistic_on_means(data: &HeadData) -> bool {
    data.passes.len() > 1 && data.labels.len() >= ONE_VIEW_MIN_IMAGES
}

/// The logistic head's rows: every train row set, or (see [`logistic_on_means`]) one block of
/// per-image means; with `with_valid` (the refit) valid's rows follow: its views, or its view
/// mean beside train's means.
fn logistic_rows(data: &HeadData, with_valid: bool) -> (Vec<Cow<'_, Array2<f32>>>, Vec<u32>) {
    if !logistic_on_means(data) {
        return if with_valid {
            refit::train_plus_valid(data)
        } else {
            train_rows(data)
        };
    }
    let (mut x, mut y) = (
        vec![Cow::Owned(mean_of_rows(&data.passes))],
        data.labels.clone(),
    );
    if with_valid {
        x.push(Cow::Borrowed(&data.valid_x));
        y.extend_from_slice(&data.valid_labels);
    }
    (x, y)
}

/// Views of row blocks, as the logistic solver takes them.
fn views<'a>(blocks: &'a [Cow<'_, Array2<f32>>]) -> Vec<ArrayView2<'a, f32>> {
    blocks.iter().map(|b| b.view()).collect()
}

fn normalized(mut x: Array2<f32>) -> Array2<f32> {
    l2_normalize_rows(&mut x);
    x
}

/// The logistic head: L2-normalised rows (every row set, or per-image means on large training
/// sets: [`logistic_on_means`]), C chosen on the valid views' mean over `c_grid` (warm-started
/// from the previous C), refitted on train+valid rows with the chosen C.
pub fn logistic(data: &HeadData, k: usize, o: &SelectOptions) -> Result<Chosen, LogisticError> {
    let (blocks, y) = logistic_rows(data, false);
    let x = views(&blocks);
    let valid = normalized(data.valid_x.clone());
    let mut trials = Vec::new();
    let mut heads: Vec<LinearHead> = Vec::new();
    let mut grid = o.c_grid.clone();
    grid.sort_by(f64::total_cmp);
    for &c in &grid {
        let cfg = LogisticConfig {
            alpha: 1.0 / c,
            ..o.logistic
        };
        let start = std::time::Instant::now();
        let fitted = fit_logistic(&x, &y, k, true, &cfg, heads.last())?;
        let seconds = start.elapsed().as_secs_f64();
        let (top1, nll) = top1_nll(
            fitted.head.log_proba(valid.view()).view(),
            &data.valid_labels,
        );
        trials.push(Trial {
            head: "logistic",
            setting: c,
            valid_top1: top1,
            valid_nll: nll,
            converged: fitted.converged,
            iterations: fitted.iterations,
            seconds,
            member_epochs: Vec::new(),
        });
        heads.push(fitted.head);
    }
    let winner = argbest(&trials);
    let mut chosen = Chosen {
        model: HeadModel::Logistic(heads[winner].clone()),
        input: HeadInput {
            views: data.views.clone(),
            l2_normalize: true,
        },
        trials,
        winner,
        refitted: false,
        refit_converged: true,
        folds: 0,
    };
    if o.refit {
        refit_logistic(&mut chosen, data, k, o)?;
    }
    Ok(chosen)
}

/// Refits a chosen logistic head on train+valid with its C, warm-started from it.
fn refit_logistic(
    chosen: &mut Chosen,
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
) -> Result<(), LogisticError> {
    let HeadModel::Logistic(start) = &chosen.model else {
        return Ok(());
    };
    let fitted = logistic_on_train_valid(data, k, o, chosen.best().setting, Some(start))?;
    chosen.model = HeadModel::Logistic(fitted.head);
    chosen.refitted = true;
    chosen.refit_converged = fitted.converged;
    Ok(())
}

/// The logistic head with `c` on all train+valid rows, warm-started from `start` if given.
fn logistic_on_train_valid(
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    c: f64,
    start: Option<&LinearHead>,
) -> Result<LogisticFit, LogisticError> {
    let (blocks, y) = logistic_rows(data, true);
    let cfg = LogisticConfig {
        alpha: 1.0 / c,
        ..o.logistic
    };
    fit_logistic(&views(&blocks), &y, k, true, &cfg, start)
}

/// `--head auto`: the logistic grid, the MLP and (with `o.ensemble ≥ 2`) its seed ensemble,
/// whose member 0 is that MLP; the best by valid top-1 (ties: NLL), then only the winner is
/// refitted.
pub fn auto(data: &HeadData, k: usize, o: &SelectOptions) -> anyhow::Result<Chosen> {
    let no_refit = SelectOptions {
        refit: false,
        ..o.clone()
    };
    let mut lg = logistic(data, k, &no_refit)?;
    let mut fits = fit_members(data, k, o, 0, 1)?;
    let single = mlp_trial(&fits, data);
    let ens = if o.ensemble >= 2 {
        fits.extend(fit_members(data, k, o, 1, o.ensemble)?);
        Some(mlp_trial(&fits, data))
    } else {
        None
    };
    let mut trials = lg.trials.clone();
    trials.push(single);
    trials.extend(ens);
    let winner = argbest(&trials);
    let mut chosen = match trials[winner].head {
        "logistic" => {
            lg.trials = trials;
            lg.winner = winner;
            if o.refit {
                refit_logistic(&mut lg, data, k, o)?;
            }
            lg
        }
        head => {
            let used = if head == "mlp" { &fits[..1] } else { &fits[..] };
            let (model, refitted) = mlp_model(used, data, k, o, o.refit)?;
            Chosen {
                model,
                input: mlp_input(data),
                trials,
                winner,
                refitted,
                refit_converged: true,
                folds: 0,
            }
        }
    };
    chosen.winner = winner;
    Ok(chosen)
}

/// Most members `--ensemble` takes.
pub const MAX_ENSEMBLE: usize = 100;

/// Refuses an `--ensemble` value `head` cannot use (`train-head`, `run` and `cv` share it).
pub fn check_ensemble(given: Option<usize>, head: HeadChoice) -> anyhow::Result<()> {
    match given {
        Some(n) if !(1..=MAX_ENSEMBLE).contains(&n) => {
            anyhow::bail!("--ensemble {n} must be between 1 and {MAX_ENSEMBLE} (e.g. --ensemble 5)")
        }
        Some(n) if n > 1 && head == HeadChoice::Logistic => anyhow::bail!(
            "--ensemble applies to the MLP (--head mlp or auto), not to the logistic head; drop --ensemble {n}"
        ),
        _ => Ok(()),
    }
}

/// The ensemble size `--ensemble` resolves to: as given, else [`super::preset::auto_ensemble`]
/// of the training set (`rows` rows of `d` features) for `auto`, 1 for the other heads.
pub fn ensemble_size(given: Option<usize>, head: HeadChoice, rows: usize, d: usize) -> usize {
    given.unwrap_or(match head {
        HeadChoice::Auto => super::preset::auto_ensemble(rows, d),
        _ => 1,
    })
}

/// `--head`: a head, or `auto` (choose on valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadChoice {
    /// The notebook's MLP (hand-written backprop + Adam).
    Mlp,
    /// L2-normalised features, multinomial logistic regression, C chosen on valid.
    Logistic,
    /// Fit the logistic grid, the MLP and its seed ensemble (`--ensemble`), keep the best by
    /// valid top-1 (ties: NLL).
    Auto,
}

impl HeadChoice {
    pub fn name(self) -> &'static str {
        match self {
            HeadChoice::Mlp => "mlp",
            HeadChoice::Logistic => "logistic",
            HeadChoice::Auto => "auto",
        }
    }

    /// The fixed head kind, `None` for auto.
    pub fn kind(self) -> Option<HeadKind> {
        match self {
            HeadChoice::Mlp => Some(HeadKind::Mlp),
            HeadChoice::Logistic => Some(HeadKind::Logistic),
            HeadChoice::Auto => None,
        }
    }
}

/// Runs the selection for `head`.
pub fn select(
    head: HeadChoice,
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
) -> anyhow::Result<Chosen> {
    let folds = kfold::resolve(o.folds, data, o.refit);
    if folds >= 2 {
        return kfold::select(head, data, k, o, folds);
    }
    Ok(match head {
        HeadChoice::Logistic => logistic(data, k, o)?,
        HeadChoice::Mlp => mlp(data, k, o)?,
        HeadChoice::Auto => auto(data, k, o)?,
    })
}

/// Log-probabilities of per-image view means `x` under `chosen`.
pub fn predict(chosen: &Chosen, x: ArrayView2<f32>) -> Array2<f32> {
    chosen.model.log_proba(chosen.input.prepare(x).view())
}

#[cfg(test)]
mod tests;
