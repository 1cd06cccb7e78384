//! The MLP candidates of selection: one MLP or a seed ensemble, each member early-stopped on the
//! valid views' mean, scored on valid, and refitted on train+valid for its own epoch count.

use super::{refit, top1_nll, Chosen, SelectOptions, Trial};
use crate::checkpoint::HeadModel;
use crate::head::data::HeadData;
use crate::head::ensemble::{self, member_seed};
use crate::head::fit::{fit, FitConfig, FitError, FitState, HeldOut, TrainData};
use crate::head::input::HeadInput;
use crate::head::mlp::Mlp;

/// One MLP early-stopped on the valid views' mean: its best weights and epoch.
pub(super) struct MlpFit {
    model: Mlp<f32>,
    epoch: u32,
    seed: u64,
    epochs_run: u32,
    seconds: f64,
}

pub(super) fn fit_mlp(
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    seed: u64,
) -> Result<MlpFit, FitError> {
    let start = std::time::Instant::now();
    let cfg = FitConfig {
        seed,
        ..o.mlp.clone()
    };
    let mut state = FitState::<f32>::new(&cfg, data.valid_x.ncols(), k);
    let train = TrainData {
        passes: &data.passes,
        more: &[],
        labels: &data.labels,
        class_weights: o.class_weights.clone(),
    };
    let mut valid = HeldOut {
        x: data.valid_x.view(),
        labels: &data.valid_labels,
        class_weights: None,
    };
    fit::<f32, FitError>(&mut state, &train, &cfg, &mut valid, |_, _| Ok(()))?;
    let (best, epoch) = state.final_model();
    Ok(MlpFit {
        model: best.clone(),
        epoch,
        seed,
        epochs_run: state.epochs_done,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The fits of ensemble members `from..n` ([`member_seed`] of the MLP's seed).
pub(super) fn fit_members(
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    from: usize,
    n: usize,
) -> Result<Vec<MlpFit>, FitError> {
    (from..n)
        .map(|i| fit_mlp(data, k, o, member_seed(o.mlp.seed, i)))
        .collect()
}

/// The valid score of one MLP (`head` "mlp") or of the mean of several ("mlp-ensemble").
pub(super) fn mlp_trial(fits: &[MlpFit], data: &HeadData) -> Trial {
    let logp = ensemble::log_proba(fits.iter().map(|f| &f.model), data.valid_x.view());
    let (top1, nll) = top1_nll(logp.view(), &data.valid_labels);
    let single = fits.len() == 1;
    Trial {
        head: if single { "mlp" } else { "mlp-ensemble" },
        setting: if single {
            fits[0].epoch as f64
        } else {
            fits.len() as f64
        },
        valid_top1: top1,
        valid_nll: nll,
        converged: true,
        iterations: fits.iter().map(|f| f.epochs_run as u64).sum(),
        seconds: fits.iter().map(|f| f.seconds).sum(),
        member_epochs: if single {
            Vec::new()
        } else {
            fits.iter().map(|f| f.epoch).collect()
        },
    }
}

/// The model of MLP fits: each refitted on train+valid for its best epoch count (fresh, same
/// seed) when `refit`, one MLP or an ensemble. Returns it and whether it was refitted.
pub(super) fn mlp_model(
    fits: &[MlpFit],
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    refit: bool,
) -> Result<(HeadModel, bool), FitError> {
    let refitted = refit && fits.iter().all(|f| f.epoch > 0);
    let mut members = Vec::with_capacity(fits.len());
    for f in fits {
        members.push(if refitted {
            refit::mlp_for_epochs(data, k, o, f.epoch, f.seed)?
        } else {
            f.model.clone()
        });
    }
    Ok((members_model(members), refitted))
}

/// One MLP, or the ensemble of several.
pub(super) fn members_model(mut members: Vec<Mlp<f32>>) -> HeadModel {
    if members.len() == 1 {
        HeadModel::Mlp(members.remove(0))
    } else {
        HeadModel::MlpEnsemble(members)
    }
}

pub(super) fn mlp_input(data: &HeadData) -> HeadInput {
    HeadInput {
        views: data.views.clone(),
        l2_normalize: false,
    }
}

/// The MLP (`o.ensemble` members, one by default): early stopping on the valid views' mean
/// picks each member's epoch; the refit trains fresh members (same seeds) on train+valid for
/// those epoch counts.
pub fn mlp(data: &HeadData, k: usize, o: &SelectOptions) -> Result<Chosen, FitError> {
    let fits = fit_members(data, k, o, 0, o.ensemble.max(1))?;
    let trial = mlp_trial(&fits, data);
    let (model, refitted) = mlp_model(&fits, data, k, o, o.refit)?;
    Ok(Chosen {
        model,
        input: mlp_input(data),
        trials: vec![trial],
        winner: 0,
        refitted,
        refit_converged: true,
        folds: 0,
    })
}
