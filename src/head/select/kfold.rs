//! Selection by k-fold over train+valid: every candidate the single-split selection tries (the
//! logistic C grid, the MLP, its seed ensemble) is scored on each of `K` stratified folds of the
//! pooled train and valid images (fit on the other `K − 1`, no refit), the scores are pooled over
//! all held-out images, and the winner is fitted once on all of train+valid with the chosen C, or
//! for the epoch counts the folds chose (each member's mean best epoch). With a validation split
//! of a few images a class, one split's top-1 moves by several points between re-splits and picks
//! C or the head by chance; `K` folds score every train+valid image once.

use super::{argbest, mlp, refit, Chosen, HeadChoice, SelectOptions, Trial};
use crate::cache::rows::mean_of_rows;
use crate::cache::Rows;
use crate::checkpoint::HeadModel;
use crate::head::data::HeadData;
use crate::head::ensemble::member_seed;
use crate::head::input::HeadInput;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Most folds `--select-folds` takes.
pub const MAX_FOLDS: usize = 20;

/// Why k-fold selection cannot run on these data.
#[derive(Debug, thiserror::Error)]
pub enum FoldsError {
    #[error("--select-folds needs at least 2 images of every class in train+valid (one to hold out, one to fit on), but class {class} has {count}; re-split so that each class has a train and a valid image, or use --select-folds 0")]
    TooFewImages { class: u32, count: usize },
    #[error("--select-folds pools train and valid images, but this cache's train split has augmented passes ({passes} row sets beside {views} views); use --select-folds 0 with --passes, or extract without augmented passes")]
    Augmented { passes: usize, views: usize },
    #[error(
        "--select-folds {0} must be 0 (choose on the valid split) or between 2 and {MAX_FOLDS}"
    )]
    Range(usize),
}

/// The fold of each pooled image (train's `N` images, then valid's `M`): within each class the
/// images in a seeded random order, dealt round robin; the deal goes on from class to class so
/// fold sizes differ by at most one.
pub fn assign(labels: &[u32], folds: usize, seed: u64) -> Vec<usize> {
    let k = labels.iter().map(|&y| y as usize + 1).max().unwrap_or(0);
    let mut rng = crate::seed::rng(seed, &[b"select-folds"]);
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for c in 0..k as u32 {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        idx.shuffle(&mut rng);
        for i in idx {
            fold[i] = next;
            next = (next + 1) % folds;
        }
    }
    fold
}

/// Refuses a `--select-folds` value before any work: out of range, or beside `--refit false`
/// (the folds' winner is always fitted on all of train+valid).
pub fn check_flag(given: Option<usize>, refit: Option<bool>) -> anyhow::Result<()> {
    let Some(k) = given else {
        return Ok(());
    };
    in_range(k)?;
    if k >= 2 && refit == Some(false) {
        anyhow::bail!(
            "--select-folds {k} fits the chosen head on all of train+valid, so it cannot go with --refit false; drop one of them"
        );
    }
    Ok(())
}

/// Folds of the default where it pools folds.
pub const DEFAULT_FOLDS: usize = 5;

/// Below this many valid images a class on average, selection pools folds by default.
pub const FOLDS_BELOW_VALID_PER_CLASS: usize = 10;

/// The fold count selection uses: `given`, else the default — [`DEFAULT_FOLDS`] when the winner
/// is to be refitted on train+valid anyway (`refit`: k-fold always ends with that fit), the valid
/// split has fewer than [`FOLDS_BELOW_VALID_PER_CLASS`] images a class on average (where one
/// split's score is noisiest) and the data can be pooled; else the valid split (`0`).
pub fn resolve(given: Option<usize>, data: &HeadData, refit: bool) -> usize {
    if let Some(k) = given {
        return k;
    }
    let classes = class_counts(data).iter().filter(|&&n| n > 0).count();
    let small = data.valid_labels.len() < FOLDS_BELOW_VALID_PER_CLASS * classes;
    if refit && small && check(data, DEFAULT_FOLDS).is_ok() {
        DEFAULT_FOLDS
    } else {
        0
    }
}

/// Refuses data k-fold selection cannot use, before any fit.
pub fn check(data: &HeadData, folds: usize) -> Result<(), FoldsError> {
    in_range(folds)?;
    if data.passes.len() != data.valid_views.len() {
        return Err(FoldsError::Augmented {
            passes: data.passes.len(),
            views: data.valid_views.len(),
        });
    }
    let counts = class_counts(data);
    // Dealt round robin, a class's images fall in distinct folds: with two or more, every fold
    // keeps one to fit on. A class with fewer images than folds is held out in fewer folds.
    if let Some((class, &count)) = counts.iter().enumerate().find(|(_, &n)| n < 2) {
        return Err(FoldsError::TooFewImages {
            class: class as u32,
            count,
        });
    }
    Ok(())
}

/// `0` (the valid split) or 2 to [`MAX_FOLDS`].
fn in_range(folds: usize) -> Result<(), FoldsError> {
    if folds == 1 || folds > MAX_FOLDS {
        return Err(FoldsError::Range(folds));
    }
    Ok(())
}

/// Images of each class label in train+valid (index = label, up to the largest seen).
fn class_counts(data: &HeadData) -> Vec<usize> {
    let labels = data.labels.iter().chain(&data.valid_labels);
    let k = labels.clone().map(|&y| y as usize + 1).max().unwrap_or(0);
    let mut counts = vec![0usize; k];
    for &y in labels {
        counts[y as usize] += 1;
    }
    counts
}

/// `out[v]` = rows `ia` of `a[v]` then rows `ib` of `b[v]`, in `a`'s storage.
fn gather(a: &[Rows], ia: &[usize], b: &[Rows], ib: &[usize]) -> Vec<Rows> {
    a.iter()
        .zip(b)
        .map(|(a, b)| {
            let mut out = Rows::zeros(ia.len() + ib.len(), a.ncols(), a.is_half());
            out.assign_rows(0, &a.select(ia));
            out.assign_rows(ia.len(), &b.select(ib));
            out
        })
        .collect()
}

/// The train+valid images of fold `f` held out: train = the other folds, valid = fold `f`.
fn fold_data(data: &HeadData, fold: &[usize], f: usize) -> HeadData {
    let n = data.labels.len();
    let label = |i: usize| {
        if i < n {
            data.labels[i]
        } else {
            data.valid_labels[i - n]
        }
    };
    let (mut tr, mut va): (Vec<usize>, Vec<usize>) = (0..fold.len()).partition(|&i| fold[i] != f);
    // Train rows first, valid rows after: keeps each part in pooled order.
    tr.sort_unstable();
    va.sort_unstable();
    let split = |idx: &[usize]| -> (Vec<usize>, Vec<usize>) {
        let a = idx.iter().copied().filter(|&i| i < n).collect();
        let b = idx.iter().filter(|&&i| i >= n).map(|&i| i - n).collect();
        (a, b)
    };
    let (tra, trb) = split(&tr);
    let (vaa, vab) = split(&va);
    let valid_views = gather(&data.passes, &vaa, &data.valid_views, &vab);
    HeadData {
        passes: gather(&data.passes, &tra, &data.valid_views, &trb),
        labels: tr.iter().map(|&i| label(i)).collect(),
        valid_x: mean_of_rows(&valid_views),
        valid_labels: va.iter().map(|&i| label(i)).collect(),
        valid_views,
        views: data.views.clone(),
    }
}

/// Candidates' scores pooled over folds: top-1 and NLL weighted by each fold's held-out images;
/// an MLP's epoch (and each ensemble member's) is the mean over folds, at least 1.
struct Pooled {
    trials: Vec<Trial>,
    images: usize,
    epochs: Vec<Vec<f64>>,
}

impl Pooled {
    fn add(&mut self, trials: Vec<Trial>, images: usize) {
        let w = images as f64;
        if self.trials.is_empty() {
            self.epochs = trials
                .iter()
                .map(|t| vec![0.0; epochs_of(t).len()])
                .collect();
            self.trials = trials
                .iter()
                .map(|t| Trial {
                    valid_top1: 0.0,
                    valid_nll: 0.0,
                    iterations: 0,
                    seconds: 0.0,
                    converged: true,
                    ..t.clone()
                })
                .collect();
        }
        for ((p, t), e) in self.trials.iter_mut().zip(&trials).zip(&mut self.epochs) {
            p.valid_top1 += w * t.valid_top1;
            p.valid_nll += w * t.valid_nll;
            p.iterations += t.iterations;
            p.seconds += t.seconds;
            p.converged &= t.converged;
            for (sum, got) in e.iter_mut().zip(epochs_of(t)) {
                *sum += got;
            }
        }
        self.images += images;
    }

    fn finish(mut self, folds: usize) -> Vec<Trial> {
        let w = self.images.max(1) as f64;
        for (t, e) in self.trials.iter_mut().zip(&self.epochs) {
            t.valid_top1 /= w;
            t.valid_nll /= w;
            let mean: Vec<u32> = e
                .iter()
                .map(|s| ((s / folds as f64).round() as u32).max(1))
                .collect();
            match t.head {
                "mlp" => t.setting = mean[0] as f64,
                "mlp-ensemble" => t.member_epochs = mean,
                _ => {}
            }
        }
        self.trials
    }
}

/// The best epochs of an MLP trial (one) or of an ensemble's members; none for logistic.
fn epochs_of(t: &Trial) -> Vec<f64> {
    match t.head {
        "mlp" => vec![t.setting],
        "mlp-ensemble" => t.member_epochs.iter().map(|&e| e as f64).collect(),
        _ => Vec::new(),
    }
}

/// Selection for `head` by `folds`-fold over train+valid, then one fit of the winner on all of
/// train+valid (always: the fold models are not kept).
pub fn select(
    head: HeadChoice,
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    folds: usize,
) -> anyhow::Result<Chosen> {
    check(data, folds)?;
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    let fold = assign(&labels, folds, o.mlp.seed);
    let inner = SelectOptions {
        refit: false,
        folds: Some(0),
        ..o.clone()
    };
    let mut pooled = Pooled {
        trials: Vec::new(),
        images: 0,
        epochs: Vec::new(),
    };
    // The folds are independent fits, each too small to keep both cores busy: run them side by
    // side, and pool in fold order (every fit is deterministic, so the result does not depend on
    // the thread count).
    let scored = (0..folds)
        .into_par_iter()
        .map(|f| {
            let part = fold_data(data, &fold, f);
            let chosen = super::select(head, &part, k, &inner)?;
            Ok((chosen.trials, part.valid_labels.len()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (trials, images) in scored {
        pooled.add(trials, images);
    }
    let trials = pooled.finish(folds);
    let winner = argbest(&trials);
    let best = &trials[winner];
    let (model, input, refit_converged) = match best.head {
        "logistic" => {
            let fitted = super::logistic_on_train_valid(data, k, o, best.setting, None)?;
            let input = HeadInput {
                views: data.views.clone(),
                l2_normalize: true,
            };
            (HeadModel::Logistic(fitted.head), input, fitted.converged)
        }
        kind => {
            let epochs: Vec<u32> = if kind == "mlp" {
                vec![best.setting as u32]
            } else {
                best.member_epochs.clone()
            };
            let members = epochs
                .iter()
                .enumerate()
                .map(|(i, &e)| refit::mlp_for_epochs(data, k, o, e, member_seed(o.mlp.seed, i)))
                .collect::<Result<Vec<_>, _>>()?;
            (mlp::members_model(members), mlp::mlp_input(data), true)
        }
    };
    Ok(Chosen {
        model,
        input,
        trials,
        winner,
        refitted: true,
        refit_converged,
        folds,
    })
}

#[cfg(test)]
mod tests;
