//! Refits on train+valid: the test split is never part of a [`HeadData`], so it stays untouched.

use super::SelectOptions;
use crate::head::data::HeadData;
use crate::head::fit::{fit, EpochEval, FitConfig, FitError, FitState, TrainData, Validator};
use crate::head::mlp::Mlp;
use ndarray::{concatenate, Array2, ArrayView2, Axis};

/// Every train row set and every valid view, stacked `[P·N + V·M, D]`, with their labels.
pub fn train_plus_valid(data: &HeadData) -> (Array2<f32>, Vec<u32>) {
    let mut views: Vec<ArrayView2<f32>> = data.passes.iter().map(|p| p.view()).collect();
    views.extend(data.valid_views.iter().map(|v| v.view()));
    let x = concatenate(Axis(0), &views).expect("row sets share their width");
    let mut y = Vec::with_capacity(x.nrows());
    for _ in &data.passes {
        y.extend_from_slice(&data.labels);
    }
    for _ in &data.valid_views {
        y.extend_from_slice(&data.valid_labels);
    }
    (x, y)
}

/// Row sets of train+valid aligned as the MLP's sampler wants them: set `p` is train's set `p`
/// followed by valid's view `p mod V`.
pub fn aligned_sets(data: &HeadData) -> (Vec<Array2<f32>>, Vec<u32>) {
    let v = data.valid_views.len().max(1);
    let sets = data
        .passes
        .iter()
        .enumerate()
        .map(|(p, t)| {
            let valid = data.valid_views.get(p % v).unwrap_or(&data.valid_x);
            concatenate(Axis(0), &[t.view(), valid.view()]).expect("same width")
        })
        .collect();
    let mut labels = data.labels.clone();
    labels.extend_from_slice(&data.valid_labels);
    (sets, labels)
}

/// A validator that calls every epoch an improvement, so the last epoch's weights are kept.
struct LastEpoch(u32);

impl<F> Validator<F> for LastEpoch {
    fn validate(&mut self, _: &Mlp<F>) -> EpochEval {
        self.0 += 1;
        EpochEval {
            loss: -(self.0 as f64),
            acc: f64::NAN,
        }
    }
}

/// A fresh MLP (same config and seed) trained on train+valid for exactly `epochs` epochs.
pub fn mlp_for_epochs(
    data: &HeadData,
    k: usize,
    o: &SelectOptions,
    epochs: u32,
) -> Result<Mlp<f32>, FitError> {
    let (sets, labels) = aligned_sets(data);
    let cfg = FitConfig {
        max_epochs: epochs,
        patience: 0,
        ..o.mlp.clone()
    };
    let mut state = FitState::<f32>::new(&cfg, data.valid_x.ncols(), k);
    let train = TrainData {
        passes: &sets,
        labels: &labels,
        class_weights: o.class_weights.clone(),
    };
    fit::<f32, FitError>(&mut state, &train, &cfg, &mut LastEpoch(0), |_, _| Ok(()))?;
    Ok(state.final_model().0.clone())
}
